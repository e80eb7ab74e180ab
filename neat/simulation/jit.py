"""The compiler for the simulator's kernels: numba when it is installed, plain Python otherwise.

Kernels are written in the subset of Python and NumPy that numba compiles (scalar loops over
arrays), so without numba they still run, only slowly: the simulator then keeps its NumPy path
(:data:`COMPILED` is False) and the tests call the kernels uncompiled on small cases.

Compiled code is cached on disk (in ``__pycache__``), so only the first run after a change pays
for compilation. numba keys a function's cache on its own source file, but a compiled function
carries the code of the kernels it calls from other files; the cache here is keyed on every
kernel file of this package instead (:func:`kernel_sources_stamp`), so that editing one kernel
recompiles its callers too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
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


@cache
def kernel_sources_stamp() -> str:
    """SHA-256 of every module of this package that defines kernels (its text has ``@jit``)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        text = path.read_bytes()
        if b"@jit" in text:
            digest.update(path.name.encode() + b"\0" + text)
    return digest.hexdigest()


def _kernel_cache(func: Callable[..., Any]) -> Any:
    """numba's function cache for ``func``, stamped with :func:`kernel_sources_stamp`; None if this
    numba's caching internals are not the ones expected (the caller then uses numba's own)."""
    try:
        from numba.core.caching import CompileResultCacheImpl, FunctionCache, InTreeCacheLocator
    except ImportError:  # pragma: no cover
        return None

    class Locator(InTreeCacheLocator):
        def get_source_stamp(self) -> str:
            return kernel_sources_stamp()

    class Impl(CompileResultCacheImpl):
        _locator_classes = [Locator]  # noqa: RUF012

    class KernelCache(FunctionCache):
        _impl_class = Impl

    try:
        return KernelCache(func)
    except Exception:  # pragma: no cover - e.g. a read-only source tree
        return None


def jit(func: F) -> F:
    """Compile ``func`` in nopython mode with an on-disk cache; the identity without numba."""
    if numba is None:  # pragma: no cover
        return func
    dispatcher = numba.njit(cache=True, nogil=True)(func)
    kernel_cache = _kernel_cache(func)
    if kernel_cache is not None and hasattr(dispatcher, "_cache"):
        dispatcher._cache = kernel_cache
    return cast(F, dispatcher)


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
