"""IQR: an adaptive utilization threshold from the interquartile range of the history.

The threshold is ``1 - safety * IQR`` over the newest ``window`` values, with the quartile rule of
both reference implementations (openstack-neat and CloudSim): sort the values, let
``n = len + 1``, take ``q1`` at 0-based index ``round(0.25 n) - 1`` and ``q3`` at
``round(0.75 n) - 1``, rounding half away from zero (Python 2 and Java ``Math.round``), not
Python 3's half-to-even: the IQR of ``range(9)`` is 5, not 6.

References
----------
A. Beloglazov and R. Buyya, "Optimal online deterministic algorithms and adaptive heuristics for
energy and performance efficient dynamic consolidation of virtual machines in cloud data centers",
Concurrency and Computation: Practice and Experience 24(13), 2012 (IQR).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms._windows import sort_valid, take_sorted
from algorithms.base import DetectorKernel, FloatArray, IntArray
from algorithms.overload.mad import SpreadThresholdDetector


def interquartile_range(block: FloatArray, count: IntArray) -> FloatArray:
    """``q3 - q1`` over the valid part of every row, by the reference quartile rule.

    Parameters
    ----------
    block : float array of shape (n_rows, k)
        Right-aligned histories; row ``i`` is valid on its newest ``count[i]`` columns.
    count : int array of shape (n_rows,)

    Returns
    -------
    float array of shape (n_rows,)
        0.0 for empty rows (and for a single value, where the reference rule would index past it).

    Examples
    --------
    11 values 102..118: n = 12, q1 at round(3) - 1 = 2 -> 105, q3 at round(9) - 1 = 8 -> 115,
    IQR 10.0.
    """
    if block.shape[1] == 0:
        return np.zeros(block.shape[0])
    ordered = sort_valid(block, count)
    n = count + 1
    # round_half_up(n / 4) and round_half_up(3 n / 4) in exact integer arithmetic.
    q1 = take_sorted(ordered, (n + 2) // 4 - 1)
    q3 = take_sorted(ordered, (3 * n + 2) // 4 - 1)
    return np.where(count > 1, q3 - q1, 0.0)


@dataclass(frozen=True, kw_only=True)
class IqrDetector(SpreadThresholdDetector):
    """IQR: overloaded iff ``u[-1] > 1 - safety * IQR`` of the newest ``window`` values.

    Parameters as in :class:`~algorithms.overload.mad.SpreadThresholdDetector`, with ``safety``
    default 1.5 (the paper's).
    """

    safety: float = 1.5

    def spread(self, block: FloatArray, count: IntArray) -> FloatArray:
        return interquartile_range(block, count)

    def kernel(self) -> DetectorKernel:
        return self.spread_kernel(iqr=True)
