"""The command line: ``neat simulate``, ``python -m neat --version`` (``neat algorithms``: test_algorithms_cli).

Runs are kept small (60 synthetic VMs or a handful of trace files on a 20-host scenario), so each
simulation takes well under a second.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from neat import __version__
from neat.cli import main
from tests.scenarios import SCENARIO_TOML

SUMMARY_KEYS = {
    "policy",
    "mode",
    "vms",
    "hosts",
    "steps",
    "energy_kwh",
    "energy_lower_bound_kwh",
    "gap_to_bound",
    "slatah",
    "slatah_mean_per_host",
    "pdm",
    "pdm_mean_per_vm",
    "slav",
    "esv",
    "migrations",
    "host_shutdowns",
    "mean_time_before_host_shutdown_s",
    "wall_time_s",
}

SERIES_COLUMNS = ["time_s", "active_hosts", "power_w", "overloaded_hosts", "migrations", "lower_bound_hosts"]


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(main, [str(a) for a in args])


def json_lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "twenty.toml"
    path.write_text(SCENARIO_TOML)
    return path


@pytest.fixture(scope="module")
def json_run(scenario_file: Path) -> Result:
    """dvfs and thr-mmt-0.8 on 60 synthetic VMs, JSON output."""
    return invoke(
        "simulate", "--json", "--vms", "60", "--policy", "dvfs", "--policy", "thr-mmt-0.8", "--quiet",
        "--scenario", scenario_file,
    )  # fmt: skip


def small_run(scenario: Path, *extra: str | Path, env: dict[str, str] | None = None) -> Result:
    return invoke("simulate", "--vms", "60", "--quiet", "--scenario", scenario, *extra, env=env)


def write_day(folder: Path, n_files: int = 6) -> Path:
    """A tiny PlanetLab day: file k holds (10 k + i) % 90 percent at line i (0-based)."""
    folder.mkdir()
    for k in range(n_files):
        (folder / f"vm {k}").write_text("".join(f"{(10 * k + i) % 90}\n" for i in range(288)))
    return folder


# -- JSON output ----------------------------------------------------------------------------------


def test_json_one_object_per_policy(json_run: Result) -> None:
    assert json_run.exit_code == 0, json_run.output
    records = json_lines(json_run)
    assert [r["policy"] for r in records] == ["dvfs", "thr-mmt-0.8"]
    for r in records:
        assert set(r) >= SUMMARY_KEYS
        assert (r["mode"], r["vms"], r["hosts"], r["steps"]) == ("neat", 60, 20, 287)
    assert json_run.stderr == ""


def test_simulate_leaves_what_it_loaded_to_the_end_of_the_process(scenario_file: Path) -> None:
    """The modules, traces and kernels are frozen out of the collector's scans (and its work at exit)."""
    gc.unfreeze()
    result = small_run(scenario_file, "--policy", "dvfs")
    assert result.exit_code == 0, result.output
    assert gc.get_freeze_count() > 0


def test_json_metrics_are_fractions(json_run: Result) -> None:
    for r in json_lines(json_run):
        for key in ("slatah", "slatah_mean_per_host", "pdm", "pdm_mean_per_vm", "slav"):
            assert 0.0 <= r[key] <= 1.0, (r["policy"], key, r[key])
        assert r["slav"] == pytest.approx(r["slatah"] * r["pdm"])
        assert r["esv"] == pytest.approx(r["energy_kwh"] * r["slav"], rel=1e-4)
        assert r["energy_kwh"] > r["energy_lower_bound_kwh"] > 0
        assert r["migrations"] >= 0
        assert r["host_shutdowns"] >= 0
        assert r["wall_time_s"] > 0


def test_json_gap_to_bound(json_run: Result) -> None:
    """gap = energy / bound - 1 (both rounded to 4 decimals in the record, so compare to 1e-3)."""
    for r in json_lines(json_run):
        assert r["gap_to_bound"] == pytest.approx(r["energy_kwh"] / r["energy_lower_bound_kwh"] - 1, abs=1e-3)


def test_json_dvfs_never_migrates(json_run: Result) -> None:
    dvfs = json_lines(json_run)[0]
    assert (dvfs["migrations"], dvfs["slatah"], dvfs["pdm"]) == (0, 0.0, 0.0)


