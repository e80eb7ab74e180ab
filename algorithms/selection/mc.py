"""Maximum correlation (MC) VM selection: the VM whose load the others' loads explain best leaves.

For each VM ``j`` of a host with ``m`` VMs, regress its history on the histories of the host's
other VMs by ordinary least squares with an intercept, over the host's common history length
``L`` (the smallest ``n_valid`` among its VMs, newest values), and take the VM with the largest
coefficient of determination R^2 = 1 - SS_res / SS_tot.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, section 6.2 (MC, after Verma et al., 2009); CloudSim 4.0
``PowerVmSelectionPolicyMaximumCorrelation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from algorithms._jit import COMPILED
from algorithms._validation import Options
from algorithms.base import BoolArray, FloatArray, IntArray, VmSelector, VmTable
from algorithms.selection._mc_kernel import shortcut
from algorithms.selection.mmt import MinimumMigrationTime

__all__ = ["MaximumCorrelation", "R2_TIE_TOLERANCE", "most_correlated", "r_squared"]

#: R^2 values within this distance of a host's best count as ties (broken by the lowest index), so
#: the exact linear relations whose R^2 is 1 up to rounding choose deterministically.
R2_TIE_TOLERANCE = 1e-9

#: Upper bound on the float64 elements of one stacked regression batch (about 32 MB).
_BATCH_ELEMENTS = 4_000_000

#: How many times the estimated rounding error of both computations an R^2 must clear the tie line
#: by for the compiled shortcut (:mod:`algorithms.selection._mc_kernel`) to decide a host. Hosts
#: built so that two R^2 differ by the tie tolerance to within a millionth of it are decided as by
#: the SVDs down to 0.03 (tests/algorithms/test_mc_shortcut.py): a margin of about 1000. On the
#: PlanetLab days 2 to 4 % of the hosts go to the SVDs.
_ERROR_SCALE = 30.0


def r_squared(data: FloatArray) -> tuple[FloatArray, BoolArray]:
    """R^2 of every column regressed on the other columns plus an intercept, for a stack of hosts.

    Each regression's design matrix ``[1, other columns]`` goes through one stacked SVD; its rank
    is judged with ``np.linalg.matrix_rank``'s default tolerance (largest singular value times
    ``max(L, m)`` times machine epsilon). The residual is ``y`` minus its projection on the left
    singular vectors.

    Parameters
    ----------
    data : float array of shape (n_hosts, L, m)
        ``L`` common history values of each of a host's ``m >= 2`` VMs, oldest first.

    Returns
    -------
    r2 : float array of shape (n_hosts, m)
        R^2 of each VM. A constant series (SS_tot = 0) gets 0: nothing in it to explain. (Such a
        VM also makes the other VMs' regressions singular, so a host with one never uses MC.)
    regular : bool array of shape (n_hosts,)
        True where all ``m`` design matrices of the host have full column rank ``m``.
    """
    n_hosts, length, m = data.shape
    # design[h, j] = [1, data[h, :, k] for k != j]: shape (n_hosts, m, L, m)
    others = np.array([[k for k in range(m) if k != j] for j in range(m)], dtype=np.intp)
    columns = np.moveaxis(data[:, :, others], 2, 1)  # (n_hosts, m, L, m - 1)
    design = np.concatenate([np.ones((n_hosts, m, length, 1)), columns], axis=3)
    y = np.moveaxis(data, 2, 1)  # (n_hosts, m, L)
    u, s, _ = np.linalg.svd(design, full_matrices=False)
    tol = s.max(axis=-1) * max(length, m) * np.finfo(np.float64).eps
    full_rank = (s > tol[..., None]).all(axis=-1)  # (n_hosts, m)
    fitted = np.einsum("hjlk,hjk->hjl", u, np.einsum("hjlk,hjl->hjk", u, y))
    ss_res = ((y - fitted) ** 2).sum(axis=-1)
    ss_tot = ((y - y.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), 0.0)
    return r2, full_rank.all(axis=-1)


def _winners(r2: FloatArray) -> IntArray:
    """The first column of each row of ``r2`` (n, m) within :data:`R2_TIE_TOLERANCE` of the row's best."""
    near_best = r2 >= r2.max(axis=1, keepdims=True) - R2_TIE_TOLERANCE
    result: IntArray = np.argmax(near_best, axis=1)
    return result


def most_correlated(histories: FloatArray, length: IntArray) -> tuple[IntArray, BoolArray]:
    """The VM MC picks on each host of a stack, and whether the host's regressions are regular.

    :func:`_decide` on a stack of hosts with ``m`` VMs each.

    Parameters
    ----------
    histories : float array of shape (n_hosts, m, window), ``m >= 2``
        The histories of each host's VMs, right-aligned (what lies before the newest ``length``
        values is not read).
    length : intp array of shape (n_hosts,)
        The common history length ``L`` of each host, ``m + 1 <= L <= window``.

    Returns
    -------
    position : intp array of shape (n_hosts,)
        The chosen VM (index along axis 1) of each host.
    regular : bool array of shape (n_hosts,)
        As :func:`r_squared`'s: False where MC falls back.
    """
    n_hosts, m, window = histories.shape
    count = np.full(n_hosts, m, dtype=np.intp)
    return _decide(
        histories.reshape(n_hosts * m, window), np.arange(n_hosts * m), m * np.arange(n_hosts), count, length
    )


def _decide(
    history: FloatArray, members: IntArray, start: IntArray, count: IntArray, length: IntArray
) -> tuple[IntArray, BoolArray]:
    """MC's pick and regularity for hosts whose VMs are ``members[start[h] : start[h] + count[h]]``.

    The choice is :func:`r_squared`'s (the SVD of every regression). Where numba compiles it, one
    Cholesky factorization per host (:func:`algorithms.selection._mc_kernel.shortcut`) decides
    every host for which it is certain of that choice; the SVDs decide the others, batched by
    (number of VMs, common length).

    Returns (position (n_hosts,) among the host's VMs, regular (n_hosts,)).
    """
    n_hosts, window = start.shape[0], history.shape[1]
    position = np.zeros(n_hosts, dtype=np.intp)
    regular = np.zeros(n_hosts, dtype=np.bool_)
    certain = np.zeros(n_hosts, dtype=np.bool_)
    if COMPILED and n_hosts:
        position, certain = shortcut(
            np.ascontiguousarray(history, dtype=np.float64),
            np.ascontiguousarray(members, dtype=np.intp),
            np.ascontiguousarray(start, dtype=np.intp),
            np.ascontiguousarray(count, dtype=np.intp),
            np.ascontiguousarray(length, dtype=np.intp),
            R2_TIE_TOLERANCE,
            _ERROR_SCALE,
        )
        regular[certain] = True
    rest = ~certain
    if not rest.any():
        return position, regular
    for m, common in np.unique(np.stack([count[rest], length[rest]]), axis=1).T:
        batch = np.flatnonzero(rest & (count == m) & (length == common))
        per_chunk = max(1, _BATCH_ELEMENTS // int(m * m * common))
        for lo in range(0, batch.size, per_chunk):
            chunk = batch[lo : lo + per_chunk]
            vms = members[start[chunk][:, None] + np.arange(m)]  # (n_chunk, m)
            r2, regular[chunk] = r_squared(np.moveaxis(history[vms][:, :, window - common :], 1, 2))
            position[chunk] = _winners(r2)
    return position, regular


@dataclass(frozen=True, kw_only=True)
class MaximumCorrelation(VmSelector):
    """Select the VM with the largest R^2 against the other VMs of its host.

    R^2 within :data:`R2_TIE_TOLERANCE` of the host's best tie, and ties go to the lowest VM
    index. The histories are used as given (fractions of each VM's size): R^2 does not change when
    a series is scaled.

    A host falls back to ``fallback`` when it has fewer than 2 selectable VMs, when its common
    history length ``L`` is below ``m + 1`` (``m`` coefficients, intercept included, need at least
    one residual degree of freedom; CloudSim accepts ``L = m``, where every fit is exact and R^2
    is 1), or when any of its ``m`` regressions is singular (CloudSim's singular-matrix fallback).

    With numba, one compiled pass factorizes every host's Gram matrix and decides the hosts where
    that is certain to pick as the SVDs do (:func:`_decide`); the SVDs decide the few others, and
    every host without numba, batched by (number of VMs, common length): there is no Python loop
    over hosts.

    Parameters
    ----------
    fallback : {"mmt"}
        Selector for hosts where MC is undefined: minimum migration time with its default
        (lowest-index) tie-break, as in CloudSim.

    References
    ----------
    Beloglazov & Buyya, CCPE 24(13), 2012, section 6.2; Verma, Dasgupta et al., "Server workload
    analysis for power minimization using consolidation", USENIX ATC 2009.
    """

    LOCAL = True
    PARAMETERS = {"fallback": Options(("mmt",))}  # noqa: RUF012

    fallback: Literal["mmt"] = "mmt"

    def evaluate(
        self, vms: VmTable, hosts: BoolArray, vm: IntArray, host: IntArray, rng: np.random.Generator | None = None
    ) -> IntArray:
        """Pick the most correlated VM of every chosen host.

        Parameters
        ----------
        vms : VmTable with n_vms rows
        hosts : bool array of shape (n_hosts,)
        vm, host : intp arrays of shape (n_candidates,), the VMs on chosen hosts and their hosts
        rng : unused

        Returns
        -------
        intp array of shape (n_hosts,)
            Index of the chosen VM, -1 where the host is not chosen or has no selectable VM.
        """
        result = MinimumMigrationTime().evaluate(vms, hosts, vm, host)
        if vm.size == 0:
            return result
        n_hosts = hosts.shape[0]
        history = np.asarray(vms.history, dtype=np.float64)
        n_valid = np.asarray(vms.n_valid, dtype=np.intp)
        window = history.shape[1]

        # Group the candidates by host: vm is ascending, so a stable sort keeps index order.
        order = np.argsort(host, kind="stable")
        vm, host = vm[order], host[order]
        count = np.bincount(host, minlength=n_hosts)
        common = np.full(n_hosts, window, dtype=np.intp)
        np.minimum.at(common, host, n_valid[vm])
        usable = (count >= 2) & (common >= count + 1)
        start = np.concatenate([[0], np.cumsum(count)[:-1]])

        hosts_mc = np.flatnonzero(usable)
        position, regular = _decide(history, vm, start[hosts_mc], count[hosts_mc], common[hosts_mc])
        chosen = hosts_mc[regular]
        result[chosen] = vm[start[chosen] + position[regular]]
        return result
