"""A service run, exported and replayed: the simulator's first round plans what the global manager stored.

Six hosts (the fake Nova of :mod:`tests.decision.test_same_decision`: 2 vCPUs of 1000 MIPS and
8 GB each) carry ten VMs of 1 vCPU and 512 + 64 i MB (no two alike, so that no tie depends on the
order of a host's VM list, which Nova does not show). host-0 is overloaded (two VMs near 90 %),
host-3 and host-5 carry one small VM each. Every 300 s, each host's local manager replays its VMs'
traces into a SQLite database (:class:`neat.local_manager.replay.ReplaySource` on the host's real
capacity, so a host reports its VMs' sum) and the global manager runs a dry-run cycle a second
later, storing its plan. The database is then exported (``neat export``) and replayed
(``neat simulate``), in two steps and in one (``--database``).

The simulator decides first at the second step, from the placement at the first (which the dry
runs left as it was). That round's plan, named, must be the plan the global manager stored at the
second step: the same migrations (VM, source, target) in the same order, and the same hosts to
disable. The export ends at the second step (``--until``): the simulator decides 0.1 s after each
step (CloudSim's timing), reading each VM's utilization on its way to the next step's, so that
with a later step exported an exact tie between two hosts (here host-2 and host-4, both at 0.375)
could be broken the other way; after the last step the values hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from neat.cli import main
from neat.config import load_config
from neat.db import migrate
from neat.db.store import Store
from neat.local_manager.loop import HostCapacity, LocalManager
from neat.local_manager.replay import ReplaySource, replay_uuid
from neat.local_manager.sinks import StoreSink
from neat.scenario import load_scenario
from neat.service.global_manager import GlobalManager
from neat.simulation import engine
from neat.traces import TraceSet, load_traces
from tests.decision.test_same_decision import N_HOSTS, FakeNova

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
INTERVAL_S = 300
STEPS = 6
#: Each VM's host and mean CPU percent: host-0 at about 88 %, host-3 and host-5 nearly idle.
VMS = {
    "vm-00": (0, 90),
    "vm-01": (0, 85),
    "vm-02": (1, 60),
    "vm-03": (1, 50),
    "vm-04": (2, 40),
    "vm-05": (2, 30),
    "vm-06": (3, 15),
    "vm-07": (4, 45),
    "vm-08": (4, 35),
    "vm-09": (5, 8),
}
CONFIG = """
[database]
url = "{url}"
[algorithms]
policy = "thr-mmt-0.8"
[hosts]
core_mips = 1000
link_mbit_s = 1000
idle_w = 100
peak_w = 200
"""


def percents() -> dict[str, np.ndarray]:
    """Each VM's CPU percents, (STEPS,): its mean give or take 5, seeded."""
    rng = np.random.default_rng(11)
    return {name: np.clip(mean + rng.integers(-5, 6, STEPS), 1, 99) for name, (_, mean) in VMS.items()}


def run_the_service(tmp_path: Path) -> tuple[str, Path, list[Any]]:
    """The replayed run: the database URL, the configuration file, and the plans stored at each step."""
    url = f"sqlite:///{tmp_path / 'neat.db'}"
    migrate.upgrade(url)
    config_file = tmp_path / "neat.toml"
    config_file.write_text(CONFIG.format(url=url))
    config = load_config(config_file)
    uuid = {name: replay_uuid(name) for name in VMS}
    nova = FakeNova(
        {uuid[name]: f"host-{host}" for name, (host, _) in VMS.items()},
        {uuid[name]: 512 + 64 * i for i, name in enumerate(VMS)},
    )
    store = Store.from_url(url)
    manager = GlobalManager(config, store, nova, compute=None)  # type: ignore[arg-type]
    manager.cycle(dry_run=True, now=T0 - timedelta(seconds=1))  # syncs the inventory; no samples yet
    clock = [T0]
    values = percents()
    managers = []
    for host in range(N_HOSTS):
        names = [name for name, (h, _) in VMS.items() if h == host]
        traces = TraceSet(np.stack([values[n] for n in names]) / 100.0, tuple(names), INTERVAL_S, f"host-{host}")
        source = ReplaySource(traces, core_mhz=1000.0, capacity=HostCapacity(cpu_mhz=2000.0, cpu_cores=2), wrap=False)
        sink = StoreSink(store)
        managers.append(LocalManager(source, source, sink, clock=lambda: clock[0], host_name=f"host-{host}"))
    plans = []
    for k in range(STEPS):
        clock[0] = T0 + timedelta(seconds=INTERVAL_S * k)
        for local in managers:
            assert local.collect_once() is not None
        plans.append(manager.cycle(dry_run=True, now=clock[0] + timedelta(seconds=1)).plan)
    store.close()
    return url, config_file, plans


def stored(plan: Any) -> list[tuple[str, str, str | None, str | None]]:
    return [(a.kind, a.host, a.vm_uuid, a.target_host) for a in plan.actions]


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def first_plan(monkeypatch: pytest.MonkeyPatch, *args: str | Path) -> Any:
    """The plan of the simulator's first round of ``neat simulate ARGS`` (one policy)."""
    plans: list[Any] = []
    original = engine.plan

    def recording(*a: Any, **kw: Any) -> Any:
        planned = original(*a, **kw)
        plans.append(planned)
        return planned

    monkeypatch.setattr(engine, "plan", recording)
    result = invoke("simulate", *args, "--policy", "thr-mmt-0.8", "--json")
    assert result.exit_code == 0, result.output
    assert plans, "the simulator planned nothing"
    return plans[0]


def named(planned: Any, vm_names: tuple[str, ...], host_names: tuple[str, ...]) -> list[tuple[str, str, Any, Any]]:
    """The simulator's actions (hosts and VMs by index) with the cloud's names."""
    return [
        (
            a.kind,
            host_names[a.host],
            None if a.server is None else vm_names[a.server],
            None if a.target is None else host_names[a.target],
        )
        for a in engine.actions_of(planned)
    ]


def test_the_first_simulated_round_plans_what_the_global_manager_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, config, plans = run_the_service(tmp_path)
    expected = stored(plans[1])  # made at the second step, as the simulator's first round
    assert [kind for kind, *_ in expected].count("migrate") >= 2, expected
    assert any(target is not None and host == "host-0" for _, host, _, target in expected)  # relief of host-0

    out = tmp_path / "export"
    until = (T0 + timedelta(seconds=INTERVAL_S)).isoformat()
    exported = invoke("export", "--config", config, "--database", url, "--out", out, "--until", until)
    assert exported.exit_code == 0, exported.output
    traces, scenario = load_traces(out / "traces.parquet"), load_scenario(out / "scenario.toml")
    assert traces.n_steps == 2 and traces.names == tuple(sorted(replay_uuid(n) for n in VMS))
    first = first_plan(monkeypatch, "--traces", out / "traces.parquet", "--scenario", out / "scenario.toml")
    assert named(first, traces.names, scenario.host_names()) == expected

    at_once = first_plan(monkeypatch, "--database", url, "--config", config, "--until", until)
    assert named(at_once, traces.names, scenario.host_names()) == expected
