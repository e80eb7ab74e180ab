"""``neat export`` and ``neat simulate --database``: the files, the one-step replay, and the errors
(exit status 2, a message naming the file, the row or line, the field and the value; nothing written)."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from neat.cli import main
from tests.export.history import CONFIG_TOML, VMS, fill


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def cloud(tmp_path: Path) -> tuple[str, Path]:
    """The database URL of the cloud of :mod:`tests.export.history` and its configuration file."""
    (tmp_path / "db").mkdir()
    url = f"sqlite:///{tmp_path / 'db' / 'neat.db'}"
    fill(url).close()
    config = tmp_path / "neat.toml"
    config.write_text(CONFIG_TOML)
    return url, config


def summaries(result: Result) -> list[dict[str, Any]]:
    """The --json lines without the wall times (which differ from run to run)."""
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return [{k: v for k, v in s.items() if k not in ("wall_time_s", "phase_times_s")} for s in lines]


def test_export_then_simulate_equals_simulate_from_the_database(cloud: tuple[str, Path], tmp_path: Path) -> None:
    url, config = cloud
    exported = invoke("export", "--config", config, "--database", url, "--out", tmp_path / "out")
    assert exported.exit_code == 0, exported.output
    assert "4 VMs x 6 steps of 300 s" in exported.stderr
    assert "3 hosts of 2 type(s), 3 flavor(s)" in exported.stderr
    traces, scenario = tmp_path / "out" / "traces.parquet", tmp_path / "out" / "scenario.toml"
    policies = ("--policy", "thr-mmt-0.8", "--policy", "lr-mmt-1.2", "--json")
    two_steps = invoke("simulate", "--traces", traces, "--scenario", scenario, *policies)
    assert two_steps.exit_code == 0, two_steps.output
    left = set(Path(tempfile.gettempdir()).glob("neat-export-*"))
    one_step = invoke("simulate", "--database", url, "--config", config, *policies)
    assert one_step.exit_code == 0, one_step.output
    assert summaries(one_step) == summaries(two_steps)
    assert [(s["vms"], s["hosts"], s["steps"]) for s in summaries(one_step)] == [(4, 3, 5), (4, 3, 5)]
    assert set(Path(tempfile.gettempdir()).glob("neat-export-*")) == left  # the temporary export is removed


def test_the_database_defaults_to_the_configurations(cloud: tuple[str, Path], tmp_path: Path) -> None:
    url, config = cloud
    config.write_text(f'[database]\nurl = "{url}"\n' + CONFIG_TOML)
    result = invoke("export", "--config", config, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(tmp_path / "out" / "traces.parquet")["vm"].unique().tolist() == list(VMS)


def fails(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert message in result.stderr, result.stderr


def test_a_missing_or_unmigrated_database(tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "missing.db"
    fails(invoke("export", "--database", f"sqlite:///{missing}", "--out", out), "no database file; create it with")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    fails(invoke("export", "--database", f"sqlite:///{empty}", "--out", out), "not migrated; run 'neat db upgrade'")
    assert not missing.exists() and not out.exists()


def test_a_database_without_samples(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'neat.db'}"
    assert invoke("db", "upgrade", "--url", url).exit_code == 0
    fails(invoke("export", "--database", url, "--out", tmp_path / "out"), "no VM samples in the database")
    assert not (tmp_path / "out").exists()


def test_bad_options(cloud: tuple[str, Path], tmp_path: Path) -> None:
    url, config = cloud
    out = tmp_path / "out"
    fails(
        invoke("export", "--database", url, "--out", out, "--since", "yesterday"),
        "--since 'yesterday': not a date and time; expected ISO 8601 such as 2026-01-31T12:00",
    )
    config.write_text("[hosts]\ncore_mips = -1\n")
    fails(invoke("export", "--config", config, "--database", url, "--out", out), "[hosts] core_mips must be")
    assert not out.exists()
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    fails(invoke("export", "--database", url, "--out", out), "the folder exists and is not empty")
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    fails(
        invoke("simulate", "--database", url, "--traces", "planetlab:20110303"),
        "--database exports the traces and the scenario itself",
    )
    fails(invoke("simulate", "--until", "2026-01-01T12:00"), "--since, --until and --interval-s choose what --database")


@pytest.fixture
def exported(cloud: tuple[str, Path], tmp_path: Path) -> Path:
    url, config = cloud
    assert invoke("export", "--config", config, "--database", url, "--out", tmp_path / "out").exit_code == 0
    return tmp_path / "out"


def test_a_bad_value_in_the_traces_names_the_row(exported: Path) -> None:
    """Row 8 (vm-b, step 1) made 1.5: outside 0..1 for cpu_fraction."""
    traces = exported / "traces.parquet"
    frame = pd.read_parquet(traces)
    frame.loc[7, "cpu_fraction"] = 1.5
    frame.to_parquet(traces, index=False)
    result = invoke("simulate", "--traces", traces, "--scenario", exported / "scenario.toml", "--policy", "dvfs")
    fails(result, f"{traces}, row 8: cpu 1.5 is outside 0..1")


def test_a_scenario_without_a_vm_of_the_traces_names_both(exported: Path) -> None:
    scenario = exported / "scenario.toml"
    lines = scenario.read_text().splitlines()
    scenario.write_text("\n".join(line for line in lines if not line.startswith('"vm-c" =')) + "\n")
    result = invoke("simulate", "--traces", exported / "traces.parquet", "--scenario", scenario, "--policy", "dvfs")
    fails(result, f"{scenario}: [vms] of scenario")
    fails(result, "does not name 1 VM(s) of the traces: 'vm-c'")


def test_a_scenario_naming_an_unknown_host_names_the_line(exported: Path) -> None:
    scenario = exported / "scenario.toml"
    text = scenario.read_text()
    line = 1 + text.splitlines().index('"vm-d" = { type = "2 vCPU, 1024 MB", host = "g5-1" }')
    scenario.write_text(text.replace('host = "g5-1" }', 'host = "g5-9" }'))
    result = invoke("simulate", "--traces", exported / "traces.parquet", "--scenario", scenario, "--policy", "dvfs")
    fails(result, f"{scenario}, line {line}: [vms] 'vm-d'.host 'g5-9' is not a host of [hosts] (did you mean 'g5-1'?)")
