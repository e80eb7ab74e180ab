"""The notice while kernels compile: said once when numba compiles, never when it loads its cache."""

from __future__ import annotations

import pytest

from neat.cli.compiling import COMPILING, compilation_notice

numba = pytest.importorskip("numba")


def test_compiling_is_said_once_with_its_time() -> None:
    @numba.njit(cache=False)
    def inner(x: float) -> float:
        return x + 1.0

    @numba.njit(cache=False)
    def outer(x: float) -> float:
        return inner(x) * 2.0  # compiles inner inside outer's compilation: one notice

    said: list[str] = []
    with compilation_notice(said.append):
        assert outer(1.0) == 4.0
        assert outer(2.0) == 6.0
    assert said[0] == COMPILING
    assert len(said) == 2
    assert said[1].startswith("kernels compiled in ")
    assert said[1].endswith(" s; later runs load them from the cache")


def test_nothing_is_said_without_compilation() -> None:
    @numba.njit(cache=False)
    def twice(x: float) -> float:
        return 2.0 * x

    twice(1.0)
    said: list[str] = []
    with compilation_notice(said.append):
        assert twice(3.0) == 6.0
    assert said == []


def test_after_warmup_the_default_simulation_compiles_nothing() -> None:
    """``neat warmup`` calls every kernel that the default ``neat simulate`` calls."""
    from click.testing import CliRunner

    from neat.cli import main

    warmup = CliRunner().invoke(main, ["warmup"])
    assert warmup.exit_code == 0, warmup.output
    said = warmup.stderr.splitlines()
    if len(said) == 2:  # a cold cache: compiled now
        assert said[0] == f"neat: {COMPILING}"
        assert said[1].startswith("neat: kernels compiled in ")
    else:
        assert len(said) == 1
        assert said[0].startswith("neat: kernels already compiled (")

    run = CliRunner().invoke(main, ["simulate", "--json"])
    assert run.exit_code == 0, run.output
    assert run.stderr == ""


def test_warmup_leaves_every_module_byte_compiled() -> None:
    """Where PYTHONDONTWRITEBYTECODE is set, Python would compile them from source at every start."""
    import importlib.util
    from pathlib import Path

    from click.testing import CliRunner

    import algorithms
    import neat
    from neat.cli import main

    warmup = CliRunner().invoke(main, ["warmup", "--quiet"])
    assert warmup.exit_code == 0, warmup.output
    sources = [path for folder in (*neat.__path__, *algorithms.__path__) for path in Path(folder).rglob("*.py")]
    assert len(sources) > 100
    for source in sources:
        compiled = Path(importlib.util.cache_from_source(str(source)))
        assert compiled.exists(), source
        with compiled.open("rb") as f:
            header = f.read(16)
        if int.from_bytes(header[4:8], "little") == 0:  # stamped with the source's time (PEP 552)
            assert int.from_bytes(header[8:12], "little") == int(source.stat().st_mtime), source
        else:  # with its hash (where SOURCE_DATE_EPOCH is set)
            assert header[8:16] == importlib.util.source_hash(source.read_bytes()), source
