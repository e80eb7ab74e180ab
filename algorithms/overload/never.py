"""The do-nothing overload detector, for baselines (NPA, DVFS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from algorithms.base import BoolArray, FloatArray, IntArray, OverloadDetector


@dataclass(frozen=True, kw_only=True)
class NeverOverloaded(OverloadDetector):
    """Never flags a host."""

    NEVER = True

    PARAMETERS = {}  # noqa: RUF012

    def evaluate(
        self, utilization: FloatArray, n_valid: IntArray, migration_time_steps: FloatArray, state: Any
    ) -> tuple[BoolArray, Any]:
        return np.zeros(utilization.shape[0], dtype=np.bool_), state
