"""Every --traces value goes through ``neat.traces.load_traces``: built-in days and the new formats in
``neat simulate``, ``neat report`` (its day loader) and ``neat local-manager --replay``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from neat.cli import main
from neat.cli.local_manager import local_manager_cmd
from neat.cli.report import load_days
from neat.local_manager.loop import InMemorySink
from neat.traces import TraceError, reference_results
from tests.neat.test_trace_formats import READINGS, T0, regular, sample, write_readings, write_vm
from tests.scenarios import SCENARIO_TOML


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "twenty.toml"
    path.write_text(SCENARIO_TOML)
    return path


def test_simulate_a_built_in_day_matches_cloudsim(tmp_path: Path) -> None:
    """DVFS on 20110306 in cloudsim mode: CloudSim 4.0 printed 625.53 kWh (no migrations to differ on)."""
    result = invoke(
        "simulate", "--traces", "planetlab:20110306", "--mode", "cloudsim", "--scenario", "standard",
        "--policy", "dvfs", "--json", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["vms"] == 898
    expected = reference_results()["20110306"]["dvfs"]["energy_kwh"]
    assert record["energy_kwh"] == pytest.approx(expected, rel=1e-3)


def test_simulate_bitbrains_and_azure(tmp_path: Path, scenario_file: Path) -> None:
    """Two Bitbrains VMs of 4 samples (3 steps) and Azure's two complete VMs (3 steps): 2 rounds each."""
    write_vm(tmp_path / "bb", "1.csv", regular([(10, 1024), (20, 2048), (30, 1024), (40, 0)]))
    write_vm(tmp_path / "bb", "2.csv", regular([(50, 1024), (60, 2048), (70, 1024), (80, 0)]))
    azure = write_readings(tmp_path / "az", READINGS)
    for traces in (tmp_path / "bb", f"bitbrains:{tmp_path / 'bb'}", azure, f"azure-max:{azure}"):
        result = invoke(
            "simulate", "--traces", traces, "--scenario", scenario_file, "--policy", "dvfs", "--json", "--quiet"
        )
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)
        assert (record["vms"], record["steps"]) == ((2, 3) if "bb" in str(traces) else (2, 2)), traces


def test_simulate_bad_bitbrains_line_exits_2_naming_it(tmp_path: Path) -> None:
    path = write_vm(tmp_path / "bb", "1.csv", [sample(T0, 10, 0), sample(T0 + 300, 250, 0)])
    result = invoke("simulate", "--traces", f"bitbrains:{tmp_path / 'bb'}", "--policy", "dvfs", "--quiet")
    assert result.exit_code == 2
    assert f"{path}, line 3: CPU usage 250 is outside 0..100 (%)" in result.stderr
    assert "Traceback" not in result.output


def test_simulate_unknown_built_in_day_exits_2() -> None:
    result = invoke("simulate", "--traces", "planetlab:20110304", "--policy", "dvfs", "--quiet")
    assert result.exit_code == 2
    assert "no built-in PlanetLab day '20110304'; the built-in days are 20110303, 20110306, 20110322" in result.stderr


def test_simulate_help_documents_the_formats() -> None:
    text = " ".join(invoke("simulate", "--help").output.split())
    for prefix in ("planetlab:20110303", "bitbrains:", "azure:", "azure-max:", "table:"):
        assert prefix in text


def test_report_days_by_built_in_name_and_by_prefix(tmp_path: Path) -> None:
    write_vm(tmp_path / "bb", "1.csv", regular([(10, 1024), (20, 2048)]))
    days = load_days([Path("planetlab:20110303"), Path(f"bitbrains:{tmp_path / 'bb'}")], None)
    assert [(d.name, d.traces.n_vms) for d in days] == [("20110303", 1052), ("bb", 1)]
    assert days[0].source == "planetlab:20110303"


def test_report_a_folder_of_bitbrains_months_is_a_folder_of_days(tmp_path: Path) -> None:
    """Rnd is split into month folders: each is a day of the report."""
    for month in ("2013-7", "2013-8"):
        write_vm(tmp_path / "Rnd" / month, "1.csv", regular([(10, 1024), (20, 2048)]))
    assert [d.name for d in load_days([tmp_path / "Rnd"], None)] == ["2013-7", "2013-8"]


def test_report_missing_day_names_it(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"no-such-day: no such trace folder or file"):
        load_days([tmp_path / "no-such-day"], None)


def test_local_manager_replays_a_built_in_day() -> None:
    sink = InMemorySink()
    result = CliRunner().invoke(
        local_manager_cmd,
        ["--replay", "planetlab:20110303", "--host-name", "demo-1", "--once"],
        obj={"sink_factory": lambda config: sink},
    )
    assert result.exit_code == 0, result.output
    (batch,) = sink.batches
    assert len(batch.vms) == 1052
    assert "replaying 1052 VMs from planetlab:20110303 as host demo-1" in result.output


def test_local_manager_unknown_replay_is_a_usage_error() -> None:
    result = CliRunner().invoke(local_manager_cmd, ["--replay", "planetlab:nope", "--once"], obj={})
    assert result.exit_code == 2
    assert "no built-in PlanetLab day 'nope'" in result.output
