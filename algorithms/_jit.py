"""Compilation of the scalar kernels: numba when it is installed, plain Python otherwise.

Kernels are written in the subset of Python and NumPy that numba compiles (scalar loops over
arrays), so without numba they still run, only slowly: :data:`COMPILED` is then False and callers
keep their NumPy paths. numba is an optional accelerator, not a requirement of this package.

Compiled code is cached on disk (in ``__pycache__``), so only the first run after a change pays
for compilation. numba keys a function's cache on its own source file, but a compiled function
carries the code of the kernels it calls from other files; :func:`kernel_jit` keys the cache on
every kernel file of the folders it is given instead, so that editing one kernel recompiles its
callers too. This package's kernels use :data:`jit` (its own folders); a package whose kernels call
these makes its own decorator with both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

F = TypeVar("F", bound=Callable[..., Any])

try:
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None  # type: ignore[assignment]

#: True when kernels are compiled by numba (and callers may take their compiled paths).
COMPILED = numba is not None

#: The folder of this package, whose kernel files stamp :data:`jit`'s cache.
ALGORITHMS_DIR = Path(__file__).parent


def kernel_sources_stamp(folders: tuple[Path, ...]) -> str:
    """SHA-256 of every module under ``folders`` that defines kernels (its text has ``@jit``)."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            text = path.read_bytes()
            if b"@jit" in text:
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + text)
    return digest.hexdigest()


def _kernel_cache_class(stamp: Callable[[], str]) -> Any:
    """A numba function cache whose entries are stamped with ``stamp()``; None if this numba's
    caching internals are not the ones expected (kernels then use numba's own cache)."""
    try:
        from numba.core.caching import CompileResultCacheImpl, FunctionCache, InTreeCacheLocator
        from numba.core.runtime import rtsys
    except ImportError:  # pragma: no cover
        return None

    class Locator(InTreeCacheLocator):
        def get_source_stamp(self) -> str:
            return stamp()

    class Impl(CompileResultCacheImpl):
        _locator_classes = [Locator]  # noqa: RUF012

        def reduce(self, cres: Any) -> Any:
            libdata, *rest = super().reduce(cres)
            name, kind, data = libdata
            if kind != "object" or len(rest) != _REBUILD_FIELDS:  # pragma: no cover - another numba
                return (libdata, *rest)
            return ((name, _OBJECT_AND_SYMBOLS, (*data, _defined_names(cres.library))), *rest)

        def rebuild(self, target_context: Any, payload: Any) -> Any:
            if payload[0][1] != _OBJECT_AND_SYMBOLS:  # an entry numba wrote (an older neat)
                return super().rebuild(target_context, payload)
            return _rebuild(target_context, *payload)

    class KernelCache(FunctionCache):
        _impl_class = Impl

        def load_overload(self, sig: Any, target_context: Any) -> Any:
            # numba's own first refreshes the target context, which imports and installs all of
            # numba's lowering (0.13-0.17 s in a fresh process, at the first kernel loaded). Compiled
            # code needs only the runtime it calls; on a cache miss numba compiles, and compiling
            # refreshes the context itself.
            rtsys.initialize(target_context)
            with self._guard_against_spurious_io_errors():
                return self._load_overload(sig, target_context)

    return KernelCache


#: The kind of a cached library that also lists the symbols it defines (see :func:`_load_library`).
_OBJECT_AND_SYMBOLS = "object+symbols"
#: What numba's compile result reduces to besides its library (:func:`_rebuild`'s arguments); a
#: numba that reduces to more or fewer keeps its own format. Its cache index is per numba version.
_REBUILD_FIELDS = 8


def _defined_names(library: Any) -> tuple[str, ...]:
    """Names of the functions and globals ``library`` defines, as numba's loader reads them."""
    module = library._get_module_for_linking()
    return tuple(g.name for kind in (module.functions, module.global_variables) for g in kind if not g.is_declaration)


