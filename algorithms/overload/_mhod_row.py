"""MHOD's compiled row kernel: one host's hypothetical newest value judged from its packed state.

A placement guard asks whether a host would be overloaded with a VM added; for MHOD that is one
more value (the history's newest) recorded on top of the host's state from the previous round,
then the window estimates and the policy search of :meth:`~algorithms.overload.mhod.MhodDetector.evaluate`
for that host. :func:`mhod_row` does exactly that on the state packed by
:func:`pack_state`, without writing to it, for two Markov states (one threshold: the paper's
setting and the default); with more states the L functions need a linear solve, and the detector
declares no kernel. The arithmetic is :mod:`algorithms.overload._mhod_model`'s operation for
operation: the window test on integers, the two-state L functions term by term.

References
----------
A. Beloglazov and R. Buyya, "Managing overloaded hosts for dynamic consolidation of virtual
machines in cloud data centers under quality of service constraints", IEEE Transactions on
Parallel and Distributed Systems 24(7), 2013 (MHOD).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import jit

if TYPE_CHECKING:
    from algorithms.overload.mhod import MhodState

FloatArray = NDArray[np.float64]

#: The MHOD row kernel's code (``params[CODE]``) and the positions of its parameters in ``params``:
#: the OTF target, the learning steps, the grid step and the utilization that starts the top state.
MHOD_KERNEL, TARGET, LEARNING, GRID_STEP, BOUNDARY = 6, 4, 5, 6, 7
#: Number of Markov states the kernel handles (one threshold).
N_STATES = 2
#: Columns of a packed state row before the per-state fields: previous state, values observed,
#: values observed in the top state; then the transitions out of each state (N_STATES).
PREVIOUS, STEPS, TOP_STEPS, TRANSITIONS = 0, 1, 2, 3
#: Slack of the grid's last point (:data:`algorithms.overload._mhod_model._GRID_SLACK`).
GRID_SLACK = 1e-9


def state_width(n_windows: int, ring: int) -> int:
    """Columns of a packed state row: 3 scalars, the transitions, the rings, four count tables."""
    return 3 + N_STATES + N_STATES * ring + 4 * N_STATES * N_STATES * n_windows


def pack_state(state: MhodState) -> FloatArray:
    """An :class:`~algorithms.overload.mhod.MhodState` of two states as rows of floats (n_hosts, width).

    In order: previous state, steps, steps in the top state, transitions (S), request windows
    (S, R), window counts, lagged counts, estimate sums and estimate square sums (each S, S, W), every
    table flattened in C order. Every entry is a small integer, exact in a float.
    """
    n = state.steps.shape[0]
    parts = (
        state.previous_state[:, None],
        state.steps[:, None],
        state.steps_in_top_state[:, None],
        state.transitions,
        state.request_windows.reshape(n, -1),
        state.window_counts.reshape(n, -1),
        state.lagged_counts.reshape(n, -1),
        state.estimate_sums.reshape(n, -1),
        state.estimate_sq_sums.reshape(n, -1),
    )
    out = np.empty((n, sum(part.shape[1] for part in parts)))
    at = 0
    for part in parts:
        out[:, at : at + part.shape[1]] = part
        at += part.shape[1]
    return out


@jit
def _estimate(
    coef: FloatArray, state: FloatArray, i: int, j: int, previous: int, k: int, current: int, ring: int
) -> float:
    """``p[i][j]`` after the transition ``previous -> current`` (the ``k``-th out of ``previous``):
    the count of the window :func:`~algorithms.overload._mhod_model.select_windows` picks over its size."""
    n_windows = coef.shape[1]
    table = N_STATES * N_STATES * n_windows
    rings = TRANSITIONS + N_STATES
    counts = rings + N_STATES * ring
    at = (i * N_STATES + j) * n_windows
    seen = k if i == previous else int(state[TRANSITIONS + i])
    chosen_count, chosen_size = 0, 1
    for v in range(n_windows):
        size = int(coef[0, v])
        count = int(state[counts + at + v])
        sums = int(state[counts + 2 * table + at + v])
        sq_sums = int(state[counts + 3 * table + at + v])
        if i == previous:
            back = k - size
            full = back >= 1
            leaving = int(state[rings + i * ring + (back - 1) % ring]) if full else -1
            leaving_lag = int(state[rings + i * ring + (back - size - 1) % ring]) if back - size >= 1 else -1
            count = count + (1 if current == j else 0) - (1 if leaving == j else 0)
            lagged = int(state[counts + table + at + v]) + (1 if leaving == j else 0) - (1 if leaving_lag == j else 0)
            dropped = lagged if full else 0
            sums = sums + count - dropped
            sq_sums = sq_sums + count * count - dropped * dropped
        passes = seen == 0 or (seen >= size and size * sq_sums - sums * sums <= count * (size - count) * (size - 1))
        if v == 0 or passes:
            chosen_count, chosen_size = count, size
        if not passes:
            break
    return chosen_count / chosen_size


@jit
def mhod_row(
    params: FloatArray, coef: FloatArray, state: FloatArray, row: FloatArray, n_valid: int, steps: float
) -> bool:
    """:meth:`~algorithms.overload.mhod.MhodDetector.evaluate` of a host with history on its newest
    value ``row[-1]`` (window,), from its packed state row (:func:`pack_state`), which it does not
    advance; ``coef[0]`` holds the window sizes, ``steps`` is the migration horizon."""
    current = 0 if row[row.shape[0] - 1] < params[BOUNDARY] else 1
    top = N_STATES - 1
    t = int(state[STEPS]) + 1
    if current != top or not t >= params[LEARNING]:
        return False
    ring = 2 * int(coef[0, coef.shape[1] - 1])
    previous = int(state[PREVIOUS])
    k = int(state[TRANSITIONS + previous]) + 1
    p00 = _estimate(coef, state, 0, 0, previous, k, current, ring)
    p01 = _estimate(coef, state, 0, 1, previous, k, current, ring)
    p10 = _estimate(coef, state, 1, 0, previous, k, current, ring)
    p11 = _estimate(coef, state, 1, 1, previous, k, current, ring)
    if not p11 > 0:
        return False
    # the grid search of solve_policy from the top state (p_initial one-hot on it)
    p0, p1 = 0.0, 1.0
    t_top = int(state[TOP_STEPS]) + 1
    step = params[GRID_STEP]
    n_values = math.floor(1.0 / step + GRID_SLACK) + 1
    for a in range(n_values):
        m0 = min(a * step, 1.0)
        for b in range(n_values):
            m1 = min(b * step, 1.0)
            d = (
                p00 * (m1 * (p11 - m0 * p11) - p11 + m0 * (p11 - 1) + 1)
                - m1 * p11
                + p11
                + (m1 * (m0 * p01 - p01) - m0 * p01 + p01) * p10
                - 1
            )
            if d == 0:
                continue
            l0 = (p0 * (-1 * m1 * p11 + p11 - 1) + (m1 * p1 - p1) * p10) / d
            l1 = -1 * (p00 * (m0 * p1 - p1) + p1 + p0 * (p01 - m0 * p01)) / d
            objective = l0 + l1
            numerator = steps + t_top + l1
            denominator = steps + t + objective
            if denominator != 0 and numerator / denominator <= params[TARGET] and objective > 0:
                return False  # a feasible policy: not overloaded
    return True
