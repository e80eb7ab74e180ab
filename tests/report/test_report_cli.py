"""``neat report`` end to end on two tiny days: the folder, the page, reruns, bad input, interruptions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import Result

from neat.report import runner
from neat.report.cache import ResultCache
from neat.report.record import CellResult
from neat.report.tables import RESULT_COLUMNS

from .conftest import Inputs, base_args, invoke

POLICIES = ("--policy", "thr-mmt-0.8", "--policy", "lr-mmt-1.2")
FORMATS = ("pdf", "png", "svg")
METRIC_COLUMNS = [c for c in RESULT_COLUMNS if c not in ("wall_time_s", "from_cache")]


@pytest.fixture(scope="module")
def report(inputs: Inputs, tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    root = tmp_path_factory.mktemp("report")
    result = invoke(*base_args(inputs, root / "out", root / "cache"), *POLICIES)
    return result, root / "out"


def stderr_of(result: Result) -> str:
    return result.stderr if result.stderr_bytes is not None else result.output


def test_report_folder(report: tuple[Result, Path]) -> None:
    result, out = report
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "plots", "report.html", "report.md", "results.csv", "results.parquet", "series.parquet",
    ]  # fmt: skip
    assert sorted(p.name for p in (out / "plots").iterdir()) == sorted(
        f"{name}.{suffix}"
        for name in ("active-hosts", "energy", "migrations", "power", "tradeoff")
        for suffix in ("pdf", "png", "svg")
    )
    assert all((out / "plots" / f"energy.{s}").read_bytes()[:4] in (b"%PDF", b"\x89PNG", b"<?xm") for s in FORMATS)
    assert "8 cells (2 days x 4 policies): 8 simulated, 0 from the cache" in result.stdout
    assert "Lowest ESV: " in result.stdout
    assert f"Report: {out / 'report.html'}" in result.stdout


def test_results_one_row_per_day_and_policy(report: tuple[Result, Path]) -> None:
    _, out = report
    csv = pd.read_csv(out / "results.csv")
    parquet = pd.read_parquet(out / "results.parquet")
    assert list(csv.columns) == list(parquet.columns) == list(RESULT_COLUMNS)
    assert list(zip(csv["day"], csv["policy"], strict=True)) == [
        (day, policy) for day in ("day1", "day2") for policy in ("npa", "dvfs", "thr-mmt-0.8", "lr-mmt-1.2")
    ]
    pd.testing.assert_frame_equal(csv[METRIC_COLUMNS], parquet[METRIC_COLUMNS], check_dtype=False)
    assert (csv["mode"] == "cloudsim").all()
    assert (csv["scenario"] == "twenty-hosts").all()
    series = pd.read_parquet(out / "series.parquet")
    assert len(series) == 8 * 287


def test_page_is_self_contained(report: tuple[Result, Path]) -> None:
    _, out = report
    page = (out / "report.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == 5
    assert all(src.startswith("data:image/svg+xml;base64,PD94bWwg") for src in images)  # "<?xml "
    assert not re.search(r'(src|href)="(?!data:|#)', page)  # nothing fetched from anywhere
    assert "<script" not in page
    for section in ("Inputs", "Results", "Energy savings", "Best policies", "Figures", "Per-day values"):
        assert f"<h2>{section}</h2>" in page
    # the standard table's columns, in the field's order
    assert re.search(r"ESV \(.*\).*Energy \(kWh\).*SLAV \(.*\).*SLATAH \(.*\).*PDM \(.*\).*Migrations", page)


def test_markdown_links_the_plots(report: tuple[Result, Path]) -> None:
    _, out = report
    text = (out / "report.md").read_text()
    links = re.findall(r"\]\((plots/[^)]+)\)", text)
    assert len(links) == 15  # each figure's PNG shown, its PDF and SVG linked
    assert all((out / link).is_file() for link in links)
    assert "| Policy | ESV (" in text


def test_baselines_are_never_best_and_the_reference_is_the_first_consolidating_policy(
    report: tuple[Result, Path],
) -> None:
    result, out = report
    best = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert best[0].startswith("Lowest ESV: ")
    assert best[1].startswith("Lowest energy at an SLAV no worse than thr-mmt-0.8's (")
    assert not any(re.search(r": (npa|dvfs)\b", line) for line in best)
    page = (out / "report.html").read_text()
    assert '<tr class="best"><td class="text">npa' not in page and '<tr class="best"><td class="text">dvfs' not in page
    assert "<dt>Reference for SLAV</dt><dd><code>thr-mmt-0.8</code>" in page


def test_spread_beside_medians_and_steps_as_in_the_results(report: tuple[Result, Path]) -> None:
    """Two days: every consolidating policy's cell has a range beneath it; the day table's steps are
    results.csv's (287 rounds from 288 samples)."""
    _, out = report
    page = (out / "report.html").read_text()
    assert page.count('<span class="spread">') >= 2 * 6
    text = (out / "report.md").read_text()
    assert re.search(r"\| thr-mmt-0\.8 \| [\d.]+ \([\d.]+\u2013[\d.]+\) \|", text)
    assert "| day1 | 24 | 288 | 287 |" in text
    assert set(pd.read_csv(out / "results.csv")["steps"]) == {287}