def _load_library(codegen: Any, name: str, object_code: bytes, bitcode: bytes, symbols: tuple[str, ...]) -> Any:
    """numba's loading of a library cached as object code, without reading its bitcode.

    numba caches a library's machine code and, beside it, its LLVM bitcode, which only a later
    compilation that calls the library links in. Its loader parses that bitcode at once, to learn
    the names the library defines: 45 ms for the 1.1 MB of a day's 7 kernels, and 20 ms more to
    list the names, in every fresh process. Here the names come from the cache, and the bitcode is
    parsed when a compilation first asks for it.
    """
    import llvmlite.binding as ll

    library = codegen.create_library(name)
    library.enable_object_caching()
    library._set_compiled_object(object_code)
    library._finalize_final_module()
    codegen._engine._defined_symbols.update(symbols)

    def module_for_linking() -> Any:
        if library._shared_module is None:
            library._shared_module = ll.parse_bitcode(bitcode)
        return library._shared_module

    library._get_module_for_linking = module_for_linking
    return library


def _rebuild(
    target_context: Any,
    libdata: Any,
    fndesc: Any,
    env: Any,
    signature: Any,
    objectmode: Any,
    lifted: Any,
    typeann: Any,
    reload_init: Any,
    referenced_envs: Any,
) -> Any:
    """numba's ``CompileResult._rebuild``, with the library loaded by :func:`_load_library`."""
    from numba.core import compiler

    for init in reload_init or ():
        init()
    name, _, (object_code, bitcode, symbols) = libdata
    library = _load_library(target_context.codegen(), name, object_code, bitcode, symbols)
    result = cast(Any, compiler.CompileResult)(
        target_context=target_context,
        typing_context=target_context.typing_context,
        library=library,
        environment=env,
        entry_point=target_context.get_executable(library, fndesc, env),
        fndesc=fndesc,
        type_annotation=typeann,
        signature=signature,
        objectmode=objectmode,
        lifted=lifted,
        typing_error=None,
        call_helper=None,
        metadata=None,
        reload_init=reload_init,
        referenced_envs=referenced_envs,
    )
    for referenced in referenced_envs:
        library.codegen.set_env(referenced.env_name, referenced)
    return result


def _cache_for(func: Callable[..., Any], cache_class: Any) -> Any:
    """``cache_class``'s cache for ``func``; None without a class (numba's internals changed) or
    where it cannot cache (e.g. a read-only source tree)."""
    if cache_class is None:  # pragma: no cover
        return None
    try:
        return cache_class(func)
    except Exception:  # pragma: no cover
        return None


def _compile_unliterally(dispatcher: Any) -> None:
    """Make a kernel called from another kernel compile for argument types, not constant values.

    numba types a constant argument in a compiled call (``_term(a, b, c, 3, 2, 0.0)``) as a
    literal, and compiles the callee once per literal value: a helper called with eight constant
    indices became eight compilations, a third of a first run's compile time. Types without their
    literal values give one compilation per signature; the constants reach the callee as ordinary
    arguments, and the arithmetic is the same.
    """
    from numba.core import types

    if not hasattr(dispatcher, "get_call_template"):  # NUMBA_DISABLE_JIT: a plain function
        return
    get_call_template = dispatcher.get_call_template

    def unliteral_call_template(args: Any, kws: Any) -> Any:
        return get_call_template(
            tuple(types.unliteral(a) for a in args), {k: types.unliteral(v) for k, v in kws.items()}
        )

    dispatcher.get_call_template = unliteral_call_template


def kernel_jit(*folders: Path) -> Callable[[F], F]:
    """A decorator compiling in nopython mode, cached on disk under a stamp of ``folders``' kernels."""
    stamp_value: list[str] = []

    def stamp() -> str:
        if not stamp_value:
            stamp_value.append(kernel_sources_stamp(folders))
        return stamp_value[0]

    cache_class = _kernel_cache_class(stamp) if numba is not None else None

    def decorate(func: F) -> F:
        if numba is None:  # pragma: no cover
            return func
        # error_model="numpy": a float division by zero gives inf or NaN, as in the NumPy paths,
        # instead of raising; under Python's model, PABFD's pricing of a host (a helper that
        # divides) cost about 33 ns a call instead of 8
        dispatcher = numba.njit(nogil=True, error_model="numpy")(func)
        _compile_unliterally(dispatcher)
        if hasattr(dispatcher, "_cache"):  # not under NUMBA_DISABLE_JIT
            kernel_cache = _cache_for(func, cache_class)
            if kernel_cache is not None:
                dispatcher._cache = kernel_cache
            else:  # pragma: no cover - numba's own cache, which finds a user-wide folder
                dispatcher.enable_caching()
        return cast(F, dispatcher)

    return decorate


#: Compile a kernel of this package (the identity without numba).
jit = kernel_jit(ALGORITHMS_DIR)


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
