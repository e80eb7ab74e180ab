"""The repository API over the neat database: inventory, samples, plans, power transitions, leases.

Everything the service stores goes through :class:`Store`; callers get frozen records and numpy
arrays, never ORM objects. Each method is one transaction. Timestamps are timezone-aware and come
back in UTC; a naive datetime is refused (its zone is unknown). ``at``/``now`` parameters default
to the current time, and exist so callers (and tests) can pin the clock.

The same code runs on SQLite (the default, a file, no setup), PostgreSQL and MariaDB/MySQL.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, cast

import numpy as np
from sqlalchemy import (
    URL,
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import DBAPIError, IntegrityError

from neat.db.engine import WRITE_OPTION, make_engine
from neat.db.models import (
    POWER_STATES,
    SERVICE_STATES,
    Action,
    Host,
    HostPowerTransition,
    HostSample,
    Lease,
    Plan,
    Vm,
    VmSample,
)
from neat.db.records import (
    ActionRecord,
    ActionSpec,
    HostInfo,
    LeaseRecord,
    PlanRecord,
    PowerTransition,
    PruneResult,
    SampleSeries,
    SampleWindow,
    VmInfo,
    check_choice,
    check_name,
)

__all__ = ["GLOBAL_MANAGER_LEASE", "PlanRefused", "Store", "StoreError"]

#: The lease the single active global manager holds.
GLOBAL_MANAGER_LEASE = "global-manager"
#: Tries of acquire_lease when the database picks it as a deadlock victim.
LEASE_ATTEMPTS = 5
#: SQLSTATEs of a transaction rolled back by a deadlock or serialization failure; MySQL's errno.
DEADLOCK_SQLSTATES = frozenset({"40001", "40P01"})
MYSQL_DEADLOCK_ERRNO = 1213

HOSTS = cast(Table, Host.__table__)
VMS = cast(Table, Vm.__table__)
HOST_SAMPLES = cast(Table, HostSample.__table__)
VM_SAMPLES = cast(Table, VmSample.__table__)
PLANS = cast(Table, Plan.__table__)
ACTIONS = cast(Table, Action.__table__)
TRANSITIONS = cast(Table, HostPowerTransition.__table__)
LEASES = cast(Table, Lease.__table__)


class StoreError(Exception):
    """The store cannot do what was asked: an unknown host/VM/plan/action, a forbidden transition."""


class PlanRefused(StoreError):
    """A plan cannot be claimed: unknown, already claimed, expired, or not pending."""


# --- helpers -------------------------------------------------------------------------------------


def _timestamp(value: datetime | None, name: str) -> datetime:
    """``value`` in UTC (the current time if ``None``); a naive datetime is refused."""
    if value is None:
        return datetime.now(UTC)
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a timezone-aware datetime; got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware; got the naive datetime {value.isoformat()} "
            "(use datetime.now(UTC) or attach tzinfo=UTC)"
        )
    return value.astimezone(UTC)


def _check_utilization(values: Mapping[str, float], what: str) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise ValueError(f"{what} {key!r}: utilization must be a float fraction in [0, 1]; got {value!r}")
        if not 0.0 <= float(value) <= 1.0:  # also rejects NaN
            hint = ", which looks like a percentage" if 1.0 < value <= 100.0 else ""
            raise ValueError(f"{what} {key!r}: utilization must be a fraction in [0, 1]; got {value!r}{hint}")


def _check_window(window: object) -> int:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 0:
        raise ValueError(f"The 'window' of Store.*_windows must be an int in [0, inf). Got {window!r} instead.")
    return int(window)


def _unique(names: Sequence[str], what: str) -> list[str]:
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(duplicates)}")
    return list(names)


def _ids_by_name(
    conn: Connection, key: ColumnElement[str], id_col: ColumnElement[int], names: Iterable[str]
) -> dict[str, int]:
    wanted = set(names)
    if not wanted:
        return {}
    rows = conn.execute(select(key, id_col).where(key.in_(wanted))).all()
    return {name: ident for name, ident in rows}


def _require(found: Mapping[str, int], names: Iterable[str], what: str, hint: str) -> None:
    missing = sorted(set(names) - found.keys())
    if missing:
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        shown = ", ".join(repr(m) for m in missing[:10]) + more
        raise StoreError(f"unknown {what}: {shown}; {hint}")


def _action_record(row: Any) -> ActionRecord:
    return ActionRecord(
        id=row.id,
        plan_id=row.plan_id,
        position=row.position,
        kind=row.kind,
        host=row.host,
        vm_uuid=row.vm_uuid,
        target_host=row.target_host,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_s=row.duration_s,
        error=row.error,
    )


def _lease_record(row: Any) -> LeaseRecord:
    return LeaseRecord(
        name=row.name,
        holder=row.holder,
        term=row.term,
        acquired_at=row.acquired_at,
        renewed_at=row.renewed_at,
        expires_at=row.expires_at,
    )


def _is_deadlock(exc: DBAPIError) -> bool:
    """Whether the database rolled the transaction back to break a deadlock."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in DEADLOCK_SQLSTATES:
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] == MYSQL_DEADLOCK_ERRNO


def _ttl(ttl_s: object) -> timedelta:
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int | float) or not math.isfinite(ttl_s) or ttl_s <= 0:
        raise ValueError(f"The 'ttl_s' of a lease must be a float in (0, inf). Got {ttl_s!r} instead.")
    return timedelta(seconds=ttl_s)


# --- the store -----------------------------------------------------------------------------------


