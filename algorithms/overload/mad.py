"""MAD: an adaptive utilization threshold from the median absolute deviation of the history.

The threshold is ``1 - safety * MAD`` over the newest ``window`` values; a host is overloaded iff
its newest utilization is above it. :class:`SpreadThresholdDetector` holds the rule shared with
IQR (:mod:`algorithms.overload.iqr`), which differs only in the measure of spread.

References
----------
A. Beloglazov and R. Buyya, "Optimal online deterministic algorithms and adaptive heuristics for
energy and performance efficient dynamic consolidation of virtual machines in cloud data centers",
Concurrency and Computation: Practice and Experience 24(13), 2012 (MAD, IQR).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import jit, sort_small
from algorithms._validation import Interval, Nullable, Options
from algorithms._windows import (
    Comparison,
    compare,
    last_value,
    median_sorted,
    newest,
    nonzero_run,
    sort_valid,
    static_fallback,
)
from algorithms.base import BoolArray, DetectorKernel, FloatArray, IntArray, OverloadDetector
from algorithms.overload._row import SAFETY, exceeds, fallback, new_params

HistoryRule = Literal["valid", "nonzero_run"]

#: CloudSim's minimum history for MAD and IQR ("12 has been suggested as a safe value").
CLOUDSIM_MIN_HISTORY = 12
#: The MAD/IQR row kernel's code (``params[CODE]``) and the positions of its own parameters.
SPREAD_KERNEL = 2
WINDOW, MIN_HISTORY, NONZERO_RUN, IQR = 5, 6, 7, 8


def median_absolute_deviation(block: FloatArray, count: IntArray) -> FloatArray:
    """``median(|h - median(h)|)`` over the valid part of every row.

    Parameters
    ----------
    block : float array of shape (n_rows, k)
        Right-aligned histories; row ``i`` is valid on its newest ``count[i]`` columns.
    count : int array of shape (n_rows,)

    Returns
    -------
    float array of shape (n_rows,)
        0.0 for empty rows.

    Examples
    --------
    MAD of [1, 1, 2, 2, 4, 6, 9]: median 2, deviations [1, 1, 0, 0, 2, 4, 7], their median 1.0.
    """
    ordered = sort_valid(block, count)
    centre = median_sorted(ordered, count)
    # The NaN padding stays NaN and sorts to the right again.
    deviations = np.sort(np.abs(ordered - centre[:, None]), axis=1)
    return median_sorted(deviations, count)


def history_count(u: FloatArray, n_valid: IntArray, rule: HistoryRule) -> IntArray:
    """How much history a row has, to compare with ``min_history``; shape (n_rows,).

    ``"valid"`` is ``n_valid`` (what CloudSim 4.0 effectively compares). ``"nonzero_run"`` is the run
    of non-zero values counting back from the newest: one idle step resets the count.
    """
    return n_valid if rule == "valid" else nonzero_run(u, n_valid)


def spread_decision(
    last: FloatArray,
    has: BoolArray,
    spread: FloatArray,
    enough: BoolArray,
    *,
    safety: float,
    comparison: Comparison,
    fallback_threshold: float | None,
) -> BoolArray:
    """The adaptive-threshold rule of MAD and IQR, for all rows at once.

    Parameters
    ----------
    last : float array of shape (n_rows,)
        Newest utilization.
    has : bool array of shape (n_rows,)
        The row has at least one value.
    spread : float array of shape (n_rows,)
        MAD or IQR of the row's window.
    enough : bool array of shape (n_rows,)
        The row has at least the minimum history.
    safety, comparison, fallback_threshold
        As in :class:`SpreadThresholdDetector`.

    Returns
    -------
    bool array of shape (n_rows,)
        ``last > 1 - safety * spread`` (``>=`` when inclusive) where ``enough``, else the
        static fallback.
    """
    adaptive = compare(last, 1.0 - safety * spread, comparison)
    fallback = static_fallback(last, has, fallback_threshold)
    result: BoolArray = has & ((enough & adaptive) | (~enough & fallback))
    return result


@dataclass(frozen=True, kw_only=True)
class SpreadThresholdDetector(OverloadDetector):
    """Overloaded iff ``u[-1] > 1 - safety * spread(newest window values)``.

    Parameters
    ----------
    safety : float in (0, inf)
        Safety parameter s of the paper.
    window : int >= 1
        The spread is taken over the newest ``min(n_valid, window)`` values (CloudSim: 30).
    min_history : int >= 1
        Below this much history (counted by ``history_rule``) the fallback decides
        (CloudSim: 12; openstack-neat: its ``limit``).
    comparison : {"strict", "inclusive"}
        ``>`` (paper, CloudSim) or ``>=`` (openstack-neat).
    fallback_threshold : None or float in [0, 1]
        Without enough history: ``u[-1] > fallback_threshold`` (strict, CloudSim's static
        threshold 0.7), or never overloaded when None (openstack-neat).
    history_rule : {"valid", "nonzero_run"}
        ``"valid"`` counts ``n_valid`` (CloudSim 4.0's behaviour on its zero-trimmed histories);
        ``"nonzero_run"`` counts the consecutive non-zero values back from the newest.

    Notes
    -----
    :meth:`evaluate` takes ``utilization`` of shape (n_hosts, window) and ``n_valid`` of shape
    (n_hosts,) and returns a bool array of shape (n_hosts,) and ``None`` (stateless). A host
    without history is never overloaded.
    """

    PARAMETERS = {  # noqa: RUF012
        "safety": Interval("float", 0.0, float("inf"), closed="neither"),
        "window": Interval("int", 1, float("inf")),
        "min_history": Interval("int", 1, float("inf")),
        "comparison": Options(("strict", "inclusive")),
        "fallback_threshold": Nullable(Interval("float", 0.0, 1.0)),
        "history_rule": Options(("valid", "nonzero_run")),
    }

    safety: float = 2.5
    window: int = 30
    min_history: int = CLOUDSIM_MIN_HISTORY
    comparison: Comparison = "strict"
    fallback_threshold: float | None = 0.7
    history_rule: HistoryRule = "valid"

    POLICY_PARAMETER = "safety"

    def spread_kernel(self, *, iqr: bool) -> DetectorKernel:
        """The row kernel's numbers for this rule with MAD (``iqr=False``) or IQR as the spread."""
        params = new_params(
            SPREAD_KERNEL, safety=self.safety, strict=self.comparison == "strict", fallback=self.fallback_threshold
        )
        params[[WINDOW, MIN_HISTORY, NONZERO_RUN, IQR]] = (
            self.window,
            self.min_history,
            self.history_rule == "nonzero_run",
            iqr,
        )
        return DetectorKernel(params, np.zeros((3, 0)))

    @abstractmethod
    def spread(self, block: FloatArray, count: IntArray) -> FloatArray:
        """Spread of the valid part of every row: (n_rows, k), (n_rows,) -> (n_rows,)."""

    def evaluate(
        self, utilization: FloatArray, n_valid: IntArray, migration_time_steps: FloatArray, state: Any
    ) -> tuple[BoolArray, Any]:
        block, count = newest(utilization, n_valid, self.window)
        last, has = last_value(utilization, n_valid)
        enough = history_count(utilization, n_valid, self.history_rule) >= self.min_history
        decision = spread_decision(
            last,
            has,
            self.spread(block, count),
            enough,
            safety=self.safety,
            comparison=self.comparison,
            fallback_threshold=self.fallback_threshold,
        )
        return decision, state


@dataclass(frozen=True, kw_only=True)
class MadDetector(SpreadThresholdDetector):
    """MAD: overloaded iff ``u[-1] > 1 - safety * MAD`` of the newest ``window`` values.

    Parameters as in :class:`SpreadThresholdDetector` (``safety`` default 2.5, the paper's).
    """

    def spread(self, block: FloatArray, count: IntArray) -> FloatArray:
        return median_absolute_deviation(block, count)

    def kernel(self) -> DetectorKernel:
        return self.spread_kernel(iqr=False)


@jit
def _median_sorted(s: NDArray[np.float64], count: int) -> float:
    if count == 0:
        return 0.0
    return 0.5 * (s[(count - 1) // 2] + s[count // 2])


@jit
def _sorted_at(s: NDArray[np.float64], index: int, k: int) -> float:
    """``s[index]`` with the index clipped into a block of ``k`` columns, NaN past ``s`` (the padding)."""
    index = min(max(index, 0), k - 1)
    return s[index] if index < s.shape[0] else math.nan


@jit
def spread_row(row: NDArray[np.float64], n_valid: int, params: NDArray[np.float64]) -> bool:
    """:meth:`SpreadThresholdDetector.evaluate` (MAD or IQR, with the static fallback) on one row (window,)."""
    window = row.shape[0]
    last = row[window - 1]
    k = min(int(params[WINDOW]), window)
    count = min(n_valid, k)
    history = n_valid
    if params[NONZERO_RUN] != 0:  # consecutive non-zero values back from the newest
        history = 0
        while history < n_valid and row[window - 1 - history] != 0:
            history += 1
    if history < params[MIN_HISTORY]:
        return fallback(last, params)
    ordered = sort_small(row[window - count :])
    if params[IQR] != 0:  # the reference quartile rule
        n = count + 1
        spread = _sorted_at(ordered, (3 * n + 2) // 4 - 1, k) - _sorted_at(ordered, (n + 2) // 4 - 1, k)
        if count <= 1:
            spread = 0.0
    else:  # MAD
        centre = _median_sorted(ordered, count)
        for i in range(count):
            ordered[i] = abs(ordered[i] - centre)
        spread = _median_sorted(sort_small(ordered), count)
    return exceeds(last, 1.0 - params[SAFETY] * spread, params)
