"""Host power models as 11-point tables (0, 10, ..., 100 % utilization), linear in between.

A linear idle/peak model is exactly an 11-point table, so one vectorized interpolation serves
every model, and a batch of hosts of mixed types is one (n_hosts, 11) array.

References
----------
SPECpower_ssj2008 results for HP ProLiant ML110 G4 (Xeon 3040) and G5 (Xeon 3075), as used by
Beloglazov & Buyya, CCPE 24(13), 2012.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algorithms._validation import InputError

#: HP ProLiant ML110 G4 power (W) at 0, 10, ..., 100 % utilization.
HP_PROLIANT_ML110_G4_W = np.array([86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117], dtype=np.float64)
#: HP ProLiant ML110 G5 power (W) at 0, 10, ..., 100 % utilization.
HP_PROLIANT_ML110_G5_W = np.array([93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135], dtype=np.float64)

POWER_TABLE_POINTS = 11


def linear_power_table(idle_w: float, peak_w: float) -> NDArray[np.float64]:
    """The 11-point table of a linear model from ``idle_w`` at 0 % to ``peak_w`` at 100 %."""
    if not (0 <= idle_w <= peak_w):
        raise InputError(f"linear power model needs 0 <= idle_w <= peak_w; got idle_w={idle_w}, peak_w={peak_w}")
    return np.linspace(idle_w, peak_w, POWER_TABLE_POINTS)


def check_power_table(table_w: ArrayLike, *, name: str = "power table") -> NDArray[np.float64]:
    """Validate a (11,) or (n, 11) table: finite, non-negative and non-decreasing."""
    t = np.asarray(table_w, dtype=np.float64)
    if t.shape[-1:] != (POWER_TABLE_POINTS,):
        raise InputError(f"{name} must have {POWER_TABLE_POINTS} points (0, 10, ..., 100 %); got shape {t.shape}")
    if not np.isfinite(t).all() or (t < 0).any():
        raise InputError(f"{name} must hold finite, non-negative watts")
    if (np.diff(t, axis=-1) < 0).any():
        raise InputError(f"{name} must not decrease with utilization")
    return t


def power_w(table_w: NDArray[np.float64], utilization: ArrayLike) -> NDArray[np.float64]:
    """Power drawn at ``utilization`` (fraction, clipped to [0, 1]) under ``table_w``.

    Linear interpolation between the table points, computed in the same order of operations as
    CloudSim's PowerModelSpecPower (so that equal power increases compare equal in both).

    Parameters
    ----------
    table_w : float array of shape (11,) or (n, 11)
    utilization : float array of shape (n,) for an (n, 11) table, any shape for an (11,) table

    Returns
    -------
    float array of the utilization's shape.
    """
    u = np.clip(np.asarray(utilization, dtype=np.float64), 0.0, 1.0)
    scaled = u * 10.0
    low = np.floor(scaled).astype(np.intp)
    high = np.ceil(scaled).astype(np.intp)
    if table_w.ndim == 1:
        p_low, p_high = table_w[low], table_w[high]
    else:
        if u.ndim != 1 or u.shape[0] != table_w.shape[0]:
            raise InputError(f"with an (n, 11) power table, utilization must have shape ({table_w.shape[0]},)")
        rows = np.arange(table_w.shape[0])
        p_low, p_high = table_w[rows, low], table_w[rows, high]
    delta = (p_high - p_low) / 10.0
    result: NDArray[np.float64] = p_low + delta * (u - low / 10.0) * 100.0
    return result
