"""Overload when the mean of the newest n utilization values exceeds a threshold.

References
----------
A. Beloglazov and R. Buyya, "Optimal online deterministic algorithms and adaptive heuristics for
energy and performance efficient dynamic consolidation of virtual machines in cloud data centers",
Concurrency and Computation: Practice and Experience 24(13), 2012 (THR, here on a short average as
in OpenStack Neat).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from algorithms._validation import Interval, Options
from algorithms._windows import Comparison, compare, newest, row_mean
from algorithms.base import BoolArray, FloatArray, IntArray, OverloadDetector


@dataclass(frozen=True, kw_only=True)
class LastNAverageOverload(OverloadDetector):
    """Overloaded iff the mean of the newest ``n`` values (fewer if the history is shorter) > threshold.

    A host without history is not overloaded.

    Parameters
    ----------
    threshold : float in [0, 1]
    n : int >= 1
        Number of newest values averaged.
    comparison : {"strict", "inclusive"}
        ``mean > threshold`` or ``mean >= threshold``.

    Notes
    -----
    :meth:`evaluate` takes ``utilization`` of shape (n_hosts, window) and ``n_valid`` of shape
    (n_hosts,) and returns a bool array of shape (n_hosts,) and ``None`` (stateless).
    """

    POLICY_PARAMETER = "threshold"
    PARAMETERS = {  # noqa: RUF012
        "threshold": Interval("float", 0.0, 1.0),
        "n": Interval("int", 1, float("inf")),
        "comparison": Options(("strict", "inclusive")),
    }

    threshold: float = 0.8
    n: int = 3
    comparison: Comparison = "strict"

    def evaluate(
        self, utilization: FloatArray, n_valid: IntArray, migration_time_steps: FloatArray, state: Any
    ) -> tuple[BoolArray, Any]:
        block, count = newest(utilization, n_valid, self.n)
        mean = row_mean(block, count)
        return (count > 0) & compare(mean, self.threshold, self.comparison), state
