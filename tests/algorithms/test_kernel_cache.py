"""The kernel cache: a kernel loaded from it works alone and linked into a kernel compiled later."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

CALLEE = """\
from pathlib import Path

from algorithms._jit import kernel_jit

jit = kernel_jit(Path(__file__).parent)


@jit
def twice(x):
    return 2.0 * x
"""

CALLER = """\
from pathlib import Path

from algorithms._jit import kernel_jit
from callee import twice

jit = kernel_jit(Path(__file__).parent)


@jit
def caller(x):
    return twice(x) + {offset}
"""

RUN = """\
import json
import sys

sys.path[:0] = sys.argv[1:3]
from callee import twice
from caller import caller

alone = twice(3.0)
library = next(iter(twice.overloads.values())).library
parsed_before = library._shared_module is not None
linked = caller(3.0)
print(json.dumps({
    "alone": alone,
    "linked": linked,
    "twice_loaded": sum(twice.stats.cache_hits.values()),
    "caller_compiled": sum(caller.stats.cache_misses.values()),
    "bitcode_parsed_before_linking": parsed_before,
    "bitcode_parsed_after_linking": library._shared_module is not None,
}))
"""


def _run(lib: Path, app: Path) -> dict[str, object]:
    script = app.parent / "run.py"
    script.write_text(RUN)
    done = subprocess.run(
        [sys.executable, str(script), str(lib), str(app)], capture_output=True, text=True, check=True, timeout=300
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_cached_kernel_loads_and_links_into_a_kernel_compiled_later(tmp_path: Path) -> None:
    lib, app = tmp_path / "lib", tmp_path / "app"
    lib.mkdir()
    app.mkdir()
    (lib / "callee.py").write_text(CALLEE)
    (app / "caller.py").write_text(CALLER.format(offset=1.0))
    first = _run(lib, app)  # both compile and are cached
    assert (first["alone"], first["linked"], first["twice_loaded"]) == (6.0, 7.0, 0)

    # the caller's source changes: it compiles again, against the callee loaded from the cache
    (app / "caller.py").write_text(CALLER.format(offset=10.0))
    second = _run(lib, app)
    assert second["twice_loaded"] == 1
    assert second["caller_compiled"] == 1
    assert (second["alone"], second["linked"]) == (6.0, 16.0)
    # the loaded library's bitcode is read only when the caller's compilation links it
    assert second["bitcode_parsed_before_linking"] is False
    assert second["bitcode_parsed_after_linking"] is True
