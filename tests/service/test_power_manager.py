"""Suspend after drain, wake on demand, hysteresis and faults, with a fake cloud and fake drivers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from neat.config import PowerSettings
from neat.db import migrate
from neat.db.records import HostInfo
from neat.db.store import Store
from neat.openstack.records import ComputeHost, Migration, Server
from neat.power.base import BmcUnreachable, PowerDriver
from neat.service.power_manager import PowerManager

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)  # after the fixture's real-time inventory sync


@dataclass(frozen=True, kw_only=True)
class FakeDriver(PowerDriver):
    """A BMC whose behaviour is scripted by the module-level table below."""

    def state(self):
        return POWER[self.host]["state"]

    def power_off(self):
        if POWER[self.host].get("unreachable"):
            raise BmcUnreachable(f"{self.host}: BMC timed out")
        if not POWER[self.host].get("stuck"):
            POWER[self.host]["state"] = "off"

    def power_on(self):
        POWER[self.host]["state"] = "on"


POWER: dict[str, dict] = {}


class Cloud:
    def __init__(self, servers=None, disabled=None, migrations=None, never_up=()):
        self.placement = dict(servers or {})
        self.disabled = dict(disabled or {})
        self.records = dict(migrations or {})
        self.never_up = set(never_up)
        self.enabled_calls: list[str] = []

    def host(self, name):
        reason = self.disabled.get(name)
        return ComputeHost(
            name=name,
            service_id=name,
            service_status="disabled" if reason else "enabled",
            service_state="down" if name in self.never_up else "up",
            disabled_reason=reason,
        )

    def servers(self, host=None):
        return [Server(id=s, name=s, host=h, status="ACTIVE") for s, h in self.placement.items() if h == host]

    def migration(self, server_id):
        status = self.records.get(server_id)
        return (
            None
            if status is None
            else Migration(id=1, uuid=None, server_id=server_id, status=status, source=None, dest=None)
        )

    def enable_service(self, host):
        self.enabled_calls.append(host)
        self.disabled.pop(host, None)


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'neat.db'}"
    migrate.upgrade(url)
    with Store.from_url(url) as s:
        s.upsert_hosts(
            [
                HostInfo(name="c1", cpu_mips=8000, cores=4, ram_mb=8192),
                HostInfo(name="c2", cpu_mips=8000, cores=4, ram_mb=8192),
                HostInfo(name="c3", cpu_mips=2000, cores=1, ram_mb=1024),
            ]
        )
        yield s


def manager(store, cloud, now=T0, **settings):
    for host in ("c1", "c2", "c3"):
        POWER.setdefault(host, {"state": "on"})
    drivers = {h: FakeDriver(host=h) for h in ("c1", "c2", "c3")}
    clock = [0.0]  # simulated seconds: sleeping advances it

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    return PowerManager(
        store,
        cloud,
        drivers,
        PowerSettings(poll_s=1.0, power_timeout_s=5.0, retries=1, **settings),
        idle_w={"c1": 90.0, "c2": 80.0, "c3": 50.0},
        now=lambda: now,
        sleep=sleep,
        monotonic=lambda: clock[0],
    )


def changes(store, host):
    """Power transitions after the inventory's first sighting (a new host starts "unknown")."""
    return [t for t in store.power_transitions(host=host) if t.from_state is not None]


@pytest.fixture(autouse=True)
def reset_power():
    POWER.clear()
    yield


def test_a_drained_disabled_host_is_suspended_and_the_transition_recorded(store):
    cloud = Cloud(disabled={"c1": "neat: host emptied"}, migrations={"vm1": "completed"})
    outcome = manager(store, cloud).suspend("c1", ["vm1"])
    assert outcome.ok and POWER["c1"]["state"] == "off"
    assert [t.to_state for t in changes(store, "c1")] == ["suspending", "off"]


