"""The command line's shared behaviour: repeated options, the output folder's name, lazy command
imports, a policy that cannot run, and the table on a terminal and in a pipe."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.cells import cell_len

from neat.cli import main
from tests.scenarios import SCENARIO_TOML

#: Box-drawing characters rich uses for borders.
BORDERS = re.compile("[\u2500-\u257f]")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "twenty.toml"
    path.write_text(SCENARIO_TOML)
    return path


def small_run(scenario: Path, *extra: str | Path, env: dict[str, str] | None = None) -> Result:
    return invoke("simulate", "--vms", "60", "--quiet", "--scenario", scenario, *extra, env=env)


# -- repeated single-value options ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "option", "values"),
    [
        (["simulate", "--overload", "mad", "--overload", "lr"], "--overload", "'mad', 'lr'"),
        (["simulate", "--seed=1", "--seed", "2"], "--seed", "'1', '2'"),
        (["--log-level", "info", "--log-level", "debug", "simulate"], "--log-level", "'info', 'debug'"),
        (["db", "upgrade", "--url", "sqlite:///a.db", "--url", "sqlite:///b.db"], "--url", "'sqlite:///a.db'"),
    ],
)
def test_a_repeated_single_value_option_is_a_usage_error(args: list[str], option: str, values: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert f"Error: {option} takes one value; got {values}" in result.stderr


def test_repeatable_options_and_flags_may_repeat(scenario_file: Path) -> None:
    result = small_run(scenario_file, "--policy", "dvfs", "--policy", "npa", "--json", "--json")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["policy"] for line in result.stdout.splitlines()] == ["dvfs", "npa"]


# -- the output folder ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["simulate", "report", "export"])
def test_output_folder_is_named_output_everywhere(command: str) -> None:
    help_text = invoke(command, "--help").stdout
    assert "--output" in help_text
    assert "--out " not in help_text
    assert "--out," not in help_text


def test_report_takes_output_and_its_old_name(tmp_path: Path) -> None:
    """``--out`` still works for scripts; both reach the same check of the folder."""
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "thesis.tex").write_text("x")
    for name in ("--output", "--out"):
        result = invoke("report", "--traces", tmp_path / "none", name, tmp_path / "taken")
        assert result.exit_code == 2, result.output
        assert "taken: the folder is not empty" in result.stderr


# -- lazy imports ---------------------------------------------------------------------------------


def test_importing_the_command_line_loads_no_command() -> None:
    code = (
        "import sys, neat.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('neat.', 'numpy', 'sqlalchemy', 'rich'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "['neat.cli', 'neat.cli.options']"


def test_simulate_loads_nothing_of_the_service(scenario_file: Path) -> None:
    args = ["simulate", "--vms", "20", "--quiet", "--json", "--policy", "dvfs", "--scenario", str(scenario_file)]
    service = (
        *("sqlalchemy", "alembic", "openstack", "apscheduler", "prometheus_client"),
        *("neat.service", "neat.db", "neat.openstack", "neat.local_manager", "neat.cli.service", "neat.cli.report"),
    )
    code = (
        "import sys\n"
        "from neat.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in sys.modules if m.startswith({service!r})), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stderr.strip().splitlines()[-1] == "[]"


# -- a policy that cannot run ---------------------------------------------------------------------


def test_a_policy_that_cannot_run_is_a_failed_row_and_the_others_go_on(scenario_file: Path, tmp_path: Path) -> None:
    """thr-mmt-0.1 flags every host that could take VM 20 at creation; dvfs and thr-mmt-0.8 run."""
    out = tmp_path / "out"
    result = small_run(
        scenario_file, "--policy", "dvfs", "--policy", "thr-mmt-0.1", "--policy", "thr-mmt-0.8", "--output", out
    )
    assert result.exit_code == 2
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:5]}
    assert rows["thr-mmt-0.1"][0] == "failed"
    assert rows["dvfs"][0] != "failed"
    assert rows["thr-mmt-0.8"][0] != "failed"
    assert "thr-mmt-0.1 failed: VM 20 (synthetic-00020) fits on no host at creation under thr-mmt-0.1" in result.stdout
    assert "its overload detector flags every host that could take it" in result.stdout
    assert "Error: 1 of 3 policies could not run: thr-mmt-0.1" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["dvfs", "summary.jsonl", "thr-mmt-0.8"]


def test_a_failed_policy_in_json_is_an_error_object(scenario_file: Path) -> None:
    result = small_run(scenario_file, "--policy", "thr-mmt-0.1", "--policy", "dvfs", "--json")
    assert result.exit_code == 2
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["policy"] == "thr-mmt-0.1"
    assert first["error"].startswith("VM 20 (synthetic-00020) fits on no host at creation under thr-mmt-0.1")
    assert second["policy"] == "dvfs"
    assert "energy_kwh" in second


def test_every_policy_failing_writes_nothing(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs" / "out"
    result = small_run(scenario_file, "--policy", "thr-mmt-0.1", "--output", out)
    assert result.exit_code == 2
    assert "fits on no host at creation under thr-mmt-0.1" in result.stderr
    assert list(tmp_path.iterdir()) == []


# -- the table ------------------------------------------------------------------------------------


def test_piped_table_is_plain(scenario_file: Path) -> None:
    """Not a terminal: no borders, no colour, no trailing spaces, as wide as the table (not 80 or 125)."""
    result = small_run(scenario_file, "--policy", "npa", "--policy", "thr-mmt-0.8")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "neat simulate: synthetic(seed=1, vms=60)"
    assert lines[1].split()[:3] == ["policy", "energy", "kWh"]
    assert [line.split()[0] for line in lines[2:4]] == ["npa", "thr-mmt-0.8"]
    assert not any(BORDERS.search(line) or ANSI.search(line) for line in lines)
    assert all(line == line.rstrip() for line in lines)
    assert len(lines[1]) == max(len(line) for line in lines[1:4])


@pytest.mark.parametrize("columns", [200, 120, 100, 80])
def test_terminal_table_fits_the_terminal(scenario_file: Path, columns: int) -> None:
    """On a terminal (TTY_COMPATIBLE=1) the table fits: headers wrap, borders give way; values stay whole."""
    env = {"TTY_COMPATIBLE": "1", "COLUMNS": str(columns)}
    result = small_run(scenario_file, "--policy", "npa", "--policy", "thr-mmt-0.8", env=env)
    assert result.exit_code == 0, result.output
    lines = ANSI.sub("", result.stdout).splitlines()
    assert max(cell_len(line) for line in lines) <= columns
    text = " ".join(lines)
    assert "thr-mmt-0.8" in text
    assert "\u2026" not in text  # nothing cut with an ellipsis
    plain = small_run(scenario_file, "--policy", "npa", "--policy", "thr-mmt-0.8").stdout.splitlines()
    for value in plain[3].split()[1:-1]:  # the metrics but the wall time, which differs between runs
        assert value in text
