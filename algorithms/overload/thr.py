"""THR: a static utilization threshold on the newest value.

References
----------
A. Beloglazov and R. Buyya, "Optimal online deterministic algorithms and adaptive heuristics for
energy and performance efficient dynamic consolidation of virtual machines in cloud data centers",
Concurrency and Computation: Practice and Experience 24(13), 2012 (THR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from algorithms._validation import Interval, Options
from algorithms._windows import Comparison, compare, last_value
from algorithms.base import BoolArray, FloatArray, IntArray, OverloadDetector


@dataclass(frozen=True, kw_only=True)
class ThresholdOverload(OverloadDetector):
    """Overloaded iff the newest utilization exceeds a fixed threshold.

    ``u[-1] > threshold`` with ``comparison="strict"`` (the paper and CloudSim), ``u[-1] >=
    threshold`` with ``"inclusive"``. A host without history is not overloaded.

    Parameters
    ----------
    threshold : float in [0, 1]
        Utilization threshold as a fraction of host capacity.
    comparison : {"strict", "inclusive"}

    Notes
    -----
    :meth:`evaluate` takes ``utilization`` of shape (n_hosts, window) and ``n_valid`` of shape
    (n_hosts,) and returns a bool array of shape (n_hosts,) and ``None`` (stateless).
    """

    PARAMETERS = {  # noqa: RUF012
        "threshold": Interval("float", 0.0, 1.0),
        "comparison": Options(("strict", "inclusive")),
    }

    threshold: float = 0.8
    comparison: Comparison = "strict"

    def evaluate(
        self, utilization: FloatArray, n_valid: IntArray, migration_time_steps: FloatArray, state: Any
    ) -> tuple[BoolArray, Any]:
        last, has = last_value(utilization, n_valid)
        return has & compare(last, self.threshold, self.comparison), state
