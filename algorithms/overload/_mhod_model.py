"""The Markov model behind MHOD: state mapping, multisize window estimates, L functions, grid solver.

Pure array functions used by :mod:`algorithms.overload.mhod`; hosts (or deciding hosts) on axis
0 everywhere. ``S`` is the number of states (``len(state_config) + 1``), ``W`` the number of
window sizes, ``G`` the number of grid points.

References
----------
A. Beloglazov and R. Buyya, "Managing overloaded hosts for dynamic consolidation of virtual
machines in cloud data centers under quality of service constraints", IEEE Transactions on
Parallel and Distributed Systems 24(7), 2013 (MHOD, multisize sliding window estimation).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike

from algorithms.base import BoolArray, FloatArray, IntArray

__all__ = [
    "acceptable_variance",
    "best_grid_point",
    "grid_points",
    "l_functions",
    "l_functions_two_states",
    "select_windows",
    "solve_policy",
    "state_index",
]

#: Slack when deciding whether ``k * step`` still lies on the grid ``[0, 1]``.
_GRID_SLACK = 1e-9


def state_index(thresholds: ArrayLike, utilization: ArrayLike) -> IntArray:
    """Map utilization values to Markov states.

    State ``i`` is the first ``i`` with ``u < thresholds[i]``; ``len(thresholds)`` (the top state,
    "overloaded") when ``u`` reaches every threshold. openstack-neat compares ``u`` with the
    previous state *index* instead of the previous threshold, which is wrong from the third
    threshold on; this maps against the thresholds.

    Parameters
    ----------
    thresholds : float array of shape (S - 1,), strictly increasing
    utilization : float array of any shape

    Returns
    -------
    intp array of the shape of ``utilization``
    """
    result: IntArray = np.searchsorted(np.asarray(thresholds, dtype=np.float64), utilization, side="right")
    return result.astype(np.intp, copy=False)


def acceptable_variance(probability: ArrayLike, window_size: ArrayLike) -> FloatArray:
    """Variance of a window's estimates that is still acceptable: ``p (1 - p) / w``.

    :func:`select_windows` applies this bound in exact integer arithmetic (see there).
    """
    p = np.asarray(probability, dtype=np.float64)
    return np.asarray(p * (1 - p) / np.asarray(window_size, dtype=np.float64), dtype=np.float64)


def select_windows(
    counts: IntArray, sums: IntArray, sq_sums: IntArray, transitions: IntArray, window_sizes: ArrayLike
) -> tuple[FloatArray, IntArray]:
    """Pick a window size per transition (i, j) by the variance rule and estimate ``p[i][j]``.

    The estimate of a window of size ``w`` is ``count / w`` over the last ``w`` transitions out of
    ``i`` (``w`` even when fewer exist). Scanning the sizes upwards, the chosen window is the last
    one before the first whose estimates' sample variance exceeds the acceptable variance
    ``p (1 - p) / w`` of its newest estimate ``p``; the smallest when the smallest already fails.
    A window that has not yet seen ``w`` estimates has variance 1.0; before the first transition
    out of ``i``, both variances are 1.0 (openstack-neat's initial values), so every window passes.

    The ``w`` estimates ``c_k / w`` of a full window have mean ``S1 / w**2`` and variance
    ``(w S2 - S1**2) / (w**3 (w - 1))`` with ``S1 = sum c_k``, ``S2 = sum c_k**2``; with the newest
    count ``c``, the acceptable variance is ``c (w - c) / w**3``. The test is therefore done exactly
    on integers, ``w S2 - S1**2 <= c (w - c) (w - 1)``, where openstack-neat compares sums of
    floats (the two can disagree only where the two variances are equal).

    Parameters
    ----------
    counts : int array of shape (n, S, S, W)
        Newest count of transitions ``i -> j`` among the last ``w`` transitions out of ``i``.
    sums, sq_sums : int array of shape (n, S, S, W)
        Sum and sum of squares of the counts in each estimate window.
    transitions : int array of shape (n, S)
        Transitions observed out of each state.
    window_sizes : int array of shape (W,), increasing

    Returns
    -------
    p : float array of shape (n, S, S)
        Estimated transition probabilities (rows need not sum to 1 while windows fill).
    selected : intp array of shape (n, S, S)
        The window size chosen for each (i, j).
    """
    w = np.asarray(window_sizes, dtype=np.intp)
    seen = transitions[:, :, None, None]
    spread = w * sq_sums - sums * sums
    allowed = counts * (w - counts) * (w - 1)
    passes = (seen == 0) | ((seen >= w) & (spread <= allowed))
    leading = np.cumprod(passes, axis=-1).sum(axis=-1)
    chosen = np.maximum(leading - 1, 0)
    selected: IntArray = w[chosen]
    count = np.take_along_axis(counts, chosen[..., None], axis=-1)[..., 0]
    return count / selected, selected


def l_functions(p: ArrayLike, p_initial: ArrayLike, m: ArrayLike) -> tuple[FloatArray, BoolArray]:
    """Expected time in each state before a migration, for any number of states.

    From state ``i`` the host migrates with probability ``m_i`` and otherwise moves as ``p``, so
    the transient part of the absorbing chain is ``Q = diag(1 - m) p`` and
    ``L = p_initial (I - Q)^-1``, solved as ``(I - Q)^T L = p_initial``.

    Parameters
    ----------
    p : float array of shape (..., S, S)
    p_initial : float array of shape (..., S)
        Initial state distribution (one-hot on the current state).
    m : float array of shape (..., S)
        Migration probability in each state. The three inputs broadcast together.

    Returns
    -------
    L : float array of shape (..., S)
        NaN where ``I - Q`` is singular.
    ok : bool array of shape (...)
        False where ``I - Q`` is singular (the two-state formula divides by zero there).
    """
    p_arr = np.asarray(p, dtype=np.float64)
    p0 = np.asarray(p_initial, dtype=np.float64)
    keep = 1 - np.asarray(m, dtype=np.float64)
    n_states = p_arr.shape[-1]
    system = np.swapaxes(np.eye(n_states) - keep[..., :, None] * p_arr, -1, -2)
    batch = np.broadcast_shapes(system.shape[:-2], p0.shape[:-1])
    system = np.broadcast_to(system, (*batch, n_states, n_states))
    with np.errstate(all="ignore"):
        det = np.linalg.det(system)
    ok: BoolArray = np.isfinite(det) & (det != 0)
    safe = np.where(ok[..., None, None], system, np.eye(n_states))
    rhs = np.broadcast_to(p0, (*batch, n_states))[..., None]
    solved = np.linalg.solve(safe, rhs)[..., 0]
    return np.where(ok[..., None], solved, np.nan), ok


def l_functions_two_states(p: ArrayLike, p_initial: ArrayLike, m: ArrayLike) -> tuple[FloatArray, BoolArray]:
    """Closed form of :func:`l_functions` for two states.

    With ``a = 1 - m0``, ``b = 1 - m1``:
    ``D = p00 a (1 - p11 b) + p11 b + p01 p10 a b - 1``,
    ``L0 = [p0 (p11 b - 1) - p1 p10 b] / D``, ``L1 = -[p1 (1 - p00 a) + p0 p01 a] / D``.
    The arithmetic follows openstack-neat's expressions term by term, so ``D`` rounds to exactly
    the same float (it decides which nearly singular grid points are skipped).

    Shapes as in :func:`l_functions` with ``S = 2``; ``ok`` is False where ``D == 0``.
    """
    p_arr = np.asarray(p, dtype=np.float64)
    start = np.asarray(p_initial, dtype=np.float64)
    m_arr = np.asarray(m, dtype=np.float64)
    p00, p01, p10, p11 = p_arr[..., 0, 0], p_arr[..., 0, 1], p_arr[..., 1, 0], p_arr[..., 1, 1]
    p0, p1 = start[..., 0], start[..., 1]
    m0, m1 = m_arr[..., 0], m_arr[..., 1]
    with np.errstate(all="ignore"):
        d = (
            p00 * (m1 * (p11 - m0 * p11) - p11 + m0 * (p11 - 1) + 1)
            - m1 * p11
            + p11
            + (m1 * (m0 * p01 - p01) - m0 * p01 + p01) * p10
            - 1
        )
        ok: BoolArray = d != 0
        safe = np.where(ok, d, 1.0)
        l0 = (p0 * (-1 * m1 * p11 + p11 - 1) + (m1 * p1 - p1) * p10) / safe
        l1 = -1 * (p00 * (m0 * p1 - p1) + p1 + p0 * (p01 - m0 * p01)) / safe
    result = np.where(ok[..., None], np.stack([l0, l1], axis=-1), np.nan)
    return result, ok


@cache
def _grid_points(step: float, n_dims: int) -> FloatArray:
    n_values = int(np.floor(1.0 / step + _GRID_SLACK)) + 1
    values = np.minimum(np.arange(n_values) * step, 1.0)
    axes = np.meshgrid(*([values] * n_dims), indexing="ij")
    points = np.stack(axes, axis=-1).reshape(-1, n_dims)
    points.flags.writeable = False
    return points


def grid_points(step: float, n_dims: int) -> FloatArray:
    """The search grid: every combination of ``0, step, 2 step, ... <= 1`` in ``n_dims`` dimensions.

    Rows are in the order of nested loops with the first coordinate outermost (openstack-neat's
    ``x`` outer, ``y`` inner). Point ``k`` of an axis is ``k * step`` rounded once; openstack-neat
    accumulates ``step`` and, for steps that do not divide 1 in binary, can lose the point 1.0.

    Returns
    -------
    read-only float array of shape (G ** n_dims, n_dims)
    """
    return _grid_points(float(step), int(n_dims))


def best_grid_point(objective: ArrayLike, feasible: ArrayLike) -> tuple[IntArray, BoolArray]:
    """openstack-neat's brute-force rule, vectorized over the last axis.

    Scanning the grid in order from a best value of 0, a point replaces the best only if its
    objective is strictly greater and it is feasible; so the answer is the first feasible point
    with the largest objective among those with a positive objective.

    Parameters
    ----------
    objective : float array of shape (..., G)
    feasible : bool array of shape (..., G)

    Returns
    -------
    index : intp array of shape (...)
        Grid index of the best point (0 where none was found).
    found : bool array of shape (...)
    """
    obj = np.asarray(objective, dtype=np.float64)
    candidate = np.asarray(feasible, dtype=np.bool_) & (obj > 0)
    index: IntArray = np.argmax(np.where(candidate, obj, -np.inf), axis=-1)
    found: BoolArray = np.asarray(candidate.any(axis=-1))
    return index, found


def solve_policy(
    p: FloatArray,
    p_initial: FloatArray,
    *,
    steps: ArrayLike,
    steps_in_top_state: ArrayLike,
    migration_time_steps: ArrayLike,
    otf: float,
    step: float,
) -> tuple[FloatArray, BoolArray]:
    """Maximize ``L0 + ... + LN`` over the grid subject to the OTF constraint, for every host at once.

    The constraint is ``(T_m + t_N + L_N) / (T_m + t + L0 + ... + LN) <= otf``; grid points where
    the L functions or the constraint divide by zero are skipped.

    Parameters
    ----------
    p : float array of shape (d, S, S)
    p_initial : float array of shape (d, S)
    steps, steps_in_top_state : int arrays of shape (d,)
        ``t`` and ``t_N``: steps observed, and steps in the top state.
    migration_time_steps : float array of shape (d,)
    otf : float
    step : float
        Grid step.

    Returns
    -------
    policy : float array of shape (d, S)
        Chosen migration probability per state; NaN where no grid point is feasible.
    found : bool array of shape (d,)
    """
    n_states = p.shape[-1]
    points = grid_points(step, n_states)
    if n_states == 2:
        ls, ok = l_functions_two_states(p[:, None], p_initial[:, None], points[None])
    else:
        ls, ok = l_functions(p[:, None], p_initial[:, None], points[None])
    objective = ls[..., 0]
    for s in range(1, n_states):
        objective = objective + ls[..., s]
    tm = np.asarray(migration_time_steps, dtype=np.float64)[:, None]
    numerator = tm + np.asarray(steps_in_top_state)[:, None] + ls[..., -1]
    denominator = tm + np.asarray(steps)[:, None] + objective
    usable = ok & (denominator != 0)
    with np.errstate(all="ignore"):
        ratio = np.divide(numerator, denominator, out=np.full_like(numerator, np.inf), where=usable)
    index, found = best_grid_point(np.where(usable, objective, np.nan), usable & (ratio <= otf))
    policy: FloatArray = np.where(found[:, None], points[index], np.nan)
    return policy, found
