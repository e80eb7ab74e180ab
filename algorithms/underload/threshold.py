"""Underload when the newest utilization is at or below a threshold.

References
----------
A. Beloglazov and R. Buyya, "Optimal online deterministic algorithms and adaptive heuristics for
energy and performance efficient dynamic consolidation of virtual machines in cloud data centers",
Concurrency and Computation: Practice and Experience 24(13), 2012 (underload detection; the
threshold form is OpenStack Neat's).
"""

from __future__ import annotations

from dataclasses import dataclass

from algorithms._validation import Interval
from algorithms._windows import last_value
from algorithms.base import BoolArray, FloatArray, IntArray, UnderloadDetector


@dataclass(frozen=True, kw_only=True)
class ThresholdUnderload(UnderloadDetector):
    """Underloaded iff ``u[-1] <= threshold`` (inclusive); a host without history is not.

    Parameters
    ----------
    threshold : float in [0, 1]

    Notes
    -----
    :meth:`evaluate` takes ``utilization`` of shape (n_hosts, window) and ``n_valid`` of shape
    (n_hosts,) and returns a bool array of shape (n_hosts,).
    """

    PARAMETERS = {  # noqa: RUF012
        "threshold": Interval("float", 0.0, 1.0),
    }

    threshold: float = 0.3

    def evaluate(self, utilization: FloatArray, n_valid: IntArray) -> BoolArray:
        last, has = last_value(utilization, n_valid)
        return has & (last <= self.threshold)
