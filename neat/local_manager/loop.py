"""The local manager's loop: every interval, read the host and its VMs, write one batch.

Sources and the sink are protocols, so that the loop runs the same on libvirt and /proc/stat, on a
replayed trace, and against an in-memory sink in tests. A failing source or sink (libvirt gone, the
database down) is logged and the next interval goes on: :meth:`LocalManager.collect_once` never
raises.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from algorithms._validation import Interval, check_value

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _check_fraction(owner: str, name: str, value: float) -> None:
    check_value(owner, name, value, Interval("float", 0.0, 1.0))


def _check_capacity(owner: str, cpu_mhz: float, cpu_cores: int) -> None:
    check_value(owner, "cpu_mhz", cpu_mhz, Interval("float", 0.0, math.inf, "neither"))
    check_value(owner, "cpu_cores", cpu_cores, Interval("int", 1, math.inf))


@dataclass(frozen=True)
class HostCapacity:
    """A host's CPU capacity: ``cpu_mhz`` is the total over all cores (clock x cores)."""

    cpu_mhz: float
    cpu_cores: int

    def __post_init__(self) -> None:
        _check_capacity("HostCapacity", self.cpu_mhz, self.cpu_cores)


@dataclass(frozen=True)
class HostReading:
    """What a host source gives for one interval: utilization (fraction) and capacity."""

    utilization: float
    cpu_mhz: float
    cpu_cores: int

    def __post_init__(self) -> None:
        _check_fraction("HostReading", "utilization", self.utilization)
        _check_capacity("HostReading", self.cpu_mhz, self.cpu_cores)


@dataclass(frozen=True)
class HostSample:
    """One host's record for one interval.

    Attributes
    ----------
    host : the compute host's name (as Nova knows it)
    timestamp : when the interval's readings were taken; timezone-aware, UTC
    utilization : busy share of all the host's CPUs over the interval, a fraction in [0, 1]
    cpu_mhz : total CPU capacity (clock x cores)
    cpu_cores : number of CPUs
    """

    host: str
    timestamp: datetime
    utilization: float
    cpu_mhz: float
    cpu_cores: int

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ValueError(f"The 'host' of HostSample must be a non-empty name. Got {self.host!r} instead.")
        offset = self.timestamp.utcoffset() if isinstance(self.timestamp, datetime) else None
        if offset != timedelta(0):
            hint = " (a naive datetime: use datetime.now(UTC))" if isinstance(self.timestamp, datetime) else ""
            raise ValueError(
                f"The 'timestamp' of HostSample must be a timezone-aware datetime in UTC. "
                f"Got {self.timestamp!r} instead{hint}."
            )
        _check_fraction("HostSample", "utilization", self.utilization)
        _check_capacity("HostSample", self.cpu_mhz, self.cpu_cores)


@dataclass(frozen=True)
class VmSample:
    """One VM's record for one interval (its host and time are those of the batch's HostSample).

    Attributes
    ----------
    uuid : the domain's UUID (Nova's instance UUID)
    utilization : busy share of the VM's vCPUs over the interval, a fraction in [0, 1]
    cpu_time_ns : the domain's cumulative CPU time at the reading
    vcpus : number of vCPUs
    """

    uuid: str
    utilization: float
    cpu_time_ns: int
    vcpus: int

    def __post_init__(self) -> None:
        _check_fraction(f"VmSample {self.uuid}", "utilization", self.utilization)
        if isinstance(self.vcpus, bool) or not isinstance(self.vcpus, int) or self.vcpus < 1:
            raise ValueError(f"The 'vcpus' of VmSample {self.uuid} must be an integer >= 1. Got {self.vcpus!r}.")


@dataclass(frozen=True)
class Collected:
    """One interval's batch, as written to the sink; ``skipped``: the names it did not store (the
    inventory does not know them yet)."""

    host: HostSample
    vms: tuple[VmSample, ...]
    skipped: tuple[str, ...] = ()

    @property
    def stored_nothing(self) -> bool:
        """Whether the sink stored none of the batch (the host and every VM were skipped)."""
        return self.host.host in self.skipped and all(v.uuid in self.skipped for v in self.vms)


class SampleSink(Protocol):
    """Where batches go (the database in the service)."""

    def write(self, host: HostSample, vms: Sequence[VmSample]) -> Sequence[str] | None:
        """Store one interval's host sample and VM samples in one transaction; raise on failure
        (nothing of the batch is stored then). Returns the names it skipped (unknown to the
        inventory), None or empty when it stored everything."""
        ...


class HostSource(Protocol):
    """Gives the host's utilization over the interval since its previous call."""

    def read_host(self) -> HostReading | None:
        """The reading, or None when there is none this interval (first call, counters reset)."""
        ...


class VmSource(Protocol):
    """Gives each running VM's utilization over the interval since its previous call."""

    def read_vms(self) -> Sequence[VmSample]:
        """One sample per VM that has a valid reading this interval (others are skipped and logged)."""
        ...


@dataclass
class InMemorySink:
    """A sink that keeps every batch in a list; for tests and ``--once`` dry runs."""

    batches: list[Collected] = field(default_factory=list)

    def write(self, host: HostSample, vms: Sequence[VmSample]) -> None:
        self.batches.append(Collected(host, tuple(vms)))


