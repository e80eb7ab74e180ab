"""The result cache: keys change with every input that decides a result, entries round-trip exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from neat.decision.limits import Limits
from neat.decision.mode import CLOUDSIM, NEAT
from neat.decision.policy import Component, build_policy, custom_spec, named_policy
from neat.report import cache as cache_module
from neat.report.cache import (
    NOT_SIMULATED,
    ResultCache,
    cell_key,
    default_cache_dir,
    hash_sources,
    scenario_fingerprint,
    source_files,
    source_hash,
    source_roots,
)
from neat.report.record import SERIES, CellResult
from neat.scenario import cloudsim_standard, load_scenario
from tests.scenarios import SCENARIO_TOML


def result(policy: str = "thr-mmt-0.8", energy_kwh: float = 12.345678901234567) -> CellResult:
    """A record whose series encode their position: series k, step i holds 10 k + i / 10."""
    steps = 5
    return CellResult(
        policy=policy,
        kind="dynamic",
        mode="neat",
        vms=3,
        hosts=2,
        steps=steps,
        energy_kwh=energy_kwh,
        energy_lower_bound_kwh=1.0 / 3.0,
        slatah=0.012,
        slatah_mean_per_host=0.013,
        pdm=1e-5,
        pdm_mean_per_vm=2e-5,
        migrations=7,
        host_shutdowns=2,
        mean_time_before_host_shutdown_s=601.5,
        wall_time_s=0.25,
        series={name: 10.0 * k + np.arange(steps) / 10.0 for k, name in enumerate(SERIES)},
    )


def key(**change: object) -> str:
    args: dict[str, object] = {
        "trace_hash": "0123456789abcdef",
        "policy": named_policy("thr-mmt-0.8", NEAT),
        "mode": NEAT,
        "scenario": cloudsim_standard(),
        "seed": 1,
        "version": "1.0",
        "source": "source-hash",
    }
    args.update(change)
    return cell_key(**args)  # type: ignore[arg-type]


def test_key_is_stable_and_hex() -> None:
    assert key() == key()
    assert len(key()) == 64
    int(key(), 16)


@pytest.mark.parametrize(
    "change",
    [
        {"trace_hash": "0123456789abcdee"},
        {"policy": named_policy("thr-mmt-0.9", NEAT)},
        {"policy": named_policy("thr-mu-0.8", NEAT)},
        {"policy": named_policy("thr-mmt-0.8", CLOUDSIM)},  # same name, other placer pricing
        {"mode": CLOUDSIM},
        {"scenario": replace(cloudsim_standard(), interval_s=600.0)},
        {"scenario": replace(cloudsim_standard(), limits=Limits(max_migrations_per_cycle=10))},
        {"seed": 2},
        {"version": "1.1"},
        {"source": "edited-source-hash"},
    ],
    ids=[
        "traces",
        "parameter",
        "selection",
        "policy-for-mode",
        "mode",
        "scenario",
        "limits",
        "seed",
        "version",
        "source",
    ],
)
def test_key_changes_with_every_input(change: dict[str, object]) -> None:
    assert key(**change) != key()


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_source_hash_follows_python_files_only(tmp_path: Path) -> None:
    """An edited algorithm, a new module or a renamed one change the hash; bytecode and data files do not;
    the same tree elsewhere hashes alike."""
    files = {"overload/mad.py": "SAFETY = 2.5\n", "base.py": "x = 1\n", "data/day.npz": "raw"}
    tree = write_tree(tmp_path / "a" / "algorithms", files)
    before = hash_sources([tree])
    assert hash_sources([write_tree(tmp_path / "b" / "algorithms", files)]) == before
    (tree / "overload" / "__pycache__").mkdir()
    (tree / "overload" / "__pycache__" / "mad.cpython-311.pyc").write_bytes(b"\0")
    (tree / "data" / "day.npz").write_text("other")
    assert hash_sources([tree]) == before
    (tree / "overload" / "mad.py").write_text("SAFETY = 2.0\n")
    edited = hash_sources([tree])
    assert edited != before
    (tree / "overload" / "mad.py").rename(tree / "overload" / "mad2.py")
    assert hash_sources([tree]) not in (before, edited)


def test_source_hash_is_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key includes it, computed on the first key of the process and kept."""
    source_hash.cache_clear()
    calls: list[int] = []
    real = cache_module.hash_sources

    def counting(roots: object) -> str:
        calls.append(1)
        return real(roots)  # type: ignore[arg-type]

    monkeypatch.setattr(cache_module, "hash_sources", counting)
    first = cell_key("0123456789abcdef", named_policy("thr-mmt-0.8", NEAT), NEAT, cloudsim_standard(), 1)
    again = cell_key("0123456789abcdef", named_policy("thr-mmt-0.8", NEAT), NEAT, cloudsim_standard(), 1)
    assert first == again
    assert calls == [1]
    assert first == key(version=cache_module.__version__, source=source_hash())
    source_hash.cache_clear()