def test_planetlab_folder_in_cloudsim_mode(tmp_path: Path, scenario_file: Path) -> None:
    day = write_day(tmp_path / "day")
    result = invoke(
        "simulate", "--traces", day, "--mode", "cloudsim", "--policy", "lr-mmt-1.2", "--json", "--quiet",
        "--scenario", scenario_file,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (record,) = json_lines(result)
    assert (record["policy"], record["mode"], record["vms"], record["hosts"], record["steps"]) == (
        "lr-mmt-1.2",
        "cloudsim",
        6,
        20,
        287,
    )


def test_long_table_csv(tmp_path: Path, scenario_file: Path) -> None:
    """3 VMs x 12 steps: 11 decision rounds."""
    csv = tmp_path / "usage.csv"
    csv.write_text("vm,step,cpu\n" + "".join(f"vm{v},{s},{(v + 1) * s}\n" for v in range(3) for s in range(12)))
    result = invoke(
        "simulate", "--traces", csv, "--cpu-unit", "percent", "--policy", "dvfs", "--json", "--quiet",
        "--scenario", scenario_file,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (record,) = json_lines(result)
    assert (record["vms"], record["steps"]) == (3, 11)


def test_custom_policy_from_named_parts(scenario_file: Path) -> None:
    result = small_run(scenario_file, "--overload", "mad:safety=2.0", "--selection", "mc", "--json")
    assert result.exit_code == 0, result.output
    (record,) = json_lines(result)
    assert record["policy"] == "mad[safety=2.0]-mc-pabfd"


# -- bad input: exit status 2, a message naming file, line and value -----------------------------


def test_bad_trace_folder(tmp_path: Path) -> None:
    day = write_day(tmp_path / "day", n_files=2)
    lines = (day / "vm 1").read_text().splitlines()
    lines[100] = "x"
    (day / "vm 1").write_text("\n".join(lines) + "\n")
    result = invoke("simulate", "--traces", day, "--policy", "dvfs", "--quiet")
    assert result.exit_code == 2
    assert f"{day / 'vm 1'}, line 101: 'x' is not an integer CPU percent" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_policy_lists_what_is_accepted(scenario_file: Path) -> None:
    result = small_run(scenario_file, "--policy", "foo")
    assert result.exit_code == 2
    assert "policy 'foo'" in result.stderr
    # the detectors with a policy parameter and the selections, as registered (alphabetical)
    detectors = "hysteresis, iqr, last-n-average, lr, lrr, mad, mhod, otf, thr"
    for accepted in ("npa", "dvfs", "lr-mmt-1.2", detectors, "mc, mm, mmt, mu, none, rs"):
        assert accepted in result.stderr


def test_missing_traces_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-day"
    result = invoke("simulate", "--traces", missing, "--policy", "dvfs", "--quiet")
    assert result.exit_code == 2
    assert f"{missing}: no such trace folder or file" in result.stderr


def test_bad_scenario_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[host_types]]\nname = 1\n")
    result = invoke("simulate", "--scenario", bad, "--vms", "10", "--policy", "dvfs", "--quiet")
    assert result.exit_code == 2
    assert f"{bad}: host_types[0] needs power_w" in result.stderr


def test_custom_policy_unknown_parameter(scenario_file: Path) -> None:
    result = small_run(scenario_file, "--overload", "mad:bogus=1")
    assert result.exit_code == 2
    assert "MadDetector has no parameter 'bogus'" in result.stderr


def test_custom_policy_malformed_parameter(scenario_file: Path) -> None:
    result = small_run(scenario_file, "--overload", "mad:safety")
    assert result.exit_code == 2
    assert "--overload 'mad:safety': expected NAME or NAME:key=value" in result.stderr


def test_data_center_too_small(tmp_path: Path) -> None:
    """60 VMs of 1000/500 MIPS cannot all be created on one 2 x 2660 MIPS host.

    Fails (see the report): the engine's RuntimeError escapes as a traceback with exit status 1.
    """
    one_host = tmp_path / "one.toml"
    one_host.write_text(
        "[[host_types]]\ncount = 1\ncores = 2\ncore_mips = 2660\nram_mb = 4096\nidle_w = 93.7\npeak_w = 135\n"
        "[[vm_types]]\nmips = 1000\nram_mb = 1740\n"
    )
    out = tmp_path / "out"
    result = small_run(one_host, "--policy", "dvfs", "--output", out)
    assert not out.exists()
    assert result.exit_code == 2, result.output
    assert "fits on no host" in result.stderr


# -- output folder --------------------------------------------------------------------------------


def test_output_folder(tmp_path: Path, scenario_file: Path) -> None:
    out = tmp_path / "out"
    result = small_run(scenario_file, "--policy", "dvfs", "--policy", "thr-mmt-0.8", "--json", "--output", out)
    assert result.exit_code == 0, result.output
    summary = [json.loads(line) for line in (out / "summary.jsonl").read_text().splitlines()]
    assert summary == json_lines(result)
    assert sorted(p.name for p in out.iterdir()) == ["dvfs", "summary.jsonl", "thr-mmt-0.8"]
    for policy in ("dvfs", "thr-mmt-0.8"):
        parquet = pd.read_parquet(out / policy / "series.parquet")
        csv = pd.read_csv(out / policy / "series.csv")
        assert set(parquet.columns) >= set(SERIES_COLUMNS)
        assert list(csv.columns) == list(parquet.columns)
        assert len(parquet) == len(csv) == 287
        assert parquet["time_s"].iloc[0] == pytest.approx(300.1)
        pd.testing.assert_frame_equal(csv, parquet, check_dtype=False)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".neat-")] == []


