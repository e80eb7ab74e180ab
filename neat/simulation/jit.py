"""The compiler for the simulator's kernels: numba when it is installed, plain Python otherwise.

Kernels are written in the subset of Python and NumPy that numba compiles (scalar loops over
arrays), so without numba they still run, only slowly: the simulator then keeps its NumPy path
(:data:`COMPILED` is False) and the tests call the kernels uncompiled on small cases.
Compiled code is cached on disk (``cache=True``), so only the first run after a change pays for
compilation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

F = TypeVar("F", bound=Callable[..., Any])

try:
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None  # type: ignore[assignment]

#: True when kernels are compiled by numba (and the simulator takes the compiled path).
COMPILED = numba is not None


def jit(func: F) -> F:
    """Compile ``func`` in nopython mode with an on-disk cache; the identity without numba."""
    if numba is None:  # pragma: no cover
        return func
    return cast(F, numba.njit(cache=True, nogil=True)(func))


def jit_inline(func: F) -> F:
    """:func:`jit` for a small helper of hot loops: inlined into its callers by numba."""
    if numba is None:  # pragma: no cover
        return func
    return cast(F, numba.njit(cache=True, nogil=True, inline="always")(func))


@jit
def stable_argsort(keys: NDArray[np.float64]) -> NDArray[np.intp]:
    """Indices that sort ``keys`` (n,) ascending, equal keys in index order (a bottom-up merge sort).

    ``np.argsort(keys, kind="stable")`` for keys without NaN; written out because numba's own
    sorts cost seconds of compilation for each place they are used.
    """
    n = keys.shape[0]
    order = np.arange(n)
    spare = np.empty(n, dtype=np.intp)
    width = 1
    while width < n:
        for low in range(0, n, 2 * width):
            mid = min(low + width, n)
            high = min(low + 2 * width, n)
            i, j = low, mid
            for k in range(low, high):
                if i < mid and (j >= high or keys[order[i]] <= keys[order[j]]):
                    spare[k] = order[i]
                    i += 1
                else:
                    spare[k] = order[j]
                    j += 1
        order, spare = spare, order
        width *= 2
    return order


@jit
def sort_small(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """``np.sort(values)`` for short arrays without NaN (an insertion sort on a copy); shape (n,)."""
    out = values.copy()
    for i in range(1, out.shape[0]):
        value = out[i]
        j = i - 1
        while j >= 0 and out[j] > value:
            out[j + 1] = out[j]
            j -= 1
        out[j + 1] = value
    return out