class Store:
    """Repository over one database (see the module docstring).

    Parameters
    ----------
    engine : sqlalchemy Engine
        Made by :func:`make_engine` (or :meth:`from_url`); the schema must be at head
        (``neat db upgrade``).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._reread_s: float | None = None
        self._recent: dict[str, _RecentRows] = {}

    def _write(self) -> AbstractContextManager[Connection]:
        """A writing transaction (committed on success, rolled back on error)."""
        return self._writer.begin()

    @classmethod
    def from_url(cls, url: str | URL, **engine_kwargs: Any) -> Store:
        """A store on a new engine for ``url`` (see :func:`make_engine`)."""
        return cls(make_engine(url, **engine_kwargs))

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        """Close the engine's pooled connections."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- inventory -------------------------------------------------------------------------------

    def upsert_hosts(self, hosts: Iterable[HostInfo], *, at: datetime | None = None) -> None:
        """Insert new hosts and update known ones (by name), in one transaction.

        ``power_state=None`` keeps a known host's power state (a new one starts ``"unknown"``).
        A new host, or a known host whose power state is given and differs, also gets a power
        transition at ``at``, so the transition log stays complete.
        """
        now = _timestamp(at, "at")
        rows = list(hosts)
        names = _unique([h.name for h in rows], "host names")
        if not rows:
            return
        with self._write() as conn:
            known = {
                r.name: r
                for r in conn.execute(
                    select(HOSTS.c.id, HOSTS.c.name, HOSTS.c.power_state)
                    .where(HOSTS.c.name.in_(names))
                    .with_for_update()
                )
            }
            fresh = [h for h in rows if h.name not in known]
            if fresh:
                conn.execute(
                    insert(HOSTS),
                    [
                        {
                            "name": h.name,
                            "cpu_mips": float(h.cpu_mips),
                            "cores": int(h.cores),
                            "ram_mb": int(h.ram_mb),
                            "power_state": h.power_state or "unknown",
                            "service_state": h.service_state,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for h in fresh
                    ],
                )
            changed = [h for h in rows if h.name in known]
            if changed:
                conn.execute(
                    update(HOSTS).where(HOSTS.c.id == bindparam("_id")),
                    [
                        {
                            "_id": known[h.name].id,
                            "cpu_mips": float(h.cpu_mips),
                            "cores": int(h.cores),
                            "ram_mb": int(h.ram_mb),
                            "power_state": h.power_state or known[h.name].power_state,
                            "service_state": h.service_state,
                            "updated_at": now,
                        }
                        for h in changed
                    ],
                )
            ids = _ids_by_name(conn, HOSTS.c.name, HOSTS.c.id, [h.name for h in fresh])
            transitions = [
                {"host_id": ids[h.name], "changed_at": now, "from_state": None, "to_state": h.power_state or "unknown"}
                for h in fresh
            ] + [
                {
                    "host_id": known[h.name].id,
                    "changed_at": now,
                    "from_state": known[h.name].power_state,
                    "to_state": h.power_state,
                }
                for h in changed
                if h.power_state is not None and known[h.name].power_state != h.power_state
            ]
            if transitions:
                conn.execute(insert(TRANSITIONS), transitions)

    def upsert_vms(self, vms: Iterable[VmInfo], *, at: datetime | None = None) -> None:
        """Insert new VMs and update known ones (by uuid), in one transaction; hosts must exist."""
        now = _timestamp(at, "at")
        rows = list(vms)
        uuids = _unique([v.uuid for v in rows], "VM uuids")
        if not rows:
            return
        with self._write() as conn:
            host_names = {v.host for v in rows if v.host is not None}
            host_ids = _ids_by_name(conn, HOSTS.c.name, HOSTS.c.id, host_names)
            _require(host_ids, host_names, "hosts", "upsert_hosts() them first")
            known = _ids_by_name(conn, VMS.c.uuid, VMS.c.id, uuids)

            def values(v: VmInfo) -> dict[str, Any]:
                return {
                    "host_id": None if v.host is None else host_ids[v.host],
                    "ram_mb": int(v.ram_mb),
                    "vcpus": int(v.vcpus),
                    "cpu_mips": None if v.cpu_mips is None else float(v.cpu_mips),
                    "updated_at": now,
                }

            fresh = [{"uuid": v.uuid, "created_at": now, **values(v)} for v in rows if v.uuid not in known]
            if fresh:
                conn.execute(insert(VMS), fresh)
            changed = [{"_id": known[v.uuid], **values(v)} for v in rows if v.uuid in known]
            if changed:
                conn.execute(update(VMS).where(VMS.c.id == bindparam("_id")), changed)

    def hosts(self) -> list[HostInfo]:
        """Every host, by name."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(HOSTS).order_by(HOSTS.c.name)).all()
        return [
            HostInfo(
                name=r.name,
                cpu_mips=r.cpu_mips,
                cores=r.cores,
                ram_mb=r.ram_mb,
                power_state=r.power_state,
                service_state=r.service_state,
            )
            for r in rows
        ]

    def vms(self, *, host: str | None = None) -> list[VmInfo]:
        """Every VM (or those on ``host``), by uuid."""
        query = (
            select(VMS.c.uuid, HOSTS.c.name.label("host"), VMS.c.ram_mb, VMS.c.vcpus, VMS.c.cpu_mips)
            .select_from(VMS.outerjoin(HOSTS, VMS.c.host_id == HOSTS.c.id))
            .order_by(VMS.c.uuid)
        )
        if host is not None:
            query = query.where(HOSTS.c.name == host)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [VmInfo(uuid=r.uuid, host=r.host, ram_mb=r.ram_mb, vcpus=r.vcpus, cpu_mips=r.cpu_mips) for r in rows]

    def inventory_rows(self) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
        """Hosts by name: (cpu_mips, cores, ram_mb, service_state); VMs by uuid: (host, ram_mb, vcpus,
        cpu_mips). Plain tuples, for an inventory sync to find what changed without building records."""
        with self._engine.connect() as conn:
            hosts = conn.execute(
                select(HOSTS.c.name, HOSTS.c.cpu_mips, HOSTS.c.cores, HOSTS.c.ram_mb, HOSTS.c.service_state)
            ).cursor
            vms = conn.execute(
                select(VMS.c.uuid, HOSTS.c.name, VMS.c.ram_mb, VMS.c.vcpus, VMS.c.cpu_mips).select_from(
                    VMS.outerjoin(HOSTS, VMS.c.host_id == HOSTS.c.id)
                )
            ).cursor
            assert hosts is not None and vms is not None
            return {r[0]: tuple(r[1:]) for r in hosts.fetchall()}, {r[0]: tuple(r[1:]) for r in vms.fetchall()}

    def set_service_state(self, host: str, state: str, *, at: datetime | None = None) -> None:
        """Record that ``host``'s compute service is now ``state`` (``enabled``/``disabled``)."""
        check_choice("Store.set_service_state", "state", state, SERVICE_STATES)
        now = _timestamp(at, "at")
        with self._write() as conn:
            result = conn.execute(update(HOSTS).where(HOSTS.c.name == host).values(service_state=state, updated_at=now))
            if result.rowcount == 0:
                raise StoreError(f"unknown host: {host!r}; upsert_hosts() it first")

    def remove_hosts(self, names: Iterable[str]) -> int:
        """Delete hosts with their samples and power transitions; their VMs become unplaced."""
        wanted = list(names)
        if not wanted:
            return 0
        with self._write() as conn:
            return conn.execute(delete(HOSTS).where(HOSTS.c.name.in_(wanted))).rowcount

    def remove_vms(self, uuids: Iterable[str]) -> int:
        """Delete VMs (gone from the cloud) with their samples; returns how many were known."""
        wanted = list(uuids)
        if not wanted:
            return 0
        with self._write() as conn:
            return conn.execute(delete(VMS).where(VMS.c.uuid.in_(wanted))).rowcount

    # --- samples ---------------------------------------------------------------------------------

    def record_samples(
        self,
        recorded_at: datetime,
        *,
        hosts: Mapping[str, float] | None = None,
        vms: Mapping[str, float] | None = None,
        on_unknown: Literal["raise", "skip"] = "raise",
    ) -> list[str]:
        """Store one collection round: CPU utilization (fractions) of hosts and VMs at ``recorded_at``.

        One transaction: the whole batch is stored, or (value out of range, a sample already stored
        for the same host/VM and time, an unknown host or VM with ``on_unknown="raise"``) nothing is.

        Parameters
        ----------
        recorded_at : aware datetime
        hosts : mapping of host name to CPU utilization (fraction of the host's capacity)
        vms : mapping of VM uuid to CPU utilization (fraction of the VM's CPU size)
        on_unknown : ``"raise"`` (default) or ``"skip"``
            What to do with a name the inventory does not know yet (e.g. a VM booted since the last
            inventory sync): refuse the batch, or store the rest.

        Returns
        -------
        list of str
            The names skipped (sorted; empty unless ``on_unknown="skip"``).
        """
        check_choice("Store.record_samples", "on_unknown", on_unknown, ("raise", "skip"))
        at = _timestamp(recorded_at, "recorded_at")
        host_values = dict(hosts or {})
        vm_values = dict(vms or {})
        _check_utilization(host_values, "host")
        _check_utilization(vm_values, "VM")
        if not host_values and not vm_values:
            return []
        try:
            with self._write() as conn:
                host_ids = _ids_by_name(conn, HOSTS.c.name, HOSTS.c.id, host_values)
                vm_ids = _ids_by_name(conn, VMS.c.uuid, VMS.c.id, vm_values)
                skipped = sorted((host_values.keys() - host_ids.keys()) | (vm_values.keys() - vm_ids.keys()))
                if on_unknown == "raise":
                    _require(host_ids, host_values, "hosts", "upsert_hosts() them first; nothing was recorded")
                    _require(vm_ids, vm_values, "VMs", "upsert_vms() them first; nothing was recorded")
                host_values = {k: v for k, v in host_values.items() if k in host_ids}
                vm_values = {k: v for k, v in vm_values.items() if k in vm_ids}
                if host_values:
                    conn.execute(
                        insert(HOST_SAMPLES),
                        [
                            {"host_id": host_ids[k], "recorded_at": at, "cpu_utilization": float(v)}
                            for k, v in host_values.items()
                        ],
                    )
                if vm_values:
                    conn.execute(
                        insert(VM_SAMPLES),
                        [
                            {"vm_id": vm_ids[k], "recorded_at": at, "cpu_utilization": float(v)}
                            for k, v in vm_values.items()
                        ],
                    )
        except IntegrityError as exc:
            raise StoreError(
                f"samples at {at.isoformat()} rejected, nothing was recorded (already stored?): {exc.orig}"
            ) from exc
        return skipped

    def keep_recent_samples(self, reread_s: float | None) -> None:
        """Keep the samples that bounded window reads (``since`` given) load, and read later only
        those stamped from ``reread_s`` before the previous read's ``until`` on (None: read all
        every time, the default).

        The global manager's reads then cost one or two collection rounds and a count instead of
        the whole window. Before the older span is reused, the database counts its samples: if
        any were written there late (stamped before it) or deleted since, everything is read
        again. Only as many samples deleted as written there between two reads would go unseen.
        """
        self._reread_s = None if reread_s is None else _positive_seconds(reread_s)
        self._recent.clear()

    def host_windows(
        self,
        window: int,
        *,
        hosts: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> SampleWindow:
        """The newest ``window`` samples of every host (by name), or of ``hosts`` in that order.

        ``since`` ignores older samples: it bounds the database's work on a long retention (pass,
        say, the time of ``2 * window`` collection intervals ago) and drops stale history.
        ``until`` ignores samples stamped after it (a collector whose clock runs ahead).
        """
        window = _check_window(window)
        entities = select(HOSTS.c.id, HOSTS.c.name.label("key"))
        if hosts is None:
            entities = entities.order_by(HOSTS.c.name)
        else:
            entities = entities.where(HOSTS.c.name.in_(_unique(list(hosts), "host names")))
        subset = hosts is not None
        return self._windows(
            entities, hosts, subset, "hosts", HOST_SAMPLES, HOST_SAMPLES.c.host_id, window, since, until
        )

    def vm_windows(
        self,
        window: int,
        *,
        vms: Sequence[str] | None = None,
        host: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> SampleWindow:
        """The newest ``window`` samples of every VM (by uuid), of those on ``host``, or of ``vms`` in order.

        ``since`` and ``until`` as in :meth:`host_windows`.
        """
        window = _check_window(window)
        entities = select(VMS.c.id, VMS.c.uuid.label("key"))
        if host is not None:
            entities = entities.join(HOSTS, VMS.c.host_id == HOSTS.c.id).where(HOSTS.c.name == host)
        if vms is None:
            entities = entities.order_by(VMS.c.uuid)
        else:
            entities = entities.where(VMS.c.uuid.in_(_unique(list(vms), "VM uuids")))
        subset = vms is not None or host is not None
        return self._windows(entities, vms, subset, "VMs", VM_SAMPLES, VM_SAMPLES.c.vm_id, window, since, until)

    def _windows(
        self,
        entities: Select[Any],
        wanted: Sequence[str] | None,
        subset: bool,
        what: str,
        samples: Table,
        key: ColumnElement[int],
        window: int,
        since: datetime | None,
        until: datetime | None = None,
    ) -> SampleWindow:
        oldest = None if since is None else _timestamp(since, "since")
        newest = None if until is None else _timestamp(until, "until")
        with self._engine.connect() as conn:
            found = {r.key: r.id for r in conn.execute(entities)}
            if wanted is not None and oldest is not None and window > 0:
                # the service's path: bounded by time, ranked here (no window function, no IN list)
                _require(found, wanted, what, "no samples can be loaded for them")
                names = list(wanted)
                ids = np.array([found[n] for n in names], dtype=np.int64)
                recent = self._recent_kept(conn, samples, key, oldest, newest)
                return _ranked_window(names, ids, recent, window)
            if wanted is not None:
                _require(found, wanted, what, "no samples can be loaded for them")
                names = list(wanted)
            else:
                names = list(found)
            ids = np.array([found[n] for n in names], dtype=np.int64)
            rows: list[Any] = []
            if window > 0 and ids.size:
                rank = func.row_number().over(partition_by=key, order_by=samples.c.recorded_at.desc())
                ranked = select(
                    key.label("owner"), samples.c.recorded_at, samples.c.cpu_utilization, rank.label("rank")
                )
                if subset:
                    ranked = ranked.where(key.in_(ids.tolist()))
                if oldest is not None:
                    ranked = ranked.where(samples.c.recorded_at >= oldest)
                if newest is not None:
                    ranked = ranked.where(samples.c.recorded_at <= newest)
                inner = ranked.subquery("ranked")
                rows = list(conn.execute(select(inner).where(inner.c.rank <= window)).all())
        n = len(names)
        utilization = np.full((n, window), np.nan)
        recorded_at = np.full((n, window), np.datetime64("NaT", "us"))
        n_valid = np.zeros(n, dtype=np.intp)
        if rows:
            owner, stamps, values, ranks = zip(*rows, strict=True)
            owners = np.array(owner, dtype=np.int64)
            # Samples of an entity created after the first query (no snapshot across the two) are dropped.
            keep = np.isin(owners, ids)
            order = np.argsort(ids)
            row = order[np.searchsorted(ids, owners[keep], sorter=order)]
            col = window - np.array(ranks, dtype=np.intp)[keep]
            utilization[row, col] = np.array(values, dtype=np.float64)[keep]
            naive = [s.replace(tzinfo=None) for s in stamps]
            recorded_at[row, col] = np.array(naive, dtype="datetime64[us]")[keep]
            n_valid = np.bincount(row, minlength=n).astype(np.intp)
        return SampleWindow(tuple(names), utilization, n_valid, recorded_at)

    def vm_samples(self, *, since: datetime | None = None, until: datetime | None = None) -> SampleSeries:
        """Every VM sample with ``since <= recorded_at <= until`` (either bound optional), by VM uuid
        then time: a cloud's history for an export (:mod:`neat.export`)."""
        query = select(VMS.c.uuid, VM_SAMPLES.c.recorded_at, VM_SAMPLES.c.cpu_utilization).join(
            VMS, VM_SAMPLES.c.vm_id == VMS.c.id
        )
        if since is not None:
            query = query.where(VM_SAMPLES.c.recorded_at >= _timestamp(since, "since"))
        if until is not None:
            query = query.where(VM_SAMPLES.c.recorded_at <= _timestamp(until, "until"))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        uuids = np.array([r.uuid for r in rows], dtype=np.str_)
        names, owner = np.unique(uuids, return_inverse=True)
        stamps = np.array([r.recorded_at.replace(tzinfo=None) for r in rows], dtype="datetime64[us]")
        order = np.lexsort((stamps, owner))  # the databases' collations differ: sorted here
        return SampleSeries(
            tuple(str(n) for n in names),
            owner[order].astype(np.intp),
            stamps[order],
            np.array([r.cpu_utilization for r in rows], dtype=np.float64)[order],
        )

    def count_samples(self, *, after: datetime) -> int:
        """How many host and VM samples are stamped after ``after`` (e.g. by a clock running ahead)."""
        newest = _timestamp(after, "after")
        with self._engine.connect() as conn:
            return sum(
                int(conn.execute(select(func.count()).where(table.c.recorded_at > newest)).scalar_one())
                for table in (HOST_SAMPLES, VM_SAMPLES)
            )

    def _recent_kept(
        self,
        conn: Connection,
        samples: Table,
        key: ColumnElement[int],
        oldest: datetime,
        newest: datetime | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_recent_rows`, from the rows kept by :meth:`keep_recent_samples` where they cover the span."""
        if self._reread_s is None:
            return self._recent_rows(conn, samples, key, oldest, newest)
        oldest_us, newest_us = _epoch_us_of(oldest), None if newest is None else _epoch_us_of(newest)
        kept = self._recent.get(samples.name)
        if kept is None or kept.newest_us is None or kept.oldest_us > oldest_us:
            rows = self._recent_rows(conn, samples, key, oldest, newest)
        else:
            cut_us = max(oldest_us, kept.newest_us - round(self._reread_s * 1e6))
            cut = _from_epoch_us(cut_us)
            old = (kept.stamps >= oldest_us) & (kept.stamps < cut_us)
            stored = conn.execute(
                select(func.count()).where(samples.c.recorded_at >= oldest, samples.c.recorded_at < cut)
            ).scalar_one()
            if stored != int(old.sum()):  # written or deleted there since: read it all again
                rows = self._recent_rows(conn, samples, key, oldest, newest)
            else:
                fresh = self._recent_rows(conn, samples, key, cut, newest)
                rows = (
                    np.concatenate((kept.owners[old], fresh[0])),
                    np.concatenate((kept.stamps[old], fresh[1])),
                    np.concatenate((kept.values[old], fresh[2])),
                )
        self._recent[samples.name] = _RecentRows(*rows, oldest_us, newest_us)
        return rows

    def _recent_rows(
        self,
        conn: Connection,
        samples: Table,
        key: ColumnElement[int],
        oldest: datetime,
        newest: datetime | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every sample in ``[oldest, newest]``: owner ids, epoch microseconds, values (any order)."""
        stamp = _epoch_us(conn, samples.c.recorded_at)
        query = select(key, stamp, samples.c.cpu_utilization).where(samples.c.recorded_at >= oldest)
        if newest is not None:
            query = query.where(samples.c.recorded_at <= newest)
        cursor = conn.execute(query).cursor
        assert cursor is not None
        fetched = cursor.fetchall()  # plain tuples: no conversion per row
        if not fetched:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        # one conversion: ids and epoch microseconds (< 2**53) are exact in float64
        table = np.array(fetched, dtype=np.float64).reshape(len(fetched), 3)
        return table[:, 0].astype(np.int64), table[:, 1].astype(np.int64), table[:, 2].copy()

    def prune_samples(self, *, max_age_s: float, keep_samples: int, now: datetime | None = None) -> PruneResult:
        """Delete samples older than ``max_age_s``, but never one of the newest ``keep_samples`` of a host/VM.

        Parameters
        ----------
        max_age_s : float in (0, inf)
            The configured retention.
        keep_samples : int in [0, inf)
            The longest history any configured detector needs, in samples: each host and VM keeps
            at least this many (its newest), however old.
        now : aware datetime, default the current time
        """
        cutoff = _timestamp(now, "now") - timedelta(seconds=_positive_seconds(max_age_s))
        if isinstance(keep_samples, bool) or not isinstance(keep_samples, int) or keep_samples < 0:
            raise ValueError(
                f"The 'keep_samples' of Store.prune_samples must be an int in [0, inf). Got {keep_samples!r} instead."
            )
        with self._write() as conn:
            counts = [
                _prune(conn, table, key, cutoff, keep_samples)
                for table, key in ((HOST_SAMPLES, HOST_SAMPLES.c.host_id), (VM_SAMPLES, VM_SAMPLES.c.vm_id))
            ]
        return PruneResult(*counts)

    # --- plans and actions -----------------------------------------------------------------------

    def create_plan(
        self,
        actions: Sequence[ActionSpec],
        *,
        created_by: str | None = None,
        lease_term: int | None = None,
        at: datetime | None = None,
        expires_at: datetime | None = None,
        dry_run: bool = False,
        claimed_by: str | None = None,
    ) -> PlanRecord:
        """Store a plan and its actions (in the given order, all ``pending``) in one transaction.

        ``expires_at``: when the plan goes stale (None: never); ``dry_run``: made for an operator to
        apply; ``claimed_by``: who executes it (the global manager that made it), claimed at ``at``.
        """
        now = _timestamp(at, "at")
        expires = None if expires_at is None else _timestamp(expires_at, "expires_at")
        if claimed_by is not None:
            check_name("Store.create_plan", "claimed_by", claimed_by, 255)
        specs = list(actions)
        for spec in specs:
            if not isinstance(spec, ActionSpec):
                raise TypeError(f"create_plan takes ActionSpec records; got {type(spec).__name__} {spec!r}")
        with self._write() as conn:
            new_plan = insert(PLANS).values(
                created_at=now,
                created_by=created_by,
                lease_term=lease_term,
                expires_at=expires,
                dry_run=bool(dry_run),
                claimed_by=claimed_by,
                claimed_at=now if claimed_by is not None else None,
            )
            plan_id = _insert_one(conn, new_plan)
            if specs:
                conn.execute(
                    insert(ACTIONS),
                    [
                        {
                            "plan_id": plan_id,
                            "position": i,
                            "kind": s.kind,
                            "host": s.host,
                            "vm_uuid": s.vm_uuid,
                            "target_host": s.target_host,
                            "status": "pending",
                        }
                        for i, s in enumerate(specs)
                    ],
                )
            return _load_plans(conn, select(PLANS).where(PLANS.c.id == plan_id))[0]

    def claim_plan(
        self, plan_id: int, holder: str, *, lease_term: int | None = None, now: datetime | None = None
    ) -> PlanRecord:
        """Claim a plan for ``holder`` to execute: one conditional UPDATE, so one claimant wins.

        Only an unclaimed plan that has not expired and whose actions are all pending can be
        claimed; ``lease_term`` (the term under which it will run) is recorded with the claim.

        Raises
        ------
        PlanRefused
            The message says why: unknown, claimed (by whom, when), expired (when), not pending.
        """
        check_name("Store.claim_plan", "holder", holder, 255)
        at = _timestamp(now, "now")
        not_pending = select(ACTIONS.c.id).where(ACTIONS.c.plan_id == plan_id, ACTIONS.c.status != "pending")
        with self._write() as conn:
            claimed = conn.execute(
                update(PLANS)
                .where(
                    PLANS.c.id == plan_id,
                    PLANS.c.claimed_by.is_(None),
                    (PLANS.c.expires_at.is_(None)) | (PLANS.c.expires_at > at),
                    ~not_pending.exists(),
                )
                .values(claimed_by=holder, claimed_at=at, lease_term=lease_term)
            ).rowcount
            found = _load_plans(conn, select(PLANS).where(PLANS.c.id == plan_id))
        if not found:
            raise PlanRefused(f"unknown plan: {plan_id!r}")
        plan = found[0]
        if claimed == 1:
            return plan
        if plan.claimed_by is not None:
            when = plan.claimed_at.isoformat(timespec="seconds") if plan.claimed_at else "?"
            raise PlanRefused(f"plan {plan_id} was claimed by {plan.claimed_by} at {when}; it is {plan.status}")
        if plan.expired(at):
            assert plan.expires_at is not None
            raise PlanRefused(
                f"plan {plan_id} expired at {plan.expires_at.isoformat(timespec='seconds')} "
                f"(made at {plan.created_at.isoformat(timespec='seconds')}): the cloud has moved on since; "
                "make a new one with 'neat plan'"
            )
        raise PlanRefused(f"plan {plan_id} is {plan.status}: only a plan whose actions are all pending can be applied")

    def plan(self, plan_id: int) -> PlanRecord:
        """One plan with its actions."""
        with self._engine.connect() as conn:
            found = _load_plans(conn, select(PLANS).where(PLANS.c.id == plan_id))
        if not found:
            raise StoreError(f"unknown plan: {plan_id!r}")
        return found[0]

    def plans(self, *, unfinished: bool = False, limit: int | None = 20) -> list[PlanRecord]:
        """The newest plans first; ``unfinished``: only those with a pending or running action."""
        query = select(PLANS).order_by(PLANS.c.id.desc()).limit(limit)
        if unfinished:
            open_plans = select(ACTIONS.c.plan_id).where(ACTIONS.c.status.in_(("pending", "running")))
            query = query.where(PLANS.c.id.in_(open_plans))
        with self._engine.connect() as conn:
            return _load_plans(conn, query)

    def last_migrations(self, *, since: datetime, vms: Iterable[str] | None = None) -> dict[str, datetime]:
        """When each VM last finished a successful migration at or after ``since`` (VMs without one
        are left out); only ``vms`` if given. Reads every plan, however many came since."""
        oldest = _timestamp(since, "since")
        query = (
            select(ACTIONS.c.vm_uuid, func.max(ACTIONS.c.finished_at))
            .where(
                ACTIONS.c.kind == "migrate",
                ACTIONS.c.status == "succeeded",
                ACTIONS.c.finished_at >= oldest,
            )
            .group_by(ACTIONS.c.vm_uuid)
        )
        wanted = None if vms is None else set(vms)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return {uuid: when for uuid, when in rows if uuid is not None and (wanted is None or uuid in wanted)}

    def start_action(self, action_id: int, *, at: datetime | None = None) -> ActionRecord:
        """``pending`` -> ``running``, started at ``at``."""
        now = _timestamp(at, "at")
        return self._transition(action_id, ("pending",), "running", {"started_at": now})

    def finish_action(
        self,
        action_id: int,
        status: Literal["succeeded", "failed", "cancelled"],
        *,
        error: str | None = None,
        duration_s: float | None = None,
        at: datetime | None = None,
    ) -> ActionRecord:
        """``pending``/``running`` -> ``succeeded``/``failed`` (or ``pending`` -> ``cancelled``), finished at ``at``.

        ``duration_s`` defaults to ``at - started_at`` (``None`` if it never started); pass a
        measured (monotonic) duration to record that instead.
        """
        check_choice("Store.finish_action", "status", status, ("succeeded", "failed", "cancelled"))
        if duration_s is not None and (not math.isfinite(duration_s) or duration_s < 0):
            raise ValueError(
                f"The 'duration_s' of Store.finish_action must be a float in [0, inf). Got {duration_s!r} instead."
            )
        now = _timestamp(at, "at")
        values: dict[str, Any] = {"finished_at": now, "error": error}
        if duration_s is not None:
            values["duration_s"] = float(duration_s)
        sources = ("pending",) if status == "cancelled" else ("pending", "running")
        return self._transition(action_id, sources, status, values)

    def note_action(self, action_id: int, error: str) -> ActionRecord:
        """Record ``error`` on a running action that stays running (its outcome is not known yet)."""
        return self._transition(action_id, ("running",), "running", {"error": error})

    def cancel_pending(self, plan_id: int, *, reason: str | None = None, at: datetime | None = None) -> int:
        """Mark every pending action of a plan ``cancelled`` (with ``reason`` as its error); returns how many."""
        now = _timestamp(at, "at")
        with self._write() as conn:
            if conn.execute(select(PLANS.c.id).where(PLANS.c.id == plan_id)).first() is None:
                raise StoreError(f"unknown plan: {plan_id!r}")
            return conn.execute(
                update(ACTIONS)
                .where(ACTIONS.c.plan_id == plan_id, ACTIONS.c.status == "pending")
                .values(status="cancelled", finished_at=now, error=reason)
            ).rowcount

    def _transition(
        self, action_id: int, sources: tuple[str, ...], target: str, values: dict[str, Any]
    ) -> ActionRecord:
        with self._write() as conn:
            row = conn.execute(select(ACTIONS).where(ACTIONS.c.id == action_id).with_for_update()).first()
            if row is None:
                raise StoreError(f"unknown action: {action_id!r}")
            if row.status not in sources:
                raise StoreError(
                    f"action {action_id} is {row.status!r}; only a {' or '.join(sources)} action can become {target!r}"
                )
            if "finished_at" in values and "duration_s" not in values and row.started_at is not None:
                values["duration_s"] = (values["finished_at"] - row.started_at).total_seconds()
            conn.execute(update(ACTIONS).where(ACTIONS.c.id == action_id).values(status=target, **values))
            return _action_record(conn.execute(select(ACTIONS).where(ACTIONS.c.id == action_id)).one())

    # --- power transitions -----------------------------------------------------------------------

    def record_power_transition(
        self, host: str, to_state: str, *, at: datetime | None = None, action_id: int | None = None
    ) -> PowerTransition | None:
        """Set ``host``'s power state and log the change (``None``, nothing logged, if unchanged)."""
        check_choice("Store.record_power_transition", "to_state", to_state, POWER_STATES)
        now = _timestamp(at, "at")
        with self._write() as conn:
            row = conn.execute(
                select(HOSTS.c.id, HOSTS.c.power_state).where(HOSTS.c.name == host).with_for_update()
            ).first()
            if row is None:
                raise StoreError(f"unknown host: {host!r}; upsert_hosts() it first")
            if row.power_state == to_state:
                return None
            conn.execute(update(HOSTS).where(HOSTS.c.id == row.id).values(power_state=to_state, updated_at=now))
            new_id = _insert_one(
                conn,
                insert(TRANSITIONS).values(
                    host_id=row.id, changed_at=now, from_state=row.power_state, to_state=to_state, action_id=action_id
                ),
            )
        return PowerTransition(
            id=new_id, host=host, changed_at=now, from_state=row.power_state, to_state=to_state, action_id=action_id
        )

    def power_transitions(
        self, *, host: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[PowerTransition]:
        """Power transitions with ``since <= changed_at < until``, oldest first (ties by host name)."""
        query = (
            select(TRANSITIONS, HOSTS.c.name.label("host"))
            .join(HOSTS, TRANSITIONS.c.host_id == HOSTS.c.id)
            .order_by(TRANSITIONS.c.changed_at, HOSTS.c.name, TRANSITIONS.c.id)
        )
        if host is not None:
            query = query.where(HOSTS.c.name == host)
        if since is not None:
            query = query.where(TRANSITIONS.c.changed_at >= _timestamp(since, "since"))
        if until is not None:
            query = query.where(TRANSITIONS.c.changed_at < _timestamp(until, "until"))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            PowerTransition(
                id=r.id,
                host=r.host,
                changed_at=r.changed_at,
                from_state=r.from_state,
                to_state=r.to_state,
                action_id=r.action_id,
            )
            for r in rows
        ]

    # --- leases ----------------------------------------------------------------------------------

    def acquire_lease(
        self,
        holder: str,
        *,
        ttl_s: float,
        name: str = GLOBAL_MANAGER_LEASE,
        now: datetime | None = None,
        take_over: str | None = None,
    ) -> LeaseRecord | None:
        """Take (or keep) the lease ``name`` until ``now + ttl_s``; ``None`` if another holder has it.

        ``take_over`` names a holder known to be gone (a crashed process of this machine): its
        lease is taken at once, unexpired, with a new term, unless someone else holds it by then.

        Atomic on every backend: a conditional UPDATE (the holder renews; anyone takes an expired
        lease, which increments ``term``), else an INSERT for the very first holder, which the
        primary key lets only one competitor win. Holders compare expiry with their own clocks:
        keep them in sync (NTP) and ``ttl_s`` well above the skew.
        """
        check_name("Store.acquire_lease", "holder", holder, 255)
        at = _timestamp(now, "now")
        expires = at + _ttl(ttl_s)
        for attempt in range(1, LEASE_ATTEMPTS + 1):
            try:
                return self._acquire_once(holder, ttl_s, name, at, expires, take_over)
            except DBAPIError as exc:
                # Competing transactions can deadlock (InnoDB's gap and insert-intention locks): the
                # victim was rolled back whole, so trying again is safe and sees the winner's row.
                if not _is_deadlock(exc) or attempt == LEASE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _acquire_once(
        self, holder: str, ttl_s: float, name: str, at: datetime, expires: datetime, take_over: str | None = None
    ) -> LeaseRecord | None:
        renewed = self.renew_lease(holder, ttl_s=ttl_s, name=name, now=at)
        if renewed is not None:
            return renewed
        free = LEASES.c.expires_at <= at
        if take_over is not None:
            free = free | (LEASES.c.holder == take_over)
        with self._write() as conn:
            taken = conn.execute(
                update(LEASES)
                .where(LEASES.c.name == name, free)
                .values(term=LEASES.c.term + 1, holder=holder, acquired_at=at, renewed_at=at, expires_at=expires)
            ).rowcount
            if taken == 1:
                return _lease_record(conn.execute(select(LEASES).where(LEASES.c.name == name)).one())
            if conn.execute(select(LEASES.c.name).where(LEASES.c.name == name)).first() is not None:
                return None
        try:
            with self._write() as conn:
                conn.execute(
                    insert(LEASES).values(
                        name=name, holder=holder, term=1, acquired_at=at, renewed_at=at, expires_at=expires
                    )
                )
        except IntegrityError:
            return None  # another holder inserted it first
        return LeaseRecord(name=name, holder=holder, term=1, acquired_at=at, renewed_at=at, expires_at=expires)

    def renew_lease(
        self, holder: str, *, ttl_s: float, name: str = GLOBAL_MANAGER_LEASE, now: datetime | None = None
    ) -> LeaseRecord | None:
        """Extend the lease to ``now + ttl_s`` if ``holder`` still holds it (even if it lapsed
        unclaimed: nobody else held it meanwhile, or the holder would differ); else ``None``."""
        at = _timestamp(now, "now")
        expires = at + _ttl(ttl_s)
        with self._write() as conn:
            renewed = conn.execute(
                update(LEASES)
                .where(LEASES.c.name == name, LEASES.c.holder == holder)
                .values(renewed_at=at, expires_at=expires)
            ).rowcount
            if renewed != 1:
                return None
            return _lease_record(conn.execute(select(LEASES).where(LEASES.c.name == name)).one())

    def release_lease(self, holder: str, *, name: str = GLOBAL_MANAGER_LEASE, now: datetime | None = None) -> bool:
        """Let the lease expire at ``now`` if ``holder`` holds it, so another can take it at once."""
        at = _timestamp(now, "now")
        with self._write() as conn:
            released = conn.execute(
                update(LEASES)
                .where(LEASES.c.name == name, LEASES.c.holder == holder, LEASES.c.expires_at > at)
                .values(expires_at=at)
            ).rowcount
        return bool(released == 1)

    def lease(self, name: str = GLOBAL_MANAGER_LEASE) -> LeaseRecord | None:
        """The lease as stored (possibly expired), or ``None`` if nobody ever held it."""
        with self._engine.connect() as conn:
            row = conn.execute(select(LEASES).where(LEASES.c.name == name)).first()
        return None if row is None else _lease_record(row)


@dataclass(frozen=True)
class _RecentRows:
    """Samples read by a bounded window read: owner ids, epoch microseconds, values (n,), and the
    span they cover (``newest_us`` None: no upper bound)."""

    owners: np.ndarray
    stamps: np.ndarray
    values: np.ndarray
    oldest_us: int
    newest_us: int | None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_us_of(at: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch."""
    return (at - _EPOCH) // timedelta(microseconds=1)


def _from_epoch_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _epoch_us(conn: Connection, column: ColumnElement[datetime]) -> ColumnElement[Any]:
    """``column`` (a UTC timestamp) as integer microseconds since the epoch, computed by the server."""
    if conn.dialect.name == "sqlite":
        # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' text (UTC): whole seconds by strftime, then the fraction
        seconds = sql_cast(func.strftime("%s", column), BigInteger)
        return seconds * 1_000_000 + sql_cast(func.substr(column, 21, 6), BigInteger)
    if conn.dialect.name == "postgresql":
        return sql_cast(func.extract("epoch", column) * 1_000_000, BigInteger)
    # MySQL/MariaDB: DATETIME(6) holds UTC
    return func.timestampdiff(literal_column("MICROSECOND"), literal_column("'1970-01-01 00:00:00'"), column)


def _ranked_window(
    names: list[str], ids: np.ndarray, rows: tuple[np.ndarray, np.ndarray, np.ndarray], window: int
) -> SampleWindow:
    """The newest ``window`` of ``rows`` (owner, epoch us, value; any order) per id, as a SampleWindow."""
    n = len(names)
    utilization = np.full((n, window), np.nan)
    recorded_at = np.full((n, window), np.datetime64("NaT", "us"))
    n_valid = np.zeros(n, dtype=np.intp)
    owners, stamps, values = rows
    order = np.argsort(ids)
    where = np.searchsorted(ids, owners, sorter=order)
    where = np.minimum(where, max(n - 1, 0))
    keep = ids[order[where]] == owners if n else np.zeros(owners.shape, dtype=np.bool_)
    row = order[where[keep]]
    stamps, values = stamps[keep], values[keep]
    if row.size:
        by = np.lexsort((stamps, row))  # by row, oldest first
        row, stamps, values = row[by], stamps[by], values[by]
        counts = np.bincount(row, minlength=n)
        starts = np.cumsum(counts) - counts
        from_end = counts[row] - (np.arange(row.size) - starts[row])  # 1 for each row's newest
        take = from_end <= window
        col = window - from_end[take]
        utilization[row[take], col] = values[take]
        recorded_at[row[take], col] = stamps[take].astype("datetime64[us]")
        n_valid = np.minimum(counts, window).astype(np.intp)
    return SampleWindow(tuple(names), utilization, n_valid, recorded_at)


def _insert_one(conn: Connection, statement: Insert) -> int:
    """Run a one-row INSERT; the new row's integer primary key."""
    key = conn.execute(statement).inserted_primary_key
    if key is None:  # pragma: no cover - every backend neat supports reports it
        raise StoreError("the database did not report the new row's primary key")
    return int(key[0])


def _positive_seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"The 'max_age_s' of Store.prune_samples must be a float in (0, inf). Got {value!r} instead.")
    return float(value)


def _prune(conn: Connection, table: Table, key: ColumnElement[int], cutoff: datetime, keep: int) -> int:
    """Delete ``table``'s samples older than ``cutoff`` except each owner's newest ``keep``."""
    if keep == 0:
        return conn.execute(delete(table).where(table.c.recorded_at < cutoff)).rowcount
    rank = func.row_number().over(partition_by=key, order_by=table.c.recorded_at.desc())
    ranked = select(key.label("owner"), table.c.recorded_at, rank.label("rank")).subquery("ranked")
    # The doomed rows come out of a derived table, which MySQL/MariaDB materialize: they accept it
    # in a DELETE from the same table.
    doomed = select(ranked.c.owner, ranked.c.recorded_at).where(ranked.c.rank > keep, ranked.c.recorded_at < cutoff)
    return conn.execute(delete(table).where(tuple_(key, table.c.recorded_at).in_(doomed))).rowcount


def _load_plans(conn: Connection, query: Select[Any]) -> list[PlanRecord]:
    plans = conn.execute(query).all()
    if not plans:
        return []
    ids = [p.id for p in plans]
    by_plan: dict[int, list[ActionRecord]] = {i: [] for i in ids}
    for row in conn.execute(
        select(ACTIONS).where(ACTIONS.c.plan_id.in_(ids)).order_by(ACTIONS.c.plan_id, ACTIONS.c.position)
    ):
        by_plan[row.plan_id].append(_action_record(row))
    return [
        PlanRecord(
            id=p.id,
            created_at=p.created_at,
            created_by=p.created_by,
            lease_term=p.lease_term,
            actions=tuple(by_plan[p.id]),
            expires_at=p.expires_at,
            dry_run=bool(p.dry_run),
            claimed_by=p.claimed_by,
            claimed_at=p.claimed_at,
        )
        for p in plans
    ]
