"""The do-nothing underload detector, for baselines and for CloudSim's least-utilized evacuation.

References
----------
A. Beloglazov and R. Buyya, "Optimal online deterministic algorithms and adaptive heuristics for
energy and performance efficient dynamic consolidation of virtual machines in cloud data centers",
Concurrency and Computation: Practice and Experience 24(13), 2012 (NPA and DVFS baselines).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms.base import BoolArray, FloatArray, IntArray, UnderloadDetector


@dataclass(frozen=True, kw_only=True)
class NeverUnderloaded(UnderloadDetector):
    """Never flags a host: returns a False bool array of shape (n_hosts,)."""

    NEVER = True

    PARAMETERS = {}  # noqa: RUF012

    def evaluate(self, utilization: FloatArray, n_valid: IntArray) -> BoolArray:
        return np.zeros(utilization.shape[0], dtype=np.bool_)
