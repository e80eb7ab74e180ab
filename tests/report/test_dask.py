"""``--scheduler``: the matrix on a Dask distributed cluster (a LocalCluster on loopback) equals the local run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from neat.cli.report import load_days
from neat.decision.mode import CLOUDSIM
from neat.report import runner
from neat.report.cache import ResultCache
from neat.report.runner import SchedulerError, run_matrix
from neat.report.sweep import resolve_policies
from neat.scenario import load_scenario

from .conftest import Inputs, base_args, invoke

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A one-worker cluster in this process, listening on 127.0.0.1 only."""
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp://",  # a real TCP scheduler, as a remote cluster's (threads alone default to inproc)
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_results_equal_the_local_run(inputs: Inputs, scheduler: str) -> None:
    days = load_days([inputs.days], None)
    policies = resolve_policies(["thr-mmt-0.8", "lr-mmt-1.2"], None, CLOUDSIM, baseline="dvfs")
    scenario = load_scenario(inputs.scenario)
    local = run_matrix(days, policies, scenario, CLOUDSIM, seed=1, cache=ResultCache(None), jobs=1)
    remote = run_matrix(days, policies, scenario, CLOUDSIM, seed=1, cache=ResultCache(None), scheduler=scheduler)
    assert remote.computed == local.computed == 8
    assert remote.results.keys() == local.results.keys()
    assert all(remote.results[c].same_metrics(local.results[c]) for c in local.results)


def test_scheduler_option_writes_the_same_report(inputs: Inputs, scheduler: str, tmp_path: Path) -> None:
    policies = ("--policy", "thr-mmt-0.8")
    local = invoke(*base_args(inputs, tmp_path / "local", tmp_path / "cache-local"), *policies)
    remote = invoke(
        *base_args(inputs, tmp_path / "remote", tmp_path / "cache-remote"), *policies, "--scheduler", scheduler
    )
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert "6 simulated, 0 from the cache" in remote.stdout
    columns = ["day", "policy", "energy_kwh", "slatah", "pdm", "slav", "esv", "migrations", "host_shutdowns"]
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "local" / "results.csv")[columns],
        pd.read_csv(tmp_path / "remote" / "results.csv")[columns],
    )
    assert len(ResultCache(tmp_path / "cache-remote")) == 6  # results come back and are cached locally


def test_unreachable_scheduler_exits_2(inputs: Inputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "SCHEDULER_TIMEOUT_S", 0.5)
    with pytest.raises(SchedulerError, match=r"cannot reach the Dask scheduler at 'tcp://127\.0\.0\.1:9'"):
        days = load_days([inputs.days], None)
        policies = resolve_policies([], None, CLOUDSIM, baseline="dvfs")
        run_matrix(
            days, policies, load_scenario(inputs.scenario), CLOUDSIM, seed=1, cache=ResultCache(None),
            scheduler="tcp://127.0.0.1:9",
        )  # fmt: skip
    result = invoke(*base_args(inputs, tmp_path / "out", tmp_path / "cache"), "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler" in result.stderr
    assert not (tmp_path / "out").exists()
