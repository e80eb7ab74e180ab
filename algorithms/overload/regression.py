"""LR and LRR: predict the utilization one migration ahead with a local (robust) linear fit.

A line ``a + b x`` is fitted to the newest ``length`` values at ``x = 1..length`` and extrapolated
to ``x = length + T_m`` (``T_m``: migration time in steps); a host is overloaded iff
``safety * (a + b (length + T_m)) >= threshold``.

The fit follows the reference implementation (openstack-neat), which passes the weights to a
least-squares solver as multipliers of the residuals: it minimizes ``sum((w * (y - a - b x))**2)``,
so the effective least-squares weights are ``w**2``. That is what reproduces the published fits.

- ``weighting="tricube"`` (paper, openstack-neat): ``w`` = :func:`tricube_weights`; LRR refits
  once with ``w`` times bisquare factors of the first fit's residuals
  (:func:`tricube_bisquare_weights`). Where those factors would divide by zero
  (``6 * median|r| == 0``: a perfect fit), LRR keeps the first fit.
- ``weighting="none"`` (CloudSim 4.0): plain ordinary least squares. CloudSim's port computes the
  weights but never applies them, the robust ones included, so its LRR is bit-identical to its
  LR; ``RobustLocalRegressionDetector(weighting="none")`` reproduces that. CloudSim predicts at
  ``x = 11`` with ``length = 10``: pass ``migration_time_steps = 1`` (its ceil of migration time
  over the scheduling interval).

Both detectors are vectorized over hosts: with a fixed ``x`` and fixed weights the first fit is
linear in the data (one fixed coefficient vector each for intercept and slope, applied to every
host at once); the robust refit uses closed-form weighted sums along the ``length`` axis.

References
----------
A. Beloglazov and R. Buyya, "Optimal online deterministic algorithms and adaptive heuristics for
energy and performance efficient dynamic consolidation of virtual machines in cloud data centers",
Concurrency and Computation: Practice and Experience 24(13), 2012 (LR, LRR; after Cleveland's
loess).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import jit, sort_small
from algorithms._validation import Interval, Nullable, Options
from algorithms._windows import Comparison, compare, last_value, static_fallback
from algorithms.base import BoolArray, DetectorKernel, FloatArray, IntArray, OverloadDetector
from algorithms.overload._row import (
    PW_BLOCKSIZE,
    SAFETY,
    centred_product_sum,
    exceeds,
    fallback,
    new_params,
    product_sum,
    row_sum,
)

Weighting = Literal["tricube", "none"]

#: Relative size below which a weighted fit's normal-equation determinant counts as singular.
_SINGULAR_RTOL = 1e-12
#: The LR/LRR row kernel's code (``params[CODE]``) and the positions of its own parameters.
REGRESSION_KERNEL = 3
THRESHOLD, LENGTH, ROBUST = 4, 5, 7
#: Rows of the kernel's ``coef``: the fixed-weight fit is ``sum(y * coef[A])`` and
#: ``sum(y * coef[B])``; LRR's refit starts from the ``coef[TRICUBE]`` weights.
A, B, TRICUBE = 0, 1, 2


def tricube_weights(n: int) -> FloatArray:
    """Tricube weights of the reference implementation, newest last.

    ``w_i = (1 - ((n - 1 - i) / (n - 1))**3)**3`` for 0-based ``i = 2..n-1``; ``w_0`` and ``w_1``
    are copies of ``w_2``. The newest weight is 1.

    Parameters
    ----------
    n : int >= 3

    Returns
    -------
    float array of shape (n,)

    Examples
    --------
    n = 5: i = 2 -> (1 - (2/4)**3)**3 = 0.669922, i = 3 -> (1 - (1/4)**3)**3 = 0.953854, i = 4 -> 1,
    so [0.669922, 0.669922, 0.669922, 0.953854, 1.0].
    """
    if n < 3:
        raise ValueError(f"tricube_weights needs n >= 3; got {n}")
    i = np.arange(2, n)
    w = (1.0 - ((n - 1 - i) / (n - 1)) ** 3) ** 3
    return np.concatenate([w[:1], w[:1], w])


def tricube_bisquare_weights(residuals: FloatArray) -> FloatArray:
    """Robustness weights of LRR: tricube weights times bisquare factors of the residuals.

    The factor is ``(1 - (r_i / s6)**2)**2`` for ``|r_i| < s6`` and 0 beyond, with
    ``s6 = 6 * median(|r|)`` per row. As in the reference implementation, the first two weights
    are copies of the third. Rows with ``s6 == 0`` get the plain tricube weights (no division).

    Parameters
    ----------
    residuals : float array of shape (n_rows, n), n >= 3

    Returns
    -------
    float array of shape (n_rows, n)

    Examples
    --------
    Residuals [1, 1, 2, 2, 4, 6, 9]: s6 = 12; the newest weight is 1 * (1 - (9/12)**2)**2 = 0.191.
    """
    n = residuals.shape[1]
    s6 = 6.0 * np.median(np.abs(residuals), axis=1)
    robust = s6 > 0
    ratio = np.divide(residuals, s6[:, None], out=np.zeros_like(residuals), where=robust[:, None])
    factor = np.where(np.abs(ratio) < 1.0, (1.0 - ratio**2) ** 2, 0.0)
    weights = tricube_weights(n) * factor
    weights[:, :2] = weights[:, 2:3]
    return weights


def fit_local_regression(y: FloatArray, weights: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Fit ``a + b x`` at ``x = 1..length`` to every row, minimizing ``sum((w * (y - a - b x))**2)``.

    Parameters
    ----------
    y : float array of shape (n_rows, length)
    weights : float array of shape (length,) (shared by every row) or (n_rows, length)
        Residual multipliers; the least-squares weights are their squares.

    Returns
    -------
    intercept, slope : float arrays of shape (n_rows,)
        NaN for a row whose weights leave fewer than two distinct points (singular fit).
    """
    x = np.arange(1.0, y.shape[1] + 1.0)
    v = weights**2
    # Row sums rather than matrix products: every row is computed the same way whatever the batch
    # size, so a batch of one gives bit-identical results.
    if v.ndim == 1:
        sv, sx, sxx = v.sum(), (v * x).sum(), (v * x * x).sum()
        det = sv * sxx - sx * sx
        # The fit is linear in y: fixed weights give fixed coefficient vectors for every row.
        intercept = (y * (v * (sxx - sx * x) / det)).sum(axis=1)
        slope = (y * (v * (sv * x - sx) / det)).sum(axis=1)
        return intercept, slope
    sv, sx, sxx = v.sum(axis=1), (v * x).sum(axis=1), (v * x * x).sum(axis=1)
    vy = v * y
    svy, svxy = vy.sum(axis=1), (vy * x).sum(axis=1)
    det = sv * sxx - sx * sx
    regular = det > _SINGULAR_RTOL * sv * sxx
    intercept = np.divide(sxx * svy - sx * svxy, det, out=np.full(y.shape[0], np.nan), where=regular)
    slope = np.divide(sv * svxy - sx * svy, det, out=np.full(y.shape[0], np.nan), where=regular)
    return intercept, slope


