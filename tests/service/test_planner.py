"""The planner's safety rules, one small inventory at a time."""

from datetime import UTC, datetime, timedelta

from neat.service.config import Limits
from neat.service.planner import DISABLE, MIGRATE, HostInfo, PlannedAction, ServerInfo, plan_actions

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HOSTS = [HostInfo("c1"), HostInfo("c2"), HostInfo("c3")]


def servers(**placement: str) -> list[ServerInfo]:
    return [ServerInfo(id=name, host=host) for name, host in placement.items()]


def test_moves_in_order_then_disable_of_the_emptied_host():
    """vm1, vm2 leave c1 for c2: two migrations, then c1 (now empty) is disabled; c3 keeps vm3."""
    draft = plan_actions([("vm1", "c2"), ("vm2", "c2")], HOSTS, servers(vm1="c1", vm2="c1", vm3="c3"), Limits(), NOW)
    assert draft.actions == (
        PlannedAction(MIGRATE, "c1", "vm1", "c2"),
        PlannedAction(MIGRATE, "c1", "vm2", "c2"),
        PlannedAction(DISABLE, "c1"),
    )
    assert draft.skipped == ()


def test_a_host_that_keeps_a_vm_is_not_disabled():
    draft = plan_actions([("vm1", "c2")], HOSTS, servers(vm1="c1", vm2="c1"), Limits(), NOW)
    assert [a.kind for a in draft.actions] == [MIGRATE]


def test_disabled_down_and_excluded_hosts_are_neither_sources_nor_targets():
    hosts = [HostInfo("c1", enabled=False), HostInfo("c2", up=False), HostInfo("c3"), HostInfo("c4")]
    limits = Limits(exclude_hosts=frozenset({"c4"}))
    draft = plan_actions(
        [("vm1", "c3"), ("vm3", "c2"), ("vm4", "c3"), ("vm3", "c4")],
        hosts,
        servers(vm1="c1", vm3="c3", vm4="c4"),
        limits,
        NOW,
    )
    assert draft.actions == ()
    assert [s for s, _ in draft.skipped] == ["vm1", "vm3", "vm4", "vm3"]
    assert "source host c1" in draft.skipped[0][1]
    assert "target host c2" in draft.skipped[1][1]


def test_excluded_and_tagged_vms_stay():
    tagged = ServerInfo("vm2", "c1", metadata={"neat:exclude": "yes"})
    draft = plan_actions(
        [("vm1", "c2"), ("vm2", "c2")],
        HOSTS,
        [ServerInfo("vm1", "c1"), tagged],
        Limits(exclude_vms=frozenset({"vm1"})),
        NOW,
    )
    assert draft.actions == ()
    assert all("excluded" in reason for _, reason in draft.skipped)


def test_cooldown_keeps_a_recently_moved_vm():
    """Moved 10 minutes ago with a 1 h cooldown: stays. Moved 2 h ago: goes."""
    recent = ServerInfo("vm1", "c1", last_migrated_at=NOW - timedelta(minutes=10))
    old = ServerInfo("vm2", "c1", last_migrated_at=NOW - timedelta(hours=2))
    draft = plan_actions([("vm1", "c2"), ("vm2", "c2")], HOSTS, [recent, old], Limits(vm_cooldown_s=3600), NOW)
    assert [a.server for a in draft.migrations] == ["vm2"]
    assert draft.skipped[0][0] == "vm1" and "cooldown" in draft.skipped[0][1]


def test_anti_affinity_members_never_share_a_host():
    """vm1 and vm2 are in group g; vm2 already runs on c2, so vm1 may not go there (c3 is fine)."""
    g = frozenset({"g"})
    inventory = [ServerInfo("vm1", "c1", anti_affinity_groups=g), ServerInfo("vm2", "c2", anti_affinity_groups=g)]
    assert plan_actions([("vm1", "c2")], HOSTS, inventory, Limits(), NOW).actions == ()
    assert len(plan_actions([("vm1", "c3")], HOSTS, inventory, Limits(), NOW).migrations) == 1


def test_anti_affinity_sees_moves_planned_earlier_in_the_cycle():
    g = frozenset({"g"})
    inventory = [ServerInfo("vm1", "c1", anti_affinity_groups=g), ServerInfo("vm2", "c2", anti_affinity_groups=g)]
    draft = plan_actions([("vm1", "c3"), ("vm2", "c3")], HOSTS, inventory, Limits(), NOW)
    assert [a.server for a in draft.migrations] == ["vm1"]


def test_at_most_n_migrations_per_cycle():
    inventory = servers(vm1="c1", vm2="c1", vm3="c1")
    draft = plan_actions(
        [("vm1", "c2"), ("vm2", "c2"), ("vm3", "c2")], HOSTS, inventory, Limits(max_migrations_per_cycle=2), NOW
    )
    assert [a.server for a in draft.migrations] == ["vm1", "vm2"]
    assert DISABLE not in [a.kind for a in draft.actions]  # vm3 is still on c1
    assert "limit" in draft.skipped[0][1]


def test_unknown_servers_and_no_op_moves_are_skipped():
    draft = plan_actions([("ghost", "c2"), ("vm1", "c1")], HOSTS, servers(vm1="c1"), Limits(), NOW)
    assert draft.actions == ()
    assert [r for _, r in draft.skipped] == ["unknown server", "already on the target"]
