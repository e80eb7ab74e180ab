"""Turn a decision (VM -> target host) into ordered, limited actions.

The planner is pure: it sees the inventory the global manager read (hosts with their service state,
servers with their metadata and server groups, recent migrations) and the decision of the shared
pipeline, and returns the actions to take, in order, with the reasons for what it dropped.

Safety rules, in this order:

1. hosts whose nova-compute service is disabled (by an operator or for maintenance) or down, and
   hosts excluded by configuration, are neither sources nor targets;
2. VMs excluded by configuration or tagged with the exclusion metadata key are never moved;
3. a VM that moved less than ``vm_cooldown_s`` ago stays;
4. a move that would put two members of an anti-affinity server group on one host is dropped;
5. at most ``max_migrations_per_cycle`` migrations, the first ones of the decision kept;
6. a host left with no VM after the kept migrations gets a ``disable`` action after them (the
   executor disables it only once all of its migrations completed and Nova shows it empty).

Never the scheduler-bypassing ``force``: a migration names its target and Nova's scheduler checks it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from neat.service.config import Limits

MIGRATE = "migrate"
DISABLE = "disable"


@dataclass(frozen=True)
class HostInfo:
    """A compute host as the planner needs it."""

    name: str
    enabled: bool = True
    up: bool = True


@dataclass(frozen=True)
class ServerInfo:
    """A server (VM) as the planner needs it."""

    id: str
    host: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    anti_affinity_groups: frozenset[str] = frozenset()
    last_migrated_at: datetime | None = None


@dataclass(frozen=True)
class PlannedAction:
    """One step of a plan. ``server`` is empty for host actions."""

    kind: str
    host: str
    server: str = ""
    target: str = ""


@dataclass(frozen=True)
class PlanDraft:
    """The planner's output: actions in execution order, and what was left out and why."""

    actions: tuple[PlannedAction, ...]
    skipped: tuple[tuple[str, str], ...]  # (server id, reason)

    @property
    def migrations(self) -> tuple[PlannedAction, ...]:
        return tuple(a for a in self.actions if a.kind == MIGRATE)


def plan_actions(
    moves: Sequence[tuple[str, str]],
    hosts: Sequence[HostInfo],
    servers: Sequence[ServerInfo],
    limits: Limits,
    now: datetime,
) -> PlanDraft:
    """Apply the safety rules to ``moves`` (server id, target host name), in the decision's order."""
    by_id = {s.id: s for s in servers}
    usable = {h.name for h in hosts if h.enabled and h.up and h.name not in limits.exclude_hosts}
    placement = {s.id: s.host for s in servers}
    skipped: list[tuple[str, str]] = []
    kept: list[PlannedAction] = []
    for server_id, target in moves:
        server = by_id.get(server_id)
        if server is None:
            skipped.append((server_id, "unknown server"))
            continue
        reason = _blocked(server, target, usable, limits, now)
        if reason is None:
            reason = _breaks_anti_affinity(server, target, placement, by_id)
        if reason is None and len(kept) >= limits.max_migrations_per_cycle:
            reason = f"over the limit of {limits.max_migrations_per_cycle} migrations per cycle"
        if reason is not None:
            skipped.append((server_id, reason))
            continue
        kept.append(PlannedAction(MIGRATE, host=server.host, server=server_id, target=target))
        placement[server_id] = target
    remaining = Counter(placement.values())
    sources = dict.fromkeys(a.host for a in kept)
    disables = [PlannedAction(DISABLE, host=h) for h in sources if remaining[h] == 0]
    return PlanDraft(tuple(kept + disables), tuple(skipped))


def _blocked(server: ServerInfo, target: str, usable: set[str], limits: Limits, now: datetime) -> str | None:
    if server.id in limits.exclude_vms or limits.exclude_metadata_key in server.metadata:
        return "excluded by configuration or metadata"
    if server.host not in usable:
        return f"source host {server.host} is disabled, down or excluded"
    if target not in usable:
        return f"target host {target} is disabled, down or excluded"
    if target == server.host:
        return "already on the target"
    if server.last_migrated_at is not None:
        age_s = (now - server.last_migrated_at).total_seconds()
        if age_s < limits.vm_cooldown_s:
            return f"moved {age_s:.0f} s ago (cooldown {limits.vm_cooldown_s:.0f} s)"
    return None


def _breaks_anti_affinity(
    server: ServerInfo, target: str, placement: Mapping[str, str], by_id: Mapping[str, ServerInfo]
) -> str | None:
    for group in server.anti_affinity_groups:
        for other_id, host in placement.items():
            if other_id != server.id and host == target and group in by_id[other_id].anti_affinity_groups:
                return f"anti-affinity group {group} already has {other_id} on {target}"
    return None
