"""The overload detectors' compiled row kernels behind one entry point, :func:`detect_row`.

A placement guard asks "would this host be overloaded with this VM?" tens of thousands of times a
simulated day, each time for one host; a detector that declares a kernel
(:meth:`algorithms.base.OverloadDetector.kernel`) answers through the row function that lives
beside it, with the arithmetic of its NumPy :meth:`~algorithms.base.OverloadDetector.evaluate`
operation for operation. Kernels exist for THR (:func:`algorithms.overload.thr.thr_row`), MAD and
IQR (:func:`algorithms.overload.mad.spread_row`), LR and LRR
(:func:`algorithms.overload.regression.regression_row`), hysteresis
(:func:`algorithms.overload.hysteresis.hysteresis_row`), and the stateful OTF
(:func:`algorithms.overload.otf.otf_row`) and MHOD with two states
(:func:`algorithms.overload._mhod_row.mhod_row`), which judge a host from its row of the state
(:meth:`~algorithms.base.OverloadDetector.kernel_state`) without advancing it; a detector without
one (MHOD with more states, a third party's) runs through its NumPy method.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import jit
from algorithms.overload._mhod_row import MHOD_KERNEL, mhod_row
from algorithms.overload._row import CODE
from algorithms.overload.hysteresis import HYSTERESIS_KERNEL, hysteresis_row
from algorithms.overload.mad import SPREAD_KERNEL, spread_row
from algorithms.overload.otf import OTF_KERNEL, otf_row
from algorithms.overload.regression import regression_row
from algorithms.overload.thr import THR_KERNEL, thr_row


@jit
def detect_row(
    params: NDArray[np.float64],
    coef: NDArray[np.float64],
    state: NDArray[np.float64],
    row: NDArray[np.float64],
    n_valid: int,
    steps: float,
) -> bool:
    """Is the host with utilization history ``row`` (window,) overloaded?

    ``params`` and ``coef`` are a :class:`~algorithms.base.DetectorKernel`'s and ``state`` (its
    ``state_width``,) the host's state row; ``n_valid`` is the row's valid length (its newest
    values; the padding is never read) and ``steps`` the migration horizon. A row without history
    is never overloaded.
    """
    if n_valid == 0:
        return False
    if params[CODE] == THR_KERNEL:
        return thr_row(params, row)
    if params[CODE] == SPREAD_KERNEL:
        return spread_row(row, n_valid, params)
    if params[CODE] == HYSTERESIS_KERNEL:
        return hysteresis_row(row, n_valid, params)
    if params[CODE] == OTF_KERNEL:
        return otf_row(params, state, row, n_valid, steps)
    if params[CODE] == MHOD_KERNEL:
        return mhod_row(params, coef, state, row, n_valid, steps)
    return regression_row(row, n_valid, steps, params, coef)


@jit
def detect_rows(
    params: NDArray[np.float64],
    coef: NDArray[np.float64],
    states: NDArray[np.float64],
    rows: NDArray[np.float64],
    n_valid: NDArray[np.intp],
    steps: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """:func:`detect_row` for every row of ``rows`` (n_rows, window); ``states`` (n_rows, state_width),
    ``n_valid`` and ``steps`` (n_rows,)."""
    result = np.zeros(rows.shape[0], dtype=np.bool_)
    for i in range(rows.shape[0]):
        result[i] = detect_row(params, coef, states[i], rows[i], n_valid[i], steps[i])
    return result


__all__ = ["detect_row", "detect_rows"]
