"""Overload detectors on one host history, for the compiled placement guard.

The compiled placement (:mod:`neat.simulation.placement_kernel`) asks "would this host be
overloaded with this VM?" tens of thousands of times per simulated day, each time for one host.
These kernels answer it for the stateless built-in detectors (THR, MAD, IQR, LR and LRR, with their
static fallback) on one row, with the arithmetic of the NumPy detectors in
:mod:`algorithms.overload` operation for operation, row sums included (NumPy's pairwise
summation), so both give bit-identical decisions. :func:`detector_spec` turns a detector into the
numbers the kernels read, or None for a detector they do not know (OTF, MHOD, third-party
plug-ins, subclasses), which the simulator then runs through its NumPy path.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012 (THR, MAD, IQR, LR, LRR).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from algorithms.base import OverloadDetector
from algorithms.overload.iqr import IqrDetector
from algorithms.overload.mad import MadDetector
from algorithms.overload.regression import (
    LocalRegressionDetector,
    RobustLocalRegressionDetector,
    fit_local_regression,
    tricube_weights,
)
from algorithms.overload.thr import ThresholdOverload
from neat.simulation.jit import jit, sort_small

#: Detector codes (``params[CODE]``).
THR, SPREAD, REGRESSION = 1, 2, 3
#: Positions in ``params``. THR: THRESHOLD, STRICT. SPREAD: SAFETY, WINDOW, MIN_HISTORY, STRICT,
#: FALLBACK, NONZERO_RUN, IQR. REGRESSION: SAFETY, LENGTH, THRESHOLD, STRICT, FALLBACK, ROBUST.
CODE, SAFETY, STRICT, FALLBACK = 0, 1, 2, 3
THRESHOLD, WINDOW, MIN_HISTORY, NONZERO_RUN, IQR = 4, 5, 6, 7, 8
LENGTH, ROBUST = 5, 7
N_PARAMS = 9
#: Rows of ``coef``: the fixed-weight fit is ``sum(y * coef[A])`` and ``sum(y * coef[B])``;
#: LRR's refit starts from the ``coef[TRICUBE]`` weights.
A, B, TRICUBE = 0, 1, 2
#: Singular-fit tolerance of :func:`algorithms.overload.regression.fit_local_regression`.
_SINGULAR_RTOL = 1e-12
#: NumPy's pairwise-summation block size: longer rows are summed recursively (not by the kernels).
_PW_BLOCKSIZE = 128


@dataclass(frozen=True)
class DetectorSpec:
    """A known detector as numbers: ``params`` (N_PARAMS,) and ``coef`` (3, length), 0 columns if unused.

    A comparison is strict (``>``) where ``params[STRICT]`` is 1, else ``>=``; a fallback of NaN
    means None (never overloaded without enough history).
    """

    params: NDArray[np.float64]
    coef: NDArray[np.float64]


def detector_spec(detector: OverloadDetector) -> DetectorSpec | None:
    """The kernels' description of ``detector``, or None if they do not know it.

    Known: exactly the classes THR, MAD, IQR, LR and LRR (not subclasses, which may override
    ``evaluate``), regressions over at most 128 values.
    """
    params = np.zeros(N_PARAMS)
    kind = type(detector)
    if kind is ThresholdOverload:
        assert isinstance(detector, ThresholdOverload)
        params[[CODE, THRESHOLD, STRICT]] = THR, detector.threshold, detector.comparison == "strict"
        return DetectorSpec(params, np.zeros((3, 0)))
    fallback = getattr(detector, "fallback_threshold", None)
    params[[SAFETY, FALLBACK]] = getattr(detector, "safety", 0.0), math.nan if fallback is None else fallback
    params[STRICT] = getattr(detector, "comparison", "") == "strict"
    if kind in (MadDetector, IqrDetector):
        assert isinstance(detector, MadDetector | IqrDetector)
        params[[CODE, WINDOW, MIN_HISTORY]] = SPREAD, detector.window, detector.min_history
        params[[NONZERO_RUN, IQR]] = detector.history_rule == "nonzero_run", kind is IqrDetector
        return DetectorSpec(params, np.zeros((3, 0)))
    if kind in (LocalRegressionDetector, RobustLocalRegressionDetector):
        assert isinstance(detector, LocalRegressionDetector)
        n = detector.length
        if n > _PW_BLOCKSIZE:
            return None
        robust = kind is RobustLocalRegressionDetector and detector.weighting == "tricube"
        params[[CODE, LENGTH, THRESHOLD, ROBUST]] = REGRESSION, n, detector.threshold, robust
        coef = np.zeros((3, n))
        # the fixed-weight fit is linear in y: its coefficients are the fits of the unit vectors
        # (each a sum of one coefficient and zeros, so exact)
        weights = np.ones(n) if detector.weighting == "none" else tricube_weights(n)
        coef[A], coef[B] = fit_local_regression(np.eye(n), weights)
        coef[TRICUBE] = tricube_weights(n)
        return DetectorSpec(params, coef)
    return None


@jit
def _term(a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64], i: int, factors: int) -> float:
    """``a[i]``, ``a[i] * b[i]`` or ``a[i] * b[i] * c[i]`` for 1, 2 or 3 ``factors``."""
    term = a[i]
    if factors > 1:
        term = term * b[i]
    if factors > 2:
        term = term * c[i]
    return term


@jit
def _pairwise_terms(a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64], factors: int) -> float:
    """The sum of :func:`_term` over ``i < len(a)`` (at most 128), in NumPy's order of additions.

    NumPy reduces a row from the identity 0.0 plus the pairwise sum (``pairwise_sum_DOUBLE``),
    which for 8 <= n <= 128 is eight interleaved partial sums added as a tree, then the rest in
    order. Scalar partial sums: a guard check must not allocate.
    """
    n = a.shape[0]
    if n < 8:
        res = 0.0
        for i in range(n):
            res += _term(a, b, c, i, factors)
        return 0.0 + res
    r0, r1 = _term(a, b, c, 0, factors), _term(a, b, c, 1, factors)
    r2, r3 = _term(a, b, c, 2, factors), _term(a, b, c, 3, factors)
    r4, r5 = _term(a, b, c, 4, factors), _term(a, b, c, 5, factors)
    r6, r7 = _term(a, b, c, 6, factors), _term(a, b, c, 7, factors)
    i = 8
    while i < n - n % 8:
        r0 += _term(a, b, c, i, factors)
        r1 += _term(a, b, c, i + 1, factors)
        r2 += _term(a, b, c, i + 2, factors)
        r3 += _term(a, b, c, i + 3, factors)
        r4 += _term(a, b, c, i + 4, factors)
        r5 += _term(a, b, c, i + 5, factors)
        r6 += _term(a, b, c, i + 6, factors)
        r7 += _term(a, b, c, i + 7, factors)
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += _term(a, b, c, i, factors)
        i += 1
    return 0.0 + res


@jit
def row_sum(a: NDArray[np.float64]) -> float:
    """``a.sum()`` exactly as NumPy reduces a row of at most 128 values; a (n,)."""
    return _pairwise_terms(a, a, a, 1)


@jit
def _product_sum(a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64] | None = None) -> float:
    """``(a * b).sum()`` or ``(a * b * c).sum()`` as NumPy computes it: products left to right, then
    :func:`row_sum`'s order."""
    if c is None:
        return _pairwise_terms(a, b, b, 2)
    return _pairwise_terms(a, b, c, 3)