def test_source_hash_leaves_out_what_cannot_change_a_result(tmp_path: Path) -> None:
    """Editing the command line or a figure keeps the cache; editing the simulator does not."""
    tree = write_tree(tmp_path / "neat", {"cli/report.py": "a\n", "report/plots.py": "b\n", "simulation/x.py": "c\n"})
    before = hash_sources([tree])
    (tree / "cli" / "report.py").write_text("A\n")
    (tree / "report" / "plots.py").write_text("B\n")
    assert hash_sources([tree]) == before
    (tree / "simulation" / "x.py").write_text("C\n")
    assert hash_sources([tree]) != before


SIMULATE_CELLS = """
import sys
import numpy as np
from neat.decision.mode import MODES
from neat.decision.policy import named_policy
from neat.report.runner import simulate_cell
from neat.scenario import scenario_for
from neat.traces import TraceSet

rng = np.random.default_rng(1)
traces = TraceSet(rng.uniform(0.0, 0.9, (30, 40)), tuple(f"vm-{i}" for i in range(30)), 300, "test")
for mode in ("neat", "cloudsim"):
    for name in ("npa", "dvfs", "thr-mu-0.8", "lr-mmt-1.2", "mad-mc-2.5", "otf-rs-0.2", "mhod-mmt-0.2"):
        simulate_cell(traces, scenario_for(None, mode, None), named_policy(name, MODES[mode]), MODES[mode], 1)
for module in list(sys.modules.values()):
    print(getattr(module, "__file__", None) or "")
"""


def test_simulating_a_cell_loads_only_hashed_source() -> None:
    """Every module of neat or algorithms that simulating cells imports (in a fresh process, every kind of
    detector and selection, both modes) is part of the source hash: NOT_SIMULATED is never run."""
    done = subprocess.run(
        [sys.executable, "-c", SIMULATE_CELLS], capture_output=True, text=True, check=True, timeout=600
    )
    roots = source_roots()
    hashed = {path.resolve() for _, path in source_files(roots)}
    loaded = {Path(line).resolve() for line in done.stdout.splitlines() if line.endswith(".py")}
    ours = {path for path in loaded if any(path.is_relative_to(root.resolve()) for root in roots)}
    assert any(p.name == "engine.py" for p in ours)  # the simulator ran
    assert ours - hashed == set()
    assert NOT_SIMULATED  # and something is left out


def test_source_hash_covers_the_installed_packages() -> None:
    import algorithms
    import neat

    roots = [Path(algorithms.__file__).parent, Path(neat.__file__).parent]
    assert source_hash() == hash_sources(roots)


def test_key_sees_component_parameters_beyond_the_name() -> None:
    """Two custom policies differing only in a parameter the name leaves out (a default made explicit)."""
    spec = custom_spec(Component("mad", {"safety": 2.5}), Component("mmt"), Component("pabfd"))
    a = build_policy(spec, NEAT)
    b = build_policy(spec, CLOUDSIM)
    assert a.name == b.name
    assert key(policy=a) != key(policy=b)