def test_one_day_is_singular(inputs: Inputs, tmp_path: Path) -> None:
    args = base_args(inputs, tmp_path / "out", tmp_path / "cache")
    args[args.index("--traces") + 1] = inputs.days / "day1"
    result = invoke(*args, "--policy", "thr-mmt-0.8")
    assert result.exit_code == 0, result.output
    assert "3 cells (1 day x 3 policies)" in result.stdout
    text = (tmp_path / "out" / "report.md").read_text()
    assert "1 days" not in text and "3 policies on 1 day of traces" in text
    assert '<span class="spread">' not in (tmp_path / "out" / "report.html").read_text()


def test_default_policies_and_incremental_rerun(inputs: Inputs, tmp_path: Path) -> None:
    args = base_args(inputs, tmp_path / "out", tmp_path / "cache")
    first = invoke(*args, "--policy", "thr-mmt-0.8")
    assert first.exit_code == 0, first.output
    assert "8 simulated" not in first.stdout and "6 cells (2 days x 3 policies): 6 simulated" in first.stdout
    again = invoke(*args, "--policy", "thr-mmt-0.8", "--policy", "mad-mmt-2.5")
    assert again.exit_code == 0, again.output
    assert "8 cells (2 days x 4 policies): 2 simulated, 6 from the cache" in again.stdout
    csv = pd.read_csv(tmp_path / "out" / "results.csv")
    assert csv.loc[csv["policy"] == "mad-mmt-2.5", "from_cache"].tolist() == [False, False]
    defaults = invoke(*args)
    assert defaults.exit_code == 0, defaults.output
    assert "12 cells (2 days x 6 policies): 4 simulated, 8 from the cache" in defaults.stdout


def test_jobs_option_runs_in_processes_with_the_same_results(
    report: tuple[Result, Path], inputs: Inputs, tmp_path: Path
) -> None:
    """--jobs 2 on a subset of the module report's policies gives its rows exactly (runner tests cover more)."""
    _, serial_out = report
    args = base_args(inputs, tmp_path / "out", tmp_path / "cache")
    args[args.index("--jobs") + 1] = "2"
    result = invoke(*args, "--policy", "thr-mmt-0.8")
    assert result.exit_code == 0, result.output
    assert "6 simulated" in result.stdout
    serial = pd.read_csv(serial_out / "results.csv")[METRIC_COLUMNS]
    parallel = pd.read_csv(tmp_path / "out" / "results.csv")[METRIC_COLUMNS]
    expected = serial[serial["policy"] != "lr-mmt-1.2"].reset_index(drop=True)
    pd.testing.assert_frame_equal(expected, parallel)


def test_sweep_file(inputs: Inputs, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('[[grid]]\noverload = "thr"\nparameter = [0.7, 0.9]\nselection = ["mmt", "mu"]\n')
    result = invoke(*base_args(inputs, tmp_path / "out", tmp_path / "cache"), "--sweep", sweep)
    assert result.exit_code == 0, result.output
    policies = pd.read_csv(tmp_path / "out" / "results.csv")["policy"].unique().tolist()
    assert policies == ["npa", "dvfs", "thr-mmt-0.7", "thr-mu-0.7", "thr-mmt-0.9", "thr-mu-0.9"]


def test_no_cache_writes_no_cache(inputs: Inputs, tmp_path: Path) -> None:
    args = base_args(inputs, tmp_path / "out", tmp_path / "cache")
    result = invoke(*args, "--no-cache", "--policy", "dvfs")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "cache").exists() or len(ResultCache(tmp_path / "cache")) == 0


