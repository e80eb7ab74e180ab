"""Saying so while numba compiles the kernels: once per install (then they load from its cache).

numba reports a compilation (``numba:compile``) only when a kernel is not in its on-disk cache, so
the notice appears on the first run after an install or a change of the kernels, and never after.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: Said when the first kernel starts compiling.
COMPILING = "compiling kernels (first run only)\u2026"


@contextmanager
def compilation_notice(say: Callable[[str], None]) -> Iterator[None]:
    """Call ``say`` when kernels start compiling inside the block, and with the time it took at
    its end; say nothing when every kernel comes from the cache (or numba is not installed)."""
    try:
        from numba.core import event
    except ImportError:  # pragma: no cover - exercised only where numba is missing
        yield
        return

    compiling: dict[str, Any] = {"depth": 0, "since": 0.0, "seconds": 0.0, "kernels": 0}

    class Notice(event.Listener):
        def on_start(self, ev: Any) -> None:
            if compiling["depth"] == 0:
                if compiling["kernels"] == 0:
                    say(COMPILING)
                compiling["since"] = time.perf_counter()
                compiling["kernels"] += 1
            compiling["depth"] += 1

        def on_end(self, ev: Any) -> None:
            compiling["depth"] -= 1
            if compiling["depth"] == 0:
                compiling["seconds"] += time.perf_counter() - compiling["since"]

    with event.install_listener("numba:compile", Notice()):
        yield
    if compiling["kernels"]:
        say(f"kernels compiled in {compiling['seconds']:.1f} s; later runs load them from the cache")


__all__ = ["COMPILING", "compilation_notice"]
