"""Scalar building blocks of the detectors' row kernels (compiled by :mod:`algorithms._jit`).

A detector with a kernel (:meth:`algorithms.base.OverloadDetector.kernel`) describes itself as a
:class:`~algorithms.base.DetectorKernel`: ``params`` (:data:`N_PARAMS`,) and ``coef`` (3, length).
``params[CODE]`` names the kernel (:mod:`algorithms.overload.kernel` dispatches on it); positions
:data:`SAFETY`, :data:`STRICT` and :data:`FALLBACK` mean the same for every kernel, the others are
the kernel's own. The kernels repeat the NumPy detectors' arithmetic operation for operation, row
sums included (NumPy's pairwise summation), so both decide alike, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import jit

#: Positions in ``params`` shared by every kernel: its code, the safety parameter, 1 for a strict
#: comparison (``>``, else ``>=``), the static fallback threshold (NaN: never overloaded without
#: enough history).
CODE, SAFETY, STRICT, FALLBACK = 0, 1, 2, 3
#: Length of ``params``.
N_PARAMS = 9
#: NumPy's pairwise-summation block size: longer rows are summed recursively (not by the kernels).
PW_BLOCKSIZE = 128


def new_params(
    code: int, *, safety: float = 0.0, strict: bool = False, fallback: float | None = None
) -> NDArray[np.float64]:
    """A ``params`` array with the shared positions set; the kernel's own are 0."""
    params = np.zeros(N_PARAMS)
    params[[CODE, SAFETY, STRICT, FALLBACK]] = code, safety, strict, math.nan if fallback is None else fallback
    return params


@jit
def _term(
    a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64], i: int, factors: int, shift: float
) -> float:
    """``a'[i]``, ``a'[i] * b[i]`` or ``a'[i] * b[i] * c[i]`` for 1, 2 or 3 ``factors``, ``a' = a - shift``.

    Reads ``b[i]`` and ``c[i]`` whatever ``factors`` is (callers pass ``a`` for a factor they do
    not use) and picks among scalars: with the array reads under branches, a call cost about 30 ns
    instead of 1, and LR's row check 325 ns instead of 79.
    """
    term = a[i] - shift
    with_b = term * b[i]
    with_c = with_b * c[i]
    return term if factors < 2 else (with_b if factors < 3 else with_c)


@jit
def _pairwise_terms(
    a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64], factors: int, shift: float
) -> float:
    """The sum of :func:`_term` over ``i < len(a)`` (at most 128), in NumPy's order of additions.

    NumPy reduces a row from the identity 0.0 plus the pairwise sum (``pairwise_sum_DOUBLE``),
    which for 8 <= n <= 128 is eight interleaved partial sums added as a tree, then the rest in
    order. Scalar partial sums: a guard check must not allocate.
    """
    n = a.shape[0]
    if n < 8:
        res = 0.0
        for i in range(n):
            res += _term(a, b, c, i, factors, shift)
        return 0.0 + res
    r0, r1 = _term(a, b, c, 0, factors, shift), _term(a, b, c, 1, factors, shift)
    r2, r3 = _term(a, b, c, 2, factors, shift), _term(a, b, c, 3, factors, shift)
    r4, r5 = _term(a, b, c, 4, factors, shift), _term(a, b, c, 5, factors, shift)
    r6, r7 = _term(a, b, c, 6, factors, shift), _term(a, b, c, 7, factors, shift)
    i = 8
    while i < n - n % 8:
        r0 += _term(a, b, c, i, factors, shift)
        r1 += _term(a, b, c, i + 1, factors, shift)
        r2 += _term(a, b, c, i + 2, factors, shift)
        r3 += _term(a, b, c, i + 3, factors, shift)
        r4 += _term(a, b, c, i + 4, factors, shift)
        r5 += _term(a, b, c, i + 5, factors, shift)
        r6 += _term(a, b, c, i + 6, factors, shift)
        r7 += _term(a, b, c, i + 7, factors, shift)
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += _term(a, b, c, i, factors, shift)
        i += 1
    return 0.0 + res


@jit
def row_sum(a: NDArray[np.float64]) -> float:
    """``a.sum()`` exactly as NumPy reduces a row of at most 128 values; a (n,)."""
    return _pairwise_terms(a, a, a, 1, 0.0)


@jit
def product_sum(a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64] | None = None) -> float:
    """``(a * b).sum()`` or ``(a * b * c).sum()`` as NumPy computes it: products left to right, then
    :func:`row_sum`'s order."""
    if c is None:
        return _pairwise_terms(a, b, b, 2, 0.0)
    return _pairwise_terms(a, b, c, 3, 0.0)


@jit
def centred_product_sum(a: NDArray[np.float64], centre: float, b: NDArray[np.float64]) -> float:
    """``((a - centre) * b).sum()`` as NumPy computes it, without allocating."""
    return _pairwise_terms(a, b, b, 2, centre)


@jit
def trimmed_row_length(row: NDArray[np.float64]) -> int:
    """Length of ``row`` (window,) without its oldest zeros (:func:`algorithms._windows.trimmed_length`)."""
    window = row.shape[0]
    for i in range(window):
        if row[i] != 0:
            return window - i
    return 0


@jit
def exceeds(a: float, b: float, params: NDArray[np.float64]) -> bool:
    """``a > b`` under a strict comparison, else ``a >= b``."""
    return a > b if params[STRICT] != 0 else a >= b


@jit
def fallback(last: float, params: NDArray[np.float64]) -> bool:
    """The static fallback without enough history: ``last > fallback`` (never, for NaN)."""
    return not math.isnan(params[FALLBACK]) and last > params[FALLBACK]
