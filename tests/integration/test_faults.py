"""Faults against the real Nova: a global manager killed (SIGKILL) mid-plan, then restarted; a server
deleted between the plan and its migration. Both in the fault tier too (``-m faults``).

After recovery the invariants of tests/faults/invariants.py hold: nothing left running, every
action final, no VM on a sleeping host (power management is on, with the ``noop`` driver), no host
disabled by neat that still holds VMs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neat.config import load_config
from neat.db import migrate
from neat.db.records import ActionSpec
from neat.db.store import Store
from neat.openstack import NovaClient
from tests.faults.invariants import assert_invariants

from .conftest import HOSTS, Booter, Cloud
from .test_consolidation import manager, replay_low_load

pytestmark = [pytest.mark.integration, pytest.mark.faults]

KILL_TIMEOUT_S = 180


def write_config(tmp_path: Path, cloud: Cloud, url: str) -> Path:
    power = "".join(f'[power.hosts.{h}]\ndriver = "noop"\n' for h in HOSTS)
    path = tmp_path / "neat.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[openstack]\ncloud = "{cloud.name}"\n'
        "[limits]\nmax_concurrent_migrations = 1\nmigration_timeout_s = 120\n"
        "[power]\nmin_awake_s = 0\npoll_s = 0.1\n" + power
    )
    return path


def test_a_manager_killed_mid_plan_is_settled_by_the_next(
    tmp_path: Path, cloud: Cloud, nova: NovaClient, boot: Booter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manager is killed once its plan's first migration is running; the next manager (this
    process, on the same machine, so it takes the dead one's lease over at once) settles the plan
    from Nova's records before deciding: the migration that was running is recorded as it ended,
    the rest cancelled or finished, and the invariants hold."""
    url = f"sqlite:///{tmp_path / 'neat.db'}"
    migrate.upgrade(url)
    store = Store.from_url(url)
    servers = boot(["compute1", "compute1", "compute2", "compute2", "compute3", "compute3"], flavor="neat.small")
    manager(store, nova).cycle(dry_run=True)  # the inventory
    replay_low_load(store, nova, servers)
    config = write_config(tmp_path, cloud, url)
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(cloud.clouds_yaml)}
    log = open(tmp_path / "killed.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "neat", "--log-level", "debug", "global-manager", "--once", "--config", str(config)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + KILL_TIMEOUT_S
    killed_plan = None
    try:
        while time.monotonic() < deadline and process.poll() is None:
            running = [p for p in store.plans(limit=5) if any(a.status == "running" for a in p.actions)]
            if running:
                killed_plan = running[0].id
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        log.close()
    assert killed_plan is not None, (tmp_path / "killed.log").read_text()[-3000:]
    before = store.plan(killed_plan)
    assert any(a.status == "running" for a in before.actions)
    lease = store.lease()
    assert lease is not None and lease.holder.endswith(f":{process.pid}")

    from neat.cli.service import _manager

    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(cloud.clouds_yaml))
    restarted = _manager(load_config(config))
    result = restarted.cycle()  # takes the lease over, settles, decides, acts
    assert result.plan is not None and result.reconciled is not None
    settled = store.plan(killed_plan)
    assert all(a.status in ("succeeded", "failed", "cancelled") for a in settled.actions), settled
    for action in settled.actions:
        if action.kind == "migrate" and action.status == "succeeded":
            assert nova.server(action.vm_uuid or "").host == action.target_host
    # the restarted manager's own plan ran to the end
    for _ in range(3):
        if not any(a.status == "running" for p in store.plans(limit=None) for a in p.actions):
            break
        restarted.cycle()
    assert_invariants(store, nova)
    restarted.keeper.release()
    store.close()


def test_a_server_deleted_before_its_migration(tmp_path: Path, nova: NovaClient, boot: Booter, sdk) -> None:
    url = f"sqlite:///{tmp_path / 'neat.db'}"
    migrate.upgrade(url)
    store = Store.from_url(url)
    gone, kept = boot(["compute1", "compute1"], flavor="neat.small")
    gm = manager(store, nova)
    gm.cycle(dry_run=True)
    plan = store.create_plan(
        [
            ActionSpec(kind="migrate", host="compute1", vm_uuid=gone, target_host="compute2"),
            ActionSpec(kind="migrate", host="compute1", vm_uuid=kept, target_host="compute2"),
            ActionSpec(kind="disable", host="compute1"),
        ],
        created_by=gm.holder,
        claimed_by=gm.holder,
    )
    server = sdk.compute.get_server(gone)  # fetched first: the fake driver may delete it at once
    sdk.compute.delete_server(server)
    sdk.compute.wait_for_delete(server, interval=0.5, wait=60)

    gm.apply(plan)

    actions = store.plan(plan.id).actions
    assert actions[0].status == "failed" and "no longer exists" in (actions[0].error or "")
    assert actions[1].status == "succeeded" and nova.server(kept).host == "compute2"
    assert actions[2].status == "failed" and "did not complete" in (actions[2].error or "")  # left enabled
    assert nova.host("compute1").enabled
    assert_invariants(store, nova)
    gm.keeper.release()
