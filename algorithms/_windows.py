"""Row-wise window helpers shared by the detectors: newest values, order statistics, run lengths.

Every function takes a right-aligned history batch ``u`` of shape (n_rows, window) with a count
``n_valid`` of shape (n_rows,) and works on all rows at once. Padding (the oldest
``window - n_valid`` columns of a row) is never read for its value: it is masked before any
arithmetic, so it may hold anything. Rows without any valid value yield a neutral value (0.0 or
False), never a NaN-induced RuntimeWarning.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from algorithms._validation import valid_mask
from algorithms.base import BoolArray, FloatArray, IntArray

Comparison = Literal["strict", "inclusive"]


def last_value(u: FloatArray, n_valid: IntArray) -> tuple[FloatArray, BoolArray]:
    """The newest value of every row, and whether the row has one.

    Parameters
    ----------
    u : float array of shape (n_rows, window)
    n_valid : int array of shape (n_rows,)

    Returns
    -------
    last : float array of shape (n_rows,)
        ``u[:, -1]``, 0.0 where the row is empty.
    has : bool array of shape (n_rows,)
        ``n_valid > 0``.
    """
    has = n_valid > 0
    if u.shape[1] == 0:
        return np.zeros(u.shape[0]), has
    return np.where(has, u[:, -1], 0.0), has


def newest(u: FloatArray, n_valid: IntArray, n: int) -> tuple[FloatArray, IntArray]:
    """The newest ``n`` columns of every row (a view) and how many of them are valid.

    Parameters
    ----------
    u : float array of shape (n_rows, window)
    n_valid : int array of shape (n_rows,)
    n : int >= 0

    Returns
    -------
    block : float array of shape (n_rows, min(n, window))
        Right-aligned like ``u``; its padding is not masked.
    count : int array of shape (n_rows,)
        ``min(n_valid, n, window)``.
    """
    k = min(n, u.shape[1])
    return u[:, u.shape[1] - k :], np.minimum(n_valid, k)


def masked(block: FloatArray, count: IntArray, fill: float) -> FloatArray:
    """``block`` with its padding replaced by ``fill``; shape (n_rows, k) as ``block``."""
    return np.where(valid_mask(block.shape, count), block, fill)


def sort_valid(block: FloatArray, count: IntArray) -> FloatArray:
    """Sort the valid part of every row ascending, padding (as NaN) pushed to the right.

    Parameters
    ----------
    block : float array of shape (n_rows, k), right-aligned
    count : int array of shape (n_rows,)

    Returns
    -------
    float array of shape (n_rows, k)
        Row ``i`` holds its ``count[i]`` valid values sorted in columns ``0..count[i]-1``, then NaN.
    """
    return np.sort(masked(block, count, np.nan), axis=1)


def take_sorted(sorted_rows: FloatArray, index: IntArray) -> FloatArray:
    """``sorted_rows[i, index[i]]`` for every row, the index clipped into the row.

    Parameters
    ----------
    sorted_rows : float array of shape (n_rows, k), k >= 1
    index : int array of shape (n_rows,)

    Returns
    -------
    float array of shape (n_rows,)
    """
    idx = np.clip(index, 0, sorted_rows.shape[1] - 1)
    result: FloatArray = np.take_along_axis(sorted_rows, idx[:, None], axis=1)[:, 0]
    return result


def median_sorted(sorted_rows: FloatArray, count: IntArray) -> FloatArray:
    """Median of the first ``count[i]`` values of every sorted row; 0.0 for empty rows.

    Parameters
    ----------
    sorted_rows : float array of shape (n_rows, k), as returned by :func:`sort_valid`
    count : int array of shape (n_rows,)

    Returns
    -------
    float array of shape (n_rows,)
        The middle value for an odd count, the mean of the two middle values for an even one.
    """
    if sorted_rows.shape[1] == 0:
        return np.zeros(sorted_rows.shape[0])
    low = take_sorted(sorted_rows, (count - 1) // 2)
    high = take_sorted(sorted_rows, count // 2)
    return np.where(count > 0, 0.5 * (low + high), 0.0)


def row_median(block: FloatArray, count: IntArray) -> FloatArray:
    """Median of the valid part of every row; 0.0 for empty rows. Shapes as :func:`median_sorted`."""
    return median_sorted(sort_valid(block, count), count)


def row_mean(block: FloatArray, count: IntArray) -> FloatArray:
    """Mean of the valid part of every row, shape (n_rows,); 0.0 for empty rows."""
    total = masked(block, count, 0.0).sum(axis=1)
    out = np.zeros(block.shape[0])
    np.divide(total, count, out=out, where=count > 0)
    return out


def nonzero_run(u: FloatArray, n_valid: IntArray) -> IntArray:
    """Number of consecutive non-zero values counting back from the newest one.

    A stricter notion of history than ``n_valid``: a zero anywhere hides everything older. (CloudSim's
    ``MathUtil.countNonZeroBeginning`` is named and documented this way, but its code returns the
    length without the oldest zeros, which is ``n_valid`` of a zero-trimmed history.)

    Parameters
    ----------
    u : float array of shape (n_rows, window)
    n_valid : int array of shape (n_rows,)

    Returns
    -------
    int array of shape (n_rows,), each in [0, n_valid[i]]
    """
    n_rows, window = u.shape
    if window == 0:
        return np.zeros(n_rows, dtype=np.intp)
    stop = ~((u != 0) & valid_mask(u.shape, n_valid))[:, ::-1]
    run: IntArray = np.where(stop.any(axis=1), stop.argmax(axis=1), window).astype(np.intp)
    return run


def compare(a: FloatArray, b: FloatArray | float, comparison: Comparison) -> BoolArray:
    """``a > b`` when ``comparison`` is ``"strict"``, ``a >= b`` when ``"inclusive"``."""
    result: BoolArray = np.greater(a, b) if comparison == "strict" else np.greater_equal(a, b)
    return result


def static_fallback(last: FloatArray, has: BoolArray, threshold: float | None) -> BoolArray:
    """The fallback of adaptive detectors without enough history.

    ``last > threshold`` (strict, as CloudSim's static-threshold policy, threshold 0.7 there) for
    rows with a value; all False when ``threshold`` is None (openstack-neat). Shapes (n_rows,).
    """
    if threshold is None:
        return np.zeros(last.shape[0], dtype=np.bool_)
    return has & (last > threshold)
