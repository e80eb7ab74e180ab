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

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import jit
from algorithms._validation import Interval, Options
from algorithms._windows import Comparison, compare, last_value
from algorithms.base import BoolArray, DetectorKernel, FloatArray, IntArray, OverloadDetector
from algorithms.overload._row import exceeds, new_params

#: The THR row kernel's code (``params[CODE]``) and the position of its threshold in ``params``.
THR_KERNEL, THRESHOLD = 1, 4


@jit
def thr_row(params: NDArray[np.float64], row: NDArray[np.float64]) -> bool:
    """:meth:`ThresholdOverload.evaluate` on one row (window,) with history: newest above the threshold."""
    return exceeds(row[row.shape[0] - 1], params[THRESHOLD], params)


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

    POLICY_PARAMETER = "threshold"

    def kernel(self) -> DetectorKernel:
        params = new_params(THR_KERNEL, strict=self.comparison == "strict")
        params[THRESHOLD] = self.threshold
        return DetectorKernel(params, np.zeros((3, 0)))

    def evaluate(
        self, utilization: FloatArray, n_valid: IntArray, migration_time_steps: FloatArray, state: Any
    ) -> tuple[BoolArray, Any]:
        last, has = last_value(utilization, n_valid)
        return has & compare(last, self.threshold, self.comparison), state
