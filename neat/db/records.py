"""The records the store takes and gives: frozen, keyword-only, validated at construction.

Validation errors name the owner, the parameter, the accepted set and the value received.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from algorithms._validation import Interval, Nullable, Options, Text, check_value
from algorithms.base import FloatArray, IntArray
from neat.db.models import ACTION_KINDS, POWER_STATES, SERVICE_STATES

__all__ = [
    "ActionRecord",
    "ActionSpec",
    "HostInfo",
    "LeaseRecord",
    "PlanRecord",
    "PowerTransition",
    "PruneResult",
    "SampleSeries",
    "SampleWindow",
    "VmInfo",
]

DatetimeArray = NDArray[np.datetime64]
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


def check_choice(owner: str, name: str, value: object, accepted: Sequence[str]) -> None:
    """``value`` is one of ``accepted`` (:func:`algorithms._validation.check_value`)."""
    check_value(owner, name, value, Options(tuple(accepted)))


def check_positive(owner: str, name: str, value: object, *, kind: type = float, optional: bool = False) -> None:
    """``value`` is a finite number > 0 (an int if ``kind`` is int), or None if ``optional``."""
    interval = Interval("int" if kind is int else "float", 0.0, math.inf, "neither")
    check_value(owner, name, value, Nullable(interval) if optional else interval)


def check_name(owner: str, name: str, value: object, max_length: int) -> None:
    """``value`` is a non-empty string of at most ``max_length`` characters."""
    check_value(owner, name, value, Text(f"at most {max_length} characters", pattern=f"(?s).{{1,{max_length}}}"))


@dataclass(frozen=True, kw_only=True)
class HostInfo:
    """A compute host as the inventory knows it.

    Attributes
    ----------
    name : str
        The hypervisor host name (unique).
    cpu_mips : float
        Total CPU capacity, all cores.
    cores : int
    ram_mb : int
    power_state : str or None
        One of ``POWER_STATES``. ``None`` (the default) in an upsert keeps the stored state (a new
        host starts ``"unknown"``), so an inventory sync that cannot see power states (a suspended
        host looks like any unreachable one to Nova) does not overwrite them; power management
        records its changes with :meth:`Store.record_power_transition`. Always set when read back.
    service_state : str
        ``"enabled"`` or ``"disabled"`` (the compute service).
    """

    name: str
    cpu_mips: float
    cores: int
    ram_mb: int
    power_state: str | None = None
    service_state: str = "enabled"

    def __post_init__(self) -> None:
        check_name("HostInfo", "name", self.name, 255)
        check_positive("HostInfo", "cpu_mips", self.cpu_mips)
        check_positive("HostInfo", "cores", self.cores, kind=int)
        check_positive("HostInfo", "ram_mb", self.ram_mb, kind=int)
        if self.power_state is not None:
            check_choice("HostInfo", "power_state", self.power_state, POWER_STATES)
        check_choice("HostInfo", "service_state", self.service_state, SERVICE_STATES)


@dataclass(frozen=True, kw_only=True)
class VmInfo:
    """A VM as the inventory knows it: its host (``None`` while unplaced) and size.

    ``cpu_mips`` is the VM's CPU size (its utilization is a fraction of it), when known.
    """

    uuid: str
    host: str | None
    ram_mb: int
    vcpus: int
    cpu_mips: float | None = None

    def __post_init__(self) -> None:
        check_name("VmInfo", "uuid", self.uuid, 36)
        if self.host is not None:
            check_name("VmInfo", "host", self.host, 255)
        check_positive("VmInfo", "ram_mb", self.ram_mb, kind=int)
        check_positive("VmInfo", "vcpus", self.vcpus, kind=int)
        check_positive("VmInfo", "cpu_mips", self.cpu_mips, optional=True)


@dataclass(frozen=True)
class SampleWindow:
    """The newest ``window`` samples of each host (or VM), in the project's array layout.

    Attributes
    ----------
    names : tuple of str, length n
        Host names (or VM uuids), one per row.
    utilization : float64 array of shape (n, window)
        CPU utilization as a fraction, oldest to newest, right-aligned, NaN-padded on the left.
    n_valid : intp array of shape (n,)
        Samples in each row (``min(window, samples stored)``).
    recorded_at : datetime64[us] array of shape (n, window)
        When each sample was taken (UTC), NaT in the padding. Samples are consecutive stored
        samples: a gap in collection does not leave a gap in the row.
    """

    names: tuple[str, ...]
    utilization: FloatArray
    n_valid: IntArray
    recorded_at: DatetimeArray


@dataclass(frozen=True)
class SampleSeries:
    """Every stored sample of some VMs (or hosts) in a time span, as a long table, oldest first per owner.

    Attributes
    ----------
    names : tuple of str, length n
        VM uuids (or host names), sorted.
    owner : intp array of shape (n_samples,)
        Each sample's row in ``names``; samples are sorted by owner, then time.
    recorded_at : datetime64[us] array of shape (n_samples,)
        When each sample was taken (UTC).
    utilization : float64 array of shape (n_samples,)
        CPU utilization as a fraction of the VM's CPU size (of the host's capacity).
    """

    names: tuple[str, ...]
    owner: IntArray
    recorded_at: DatetimeArray
    utilization: FloatArray


@dataclass(frozen=True, kw_only=True)
class ActionSpec:
    """One step a planner wants done.

    ``migrate`` needs ``vm_uuid``, ``host`` (the source) and ``target_host``; ``disable``,
    ``enable``, ``suspend`` and ``wake`` act on ``host``.
    """

    kind: str
    host: str
    vm_uuid: str | None = None
    target_host: str | None = None

    def __post_init__(self) -> None:
        check_choice("ActionSpec", "kind", self.kind, ACTION_KINDS)
        check_name("ActionSpec", "host", self.host, 255)
        if self.kind == "migrate":
            check_name("ActionSpec", "vm_uuid", self.vm_uuid, 36)
            check_name("ActionSpec", "target_host", self.target_host, 255)
        elif self.vm_uuid is not None or self.target_host is not None:
            raise ValueError(
                f"ActionSpec: only a 'migrate' action takes vm_uuid and target_host; "
                f"got kind={self.kind!r} with vm_uuid={self.vm_uuid!r}, target_host={self.target_host!r}."
            )


@dataclass(frozen=True, kw_only=True)
class ActionRecord:
    """A stored action: the spec, its place in the plan, status, timings (UTC) and error text."""

    id: int
    plan_id: int
    position: int
    kind: str
    host: str
    vm_uuid: str | None
    target_host: str | None
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    error: str | None


@dataclass(frozen=True, kw_only=True)
class PlanRecord:
    """A stored plan with its actions in order; ``status`` is derived from them.

    ``expires_at``: after it ``neat apply`` refuses the plan; ``dry_run``: made for an operator to
    apply; ``claimed_by``/``claimed_at``: who executes it (the global manager that made it, or the
    ``neat apply`` that claimed it), None while nobody does.

    ``pending`` (nothing started), ``running`` (something started, something left), then once every
    action is finished: ``failed`` if any failed, else ``cancelled`` if any was cancelled, else
    ``succeeded`` (also the status of an empty plan).
    """

    id: int
    created_at: datetime
    created_by: str | None
    lease_term: int | None
    actions: tuple[ActionRecord, ...]
    expires_at: datetime | None = None
    dry_run: bool = False
    claimed_by: str | None = None
    claimed_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        """Whether the plan is past its expiry at ``now`` (a plan without one never expires)."""
        return self.expires_at is not None and now >= self.expires_at

    def state(self, now: datetime) -> str:
        """:attr:`status`, except that a pending plan past its expiry is ``expired``."""
        status = self.status
        return "expired" if status == "pending" and self.expired(now) else status

    @property
    def status(self) -> str:
        statuses = {a.status for a in self.actions}
        if statuses <= TERMINAL_STATUSES:
            for status in ("failed", "cancelled"):
                if status in statuses:
                    return status
            return "succeeded"
        if statuses == {"pending"}:
            return "pending"
        return "running"

    @property
    def started_at(self) -> datetime | None:
        """When the first action started (``None`` before)."""
        times = [a.started_at for a in self.actions if a.started_at is not None]
        return min(times, default=None)

    @property
    def finished_at(self) -> datetime | None:
        """When the last action finished, once all have (``None`` before)."""
        if any(a.status not in TERMINAL_STATUSES for a in self.actions):
            return None
        times = [a.finished_at for a in self.actions if a.finished_at is not None]
        return max(times, default=self.created_at)


@dataclass(frozen=True, kw_only=True)
class PowerTransition:
    """A host's power state changed from ``from_state`` (``None``: a new host) to ``to_state``."""

    id: int
    host: str
    changed_at: datetime
    from_state: str | None
    to_state: str
    action_id: int | None


@dataclass(frozen=True, kw_only=True)
class LeaseRecord:
    """A lease as stored: ``term`` (a fencing token) grows by one each time the holder changes."""

    name: str
    holder: str
    term: int
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class PruneResult:
    """Samples deleted by :meth:`Store.prune_samples`."""

    host_samples: int
    vm_samples: int