class LocalManager:
    """Collects one host's samples every interval and writes them to a sink.

    Parameters
    ----------
    source_host : gives the host's utilization and capacity (:class:`ProcStatSource`, a replay)
    source_vms : gives the VMs' samples (:class:`LibvirtSource`, a replay)
    sink : stores each interval's batch in one transaction
    clock : gives the batch's timestamp (timezone-aware UTC)
    host_name : the host's name in the records
    """

    def __init__(
        self,
        source_host: HostSource,
        source_vms: VmSource,
        sink: SampleSink,
        clock: Callable[[], datetime] = utc_now,
        *,
        host_name: str | None = None,
        metrics: Any = None,
    ) -> None:
        self.source_host = source_host
        self.source_vms = source_vms
        self.sink = sink
        self.clock = clock
        self.host_name = host_name or socket.gethostname()
        self.intervals = 0
        self.writes = 0
        self.failures = 0
        self.metrics = metrics
        self._skipped: frozenset[str] = frozenset()

    def _failed(self) -> None:
        self.failures += 1
        if self.metrics is not None:
            self.metrics.collect_failures.inc()

    def _report_skipped(self, skipped: Sequence[str], total: int) -> None:
        """Log the names the inventory does not know once, when they change (then at DEBUG)."""
        names = frozenset(skipped)
        if names and names != self._skipped:
            shown = ", ".join(sorted(names)[:5]) + (" ..." if len(names) > 5 else "")
            log.warning(
                "%d of %d samples not stored: the inventory does not know them yet (the global manager syncs "
                "it from Nova): %s",
                len(names),
                total,
                shown,
            )
        elif names:
            log.debug("%d samples still not stored (unknown to the inventory)", len(names))
        elif self._skipped:
            log.info("every sample is stored again")
        self._skipped = names

    def collect_once(self) -> Collected | None:
        """Read both sources and write one batch. Returns the batch written, or None when nothing
        was written (a source or the sink failed, or the host source had no reading yet). Never
        raises: failures are logged."""
        started = time.monotonic()
        try:
            return self._collect()
        finally:
            if self.metrics is not None:
                self.metrics.collect_duration.observe(time.monotonic() - started)

    def _collect(self) -> Collected | None:
        self.intervals += 1
        try:
            timestamp = self.clock()
        except Exception:
            log.exception("the clock failed; interval skipped")
            self._failed()
            return None
        # Both sources are read even when one fails, so that their baselines move together.
        vms: tuple[VmSample, ...] | None
        try:
            vms = tuple(self.source_vms.read_vms())
        except Exception as exc:
            log.error("reading the VMs failed (%s: %s); interval skipped", type(exc).__name__, exc)
            vms = None
        try:
            host = self.source_host.read_host()
            host_failed = False
        except Exception as exc:
            log.error("reading the host failed (%s: %s); interval skipped", type(exc).__name__, exc)
            host, host_failed = None, True
        if vms is None or host_failed:
            self._failed()
            return None
        if host is None:
            log.info("no host utilization for this interval (first reading or counters reset); nothing written")
            return None
        try:
            sample = HostSample(self.host_name, timestamp, host.utilization, host.cpu_mhz, host.cpu_cores)
        except ValueError as exc:
            log.error("the host sample of this interval is invalid (%s); interval skipped", exc)
            self._failed()
            return None
        try:
            skipped = tuple(self.sink.write(sample, vms) or ())
        except Exception as exc:
            log.error(
                "writing %d VM samples of %s failed (%s: %s); the next interval goes on",
                len(vms),
                self.host_name,
                type(exc).__name__,
                exc,
            )
            self._failed()
            return None
        self._report_skipped(skipped, len(vms) + 1)
        self.writes += 1
        stored_vms = sum(v.uuid not in skipped for v in vms)
        if self.metrics is not None:
            self.metrics.samples_written.labels(kind="host").inc(0 if self.host_name in skipped else 1)
            self.metrics.samples_written.labels(kind="vm").inc(stored_vms)
            self.metrics.samples_skipped.inc(len(skipped))
            self.metrics.last_write.set(time.time())
        log.info(
            "wrote %s at %s: host %.1f%%, %d of %d VMs",
            self.host_name,
            timestamp.isoformat(timespec="seconds"),
            100 * host.utilization,
            stored_vms,
            len(vms),
        )
        return Collected(sample, vms, skipped)

    def run(self, interval_s: float, stop_event: threading.Event | None = None) -> None:
        """Collect now and then every ``interval_s`` seconds until ``stop_event`` is set (forever
        without one; Ctrl-C ends it). A late run is coalesced and never overlaps the previous one."""
        from apscheduler.schedulers.background import BackgroundScheduler

        if isinstance(interval_s, bool) or not isinstance(interval_s, int | float) or not (0 < interval_s < math.inf):
            raise ValueError(f"The 'interval_s' of LocalManager.run must be a number in (0, inf). Got {interval_s!r}.")
        stop = stop_event or threading.Event()
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(
            self.collect_once,
            "interval",
            seconds=interval_s,
            next_run_time=utc_now(),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            id="collect",
            name=f"local-manager {self.host_name}",
        )
        scheduler.start()
        try:
            stop.wait()
        finally:
            scheduler.shutdown(wait=True)
