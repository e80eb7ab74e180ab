"""Hysteresis: a host is overloaded above one level, and targets are filled only to a lower one.

A host is overloaded when its newest utilization exceeds ``threshold``. Targets are guarded at
``placement_threshold`` (:meth:`Hysteresis.for_placement`), and an overloaded host is relieved to
that level or just under ``threshold`` (``relieve_to``). Filling hosts to a level below the one that
triggers a migration leaves every host room to grow before it is moved again: without the gap, a
host packed to the trigger level is overloaded by the next rise.

Optionally the placement level judges a forecast band instead of the newest value: the newest value
plus a ``quantile`` of the one-step changes seen in the history, ``u[-1] + Q_q(u[t] - u[t-1])``. The
band is empirical, so it widens for a volatile mix of VMs and narrows for a steady one, and on the
summed history of a host's VMs with a candidate VM added it sees whether their peaks coincide.

References
----------
Hysteresis (two thresholds) in consolidation: Beloglazov & Buyya, CCPE 24(13), 2012, section 5
(upper and lower thresholds). The one-step empirical band is a nonparametric prediction interval
(residual quantiles of a random-walk forecast); Hyndman & Athanasopoulos, *Forecasting: Principles
and Practice*, 3rd ed., 2021, section 5.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import jit, sort_small
from algorithms._validation import Interval, Nullable, Options, ParameterError
from algorithms._windows import last_value, sort_valid, take_sorted
from algorithms.base import BoolArray, DetectorKernel, FloatArray, IntArray, OverloadDetector
from algorithms.overload._row import new_params

#: The hysteresis row kernel's code (``params[CODE]``) and the positions of its parameters.
HYSTERESIS_KERNEL, THRESHOLD, QUANTILE, MIN_CHANGES, BANDED = 4, 4, 5, 6, 7

__all__ = ["Hysteresis", "band_forecast", "hysteresis_row"]


def band_forecast(utilization: FloatArray, n_valid: IntArray, quantile: float) -> tuple[FloatArray, IntArray]:
    """The newest value plus the ``quantile`` of the one-step changes of every row.

    Parameters
    ----------
    utilization : float array of shape (n_rows, window), right-aligned, padding anywhere
    n_valid : int array of shape (n_rows,)
    quantile : float in [0, 1]

    Returns
    -------
    forecast : float array of shape (n_rows,)
        ``u[-1] + Q(changes)`` with linear interpolation between order statistics; the newest value
        where a row has fewer than two values, 0.0 for an empty row.
    n_changes : int array of shape (n_rows,)
        ``max(n_valid - 1, 0)``, the changes the quantile was taken over.
    """
    last, _ = last_value(utilization, n_valid)
    n_changes = np.maximum(n_valid - 1, 0).astype(np.intp)
    if utilization.shape[1] < 2:
        return last, n_changes
    changes = np.diff(utilization, axis=1)  # (n_rows, window - 1), right-aligned
    ordered = sort_valid(changes, n_changes)
    position = quantile * np.maximum(n_changes - 1, 0)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, np.maximum(n_changes - 1, 0))
    a, b = take_sorted(ordered, low), take_sorted(ordered, high)
    weight = position - low
    band = np.where(n_changes > 0, a + (b - a) * weight, 0.0)
    result: FloatArray = last + band
    return result, n_changes


@jit
def hysteresis_row(row: NDArray[np.float64], n_valid: int, params: NDArray[np.float64]) -> bool:
    """:meth:`Hysteresis.evaluate` or its placement level's on one row (window,) with ``n_valid`` >= 1
    values: the newest value, or (``params[BANDED]`` 1) its band with :func:`band_forecast`'s
    arithmetic, against ``params[THRESHOLD]``."""
    window = row.shape[0]
    last = row[window - 1]
    judged = last
    n_changes = n_valid - 1
    if params[BANDED] != 0 and n_changes >= params[MIN_CHANGES] and n_changes > 0:
        changes = np.empty(n_changes)
        for i in range(n_changes):
            j = window - n_changes + i
            changes[i] = row[j] - row[j - 1]
        ordered = sort_small(changes)
        position = params[QUANTILE] * (n_changes - 1)
        low = math.floor(position)
        high = min(low + 1, n_changes - 1)
        a, b = ordered[low], ordered[high]
        judged = last + (a + (b - a) * (position - low))
    return judged > params[THRESHOLD]


@dataclass(frozen=True, kw_only=True)
class Hysteresis(OverloadDetector):
    """Overloaded iff the newest value exceeds ``threshold``; targets (and, by default, relieved
    hosts) must stay at or under ``placement_threshold``.

    The placement level judges the newest value, or with ``quantile`` the band
    ``u[-1] + Q_quantile(changes)``, the changes being the history's one-step differences (with
    fewer than ``min_changes`` of them, the newest value alone).

    Parameters
    ----------
    threshold : float in (0, 1.5]
        Utilization (fraction of capacity) above which a host is overloaded now.
    placement_threshold : float in (0, 1.5], at most ``threshold``
        Level a target (and a host being relieved to it) must not exceed.
    quantile : float in [0, 1] or None
        None (default): the placement level judges the newest value. A number: it judges the
        newest value plus this quantile of the one-step changes.
    min_changes : int >= 1
        Changes needed before the band is used.
    relieve_to : {"placement", "threshold"}
        Where the relief of an overloaded host ends: at the placement level (a hysteresis on both
        sides) or just under ``threshold`` (the fewest migrations; the guard still keeps targets
        at the placement level).

    Notes
    -----
    :meth:`evaluate` takes ``utilization`` of shape (n_hosts, window) and ``n_valid`` of shape
    (n_hosts,) and returns a bool array of shape (n_hosts,) and ``None`` (stateless).
    """

    PARAMETERS = {  # noqa: RUF012
        "threshold": Interval("float", 0.0, 1.5, "right"),
        "placement_threshold": Interval("float", 0.0, 1.5, "right"),
        "quantile": Nullable(Interval("float", 0.0, 1.0)),
        "min_changes": Interval("int", 1, 1000),
        "relieve_to": Options(("placement", "threshold")),
    }
    POLICY_PARAMETER = "placement_threshold"

    threshold: float = 1.0
    placement_threshold: float = 0.92
    quantile: float | None = None
    min_changes: int = 5
    relieve_to: str = "threshold"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.placement_threshold > self.threshold:
            raise ParameterError(
                f"Hysteresis: placement_threshold {self.placement_threshold} is above threshold {self.threshold}; "
                "expected placement_threshold <= threshold (a guard looser than the detector moves VMs back and forth)"
            )

    def for_placement(self) -> OverloadDetector:
        """The placement level: the guard of targets."""
        return _PlacementBand(self)

    def for_relief(self) -> OverloadDetector:
        """Where a relief ends: the placement level (``relieve_to="placement"``) or just under the
        overload level (``"threshold"``: the fewest VMs move)."""
        return self.for_placement() if self.relieve_to == "placement" else self

    def kernel(self) -> DetectorKernel:
        params = new_params(HYSTERESIS_KERNEL, strict=True)
        params[THRESHOLD] = self.threshold
        return DetectorKernel(params, np.zeros((3, 0)))

    def evaluate(
        self, utilization: FloatArray, n_valid: IntArray, migration_time_steps: FloatArray, state: Any
    ) -> tuple[BoolArray, Any]:
        last, has = last_value(utilization, n_valid)
        return has & (last > self.threshold), state


@dataclass(frozen=True)
class _PlacementBand(OverloadDetector):
    """A :class:`Hysteresis`'s placement level: the newest value, or its band, above ``placement_threshold``."""

    PARAMETERS = {}  # noqa: RUF012  (built by Hysteresis.for_placement, not configured)

    of: Hysteresis

    def __post_init__(self) -> None:
        pass

    def kernel(self) -> DetectorKernel:
        band = self.of
        params = new_params(HYSTERESIS_KERNEL, strict=True)
        params[THRESHOLD] = band.placement_threshold
        if band.quantile is not None:
            params[[QUANTILE, MIN_CHANGES, BANDED]] = band.quantile, band.min_changes, 1
        return DetectorKernel(params, np.zeros((3, 0)))

    def evaluate(
        self, utilization: FloatArray, n_valid: IntArray, migration_time_steps: FloatArray, state: Any
    ) -> tuple[BoolArray, Any]:
        band = self.of
        last, has = last_value(utilization, n_valid)
        judged = last
        if band.quantile is not None:
            forecast, n_changes = band_forecast(utilization, n_valid, band.quantile)
            judged = np.where(n_changes >= band.min_changes, forecast, last)
        return has & (judged > band.placement_threshold), state
