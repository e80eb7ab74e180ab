"""The global manager: every interval, read the cloud and the histories, decide, plan, act.

One cycle (:meth:`GlobalManager.cycle`):

1. hold the leader lease (a single active global manager; a standby waits for it to lapse); a
   dry run needs none, it acts on nothing;
2. settle what an interrupted plan left open, from Nova's records (:mod:`neat.service.reconcile`);
3. read the cloud's hosts and servers and sync them into the database (servers on a host with no
   compute service are kept unplaced; deleted servers and hosts are pruned);
4. build the decision's inputs: the hosts' capacities and power tables (configured profiles over
   Nova's inventory), the newest ``history_window`` samples of every VM and every host (NaN-padded,
   with their counts: a real 0 % is a sample; samples older than ``[samples] max_age_s`` or stamped
   after now plus the allowed clock skew are not read, and a host or VM whose newest sample is
   stale has no history), each VM's migration time from its flavor's RAM and the link, and the
   limits' masks (exclusions, cooldown, busy servers, disabled hosts);
5. :func:`neat.decision.decide` and :func:`neat.decision.plan`, the simulator's own;
6. store the plan (with its expiry and lease term); unless it is a dry run, execute it
   (:class:`neat.execution.executor.Executor` on :class:`neat.service.nova.NovaCompute`), the
   lease checked before every action, recording every action; settle any whose outcome the cloud
   did not tell.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np

from algorithms.base import HostTable
from neat.config import ServiceConfig
from neat.db.records import ActionSpec, HostInfo, LeaseRecord, PlanRecord, SampleWindow, VmInfo
from neat.db.store import Store, StoreError
from neat.decision import Decision, DecisionInputs, Plan, allowed, decide, plan
from neat.decision.migration import migration_time_s
from neat.execution.executor import (
    CANCELLED,
    COMPLETED,
    DISABLE,
    ENABLE,
    LOST,
    MIGRATE,
    Action,
    Compute,
    Executor,
    Outcome,
    Stop,
)
from neat.logs import bound
from neat.openstack.records import ComputeHost, Migration, Server, ServerGroup
from neat.service.lease import LeaseKeeper, holder_id
from neat.service.power_manager import PowerManager
from neat.service.reconcile import DISABLE_REASON, Reconciler, Reconciliation

log = logging.getLogger(__name__)

#: Attempts to record an outcome whose first write failed (the database may be back).
RECORD_ATTEMPTS = 3
#: The energy-saved metric (24 h of samples) is computed at most this often.
ENERGY_EVERY_S = 900.0


class NoLease(Exception):
    """Another global manager (or ``neat apply``) holds the lease; the message names it."""


class Cloud(Protocol):
    """What the global manager reads from the cloud (``neat.openstack.NovaClient`` provides it)."""

    def hosts(self) -> Sequence[ComputeHost]: ...

    def host(self, name: str) -> ComputeHost: ...

    def servers(self, host: str | None = None) -> Sequence[Server]: ...

    def server(self, server_id: str) -> Server: ...

    def migrations(self, server_id: str) -> Sequence[Migration]: ...

    def disable_service(self, host: str, reason: str) -> object: ...

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
    reconciled: Reconciliation | None = None


def stored_status(status: str) -> str | None:
    """The action status an executor outcome is stored as (None: stays running, the cloud's records decide)."""
    if status == COMPLETED:
        return "succeeded"
    if status == CANCELLED:
        return "cancelled"
    if status == LOST:
        return None
    return "failed"


class StoreActionLog:
    """Records the executor's progress against the stored plan's actions.

    The start is the fence: an action that is no longer pending (an operator cancelled the plan,
    another manager settled it) is refused with :class:`Stop`, and the plan stops.
    """

    def __init__(self, store: Store, plan: PlanRecord, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.ids = [a.id for a in plan.actions]
        self.clock = clock or (lambda: datetime.now(UTC))

    def started(self, index: int) -> None:
        try:
            self.store.start_action(self.ids[index], at=self.clock())
        except StoreError as exc:
            raise Stop(f"action {index} cannot start: {exc}") from exc

    def finished(self, index: int, status: str, error: str | None = None) -> None:
        final = stored_status(status)
        message = error if status in (COMPLETED, "failed", CANCELLED) else f"{status}: {error}"
        if final is None:
            self.store.note_action(self.ids[index], message or status)
            return
        self.store.finish_action(self.ids[index], final, error=message, at=self.clock())  # type: ignore[arg-type]


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
    """Decides and applies consolidation plans for one cloud.

    ``metrics`` (:class:`neat.metrics.GlobalManagerMetrics`) is optional; ``holder`` names this
    process in the lease and in the plans it makes (default ``host:pid``).
    """

    def __init__(
        self,
        config: ServiceConfig,
        store: Store,
        cloud: Cloud,
        compute: Compute,
        power: PowerManager | None = None,
        *,
        metrics: Any = None,
        holder: str | None = None,
    ) -> None:
        self.config = config
        self.power = power
        self.store = store
        # each cycle reads the samples of the last two collection rounds (and the clocks' skew) anew
        store.keep_recent_samples(2 * config.collect_interval_s + config.max_clock_skew_s)
        self.cloud = cloud
        self.compute = compute
        self.metrics = metrics
        self.policy = config.policy()
        self.rng = np.random.default_rng()
        self._state: tuple[tuple[str, ...], Any] = ((), None)  # the detector's state, by host list
        self.keeper = LeaseKeeper(store, holder or holder_id(), config.lease_ttl_s, on_change=self._lease_changed)
        self.cycles = 0
        self.reconcile_poll_s = 2.0
        self._energy_at: float | None = None
        self._stopping = threading.Event()
        self._clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @property
    def holder(self) -> str:
        return self.keeper.holder

    @holder.setter
    def holder(self, value: str) -> None:
        self.keeper.holder = value

    def request_stop(self) -> None:
        """Start no new action (the plan in progress stops before its next one); in-flight migrations end."""
        self._stopping.set()

    def _lease_changed(self, lease: LeaseRecord | None) -> None:
        if self.metrics is not None:
            self.metrics.lease_held.labels(holder=self.holder).set(0 if lease is None else 1)
            if lease is not None:
                self.metrics.lease_term.set(lease.term)

    # -- one cycle ------------------------------------------------------------------------------
    def cycle(self, *, dry_run: bool = False, now: datetime | None = None) -> CycleResult:
        """One cycle (see the module docstring); ``now`` pins the clock (tests), time then runs from it."""
        self.cycles += 1
        at = now or datetime.now(UTC)
        origin = time.monotonic()
        self._clock = lambda: at + timedelta(seconds=time.monotonic() - origin)
        with bound(cycle=self.cycles):
            try:
                result = self._cycle(dry_run, at)
            except Exception:
                self._count("failed", origin)
                raise
            if result.plan is None:
                kind = "no_lease"
            elif dry_run:
                kind = "dry_run"
            else:
                kind = "acted" if result.outcomes else "idle"
            self._count(kind, origin)
            return result

    def _count(self, result: str, origin: float) -> None:
        if self.metrics is None:
            return
        self.metrics.cycles.labels(result=result).inc()
        self.metrics.cycle_duration.observe(time.monotonic() - origin)
        if result != "failed":
            self.metrics.last_success.set(time.time())
            try:
                self._update_gauges()
            except Exception as exc:  # metrics never fail a cycle
                log.warning("updating the metrics failed (%s: %s)", type(exc).__name__, exc)

    def _update_gauges(self) -> None:
        """Hosts by power state at every cycle; the energy saved over 24 h at most every ENERGY_EVERY_S."""
        counts = {"awake": 0, "asleep": 0, "other": 0}
        for host in self.store.hosts():
            state = host.power_state or "unknown"
            counts[
                "asleep" if state in ("suspended", "off") else "awake" if state in ("on", "unknown") else "other"
            ] += 1
        for state, count in counts.items():
            self.metrics.hosts.labels(state=state).set(count)
        now = time.monotonic()
        if self._energy_at is not None and now - self._energy_at < ENERGY_EVERY_S:
            return
        self._energy_at = now
        from neat.service.energy import estimate_energy

        until = datetime.now(UTC)
        config = self.config
        samples = int(min(24 * 3600, config.retention_max_age_s) / config.collect_interval_s) + 2
        report = estimate_energy(
            self.store,
            {h.name: config.profile(h.name).power_w for h in self.store.hosts()},
            until - timedelta(hours=24),
            until,
            default_table_w=config.profiles[-1].power_w,
            sleep_w=config.power.sleep_w,
            max_samples=samples,
        )
        self.metrics.energy_saved.set(report.saved_kwh)

    def _cycle(self, dry_run: bool, at: datetime) -> CycleResult:
        if dry_run:  # acts on nothing: needs no lease, settles nothing
            return self._round(None, True, at)
        lease = self.keeper.acquire(at)
        if lease is None:
            current = self.store.lease()
            who = f" ({current.holder}, until {current.expires_at:%Y-%m-%d %H:%M:%S} UTC)" if current else ""
            return CycleResult(None, note=f"another global manager holds the lease{who}")
        reconciled = self.reconcile()
        # retention: never below the longest history a detector is given
        self.store.prune_samples(
            max_age_s=self.config.retention_max_age_s, keep_samples=self.config.history_window, now=at
        )
        result = self._round(lease.term, dry_run, at)
        result = CycleResult(
            result.plan, result.outcomes, result.skipped, result.note, result.stuck, reconciled=reconciled
        )
        if self.power is None or not result.stuck:
            return result
        # an overloaded host had nowhere to send its VMs: wake capacity, then decide again
        vcpus, ram_mb = result.stuck
        woken = self.power.wake_for_capacity(vcpus, ram_mb, overload=True)
        if woken is None or not woken.ok:
            log.warning("overload with nowhere to go, and no sleeping host could be woken: %s", woken)
            return result
        log.info("woke %s for an overloaded host", woken.host)
        again = self._round(lease.term, dry_run, at)
        return CycleResult(
            again.plan, result.outcomes + again.outcomes, again.skipped, f"woke {woken.host}", reconciled=reconciled
        )

    def reconcile(self, plan_ids: Sequence[int] | None = None, *, wait_s: float | None = None) -> Reconciliation:
        """Settle the open actions of interrupted plans (all, or ``plan_ids``) from the cloud's records,
        waiting up to ``wait_s`` (default: a decision interval) for migrations Nova still runs; suspend
        the hosts it disabled (with power management)."""
        timeout_s = self.config.limits.migration_timeout_s or 600.0
        wait = min(timeout_s, self.config.decide_interval_s) if wait_s is None else wait_s
        reconciler = Reconciler(
            self.store,
            self.cloud,
            migration_timeout_s=timeout_s,
            wait_s=wait,
            poll_s=self.reconcile_poll_s,
            now=self._clock,
            guard=self._reconcile_guard,
        )
        done = reconciler.run(plan_ids)
        if self.metrics is not None:
            for settled in done.settled:
                self.metrics.actions_reconciled.labels(status=settled.status).inc()
        if self.power is not None:
            for _plan, host, moved in done.disabled_hosts:
                result = self.power.suspend(host, moved)
                log.info("suspend %s: %s (%s)", host, "done" if result.ok else "not done", result.detail)
        return done

    def _round(self, term: int | None, dry_run: bool, at: datetime) -> CycleResult:
        hosts = list(self.cloud.hosts())
        listed = list(self.cloud.servers())
        aggregates = self.cloud.aggregates() if self.config.uses_aggregates else None
        servers = self._sync_inventory(hosts, listed, aggregates, at)
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
        record = self.store.create_plan(
            specs,
            created_by=self.holder,
            lease_term=term,
            at=at,
            expires_at=at + timedelta(seconds=self.config.plan_expiry_s),
            dry_run=dry_run,
            claimed_by=None if dry_run else self.holder,
        )
        self._count_decision(decision, planned)
        with bound(plan=record.id):
            log.info(
                "plan stored: %d migrations, %d disables, %d wakes%s",
                len(planned.vms),
                len(planned.disables),
                len(planned.wakes),
                " (dry run)" if dry_run else "",
            )
        if dry_run or not actions:
            note = "dry run" if dry_run else "nothing to do"
            return CycleResult(record, skipped=skipped, note=note, stuck=stuck)
        assert term is not None
        outcomes = self.execute(record, term)
        return CycleResult(self.store.plan(record.id), tuple(outcomes), skipped, stuck=stuck)

    def _count_decision(self, decision: Decision, planned: Plan) -> None:
        if self.metrics is None:
            return
        count = self.metrics.decisions
        count.labels(kind="overloaded_hosts").inc(int(np.count_nonzero(decision.overloaded)))
        underloaded = getattr(decision, "underloaded", None)
        if underloaded is not None:
            count.labels(kind="underloaded_hosts").inc(int(np.count_nonzero(underloaded)))
        count.labels(kind="migrations_planned").inc(len(planned.vms))
        count.labels(kind="disables_planned").inc(len(planned.disables))

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
        since = at - timedelta(seconds=config.sample_max_age_s)
        until = at + timedelta(seconds=config.max_clock_skew_s)
        windows = self.store.vm_windows(config.history_window, vms=ids, since=since, until=until) if ids else None
        host_windows = (
            self.store.host_windows(config.history_window, hosts=list(index), since=since, until=until)
            if hosts
            else None
        )
        windows, stale_vms = self._fresh(windows, at)
        host_windows, stale_hosts = self._fresh(host_windows, at)
        self._report_ignored(stale_vms + stale_hosts, until)
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

    def _fresh(self, windows: SampleWindow | None, at: datetime) -> tuple[SampleWindow | None, int]:
        """``windows`` without the rows whose newest sample is stale (they then have no history);
        with how many samples that left out."""
        if windows is None or not len(windows.names):
            return windows, 0
        oldest = np.datetime64((at - timedelta(seconds=self.config.sample_stale_s)).replace(tzinfo=None), "us")
        newest = windows.recorded_at[:, -1]
        stale = (windows.n_valid > 0) & (newest < oldest)
        if not stale.any():
            return windows, 0
        utilization = windows.utilization.copy()
        utilization[stale] = np.nan
        n_valid = np.where(stale, 0, windows.n_valid)
        recorded = windows.recorded_at.copy()
        recorded[stale] = np.datetime64("NaT", "us")
        names = [windows.names[i] for i in np.flatnonzero(stale)[:5]]
        log.warning(
            "%d host(s) or VM(s) have no sample newer than %.0f s (their collector stopped?): left without "
            "history: %s%s",
            int(stale.sum()),
            self.config.sample_stale_s,
            ", ".join(names),
            " ..." if stale.sum() > 5 else "",
        )
        return SampleWindow(windows.names, utilization, n_valid, recorded), int(windows.n_valid[stale].sum())

    def _report_ignored(self, stale: int, until: datetime) -> None:
        future = self.store.count_samples(after=until)
        if future:
            log.warning(
                "%d sample(s) are stamped after %s (now + %.0f s): a collector's clock is ahead; they are ignored",
                future,
                until.isoformat(timespec="seconds"),
                self.config.max_clock_skew_s,
            )
        if self.metrics is not None:
            self.metrics.samples_ignored.labels(reason="stale").inc(stale)
            self.metrics.samples_ignored.labels(reason="future").inc(future)

    def decide(self, view: CloudView) -> Decision:
        """:func:`neat.decision.decide` with the detector's state kept between cycles (reset when the hosts change)."""
        names = tuple(view.host_names)
        state = self._state[1] if self._state[0] == names else None
        # with anti-affinity groups the plan may drop evacuations that decide cannot foresee
        budget = None if view.anti_affinity else self.config.limits.max_migrations_per_cycle
        decision = decide(view.inputs, self.policy, state, rng=self.rng, budget=budget)
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

    def execute(self, plan: PlanRecord, term: int) -> list[Outcome]:
        """Execute a stored plan's actions in order under lease ``term`` (checked before each action),
        record every outcome, settle those the cloud did not tell, suspend the hosts it drained."""
        with bound(plan=plan.id):
            actions = [Action(a.kind, host=a.host, server=a.vm_uuid, target=a.target_host) for a in plan.actions]
            executor = Executor(
                self.compute,
                StoreActionLog(self.store, plan, self._clock),
                self.config.limits,
                reason=DISABLE_REASON,
                guard=lambda: self._guard(term),
            )
            outcomes = executor.apply(actions)
            self._record_outcomes(plan, outcomes)
            if self.metrics is not None:
                for outcome in outcomes:
                    if outcome.action.kind == MIGRATE:
                        self.metrics.migrations.labels(outcome=outcome.status).inc()
            done = sum(o.status == COMPLETED for o in outcomes)
            log.info("plan executed: %d of %d actions completed", done, len(outcomes))
            if any(o.status == LOST for o in outcomes):
                try:
                    self.reconcile([plan.id], wait_s=0.0)
                except Exception as exc:  # the cloud is still away: the next cycle settles them
                    log.warning("migrations the cloud did not report on stay open until it answers (%s)", exc)
            if self.power is not None:
                self._suspend_drained(plan, outcomes)
            return outcomes

    def apply(self, plan: PlanRecord) -> list[Outcome]:
        """Execute a stored plan now, holding the lease for it (:class:`NoLease` if another holds it)."""
        lease = self.keeper.acquire()
        if lease is None:
            raise NoLease(self.lease_holder_note())
        return self.execute(plan, lease.term)

    def apply_stored(self, plan_id: int) -> PlanRecord:
        """What ``neat apply`` does: take the lease, claim the plan (refused if expired, claimed, or
        started), settle interrupted plans, execute it, release the lease."""
        lease = self.keeper.acquire()
        if lease is None:
            raise NoLease(self.lease_holder_note())
        try:
            self.reconcile()  # before the claim: a claimed plan with open actions counts as interrupted
            claimed = self.store.claim_plan(plan_id, self.holder, lease_term=lease.term)
            self.execute(claimed, lease.term)
            return self.store.plan(plan_id)
        finally:
            self.keeper.release()

    def lease_holder_note(self) -> str:
        current = self.store.lease()
        if current is None:
            return "the lease could not be taken"
        until = current.expires_at.isoformat(timespec="seconds")
        return f"{current.holder} holds the global-manager lease (term {current.term}, until {until})"

    def _reconcile_guard(self) -> str | None:
        lease = self.keeper.lease
        return "the lease is not held" if lease is None else self._guard(lease.term)

    def _guard(self, term: int) -> str | None:
        if self._stopping.is_set():
            return "the service is stopping"
        return self.keeper.check(term, self._clock())

    def _record_outcomes(self, plan: PlanRecord, outcomes: Sequence[Outcome]) -> None:
        """Write again the outcomes whose first write failed (the database may be back)."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                stored = {a.position: a for a in self.store.plan(plan.id).actions}
                missing = [
                    o
                    for o in outcomes
                    if stored_status(o.status) is not None and stored[o.position].status in ("pending", "running")
                ]
                for o in missing:
                    final = stored_status(o.status)
                    if final == "cancelled" and stored[o.position].status == "running":
                        final = "failed"
                    self.store.finish_action(stored[o.position].id, final, error=o.error, at=self._clock())  # type: ignore[arg-type]
                return
            except Exception as exc:
                log.warning("recording the plan's outcomes failed (attempt %d: %s)", attempt + 1, exc)
                time.sleep(min(2.0**attempt, 5.0))
        log.error("the plan's outcomes could not be recorded; the next cycle settles them from the cloud")

    # -- steps ----------------------------------------------------------------------------------
    def _sync_inventory(
        self,
        hosts: Sequence[ComputeHost],
        servers: Sequence[Server],
        aggregates: Mapping[str, Sequence[str]] | None,
        at: datetime,
    ) -> list[Server]:
        """Store the cloud's hosts and servers, prune those gone; the servers on a known host.

        A server on a host without a nova-compute service (or not placed) is kept unplaced: its
        samples stay, and the decision leaves it alone. A host or server the cloud no longer lists
        is removed with its samples (a host only when the cloud lists some hosts at all).
        """
        config = self.config
        known = {h.name for h in hosts}
        orphans = sorted({s.host for s in servers if s.host is not None and s.host not in known})
        if orphans:
            log.warning(
                "servers on %d host(s) without a nova-compute service are left out: %s",
                len(orphans),
                ", ".join(orphans[:5]) + (" ..." if len(orphans) > 5 else ""),
            )
        core_mips = {h.name: config.profile(h.name, aggregates).core_mips for h in hosts}
        stored_hosts, stored_vms = self.store.inventory_rows()
        host_rows = {
            h.name: (
                float(max(h.vcpus, 1) * core_mips[h.name]),
                max(h.vcpus, 1),
                max(h.memory_mb, 1),
                "enabled" if h.enabled else "disabled",
            )
            for h in hosts
        }
        self.store.upsert_hosts(
            (
                HostInfo(name=name, cpu_mips=row[0], cores=row[1], ram_mb=row[2], service_state=row[3])
                for name, row in host_rows.items()
                if stored_hosts.get(name) != row
            ),
            at=at,
        )
        default_mips = config.profiles[-1].core_mips
        vm_rows = {
            s.id: (
                s.host if s.host in known else None,
                max(s.ram_mb, 1),
                max(s.vcpus, 1),
                float(max(s.vcpus, 1) * core_mips.get(s.host or "", default_mips)),
            )
            for s in servers
        }
        self.store.upsert_vms(
            (
                VmInfo(uuid=uuid, host=row[0], ram_mb=row[1], vcpus=row[2], cpu_mips=row[3])
                for uuid, row in vm_rows.items()
                if stored_vms.get(uuid) != row
            ),
            at=at,
        )
        gone_vms = stored_vms.keys() - {s.id for s in servers}
        if gone_vms:
            log.info("%d server(s) no longer in the cloud: removed from the inventory", len(gone_vms))
            self.store.remove_vms(sorted(gone_vms))
        gone_hosts = stored_hosts.keys() - known
        if gone_hosts and hosts:
            log.info("host(s) no longer in the cloud, removed from the inventory: %s", ", ".join(sorted(gone_hosts)))
            self.store.remove_hosts(sorted(gone_hosts))
        return [s for s in servers if s.host in known]

    def _last_migrations(self, ids: Sequence[str], at: datetime) -> np.ndarray:
        """When each VM last finished a successful migration within the cooldown (epoch seconds, NaN: not)."""
        since = at - timedelta(seconds=min(self.config.limits.vm_cooldown_s, 3650 * 86400.0))
        last = {uuid: when.timestamp() for uuid, when in self.store.last_migrations(since=since).items()}
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
