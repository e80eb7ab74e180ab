"""The global manager: every interval, read the cloud and the histories, decide, plan, act.

One cycle (:meth:`GlobalManager.cycle`):

1. hold the leader lease (a single active global manager; a standby waits for it to expire);
2. read the cloud's hosts and servers and sync them into the database;
3. build the decision's inputs: the hosts' capacities and power tables (configured profiles over
   Nova's inventory), the newest ``history_window`` samples of every VM and every host (NaN-padded,
   with their counts: a real 0 % is a sample), each VM's migration time from its flavor's RAM and the
   link, and the limits' masks (exclusions, cooldown, busy servers, disabled hosts);
4. :func:`neat.decision.decide` and :func:`neat.decision.plan`, the simulator's own;
5. store the plan; unless it is a dry run, execute it (:class:`neat.execution.executor.Executor` on
   :class:`neat.service.nova.NovaCompute`), recording every action.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from algorithms.base import HostTable
from neat.config import ServiceConfig
from neat.db.records import ActionSpec, HostInfo, PlanRecord, VmInfo
from neat.db.store import Store
from neat.decision import Decision, DecisionInputs, Plan, allowed, decide, plan
from neat.decision.migration import migration_time_s
from neat.execution.executor import COMPLETED, DISABLE, ENABLE, MIGRATE, Action, Compute, Executor, Outcome
from neat.openstack.records import ComputeHost, Server, ServerGroup
from neat.service.power_manager import PowerManager

log = logging.getLogger(__name__)


class Cloud(Protocol):
    """What the global manager reads from the cloud (``neat.openstack.NovaClient`` provides it)."""

    def hosts(self) -> Sequence[ComputeHost]: ...

    def servers(self, host: str | None = None) -> Sequence[Server]: ...

    def server_groups(self) -> Sequence[ServerGroup]: ...

    def aggregates(self) -> Mapping[str, Sequence[str]]:
        """Host aggregates by name (read only when a ``[[hosts.profile]]`` selects by aggregate)."""
        ...


@dataclass(frozen=True)
class CycleResult:
    """What one cycle did."""

    plan: PlanRecord | None
    outcomes: tuple[Outcome, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    note: str = ""
    stuck: tuple[int, int] | None = None  # (vCPUs, RAM MB) of the largest VM on an overloaded host left as is


class StoreActionLog:
    """Records the executor's progress against the stored plan's actions."""

    def __init__(self, store: Store, plan: PlanRecord) -> None:
        self.store = store
        self.ids = [a.id for a in plan.actions]

    def started(self, index: int) -> None:
        self.store.start_action(self.ids[index])

    def finished(self, index: int, status: str, error: str | None = None) -> None:
        final = "succeeded" if status == COMPLETED else "failed"
        message = error if status in (COMPLETED, "failed") else f"{status}: {error}"
        self.store.finish_action(self.ids[index], final, error=message)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CloudView:
    """One cycle's reading of the cloud, indexed: hosts and servers in the order of the decision's arrays."""

    hosts: tuple[ComputeHost, ...]
    servers: tuple[Server, ...]
    inputs: DecisionInputs
    anti_affinity: tuple[np.ndarray, ...]

    @property
    def host_names(self) -> list[str]:
        return [h.name for h in self.hosts]


class GlobalManager:
    """Decides and applies consolidation plans for one cloud."""

    def __init__(
        self, config: ServiceConfig, store: Store, cloud: Cloud, compute: Compute, power: PowerManager | None = None
    ) -> None:
        self.config = config
        self.power = power
        self.store = store
        self.cloud = cloud
        self.compute = compute
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.policy = config.policy()
        self.rng = np.random.default_rng()
        self._state: tuple[tuple[str, ...], Any] = ((), None)  # the detector's state, by host list

    # -- one cycle ------------------------------------------------------------------------------
    def cycle(self, *, dry_run: bool = False, now: datetime | None = None) -> CycleResult:
        at = now or datetime.now(UTC)
        lease = self.store.acquire_lease(self.holder, ttl_s=3 * self.config.decide_interval_s, now=at)
        if lease is None:
            return CycleResult(None, note="another global manager holds the lease")
        # retention: never below the longest history a detector is given
        self.store.prune_samples(
            max_age_s=self.config.retention_max_age_s, keep_samples=self.config.history_window, now=at
        )
        result = self._round(lease.term, dry_run, at)
        if dry_run or self.power is None or not result.stuck:
            return result
        # an overloaded host had nowhere to send its VMs: wake capacity, then decide again
        vcpus, ram_mb = result.stuck
        woken = self.power.wake_for_capacity(vcpus, ram_mb, overload=True)
        if woken is None or not woken.ok:
            log.warning("overload with nowhere to go, and no sleeping host could be woken: %s", woken)
            return result
        log.info("woke %s for an overloaded host", woken.host)
        again = self._round(lease.term, dry_run, at)
        return CycleResult(again.plan, result.outcomes + again.outcomes, again.skipped, f"woke {woken.host}")

    def _round(self, term: int, dry_run: bool, at: datetime) -> CycleResult:
        hosts = list(self.cloud.hosts())
        servers = [s for s in self.cloud.servers() if s.host is not None]
        aggregates = self.cloud.aggregates() if self.config.uses_aggregates else None
        self._sync_inventory(hosts, servers, aggregates)
        view = self.read(hosts, servers, at, aggregates)
        decision = self.decide(view)
        planned = plan(decision, view.inputs, self.config.limits, anti_affinity=view.anti_affinity)
        names, ids = view.host_names, [s.id for s in view.servers]
        skipped = tuple(
            (ids[v], why) for v, why in zip(planned.dropped_vms.tolist(), planned.dropped_reasons, strict=True)
        )
        relieved = {names[h] for h in planned.sources.tolist()}
        overloaded = {names[h] for h in np.flatnonzero(decision.overloaded)}
        stuck_servers = [s for s in view.servers if s.host in overloaded and s.host not in relieved]
        stuck = (max(s.vcpus for s in stuck_servers), max(s.ram_mb for s in stuck_servers)) if stuck_servers else None
        actions = named_actions(planned, names, ids)
        specs = [
            ActionSpec(
                kind=a.kind,
                host=str(a.host),
                vm_uuid=str(a.server) if a.server is not None else None,
                target_host=str(a.target) if a.target is not None else None,
            )
            for a in actions
        ]
        record = self.store.create_plan(specs, created_by=self.holder, lease_term=term, at=at)
        if dry_run or not actions:
            note = "dry run" if dry_run else "nothing to do"
            return CycleResult(record, skipped=skipped, note=note, stuck=stuck)
        outcomes = self.apply(record)
        if self.power is not None:
            self._suspend_drained(record, outcomes)
        return CycleResult(self.store.plan(record.id), tuple(outcomes), skipped, stuck=stuck)

    # -- reading and deciding -------------------------------------------------------------------
    def read(
        self,
        hosts: Sequence[ComputeHost],
        servers: Sequence[Server],
        at: datetime,
        aggregates: Mapping[str, Sequence[str]] | None = None,
    ) -> CloudView:
        """The decision's inputs from the cloud's inventory, the stored samples and the configuration.

        ``aggregates`` (Nova's host aggregates by name) matter when a profile selects by aggregate.
        """
        config = self.config
        hosts = tuple(sorted(hosts, key=lambda h: h.name))
        index = {h.name: i for i, h in enumerate(hosts)}
        servers = tuple(s for s in servers if s.host in index)
        profiles = [config.profile(h.name, aggregates) for h in hosts]
        cores = np.array([p.cores or max(h.vcpus, 1) for p, h in zip(profiles, hosts, strict=True)], dtype=np.float64)
        core_mips = np.array([p.core_mips for p in profiles], dtype=np.float64)
        table = HostTable(
            cpu_mips=cores * core_mips,
            pe_mips=core_mips,
            ram_mb=np.array([p.ram_mb or max(h.memory_mb, 1) for p, h in zip(profiles, hosts, strict=True)]),
            power_w=np.stack([p.power_w for p in profiles]) if profiles else np.zeros((0, 11)),
        )
        link = np.array([p.link_mbit_s for p in profiles], dtype=np.float64)
        vm_host = np.array([index[s.host or ""] for s in servers], dtype=np.intp)
        ids = [s.id for s in servers]
        windows = self.store.vm_windows(config.history_window, vms=ids) if ids else None
        host_windows = self.store.host_windows(config.history_window, hosts=list(index)) if hosts else None
        vm_ram = np.array([max(s.ram_mb, 1) for s in servers], dtype=np.float64)
        groups = {g.id: g for g in self.cloud.server_groups() if g.anti_affinity}
        members: dict[str, list[int]] = {}
        for v, s in enumerate(servers):
            for g in s.server_groups:
                if g in groups:
                    members.setdefault(g, []).append(v)
        usable = np.array([h.usable for h in hosts], dtype=np.bool_)
        movable, source_ok, target_ok = allowed(
            config.limits,
            host_names=list(index),
            vm_names=ids,
            host_usable=usable,
            vm_busy=np.array([s.busy for s in servers], dtype=np.bool_),
            vm_tagged=np.array([config.limits.exclude_metadata_key in s.metadata for s in servers], dtype=np.bool_),
            vm_last_migrated_s=self._last_migrations(ids, at),
            now_s=at.timestamp(),
        )
        window = config.history_window
        inputs = DecisionInputs(
            hosts=table,
            vm_host=vm_host,
            vm_mips=np.array([max(s.vcpus, 1) for s in servers], dtype=np.float64) * core_mips[vm_host],
            vm_ram_mb=vm_ram,
            vm_history=windows.utilization if windows is not None else np.zeros((0, window)),
            vm_n_valid=windows.n_valid if windows is not None else np.zeros(0, dtype=np.intp),
            vm_migration_time_s=migration_time_s(vm_ram, link[vm_host]),
            interval_s=config.decide_interval_s,
            host_history=host_windows.utilization if host_windows is not None else None,
            host_n_valid=host_windows.n_valid if host_windows is not None else None,
            vm_movable=movable,
            host_source_allowed=source_ok,
            host_target_allowed=target_ok,
        )
        anti_affinity = tuple(np.array(v, dtype=np.intp) for v in members.values())
        return CloudView(hosts, servers, inputs, anti_affinity)

    def decide(self, view: CloudView) -> Decision:
        """:func:`neat.decision.decide` with the detector's state kept between cycles (reset when the hosts change)."""
        names = tuple(view.host_names)
        state = self._state[1] if self._state[0] == names else None
        decision = decide(view.inputs, self.policy, state, rng=self.rng)
        self._state = (names, decision.detector_state)
        return decision

    # -- acting ---------------------------------------------------------------------------------
    def _suspend_drained(self, plan: PlanRecord, outcomes: Sequence[Outcome]) -> None:
        assert self.power is not None
        for outcome in outcomes:
            if outcome.action.kind == DISABLE and outcome.status == COMPLETED:
                moved = [a.vm_uuid or "" for a in plan.actions if a.kind == MIGRATE and a.host == outcome.action.host]
                result = self.power.suspend(str(outcome.action.host), moved)
                log.info("suspend %s: %s (%s)", result.host, "done" if result.ok else "not done", result.detail)

    def apply(self, plan: PlanRecord) -> list[Outcome]:
        """Execute a stored plan's actions (all of them, in order)."""
        actions = [Action(a.kind, host=a.host, server=a.vm_uuid, target=a.target_host) for a in plan.actions]
        executor = Executor(self.compute, StoreActionLog(self.store, plan), self.config.limits)
        return executor.apply(actions)

    # -- steps ----------------------------------------------------------------------------------
    def _sync_inventory(
        self, hosts: Sequence[ComputeHost], servers: Sequence[Server], aggregates: Mapping[str, Sequence[str]] | None
    ) -> None:
        config = self.config
        core_mips = {h.name: config.profile(h.name, aggregates).core_mips for h in hosts}
        self.store.upsert_hosts(
            HostInfo(
                name=h.name,
                cpu_mips=max(h.vcpus, 1) * core_mips[h.name],
                cores=max(h.vcpus, 1),
                ram_mb=max(h.memory_mb, 1),
                service_state="enabled" if h.enabled else "disabled",
            )
            for h in hosts
        )
        self.store.upsert_vms(
            VmInfo(
                uuid=s.id,
                host=s.host,
                ram_mb=max(s.ram_mb, 1),
                vcpus=max(s.vcpus, 1),
                cpu_mips=max(s.vcpus, 1) * core_mips.get(s.host or "", config.profiles[-1].core_mips),
            )
            for s in servers
        )

    def _last_migrations(self, ids: Sequence[str], at: datetime) -> np.ndarray:
        """When each VM last finished a successful migration (epoch seconds, NaN: not recently)."""
        last: dict[str, float] = {}
        for record in self.store.plans(limit=50):
            for action in record.actions:
                if action.kind == MIGRATE and action.status == "succeeded" and action.vm_uuid:
                    when = action.finished_at
                    if when is not None:
                        last[action.vm_uuid] = max(last.get(action.vm_uuid, -np.inf), when.timestamp())
        return np.array([last.get(i, np.nan) for i in ids], dtype=np.float64)


def named_actions(planned: Plan, host_names: Sequence[str], server_ids: Sequence[str]) -> list[Action]:
    """A plan's actions with the cloud's names: wakes (enable), migrations, disables."""
    actions = [Action(ENABLE, host_names[h]) for h in planned.wakes.tolist()]
    actions += [
        Action(MIGRATE, host_names[s], server_ids[v], host_names[t])
        for v, s, t in zip(planned.vms.tolist(), planned.sources.tolist(), planned.targets.tolist(), strict=True)
    ]
    actions += [Action(DISABLE, host_names[h]) for h in planned.disables.tolist()]
    return actions
