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

from algorithms._validation import Options
from algorithms.base import BoolArray, FloatArray, IntArray, VmSelector, VmTable
from algorithms.selection.mmt import MinimumMigrationTime

__all__ = ["MaximumCorrelation", "R2_TIE_TOLERANCE", "most_correlated", "r_squared"]

#: R^2 values within this distance of a host's best count as ties (broken by the lowest index), so
#: the exact linear relations whose R^2 is 1 up to rounding choose deterministically.
R2_TIE_TOLERANCE = 1e-9

#: Upper bound on the float64 elements of one stacked regression batch (about 32 MB).
_BATCH_ELEMENTS = 4_000_000

EPS = float(np.finfo(np.float64).eps)
#: The largest condition number of a host's design ``[1, X]`` for which :func:`most_correlated`
#: takes the regressions as regular without their SVDs: nine orders of magnitude below the reciprocal
#: of the SVD's rank tolerance (``max(L, m) eps``).
_CERTAIN_CONDITION = 1e5
#: How many times the estimated rounding error of both computations an R^2 must clear the tie line
#: by for :func:`most_correlated` to trust its shortcut. On the PlanetLab days the estimate is at
#: least 1.4 times the largest difference seen between the two computations, so this leaves a
#: margin of 40 or more; 3 to 4 % of the hosts go to the SVDs.
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

    The choice is :func:`r_squared`'s (the SVD of every regression), found for most hosts from one
    symmetric eigenvalue problem and one inverse of the host's correlation matrix instead of ``m``
    SVDs: R^2 of column ``j`` is ``1 - 1 / (C^-1)_jj``. That shortcut is taken only where it cannot
    change the answer, and :func:`r_squared` decides the other hosts:

    - regular: the design ``[1, X]`` with every column has a condition number below
      :data:`_CERTAIN_CONDITION` (from the eigenvalues of its Gram matrix), so each regression's
      design, a subset of its columns, is far above the SVD's rank tolerance (eigenvalues of a
      principal submatrix interlace);
    - the winner: every R^2 lies farther from the tie line (the best less the tolerance) than
      twice :data:`_ERROR_SCALE` times an estimate of both computations' rounding error, so the
      SVD's values fall on the same side of it.

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
    position = np.zeros(n_hosts, dtype=np.intp)
    regular = np.zeros(n_hosts, dtype=np.bool_)
    if n_hosts == 0:
        return position, regular
    valid = np.arange(window)[None, :] >= (window - length)[:, None]  # (n, window)
    data = np.where(valid[:, None, :], histories, 0.0)  # (n, m, window), zeros before the common part
    sums = data.sum(axis=2)  # (n, m)
    raw = np.matmul(data, np.swapaxes(data, 1, 2))  # X^T X, (n, m, m)
    gram = np.empty((n_hosts, m + 1, m + 1))  # [1, X]^T [1, X]
    gram[:, 0, 0] = length
    gram[:, 0, 1:] = gram[:, 1:, 0] = sums
    gram[:, 1:, 1:] = raw
    eigen = np.linalg.eigvalsh(gram)
    certain = eigen[:, 0] > eigen[:, -1] / _CERTAIN_CONDITION**2
    centred = raw - sums[:, :, None] * sums[:, None, :] / length[:, None, None]
    ss_tot = np.diagonal(centred, axis1=1, axis2=2)
    certain &= (ss_tot > 0).all(axis=1)
    if certain.any():
        rows = np.flatnonzero(certain)
        scale = 1.0 / np.sqrt(ss_tot[rows])
        correlation = centred[rows] * scale[:, :, None] * scale[:, None, :]
        inverse_diagonal = np.diagonal(np.linalg.inv(correlation), axis1=1, axis2=2)
        r2 = 1.0 - 1.0 / inverse_diagonal
        # rounding error of either computation (the SVD's least squares residual moves by about
        # eps (1 + 2 cond) |y| |r|; the inverse's diagonal by about eps m cond(C)), the largest of the host's
        condition = np.sqrt(eigen[rows, -1] / eigen[rows, 0])
        spread = np.sqrt(np.diagonal(raw[rows], axis1=1, axis2=2) / ss_tot[rows])
        unexplained = np.maximum(1.0 - r2, 0.0)
        inverse_norm = inverse_diagonal.sum(axis=1, keepdims=True)
        error = (1 + 2 * condition[:, None]) * spread * np.sqrt(unexplained) + m * m * inverse_norm * unexplained
        error = _ERROR_SCALE * EPS * error.max(axis=1, keepdims=True)
        tie_line = r2.max(axis=1, keepdims=True) - R2_TIE_TOLERANCE
        clear = (np.abs(r2 - tie_line) > 2 * error).all(axis=1) & np.isfinite(r2).all(axis=1)
        position[rows] = _winners(r2)
        regular[rows] = True
        certain[rows] = clear
    for common in np.unique(length[~certain]):
        rows = np.flatnonzero(~certain & (length == common))
        r2, regular[rows] = r_squared(np.moveaxis(histories[rows][:, :, window - common :], 1, 2))
        position[rows] = _winners(r2)
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

    Hosts are batched by their number of VMs, and each batch is decided by stacked eigenvalue
    problems and inverses (:func:`most_correlated`), with stacked SVDs for the few hosts where only
    those decide for sure: there is no loop over hosts.

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

        for m in np.unique(count[usable]):
            batch = np.flatnonzero(usable & (count == m))
            per_chunk = max(1, _BATCH_ELEMENTS // int(m * m * window))
            for lo in range(0, batch.size, per_chunk):
                chunk = batch[lo : lo + per_chunk]
                members = vm[start[chunk][:, None] + np.arange(m)]  # (n_chunk, m), ascending
                position, regular = most_correlated(history[members], common[chunk])
                winner = members[np.arange(chunk.size), position]
                result[chunk] = np.where(regular, winner, result[chunk])
        return result