def test_key_sees_the_underload_strategy() -> None:
    """Two policies differing only in the underload detector, named alike."""
    parts = (Component("mad", {"safety": 2.5}), Component("mmt"), Component("pabfd"))
    a = build_policy(custom_spec(*parts, name="same"), NEAT)
    b = build_policy(custom_spec(*parts, Component("never"), name="same"), NEAT)
    assert a.name == b.name
    assert key(policy=a) != key(policy=b)


def test_scenario_key_follows_content_not_layout(tmp_path: Path) -> None:
    """Comments and key order do not matter; one watt in one power table does."""
    plain = tmp_path / "plain.toml"
    plain.write_text(SCENARIO_TOML)
    commented = tmp_path / "commented.toml"
    commented.write_text(
        "# the same data center\n" + SCENARIO_TOML.replace('name = "G4"\ncount = 10', 'count = 10\nname = "G4"')
    )
    hotter = tmp_path / "hotter.toml"
    hotter.write_text(SCENARIO_TOML.replace("power_w = [86,", "power_w = [87,"))
    same_a, same_b, other = (load_scenario(p) for p in (plain, commented, hotter))
    assert scenario_fingerprint(same_a) == scenario_fingerprint(same_b)
    assert key(scenario=same_a) == key(scenario=same_b)
    assert key(scenario=same_a) != key(scenario=other)


def test_round_trip_is_exact(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    stored = result()
    cache.put("ab" * 32, stored, {"day": "d1"})
    back = cache.get("ab" * 32)
    assert back is not None
    assert back.scalars() == stored.scalars()  # floats bit for bit, ints stay ints
    assert all(np.array_equal(back.series[k], stored.series[k]) for k in SERIES)
    assert back.same_metrics(stored)
    assert cache.path("ab" * 32) == tmp_path / "ab" / f"{'ab' * 32}.npz"
    assert len(cache) == 1


def test_miss_and_overwrite(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    assert cache.get("cd" * 32) is None
    cache.put("cd" * 32, result(energy_kwh=1.0))
    cache.put("cd" * 32, result(energy_kwh=2.0))
    hit = cache.get("cd" * 32)
    assert hit is not None
    assert hit.energy_kwh == 2.0
    assert len(cache) == 1


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    for i in range(3):
        cache.put(f"{i:02d}" * 32, result())
    assert sorted(p.suffix for p in tmp_path.rglob("*") if p.is_file()) == [".npz"] * 3


@pytest.mark.parametrize("damage", [b"", b"not a zip file", b"PK\x03\x04 truncated"])
def test_a_damaged_entry_is_a_miss(tmp_path: Path, damage: bytes) -> None:
    cache = ResultCache(tmp_path)
    cache.put("ef" * 32, result())
    cache.path("ef" * 32).write_bytes(damage)
    assert cache.get("ef" * 32) is None


def test_an_entry_under_the_wrong_name_is_a_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    cache.put("12" * 32, result())
    moved = cache.path("13" * 32)
    moved.parent.mkdir(parents=True)
    cache.path("12" * 32).rename(moved)
    assert cache.get("13" * 32) is None


def test_a_disabled_cache_keeps_nothing(tmp_path: Path) -> None:
    cache = ResultCache(None)
    cache.put("34" * 32, result())
    assert cache.get("34" * 32) is None
    assert len(cache) == 0


def test_default_folder_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "neat" / "results"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "neat" / "results"


def test_scenario_key_with_exclusions_is_the_same_in_every_process() -> None:
    """The cache is on disk: a key must not depend on the process's string hashing."""
    code = (
        "from dataclasses import replace\n"
        "from neat.decision.limits import Limits\n"
        "from neat.report.cache import scenario_fingerprint\n"
        "from neat.scenario import cloudsim_standard\n"
        "names = frozenset(f'host-{i}' for i in range(6))\n"
        "print(scenario_fingerprint(replace(cloudsim_standard(), limits=Limits(exclude_hosts=names)))['limits'])\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ | {"PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in range(1, 5)
    }
    assert len(outputs) == 1, outputs