def test_rerun_replaces_a_previous_report(inputs: Inputs, tmp_path: Path) -> None:
    args = base_args(inputs, tmp_path / "out", tmp_path / "cache")
    assert invoke(*args, "--policy", "thr-mmt-0.8").exit_code == 0
    assert invoke(*args, "--policy", "lr-mmt-1.2").exit_code == 0
    csv = pd.read_csv(tmp_path / "out" / "results.csv")
    assert "thr-mmt-0.8" not in set(csv["policy"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out"]  # no staging or retired folders


# -- bad input: exit status 2 and a message naming what was wrong -----------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--traces", "{tmp}/no-such-day"], r"no-such-day: no such trace folder or file"),
        (["--policy", "lr-mmt-x"], r"policy 'lr-mmt-x': parameter 'x' is not a number"),
        (["--policy", "foo"], r"policy 'foo' is not 'npa', 'dvfs', 'recommended' or"),
        (["--baseline", "nope"], r"--baseline: policy 'nope'"),
        (["--sweep", "{tmp}/missing.toml"], r"missing\.toml: no such sweep file"),
        (["--sweep", "{tmp}/bad.toml"], r"bad\.toml: not a valid TOML sweep file"),
        (
            ["--sweep", "{tmp}/unknown-param.toml"],
            r"unknown-param\.toml: \[\[grid\]\] #1: policy 'mad\[bogus=1\]-mmt-pabfd': MadDetector has no",
        ),
        (["--scenario", "{tmp}/missing-scenario.toml"], r"missing-scenario\.toml: no such scenario file"),
        (["--scenario", "{tmp}/tiny.toml"], r"day day1, policy npa: VM 0 \(vm-000\) fits on no host"),
    ],
    ids=[
        "missing-day", "bad-parameter", "unknown-policy", "unknown-baseline", "missing-sweep", "unreadable-sweep",
        "unknown-sweep-parameter", "missing-scenario", "too-small",
    ],
)  # fmt: skip
def test_bad_input_exits_2(inputs: Inputs, tmp_path: Path, extra: list[str], expected: str) -> None:
    (tmp_path / "bad.toml").write_text("policies = [\n")
    (tmp_path / "unknown-param.toml").write_text('[[grid]]\noverload = "mad"\noverload_params = { bogus = 1 }\n')
    (tmp_path / "tiny.toml").write_text(
        "[[host_types]]\ncount = 1\ncores = 1\ncore_mips = 500\nram_mb = 4096\nidle_w = 50\npeak_w = 100\n"
        "[[vm_types]]\nmips = 1000\nram_mb = 512\n"
    )
    extra = [e.format(tmp=tmp_path) for e in extra]
    args = base_args(inputs, tmp_path / "out", tmp_path / "cache")
    if "--scenario" in extra:  # given once: a repeated single-value option is itself an error
        del args[args.index("--scenario") : args.index("--scenario") + 2]
    result = invoke(*args, *extra)
    assert result.exit_code == 2, result.output
    assert re.search(expected, stderr_of(result)), stderr_of(result)
    assert not (tmp_path / "out").exists()


def test_out_must_be_a_folder_for_reports(inputs: Inputs, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = invoke(*base_args(inputs, tmp_path / "file", tmp_path / "cache"))
    assert result.exit_code == 2
    assert "file: exists and is not a folder" in stderr_of(result)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    result = invoke(*base_args(inputs, tmp_path / "mine", tmp_path / "cache"))
    assert result.exit_code == 2
    assert "mine: the folder is not empty and holds no report.html" in stderr_of(result)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "x"


def test_missing_option_values_are_usage_errors(inputs: Inputs, tmp_path: Path) -> None:
    result = invoke("--traces", inputs.days)
    assert result.exit_code == 2
    assert "Missing option '--output'" in stderr_of(result)
    result = invoke(*base_args(inputs, tmp_path / "out", tmp_path / "cache"), "--jobs", "0")
    assert result.exit_code == 2


# -- interruption: the cache keeps finished cells, no half-written report ----------------------------


def interrupt_after(monkeypatch: pytest.MonkeyPatch, cells: int, error: BaseException) -> None:
    real = runner.simulate_cell
    done: list[int] = []

    def flaky(*args: Any) -> CellResult:
        if len(done) == cells:
            raise error
        done.append(1)
        return real(*args)

    monkeypatch.setattr(runner, "simulate_cell", flaky)


def test_interrupted_run_keeps_finished_cells_and_writes_no_report(
    inputs: Inputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = base_args(inputs, tmp_path / "out", tmp_path / "cache")
    interrupt_after(monkeypatch, 3, KeyboardInterrupt())
    result = invoke(*args, *POLICIES)
    assert result.exit_code == 1  # click's "Aborted!"
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
    assert len(ResultCache(tmp_path / "cache")) == 3
    monkeypatch.undo()
    again = invoke(*args, *POLICIES)
    assert again.exit_code == 0, again.output
    assert "5 simulated, 3 from the cache" in again.stdout


def test_interrupted_rerun_leaves_the_previous_report_whole(
    inputs: Inputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = base_args(inputs, tmp_path / "out", tmp_path / "cache")
    assert invoke(*args, "--policy", "thr-mmt-0.8").exit_code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()}
    interrupt_after(monkeypatch, 1, RuntimeError("disk on fire"))
    result = invoke(*args, *POLICIES)
    assert result.exit_code == 1
    assert isinstance(result.exception, runner.CellFailed)
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()}
    assert after == before


def test_failure_while_writing_leaves_nothing(inputs: Inputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", no_space)
    result = invoke(*base_args(inputs, tmp_path / "out", tmp_path / "cache"), "--policy", "dvfs")
    assert result.exit_code == 2
    assert "out: cannot write the report (No space left on device)" in stderr_of(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
