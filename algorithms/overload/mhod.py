"""MHOD: Markov host overload detection with multisize sliding window estimation.

Each host's utilization is mapped to a few states (the top one is "overloaded"); the transition
probabilities between states are estimated online from sliding windows of several sizes, and a
host in the top state is overloaded when no migration policy on a grid keeps the expected fraction
of time in the top state (the OTF) within ``otf``.

The window statistics are kept per host in :class:`MhodState` and advanced from the newest value
only, so a call costs the same at step 10 and at step 10,000 (openstack-neat rebuilt them from the
whole history on every call).

References
----------
A. Beloglazov and R. Buyya, "Managing overloaded hosts for dynamic consolidation of virtual
machines in cloud data centers under quality of service constraints", IEEE Transactions on
Parallel and Distributed Systems 24(7), 2013 (MHOD).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algorithms._validation import InputError, Interval, Sequence
from algorithms.base import BoolArray, DetectorKernel, FloatArray, IntArray, OverloadDetector
from algorithms.overload._mhod_model import select_windows, solve_policy, state_index
from algorithms.overload._mhod_row import (
    BOUNDARY,
    GRID_STEP,
    LEARNING,
    MHOD_KERNEL,
    N_STATES,
    TARGET,
    pack_state,
    state_width,
)
from algorithms.overload._row import new_params

__all__ = ["MhodDetector", "MhodState"]

_T = TypeVar("_T", bound=np.generic)


@dataclass(frozen=True)
class MhodState:
    """Per-host memory of :class:`MhodDetector`; hosts on axis 0, never mutated.

    ``S`` is the number of states, ``W`` the number of window sizes, ``R = 2 * max(window_sizes)``.
    Transitions out of state ``i`` are numbered ``k = 1, 2, ...``; the estimate windows of (i, j)
    hold the integer counts ``c_k`` (the estimate is ``c_k / w``).

    Attributes
    ----------
    previous_state : intp array of shape (n,)
        State of the newest value seen (0 before the first: the first value is a transition from 0).
    steps : intp array of shape (n,)
        Values observed (calls that brought a value): ``t``.
    steps_in_top_state : intp array of shape (n,)
        Values observed in the top state: ``t_N``.
    transitions : intp array of shape (n, S)
        Transitions observed out of each state.
    request_windows : int8 array of shape (n, S, R)
        Ring buffers: the destination of transition ``k`` out of ``i`` is at ``(k - 1) % R``
        (-1: empty). Twice the largest window, so the estimate leaving a window can be recounted.
    window_counts : intp array of shape (n, S, S, W)
        ``c_k``: transitions ``i -> j`` among the last ``w`` transitions out of ``i``.
    lagged_counts : intp array of shape (n, S, S, W)
        ``c_(k - w)`` (0 while ``k <= w``): the count of the estimate that leaves the window next.
    estimate_sums, estimate_sq_sums : intp arrays of shape (n, S, S, W)
        Sum and sum of squares of the counts in each estimate window (the last ``min(k, w)``).
    policy : float array of shape (n, S)
        Diagnostic, not read by the next call: the migration probabilities chosen by each host's
        latest call; NaN where that call did not decide or found no feasible policy (overloaded).
    """

    previous_state: IntArray
    steps: IntArray
    steps_in_top_state: IntArray
    transitions: IntArray
    request_windows: NDArray[np.int8]
    window_counts: IntArray
    lagged_counts: IntArray
    estimate_sums: IntArray
    estimate_sq_sums: IntArray
    policy: FloatArray


@dataclass(frozen=True, kw_only=True)
class MhodDetector(OverloadDetector):
    """Markov host overload detection (MHOD-OPT with brute-force search).

    Each call consumes the newest value of every host with history: it maps the value to a state
    (the first ``i`` with ``u < state_config[i]``, else the top state ``N``), records the
    transition from the previous state, and re-estimates the transition probabilities: per (i, j)
    the largest window whose estimates' variance stays within ``p (1 - p) / w``, scanning up from
    the smallest (see :func:`~algorithms.overload._mhod_model.select_windows`). A host decides
    only when it has observed at least ``learning_steps`` values, is in state ``N`` now and
    ``p[N][N] > 0``; it is then overloaded iff no migration policy ``m`` on the grid of step
    ``bruteforce_step`` with a positive ``L0 + ... + LN`` satisfies
    ``(T_m + t_N + L_N) / (T_m + t + L0 + ... + LN) <= otf``. Hosts without history (``n_valid``
    0) are not overloaded and their state is unchanged.

    Parameters
    ----------
    state_config : strictly increasing floats in (0, inf)
        Utilization thresholds between states; ``len(state_config) + 1`` states.
    otf : float in (0, 1]
        Acceptable fraction of time in the top state (overload time fraction).
    window_sizes : strictly increasing ints in [2, inf)
        Sizes of the estimation windows, in transitions.
    bruteforce_step : float in (0, 1]
        Step of the grid of migration probabilities.
    learning_steps : int in [1, inf)
        Values a host must have observed before it may be declared overloaded.

    Notes
    -----
    :meth:`evaluate` takes ``utilization`` of shape (n_hosts, window), ``n_valid`` and
    ``migration_time_steps`` of shape (n_hosts,) and a :class:`MhodState`, and returns a bool
    array of shape (n_hosts,) and the next :class:`MhodState`. Differences from openstack-neat:
    the variance test is exact (on integer counts), the state mapping uses the thresholds (see
    :func:`~algorithms.overload._mhod_model.state_index`), and a host decides only in the top
    state with ``p[N][N] > 0`` (the paper's rule; openstack-neat's code tests ``p[current][N]``).
    """

    POLICY_PARAMETER = "otf"
    PARAMETERS = {  # noqa: RUF012
        "state_config": Sequence(Interval("float", 0.0, math.inf, "neither"), increasing=True),
        "otf": Interval("float", 0.0, 1.0, "right"),
        "window_sizes": Sequence(Interval("int", 2, math.inf, "left"), increasing=True),
        "bruteforce_step": Interval("float", 0.0, 1.0, "right"),
        "learning_steps": Interval("int", 1, math.inf, "left"),
    }

    state_config: tuple[float, ...] = (0.8,)
    otf: float = 0.1
    window_sizes: tuple[int, ...] = (30, 40, 50, 60, 70, 80, 90, 100)
    bruteforce_step: float = 0.5
    learning_steps: int = 10

    @property
    def n_states(self) -> int:
        """Number of Markov states, ``len(state_config) + 1``."""
        return len(self.state_config) + 1

    def initial_state(self, n_hosts: int) -> MhodState:
        """Per-host state before the first call: nothing observed, previous state 0."""
        s, w = self.n_states, len(self.window_sizes)
        ring = 2 * max(self.window_sizes)

        def zeros(*shape: int) -> IntArray:
            return np.zeros((n_hosts, *shape), dtype=np.intp)

        return MhodState(
            previous_state=zeros(),
            steps=zeros(),
            steps_in_top_state=zeros(),
            transitions=zeros(s),
            request_windows=np.full((n_hosts, s, ring), -1, dtype=np.int8),
            window_counts=zeros(s, s, w),
            lagged_counts=zeros(s, s, w),
            estimate_sums=zeros(s, s, w),
            estimate_sq_sums=zeros(s, s, w),
            policy=np.full((n_hosts, s), np.nan),
        )

    def kernel(self) -> DetectorKernel | None:
        """The row kernel's numbers for two states (:mod:`algorithms.overload._mhod_row`); None for
        more states, whose L functions need a linear solve (NumPy only)."""
        if self.n_states != N_STATES:
            return None
        params = new_params(MHOD_KERNEL)
        params[TARGET], params[LEARNING] = self.otf, self.learning_steps
        params[GRID_STEP], params[BOUNDARY] = self.bruteforce_step, self.state_config[0]
        coef = np.zeros((3, len(self.window_sizes)))
        coef[0] = self.window_sizes
        width = state_width(len(self.window_sizes), 2 * max(self.window_sizes))
        return DetectorKernel(params, coef, state_width=width)

    def kernel_state(self, state: MhodState | None, n_hosts: int) -> FloatArray:
        """The state as the kernel's rows (:func:`~algorithms.overload._mhod_row.pack_state`)."""
        return pack_state(self.initial_state(n_hosts) if state is None else state)

    def transition_estimates(self, state: MhodState) -> tuple[FloatArray, IntArray]:
        """Estimated transition probabilities and chosen window sizes of every host.

        Returns
        -------
        p : float array of shape (n_hosts, S, S)
        selected_windows : intp array of shape (n_hosts, S, S)
        """
        return select_windows(
            state.window_counts,
            state.estimate_sums,
            state.estimate_sq_sums,
            state.transitions,
            self.window_sizes,
        )

    def evaluate(
        self, utilization: FloatArray, n_valid: IntArray, migration_time_steps: FloatArray, state: MhodState
    ) -> tuple[BoolArray, MhodState]:
        n_hosts, top = utilization.shape[0], self.n_states - 1
        self._check_state(state, n_hosts)
        overloaded = np.zeros(n_hosts, dtype=np.bool_)
        rows = np.flatnonzero(n_valid > 0)
        if rows.size == 0:
            return overloaded, state
        current = state_index(self.state_config, utilization[rows, -1])
        new = self._advance(state, rows, current)

        p, _ = select_windows(
            new.window_counts[rows],
            new.estimate_sums[rows],
            new.estimate_sq_sums[rows],
            new.transitions[rows],
            self.window_sizes,
        )
        deciding = (new.steps[rows] >= self.learning_steps) & (current == top) & (p[:, top, top] > 0)
        hosts = rows[deciding]
        policy = new.policy
        policy[rows] = np.nan
        if hosts.size:
            p_initial = np.zeros((hosts.size, self.n_states))
            p_initial[:, top] = 1.0
            chosen, found = solve_policy(
                p[deciding],
                p_initial,
                steps=new.steps[hosts],
                steps_in_top_state=new.steps_in_top_state[hosts],
                migration_time_steps=migration_time_steps[hosts],
                otf=self.otf,
                step=self.bruteforce_step,
            )
            policy[hosts] = chosen
            overloaded[hosts] = ~found
        return overloaded, new

    def _check_state(self, state: MhodState, n_hosts: int) -> None:
        expected = (n_hosts, self.n_states, self.n_states, len(self.window_sizes))
        if not isinstance(state, MhodState) or state.window_counts.shape != expected:
            got = state.window_counts.shape if isinstance(state, MhodState) else type(state).__name__
            raise InputError(
                f"MhodDetector: state must be an MhodState for {n_hosts} hosts, {self.n_states} states and "
                f"{len(self.window_sizes)} window sizes (window_counts of shape {expected}); got {got}. "
                "Was it made by another detector or for another batch?"
            )

    def _advance(self, state: MhodState, rows: IntArray, current: IntArray) -> MhodState:
        """Record the transition ``previous_state -> current`` of each host in ``rows``.

        Only the row ``i = previous_state`` of each host changes. With ``k`` the new transition's
        number out of ``i``: the count window of size ``w`` gains ``current`` and loses the
        destination of transition ``k - w``; the lagged count gains that one and loses ``k - 2w``;
        the estimate window gains ``c_k`` and, once ``k > w``, loses ``c_(k - w)``.
        """
        w = np.asarray(self.window_sizes, dtype=np.intp)
        ring_size = state.request_windows.shape[-1]
        prev = state.previous_state[rows]
        k = state.transitions[rows, prev] + 1
        ring = state.request_windows[rows, prev]
        back = k[:, None] - w
        full = back >= 1
        leaving = np.where(full, np.take_along_axis(ring, (back - 1) % ring_size, axis=1), -1)
        leaving_lag = np.where(back - w >= 1, np.take_along_axis(ring, (back - w - 1) % ring_size, axis=1), -1)
        ring[np.arange(rows.size), (k - 1) % ring_size] = current

        j = np.arange(self.n_states)[None, :, None]
        entered = current[:, None, None] == j
        left = leaving[:, None, :] == j
        counts = state.window_counts[rows, prev] + entered - left
        lagged = state.lagged_counts[rows, prev] + left - (leaving_lag[:, None, :] == j)
        dropped = np.where(full[:, None, :], lagged, 0)
        sums = state.estimate_sums[rows, prev] + counts - dropped
        sq_sums = state.estimate_sq_sums[rows, prev] + counts * counts - dropped * dropped

        at_prev = (rows, prev)
        return MhodState(
            previous_state=_updated(state.previous_state, (rows,), current),
            steps=_updated(state.steps, (rows,), state.steps[rows] + 1),
            steps_in_top_state=_updated(
                state.steps_in_top_state, (rows,), state.steps_in_top_state[rows] + (current == self.n_states - 1)
            ),
            transitions=_updated(state.transitions, at_prev, k),
            request_windows=_updated(state.request_windows, at_prev, ring),
            window_counts=_updated(state.window_counts, at_prev, counts),
            lagged_counts=_updated(state.lagged_counts, at_prev, lagged),
            estimate_sums=_updated(state.estimate_sums, at_prev, sums),
            estimate_sq_sums=_updated(state.estimate_sq_sums, at_prev, sq_sums),
            policy=state.policy.copy(),
        )


def _updated(old: NDArray[_T], index: tuple[IntArray, ...], value: ArrayLike) -> NDArray[_T]:
    """A copy of ``old`` with ``value`` written at ``index``."""
    out = old.copy()
    out[index] = value
    return out
