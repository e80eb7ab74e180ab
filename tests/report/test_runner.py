"""The matrix runner: serial, local processes and the cache agree; finished cells survive a failure."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from neat.cli.report import load_days
from neat.decision.mode import CLOUDSIM
from neat.decision.policy import Policy
from neat.report import runner
from neat.report.cache import ResultCache
from neat.report.record import CellResult
from neat.report.runner import CellFailed, Day, MatrixRun, run_matrix
from neat.report.sweep import resolve_policies
from neat.scenario import Scenario, load_scenario
from neat.simulation.engine import CapacityError

from .conftest import Inputs


@pytest.fixture(scope="module")
def matrix(inputs: Inputs) -> tuple[list[Day], list[Policy], Scenario]:
    days = load_days([inputs.days], None)
    policies = resolve_policies(["thr-mmt-0.8", "lr-mmt-1.2"], None, CLOUDSIM, baseline="dvfs")
    return days, policies, load_scenario(inputs.scenario)


def run(matrix: tuple[list[Day], list[Policy], Scenario], cache: ResultCache, **options: Any) -> MatrixRun:
    days, policies, scenario = matrix
    return run_matrix(days, policies, scenario, CLOUDSIM, seed=1, cache=cache, **options)


def count_simulations(monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None) -> list[str]:
    """Wrap ``simulate_cell`` (serial runs call it in-process); return the list of simulated policies."""
    calls: list[str] = []
    real: Callable[..., CellResult] = runner.simulate_cell

    def counting(*args: Any) -> CellResult:
        calls.append(args[2].name)
        if fail_at is not None and len(calls) == fail_at:
            raise RuntimeError("simulated crash")
        return real(*args)

    monkeypatch.setattr(runner, "simulate_cell", counting)
    return calls


def same(a: MatrixRun, b: MatrixRun) -> bool:
    return a.results.keys() == b.results.keys() and all(a.results[c].same_metrics(b.results[c]) for c in a.results)


def test_days_are_the_folders_subfolders_in_order(matrix: tuple[list[Day], list[Policy], Scenario]) -> None:
    days, policies, _ = matrix
    assert [d.name for d in days] == ["day1", "day2"]
    assert [p.name for p in policies] == ["npa", "dvfs", "thr-mmt-0.8", "lr-mmt-1.2"]
    assert days[0].trace_hash != days[1].trace_hash


def test_cells_really_consolidate(matrix: tuple[list[Day], list[Policy], Scenario]) -> None:
    """The fixture is only useful if the dynamic policies migrate and violate SLAs."""
    result = run(matrix, ResultCache(None))
    for d in range(2):
        assert result.results[d, 2].migrations > 0
        assert result.results[d, 2].slatah > 0
        assert result.results[d, 2].energy_kwh < result.results[d, 1].energy_kwh < result.results[d, 0].energy_kwh


def test_local_processes_equal_serial(matrix: tuple[list[Day], list[Policy], Scenario]) -> None:
    serial = run(matrix, ResultCache(None), jobs=1)
    parallel = run(matrix, ResultCache(None), jobs=2)
    assert serial.computed == parallel.computed == 8
    assert same(serial, parallel)


def test_second_run_reads_everything_from_the_cache(
    matrix: tuple[list[Day], list[Policy], Scenario], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_simulations(monkeypatch)
    first = run(matrix, ResultCache(tmp_path))
    assert len(calls) == 8
    second = run(matrix, ResultCache(tmp_path))
    assert len(calls) == 8
    assert second.computed == 0
    assert len(second.from_cache) == 8
    assert same(first, second)


def test_adding_a_policy_simulates_only_that_policy(
    matrix: tuple[list[Day], list[Policy], Scenario], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    days, _, scenario = matrix
    run(matrix, ResultCache(tmp_path))
    calls = count_simulations(monkeypatch)
    more = resolve_policies(["thr-mmt-0.8", "lr-mmt-1.2", "mad-mmt-2.5"], None, CLOUDSIM, baseline="dvfs")
    result = run_matrix(days, more, scenario, CLOUDSIM, seed=1, cache=ResultCache(tmp_path))
    assert calls == ["mad-mmt-2.5", "mad-mmt-2.5"]
    assert result.computed == 2
    assert len(result.from_cache) == 8


def test_progress_counts_cached_then_computed_cells(
    matrix: tuple[list[Day], list[Policy], Scenario], tmp_path: Path
) -> None:
    days, policies, scenario = matrix
    run_matrix(days[:1], policies, scenario, CLOUDSIM, seed=1, cache=ResultCache(tmp_path))
    seen: list[tuple[int, int]] = []
    run(matrix, ResultCache(tmp_path), progress=lambda done, total: seen.append((done, total)))
    assert seen == [(4, 8), (5, 8), (6, 8), (7, 8), (8, 8)]


def test_a_failure_keeps_the_finished_cells(
    matrix: tuple[list[Day], list[Policy], Scenario], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count_simulations(monkeypatch, fail_at=3)
    with pytest.raises(CellFailed, match=r"day day1, policy thr-mmt-0\.8: simulated crash") as caught:
        run(matrix, ResultCache(tmp_path))
    assert (caught.value.day, caught.value.policy) == ("day1", "thr-mmt-0.8")
    assert len(ResultCache(tmp_path)) == 2
    monkeypatch.undo()
    assert run(matrix, ResultCache(tmp_path)).computed == 6


def too_small_scenario(tmp_path: Path) -> Scenario:
    """One host of 500 MIPS, which holds no VM of 1000 MIPS: every cell raises CapacityError."""
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(
        "[[host_types]]\ncount = 1\ncores = 1\ncore_mips = 500\nram_mb = 4096\nidle_w = 50\npeak_w = 100\n"
        "[[vm_types]]\nmips = 1000\nram_mb = 512\n"
    )
    return load_scenario(tiny)


def test_a_worker_process_failure_names_the_cell(inputs: Inputs, tmp_path: Path) -> None:
    """Every cell raises CapacityError in its worker (:func:`too_small_scenario`)."""
    days = load_days([inputs.days], None)
    policies = resolve_policies([], None, CLOUDSIM, baseline="dvfs")
    with pytest.raises(CellFailed) as caught:
        run_matrix(days, policies, too_small_scenario(tmp_path), CLOUDSIM, seed=1, cache=ResultCache(None), jobs=2)
    assert isinstance(caught.value.error, CapacityError)
    assert caught.value.day in ("day1", "day2")


def pool_threads() -> list[threading.Thread]:
    """The process pools' manager threads still running."""
    return [t for t in threading.enumerate() if type(t).__name__ == "_ExecutorManagerThread" and t.is_alive()]


def test_the_pool_is_shut_down_when_the_run_ends(
    matrix: tuple[list[Day], list[Policy], Scenario], inputs: Inputs, tmp_path: Path
) -> None:
    """Finished or failed, a run leaves no pool manager thread behind (an exit racing one prints
    an error from the standard library's exit handler)."""
    assert run(matrix, ResultCache(None), jobs=2).computed == 8
    assert pool_threads() == []
    days = load_days([inputs.days], None)
    with pytest.raises(CellFailed):
        run_matrix(days, matrix[1], too_small_scenario(tmp_path), CLOUDSIM, seed=1, cache=ResultCache(None), jobs=2)
    assert pool_threads() == []