@pytest.mark.parametrize(
    ("cloud", "reason"),
    [
        (Cloud(disabled={"c1": "neat"}, migrations={"vm1": "running"}), "not completed"),
        (Cloud(servers={"vm9": "c1"}, disabled={"c1": "neat"}, migrations={"vm1": "completed"}), "still shows 1"),
        (Cloud(migrations={"vm1": "completed"}), "not disabled by neat"),
        (Cloud(disabled={"c1": "maintenance"}, migrations={"vm1": "completed"}), "not disabled by neat"),
    ],
)
def test_no_suspend_unless_every_drain_check_passes(store, cloud, reason):
    outcome = manager(store, cloud).suspend("c1", ["vm1"])
    assert not outcome.ok and reason in outcome.detail
    assert POWER["c1"]["state"] == "on" and changes(store, "c1") == []


def test_a_failed_power_call_re_enables_the_service(store):
    POWER["c1"] = {"state": "on", "unreachable": True}
    cloud = Cloud(disabled={"c1": "neat: emptied"})
    outcome = manager(store, cloud).suspend("c1")
    assert not outcome.ok and "timed out" in outcome.detail
    assert cloud.enabled_calls == ["c1"]
    assert store.power_transitions(host="c1")[-1].to_state == "on"  # as last read before the calls failed


def test_success_reported_but_state_unchanged_is_a_failure(store):
    POWER["c1"] = {"state": "on", "stuck": True}
    cloud = Cloud(disabled={"c1": "neat: emptied"})
    outcome = manager(store, cloud).suspend("c1")
    assert not outcome.ok
    assert cloud.enabled_calls == ["c1"]


def test_hysteresis_keeps_a_recently_woken_host_awake(store):
    store.record_power_transition("c1", "on", at=T0 - timedelta(minutes=5))
    cloud = Cloud(disabled={"c1": "neat: emptied"})
    outcome = manager(store, cloud, min_awake_s=1800).suspend("c1")
    assert not outcome.ok and "awake only 300 s" in outcome.detail


def test_wake_picks_the_cheapest_sleeping_host_that_fits_and_enables_it(store):
    for host in ("c1", "c2", "c3"):
        store.record_power_transition(host, "off", at=T0 - timedelta(hours=1))
        POWER[host] = {"state": "off"}
    cloud = Cloud(disabled={h: "neat: emptied" for h in ("c1", "c2", "c3")})
    outcome = manager(store, cloud).wake_for_capacity(vcpus=2, ram_mb=2048)
    assert outcome is not None and outcome.ok and outcome.host == "c2"  # c3 (50 W) is too small
    assert cloud.enabled_calls == ["c2"] and POWER["c2"]["state"] == "on"
    assert store.power_transitions(host="c2")[-1].to_state == "on"


def test_a_host_that_never_comes_up_is_marked_and_the_next_is_tried(store):
    for host in ("c1", "c2"):
        store.record_power_transition(host, "off", at=T0 - timedelta(hours=1))
        POWER[host] = {"state": "off"}
    cloud = Cloud(disabled={"c1": "neat", "c2": "neat"}, never_up={"c2"})
    outcome = manager(store, cloud, wake_timeout_s=3.0).wake_for_capacity(vcpus=1, ram_mb=512)
    assert outcome is not None and outcome.ok and outcome.host == "c1"
    assert store.power_transitions(host="c2")[-1].to_state == "unknown"
    assert "c2" not in cloud.enabled_calls


def test_only_overload_wakes_a_host_that_just_went_to_sleep(store):
    store.record_power_transition("c1", "off", at=T0 - timedelta(minutes=1))
    POWER["c1"] = {"state": "off"}
    cloud = Cloud(disabled={"c1": "neat"})
    assert manager(store, cloud, min_asleep_s=600).wake_for_capacity(1, 512, overload=False) is None
    assert manager(store, cloud, min_asleep_s=600).wake_for_capacity(1, 512, overload=True).ok
