"""Underload when the mean of the newest n utilization values is at or below a threshold.

References
----------
A. Beloglazov and R. Buyya, "Optimal online deterministic algorithms and adaptive heuristics for
energy and performance efficient dynamic consolidation of virtual machines in cloud data centers",
Concurrency and Computation: Practice and Experience 24(13), 2012 (underload detection; the
averaged threshold is OpenStack Neat's).
"""

from __future__ import annotations

from dataclasses import dataclass

from algorithms._validation import Interval
from algorithms._windows import newest, row_mean
from algorithms.base import BoolArray, FloatArray, IntArray, UnderloadDetector


@dataclass(frozen=True, kw_only=True)
class LastNAverageUnderload(UnderloadDetector):
    """Underloaded iff the mean of the newest ``n`` values (fewer if shorter) <= threshold.

    A host without history is not underloaded.

    Parameters
    ----------
    threshold : float in [0, 1]
    n : int >= 1

    Notes
    -----
    :meth:`evaluate` takes ``utilization`` of shape (n_hosts, window) and ``n_valid`` of shape
    (n_hosts,) and returns a bool array of shape (n_hosts,).
    """

    PARAMETERS = {  # noqa: RUF012
        "threshold": Interval("float", 0.0, 1.0),
        "n": Interval("int", 1, float("inf")),
    }

    threshold: float = 0.3
    n: int = 3

    def evaluate(self, utilization: FloatArray, n_valid: IntArray) -> BoolArray:
        block, count = newest(utilization, n_valid, self.n)
        return (count > 0) & (row_mean(block, count) <= self.threshold)