@jit
def trimmed_row_length(row: NDArray[np.float64]) -> int:
    """Length of ``row`` (window,) without its oldest zeros (:func:`neat.simulation.guard.trimmed_length`)."""
    window = row.shape[0]
    for i in range(window):
        if row[i] != 0:
            return window - i
    return 0


@jit
def _exceeds(a: float, b: float, params: NDArray[np.float64]) -> bool:
    return a > b if params[STRICT] != 0 else a >= b


@jit
def _fallback(last: float, params: NDArray[np.float64]) -> bool:
    """The static fallback without enough history: ``last > fallback`` (never, for NaN)."""
    return not math.isnan(params[FALLBACK]) and last > params[FALLBACK]


@jit
def _median_sorted(s: NDArray[np.float64], count: int) -> float:
    if count == 0:
        return 0.0
    return 0.5 * (s[(count - 1) // 2] + s[count // 2])


@jit
def _sorted_at(s: NDArray[np.float64], index: int, k: int) -> float:
    """``s[index]`` with the index clipped into a block of ``k`` columns, NaN past ``s`` (the padding)."""
    index = min(max(index, 0), k - 1)
    return s[index] if index < s.shape[0] else math.nan


@jit
def _spread(row: NDArray[np.float64], n_valid: int, params: NDArray[np.float64]) -> bool:
    """MAD or IQR with the static fallback (:class:`algorithms.overload.mad.SpreadThresholdDetector`)."""
    window = row.shape[0]
    last = row[window - 1]
    k = min(int(params[WINDOW]), window)
    count = min(n_valid, k)
    history = n_valid
    if params[NONZERO_RUN] != 0:  # consecutive non-zero values back from the newest
        history = 0
        while history < n_valid and row[window - 1 - history] != 0:
            history += 1
    if history < params[MIN_HISTORY]:
        return _fallback(last, params)
    ordered = sort_small(row[window - count :])
    if params[IQR] != 0:  # the reference quartile rule
        n = count + 1
        spread = _sorted_at(ordered, (3 * n + 2) // 4 - 1, k) - _sorted_at(ordered, (n + 2) // 4 - 1, k)
        if count <= 1:
            spread = 0.0
    else:  # MAD
        centre = _median_sorted(ordered, count)
        for i in range(count):
            ordered[i] = abs(ordered[i] - centre)
        spread = _median_sorted(sort_small(ordered), count)
    return _exceeds(last, 1.0 - params[SAFETY] * spread, params)


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
    sv, sx, sxx = row_sum(v), _product_sum(v, x), _product_sum(v, x, x)
    svy, svxy = _product_sum(v, y), _product_sum(v, y, x)
    det = sv * sxx - sx * sx
    if not det > _SINGULAR_RTOL * sv * sxx or not magnitude[n - 1] > 0:
        return intercept, slope  # singular refit or a perfect first fit: keep the first fit
    refit = (sxx * svy - sx * svxy) / det
    if math.isnan(refit):
        return intercept, slope
    return refit, (sv * svxy - sx * svy) / det


@jit
def _regression(
    row: NDArray[np.float64], n_valid: int, steps: float, params: NDArray[np.float64], coef: NDArray[np.float64]
) -> bool:
    """LR or LRR with the static fallback (:class:`algorithms.overload.regression.LocalRegressionDetector`)."""
    window = row.shape[0]
    length = int(params[LENGTH])
    if window < length or n_valid < length:
        return _fallback(row[window - 1], params)
    y = row[window - length :]
    intercept = _product_sum(y, coef[A])
    slope = _product_sum(y, coef[B])
    if params[ROBUST] != 0:
        intercept, slope = _robust_refit(y, intercept, slope, coef[TRICUBE])
    predicted = intercept + slope * (length + steps)
    return _exceeds(params[SAFETY] * predicted, params[THRESHOLD], params)


@jit
def detect_row(params: NDArray[np.float64], coef: NDArray[np.float64], row: NDArray[np.float64], steps: float) -> bool:
    """Is the host with utilization history ``row`` (window,) overloaded? ``steps``: migration horizon.

    ``params`` and ``coef`` are a :class:`DetectorSpec`'s. The valid length is the row without its
    oldest zeros; a row without history is never overloaded.
    """
    n_valid = trimmed_row_length(row)
    if n_valid == 0:
        return False
    if params[CODE] == THR:
        return _exceeds(row[row.shape[0] - 1], params[THRESHOLD], params)
    if params[CODE] == SPREAD:
        return _spread(row, n_valid, params)
    return _regression(row, n_valid, steps, params, coef)