def fit_robust_local_regression(y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """LRR's fit: tricube :func:`fit_local_regression`, then a refit with :func:`tricube_bisquare_weights`.

    Parameters
    ----------
    y : float array of shape (n_rows, length), length >= 3

    Returns
    -------
    intercept, slope : float arrays of shape (n_rows,)
        The refit, or the first fit where the refit is undefined (all residuals zero, or robust
        weights leaving fewer than two points).
    """
    intercept, slope = fit_local_regression(y, tricube_weights(y.shape[1]))
    x = np.arange(1.0, y.shape[1] + 1.0)
    residuals = y - (intercept[:, None] + slope[:, None] * x)
    intercept2, slope2 = fit_local_regression(y, tricube_bisquare_weights(residuals))
    keep = np.isnan(intercept2) | ~(np.abs(residuals).max(axis=1) > 0)
    return np.where(keep, intercept, intercept2), np.where(keep, slope, slope2)


@dataclass(frozen=True, kw_only=True)
class LocalRegressionDetector(OverloadDetector):
    """LR: overloaded iff ``safety * (a + b (length + T_m)) >= threshold``.

    Parameters
    ----------
    safety : float in (0, inf)
        Safety parameter s of the paper.
    length : int >= 3
        Number of newest values fitted; also the minimum history (CloudSim: 10).
    threshold : float in (0, 1]
        openstack-neat's threshold on the scaled prediction (the paper: 1.0).
    weighting : {"tricube", "none"}
        ``"tricube"`` (paper, openstack-neat) or ``"none"``: ordinary least squares (CloudSim 4.0,
        whose weights are never applied).
    comparison : {"strict", "inclusive"}
        ``"inclusive"``: ``>=`` (paper and both reference implementations); ``"strict"``: ``>``.
    fallback_threshold : None or float in [0, 1]
        With fewer than ``length`` values: ``u[-1] > fallback_threshold`` (strict, CloudSim's
        static threshold 0.7), or never overloaded when None (openstack-neat).

    Notes
    -----
    :meth:`evaluate` takes ``utilization`` of shape (n_hosts, window), ``n_valid`` of shape
    (n_hosts,) and ``migration_time_steps`` of shape (n_hosts,), and returns a bool array of shape
    (n_hosts,) and ``None`` (stateless). A host without history is never overloaded.
    """

    PARAMETERS = {  # noqa: RUF012
        "safety": Interval("float", 0.0, float("inf"), closed="neither"),
        "length": Interval("int", 3, float("inf")),
        "threshold": Interval("float", 0.0, 1.0, closed="right"),
        "weighting": Options(("tricube", "none")),
        "comparison": Options(("strict", "inclusive")),
        "fallback_threshold": Nullable(Interval("float", 0.0, 1.0)),
    }

    safety: float = 1.2
    length: int = 10
    threshold: float = 1.0
    weighting: Weighting = "tricube"
    comparison: Comparison = "inclusive"
    fallback_threshold: float | None = 0.7

    POLICY_PARAMETER = "safety"

    def fit(self, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Intercept and slope of every row of ``y`` (n_rows, length) at x = 1..length."""
        if self.weighting == "none":
            return fit_local_regression(y, np.ones(y.shape[1]))
        return fit_local_regression(y, tricube_weights(y.shape[1]))

    def kernel(self) -> DetectorKernel | None:
        return self.regression_kernel(robust=False)

    def regression_kernel(self, *, robust: bool) -> DetectorKernel | None:
        """The row kernel's numbers for this detector (LRR's refit if ``robust``); None beyond 128 values."""
        n = self.length
        if n > PW_BLOCKSIZE:
            return None
        params = new_params(
            REGRESSION_KERNEL, safety=self.safety, strict=self.comparison == "strict", fallback=self.fallback_threshold
        )
        params[[THRESHOLD, LENGTH, ROBUST]] = self.threshold, n, robust and self.weighting == "tricube"
        coef = np.zeros((3, n))
        # the fixed-weight fit is linear in y: its coefficients are the fits of the unit vectors
        # (each a sum of one coefficient and zeros, so exact)
        weights = np.ones(n) if self.weighting == "none" else tricube_weights(n)
        coef[A], coef[B] = fit_local_regression(np.eye(n), weights)
        coef[TRICUBE] = tricube_weights(n)
        return DetectorKernel(params, coef)

    def evaluate(
        self, utilization: FloatArray, n_valid: IntArray, migration_time_steps: FloatArray, state: Any
    ) -> tuple[BoolArray, Any]:
        last, has = last_value(utilization, n_valid)
        fallback = static_fallback(last, has, self.fallback_threshold)
        if utilization.shape[1] < self.length:
            return fallback, state
        enough = n_valid >= self.length
        y = np.where(enough[:, None], utilization[:, utilization.shape[1] - self.length :], 0.0)
        # centred on the newest value: a constant series predicts itself exactly
        centre = y[:, -1]
        intercept, slope = self.fit(y - centre[:, None])
        predicted = (intercept + centre) + slope * (self.length + migration_time_steps)
        adaptive = compare(self.safety * predicted, self.threshold, self.comparison)
        return np.where(enough, adaptive, fallback), state


@dataclass(frozen=True, kw_only=True)
class RobustLocalRegressionDetector(LocalRegressionDetector):
    """LRR: :class:`LocalRegressionDetector` with one bisquare-robust refit (same parameters).

    With ``weighting="none"`` no weight is applied at all, as in CloudSim 4.0, so the result is
    identical to LR's.
    """

    def fit(self, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        if self.weighting == "none":
            return fit_local_regression(y, np.ones(y.shape[1]))
        return fit_robust_local_regression(y)

    def kernel(self) -> DetectorKernel | None:
        return self.regression_kernel(robust=True)


@jit
def _robust_refit(
    y: NDArray[np.float64], intercept: float, slope: float, tricube: NDArray[np.float64]
) -> tuple[float, float]:
    """LRR's bisquare refit (:func:`algorithms.overload.regression.fit_robust_local_regression`)."""
    n = y.shape[0]
    x = np.empty(n)
    residuals = np.empty(n)
    magnitude = np.empty(n)
    for i in range(n):
        x[i] = i + 1.0
        residuals[i] = y[i] - (intercept + slope * x[i])
        magnitude[i] = abs(residuals[i])
    magnitude = sort_small(magnitude)
    median = magnitude[n // 2] if n % 2 else (magnitude[n // 2 - 1] + magnitude[n // 2]) / 2.0
    s6 = 6.0 * median
    v = np.empty(n)
    for i in range(n):
        ratio = residuals[i] / s6 if s6 > 0 else 0.0
        rest = 1.0 - ratio * ratio
        v[i] = tricube[i] * (rest * rest if abs(ratio) < 1.0 else 0.0)
    v[0] = v[2]
    v[1] = v[2]
    v = v * v  # least-squares weights: squared residual multipliers
    sv, sx, sxx = row_sum(v), product_sum(v, x), product_sum(v, x, x)
    svy, svxy = product_sum(v, y), product_sum(v, y, x)
    det = sv * sxx - sx * sx
    if not det > _SINGULAR_RTOL * sv * sxx or not magnitude[n - 1] > 0:
        return intercept, slope  # singular refit or a perfect first fit: keep the first fit
    refit = (sxx * svy - sx * svxy) / det
    if math.isnan(refit):
        return intercept, slope
    return refit, (sv * svxy - sx * svy) / det


@jit
def regression_row(
    row: NDArray[np.float64], n_valid: int, steps: float, params: NDArray[np.float64], coef: NDArray[np.float64]
) -> bool:
    """:meth:`LocalRegressionDetector.evaluate` (LR or LRR, with the static fallback) on one row (window,)."""
    window = row.shape[0]
    length = int(params[LENGTH])
    if window < length or n_valid < length:
        return fallback(row[window - 1], params)
    y = row[window - length :]
    centre = y[length - 1]
    intercept = centred_product_sum(y, centre, coef[A])
    slope = centred_product_sum(y, centre, coef[B])
    if params[ROBUST] != 0:
        intercept, slope = _robust_refit(y - centre, intercept, slope, coef[TRICUBE])
    predicted = (intercept + centre) + slope * (length + steps)
    return exceeds(params[SAFETY] * predicted, params[THRESHOLD], params)
