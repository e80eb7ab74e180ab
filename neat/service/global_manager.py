"""The global manager: every interval, read the cloud and the histories, decide, plan, act.

One cycle (:meth:`GlobalManager.cycle`):

1. hold the leader lease (a single active global manager; a standby waits for it to expire);
2. read the cloud's hosts and servers and sync them into the database;
3. load the newest ``history_window`` samples of every VM into arrays;
4. run the shared decision pipeline (:func:`neat.pipeline.decide`);
5. turn the decision into safe, limited actions (:mod:`neat.service.planner`) and store the plan;
6. unless it is a dry run, execute it (:mod:`neat.service.executor`), recording every action.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from algorithms.base import HostTable
from algorithms.power import linear_power_table
from neat.db.records import ActionSpec, HostInfo, PlanRecord, VmInfo
from neat.db.store import Store
from neat.openstack.records import ComputeHost, Server, ServerGroup
from neat.pipeline import DecisionContext, decide
from neat.service import planner
from neat.service.config import ServiceConfig
from neat.service.executor import COMPLETED, Compute, Executor, Outcome
from neat.service.power_manager import PowerManager
from neat.simulation.guard import host_histories, trimmed_length
from neat.simulation.modes import NEAT
from neat.simulation.policies import Policy

log = logging.getLogger(__name__)

#: Power table used for every host when the configuration gives none (only ratios matter to PABFD).
DEFAULT_POWER_W = linear_power_table(100.0, 200.0)


class Cloud(Protocol):
    """What the global manager reads from the cloud (``neat.openstack.NovaClient`` provides it)."""

    def hosts(self) -> Sequence[ComputeHost]: ...

    def servers(self, host: str | None = None) -> Sequence[Server]: ...

    def server_groups(self) -> Sequence[ServerGroup]: ...


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
        self.policy = Policy(
            name="service",
            kind="dynamic",
            detector=config.detector(),
            selector=config.selector(),
            placer=config.placer(),
        )
        self.detector_state: Any = None

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
        self._sync_inventory(hosts, servers)
        moves, overloaded = self._decide(hosts, servers)
        groups = {g.id for g in self.cloud.server_groups() if g.anti_affinity}
        last_migrated = self._last_migrations()
        draft = planner.plan_actions(
            moves,
            [planner.HostInfo(h.name, enabled=h.enabled, up=h.up and not h.forced_down) for h in hosts],
            [
                planner.ServerInfo(
                    s.id,
                    s.host or "",
                    metadata=s.metadata,
                    anti_affinity_groups=frozenset(g for g in s.server_groups if g in groups),
                    last_migrated_at=last_migrated.get(s.id),
                )
                for s in servers
            ],
            self.config.limits,
            at,
        )
        relieved = {a.host for a in draft.migrations}
        stuck_servers = [s for s in servers if s.host in overloaded and s.host not in relieved]
        stuck = (max(s.vcpus for s in stuck_servers), max(s.ram_mb for s in stuck_servers)) if stuck_servers else None
        specs = [
            ActionSpec(kind=a.kind, host=a.host, vm_uuid=a.server or None, target_host=a.target or None)
            for a in draft.actions
        ]
        plan = self.store.create_plan(specs, created_by=self.holder, lease_term=term, at=at)
        if dry_run or not draft.actions:
            note = "dry run" if dry_run else "nothing to do"
            return CycleResult(plan, skipped=draft.skipped, note=note, stuck=stuck)
        outcomes = self.apply(plan)
        if self.power is not None:
            self._suspend_drained(plan, outcomes)
        return CycleResult(self.store.plan(plan.id), tuple(outcomes), draft.skipped, stuck=stuck)

    def _suspend_drained(self, plan: PlanRecord, outcomes: Sequence[Outcome]) -> None:
        assert self.power is not None
        for outcome in outcomes:
            if outcome.action.kind == planner.DISABLE and outcome.status == COMPLETED:
                moved = [
                    a.vm_uuid or "" for a in plan.actions if a.kind == planner.MIGRATE and a.host == outcome.action.host
                ]
                result = self.power.suspend(outcome.action.host, moved)
                log.info("suspend %s: %s (%s)", result.host, "done" if result.ok else "not done", result.detail)

    def apply(self, plan: PlanRecord) -> list[Outcome]:
        """Execute a stored plan's actions (all of them, in order)."""
        actions = [
            planner.PlannedAction(a.kind, host=a.host, server=a.vm_uuid or "", target=a.target_host or "")
            for a in plan.actions
        ]
        executor = Executor(self.compute, StoreActionLog(self.store, plan), self.config.limits)
        return executor.apply(actions)

    # -- steps ----------------------------------------------------------------------------------
    def _sync_inventory(self, hosts: Sequence[ComputeHost], servers: Sequence[Server]) -> None:
        core_mips = self.config.core_mips
        self.store.upsert_hosts(
            HostInfo(
                name=h.name,
                cpu_mips=max(h.vcpus, 1) * core_mips,
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
                cpu_mips=max(s.vcpus, 1) * core_mips,
            )
            for s in servers
        )

    def _decide(
        self, hosts: Sequence[ComputeHost], servers: Sequence[Server]
    ) -> tuple[list[tuple[str, str]], set[str]]:
        """Run the shared pipeline on the usable hosts; (server id, target) in decision order, overloaded hosts."""
        usable = [h for h in hosts if h.usable and h.name not in self.config.limits.exclude_hosts]
        if not usable or not servers:
            return [], set()
        names = [h.name for h in usable]
        index = {n: i for i, n in enumerate(names)}
        core_mips = self.config.core_mips
        cores = np.array([max(h.vcpus, 1) for h in usable], dtype=np.float64)
        table = HostTable(
            cpu_mips=cores * core_mips,
            pe_mips=np.full(len(usable), core_mips),
            ram_mb=np.array([max(h.memory_mb, 1) for h in usable], dtype=np.float64),
            power_w=np.tile(DEFAULT_POWER_W, (len(usable), 1)),
        )
        ids = [s.id for s in servers]
        windows = self.store.vm_windows(self.config.history_window, vms=ids)
        history = np.nan_to_num(windows.utilization, nan=0.0)
        n_valid = windows.n_valid.astype(np.intp)
        vm_mips = np.array([max(s.vcpus, 1) * core_mips for s in servers], dtype=np.float64)
        vm_ram = np.array([max(s.ram_mb, 1) for s in servers], dtype=np.float64)
        vm_host = np.array([index.get(s.host or "", -1) for s in servers], dtype=np.intp)
        context = DecisionContext(
            policy=self.policy,
            mode=NEAT,
            hosts=table,
            vm_mips=vm_mips,
            vm_ram_mb=vm_ram,
            migration_steps_per_host=np.zeros(len(usable)),
        )
        host_history = host_histories(vm_host, history, vm_mips, table.cpu_mips)
        assert self.policy.detector is not None
        overloaded, _ = self.policy.detector.evaluate(
            host_history, trimmed_length(host_history), context.migration_steps(), self.detector_state
        )
        decision = decide(context, vm_host, history, n_valid, detector_state=self.detector_state)
        self.detector_state = decision.detector_state
        moves = [(ids[v], names[t]) for v, t in zip(decision.vms.tolist(), decision.targets.tolist(), strict=True)]
        return moves, {names[i] for i in np.flatnonzero(overloaded)}

    def _last_migrations(self) -> dict[str, datetime]:
        """When each VM last finished a successful migration, from the stored plans."""
        last: dict[str, datetime] = {}
        for plan in self.store.plans(limit=50):
            for action in plan.actions:
                if action.kind == planner.MIGRATE and action.status == "succeeded" and action.vm_uuid:
                    when = action.finished_at
                    if when is not None and (action.vm_uuid not in last or when > last[action.vm_uuid]):
                        last[action.vm_uuid] = when
        return last