def test_failing_run_leaves_no_output_folder(tmp_path: Path, scenario_file: Path) -> None:
    out = tmp_path / "out"
    result = small_run(scenario_file, "--policy", "dvfs", "--policy", "foo", "--output", out)
    assert result.exit_code == 2
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_non_empty_output_folder_is_refused(tmp_path: Path, scenario_file: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = small_run(scenario_file, "--policy", "dvfs", "--output", out)
    assert result.exit_code == 2
    assert f"{out}: the output folder exists and is not empty" in result.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "mine"


def test_empty_output_folder_is_used(tmp_path: Path, scenario_file: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = small_run(scenario_file, "--policy", "dvfs", "--output", out)
    assert result.exit_code == 0, result.output
    assert (out / "summary.jsonl").is_file()
    assert (out / "dvfs" / "series.csv").is_file()


def test_output_folder_with_new_parents(tmp_path: Path, scenario_file: Path) -> None:
    """``--output runs/today/out`` creates the missing parents, as ``mkdir -p`` would.

    Fails (see the report): the staging folder goes to the system temp folder and the final rename
    raises FileNotFoundError after the whole simulation (traceback, exit status 1).
    """
    out = tmp_path / "runs" / "today" / "out"
    result = small_run(scenario_file, "--policy", "dvfs", "--output", out)
    assert result.exit_code == 0, result.output
    assert (out / "summary.jsonl").is_file()


def test_output_path_is_a_file(tmp_path: Path, scenario_file: Path) -> None:
    """Fails (see the report): ``iterdir()`` on a file raises NotADirectoryError (traceback, exit 1)."""
    out = tmp_path / "out"
    out.write_text("mine")
    result = small_run(scenario_file, "--policy", "dvfs", "--output", out)
    assert result.exit_code == 2, result.output
    assert str(out) in result.stderr
    assert out.read_text() == "mine"


# -- table output ---------------------------------------------------------------------------------


def test_table_mentions_each_policy(scenario_file: Path) -> None:
    result = small_run(scenario_file, "--policy", "npa", "--policy", "thr-mmt-0.8", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "npa" in result.stdout
    assert "thr-mmt-0.8" in result.stdout
    assert "energy kWh" in result.stdout


def test_table_in_an_80_column_terminal_keeps_policy_names(scenario_file: Path) -> None:
    """80 columns is also what rich assumes when stdout is a pipe or a file.

    Fails (see the report): rich shrinks every column to fit and cuts "thr-mmt-0.8" to "thr…".
    """
    result = small_run(scenario_file, "--policy", "npa", "--policy", "thr-mmt-0.8", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "thr-mmt-0.8" in result.stdout


# -- other commands -------------------------------------------------------------------------------


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "neat", "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"neat, version {__version__}"
