"""Power management end to end: a real Nova, and a Redfish BMC emulator (sushy-tools) per compute.

Consolidation ends with the emptied hosts powered off through Redfish; a load spike on the host
left awake then wakes one back up, enables its compute service and migrates a VM onto it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
import pytest

from neat.config import PowerSettings, ServiceConfig
from neat.db.store import Store
from neat.decision.limits import SERVICE_DEFAULTS
from neat.decision.policy import parse_policy
from neat.local_manager.loop import HostSample, VmSample
from neat.local_manager.sinks import StoreSink
from neat.openstack import NovaClient
from neat.power.registry import build_drivers
from neat.service.global_manager import GlobalManager
from neat.service.nova import NovaCompute
from neat.service.power_manager import PowerManager
from tests.power.conftest import BMC_PASSWORD, BMC_USER, _start, _stop

from .conftest import HOSTS, Booter

pytestmark = pytest.mark.integration

EMULATOR = Path(__file__).parents[1] / "power" / "_redfish_emulator.py"
SYSTEMS = {host: f"00000000-0000-4000-8000-00000000010{i}" for i, host in enumerate(HOSTS, start=1)}
PASSWORD_ENV = "NEAT_IT_BMC_PASSWORD"


@pytest.fixture
def bmc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The emulator with one system per compute host, all on; returns its address."""
    auth = tmp_path / "htpasswd"
    auth.write_text(f"{BMC_USER}:{bcrypt.hashpw(BMC_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    config = {
        "SUSHY_EMULATOR_FAKE_DRIVER": True,
        "SUSHY_EMULATOR_FAKE_SYSTEMS": [{"uuid": u, "name": h, "power_state": "On"} for h, u in SYSTEMS.items()],
        "SUSHY_EMULATOR_STATE_DIR": str(tmp_path / "state"),
        "SUSHY_EMULATOR_AUTH_FILE": str(auth),
        "delay_s": 1,
        "delays": {},
        "stuck_systems": [],
    }
    (tmp_path / "emulator.json").write_text(json.dumps(config))
    proc, port = _start([sys.executable, str(EMULATOR), str(tmp_path / "emulator.json")], tmp_path / "emulator.log")
    monkeypatch.setenv(PASSWORD_ENV, BMC_PASSWORD)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


def record(
    store: Store, nova: NovaClient, servers: list[str], utilization: float, rounds: int, start: datetime
) -> None:
    sink = StoreSink(store)
    hosts: dict[str, list[str]] = {}
    for server in servers:
        hosts.setdefault(nova.server(server).host or "", []).append(server)
    for step in range(rounds):
        at = start + timedelta(minutes=5 * step)
        for host, ids in hosts.items():
            vms = [VmSample(uuid=s, utilization=utilization, cpu_time_ns=0, vcpus=1) for s in ids]
            sink.write(
                HostSample(
                    host=host,
                    timestamp=at,
                    utilization=min(1.0, utilization * len(ids) / 8),
                    cpu_mhz=16000.0,
                    cpu_cores=8,
                ),
                vms,
            )


def test_emptied_hosts_power_off_and_a_load_spike_wakes_one(
    store: Store, nova: NovaClient, boot: Booter, bmc: str
) -> None:
    servers = boot(["compute1", "compute1", "compute2", "compute2", "compute3", "compute3"], flavor="neat.small")
    drivers = build_drivers(
        {
            host: {
                "driver": "redfish",
                "address": bmc,
                "system": uuid,
                "username": BMC_USER,
                "password_env": PASSWORD_ENV,
            }
            for host, uuid in SYSTEMS.items()
        }
    )
    settings = PowerSettings(min_awake_s=0.0, min_asleep_s=0.0, poll_s=0.5, power_timeout_s=30.0, wake_timeout_s=60.0)
    config = ServiceConfig(policy_spec=parse_policy("thr-mmt-0.5"), limits=replace(SERVICE_DEFAULTS, vm_cooldown_s=0.0))
    power = PowerManager(store, nova, drivers, settings)
    gm = GlobalManager(config, store, nova, NovaCompute(nova, poll_s=0.5), power)
    gm.cycle(dry_run=True)
    now = datetime.now(UTC)
    record(store, nova, servers, 0.05, 5, now - timedelta(minutes=30))  # the newest 10 minutes old: fresh

    gm.cycle()

    awake = {nova.server(s).host for s in servers}
    asleep = set(HOSTS) - awake
    assert asleep, "consolidation emptied no host"
    for host in asleep:
        assert drivers[host].state() == "off"
        assert not nova.host(host).enabled
        assert [h.power_state for h in store.hosts() if h.name == host] == ["off"]
    for host in awake:
        assert drivers[host].state() == "on"

    # a load spike: every VM at 100 % on the hosts left awake overloads them (threshold 0.5)
    record(store, nova, servers, 1.0, 1, now - timedelta(minutes=2))
    result = gm.cycle()

    woken = [h for h in asleep if drivers[h].state() == "on"]
    assert len(woken) == 1, result.note
    (host,) = woken
    assert nova.host(host).enabled
    assert any(nova.server(s).host == host for s in servers)
    assert [t.to_state for t in store.power_transitions(host=host)][-2:] == ["waking", "on"]
