"""Per-VM CPU utilization from libvirt: CPU-time deltas of each running domain.

Only this module imports ``libvirt`` (libvirt-python), and only when a connection is first needed,
so that the rest of neat, the replay source and the tests of the loop run without it.

A domain's utilization over an interval is its CPU time spent divided by the CPU time its vCPUs
could have spent::

    utilization = Δcpu_time_ns / (Δwall_ns x vcpus),   clipped to [0, 1]

The first reading of a domain is its baseline (no sample). A domain that vanished (shut off,
migrated away, gone between the listing and the reading) or whose counter went backwards (a
restart) is skipped for that interval and logged; its next reading is a new baseline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from neat.local_manager.loop import HostCapacity, VmSample

log = logging.getLogger(__name__)

DEFAULT_URI = "qemu:///system"
#: how the CPU time was read; a baseline read one way is not compared with a reading of the other
CPU_STATS = "getCPUStats"
INFO = "info"


def vcpu_utilization(cpu_ns: int, wall_ns: int, vcpus: int) -> float:
    """The busy share of ``vcpus`` vCPUs that spent ``cpu_ns`` of CPU time in ``wall_ns`` of wall
    time, clipped to [0, 1] (a domain's CPU time also holds its emulator threads, which may push it
    a little over). ``cpu_ns`` >= 0, ``wall_ns`` > 0 and ``vcpus`` >= 1 are the caller's checks."""
    return min(1.0, max(0.0, cpu_ns / (wall_ns * vcpus)))


def _ignore_libvirt_error(_context: object, _error: object) -> None:
    return None


@dataclass(frozen=True)
class _Baseline:
    cpu_time_ns: int
    wall_ns: int
    method: str


class LibvirtSource:
    """Reads the running domains of one libvirt connection.

    Parameters
    ----------
    uri : the libvirt URI (``qemu:///system`` on a compute host, ``test:///default`` in tests)
    monotonic_ns : the wall clock for the deltas (a monotonic one: NTP steps must not count)
    connect : opens the connection for a URI; default ``libvirt.openReadOnly`` (reading needs no more)

    The connection is opened at the first reading, and opened again at the next reading after a
    connection error (libvirtd restarted).
    """

    def __init__(
        self,
        uri: str = DEFAULT_URI,
        *,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        connect: Callable[[str], Any] | None = None,
    ) -> None:
        self.uri = uri
        self._monotonic_ns = monotonic_ns
        self._connect = connect
        self._conn: Any = None
        self._capacity: HostCapacity | None = None
        self._baselines: dict[str, _Baseline] = {}

    # -- connection -------------------------------------------------------------------------------

    def connection(self) -> Any:
        """The open connection (opened now if need be)."""
        if self._conn is None:
            import libvirt

            # libvirt prints every error on stderr by default; ours are logged where they are handled
            libvirt.registerErrorHandler(_ignore_libvirt_error, None)
            connect = self._connect or libvirt.openReadOnly
            try:
                self._conn = connect(self.uri)
            except libvirt.libvirtError as exc:
                raise ConnectionError(f"cannot open libvirt URI {self.uri!r}: {exc}") from None
            if self._conn is None:  # very old bindings return None instead of raising
                raise ConnectionError(f"cannot open libvirt URI {self.uri!r}")
        return self._conn

    def close(self) -> None:
        """Close the connection, if open; the next reading opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as exc:
                log.debug("closing %s: %s", self.uri, exc)

    def __enter__(self) -> LibvirtSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- readings ---------------------------------------------------------------------------------

    def host_capacity(self) -> HostCapacity:
        """The node's CPUs and total MHz (``virNodeGetInfo``: cpus x mhz), read once."""
        if self._capacity is None:
            import libvirt

            try:
                _model, _memory_mb, cpus, mhz, *_ = self.connection().getInfo()
            except libvirt.libvirtError:
                self.close()
                raise
            self._capacity = HostCapacity(cpu_mhz=float(mhz) * int(cpus), cpu_cores=int(cpus))
        return self._capacity

    def read_vms(self) -> list[VmSample]:
        """One sample per running domain that has a baseline from the previous reading.

        Raises
        ------
        ConnectionError
            The connection cannot be opened.
        libvirt.libvirtError
            Listing the domains failed; the connection is closed and opened again next time.
        """
        import libvirt

        conn = self.connection()
        try:
            domains = conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_RUNNING)
        except libvirt.libvirtError:
            self.close()
            raise
        samples: list[VmSample] = []
        seen: set[str] = set()
        for dom in domains:
            try:
                uuid = dom.UUIDString()
                _state, _max_kib, _kib, vcpus, info_cpu_time = dom.info()
                cpu_time, method = self._cpu_time(dom, int(info_cpu_time))
                wall = int(self._monotonic_ns())
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    log.info("a domain vanished while being read; skipped this interval (%s)", exc)
                else:
                    log.warning("reading a domain failed; skipped this interval (%s)", exc)
                continue
            seen.add(uuid)
            sample = self._sample(uuid, int(vcpus), _Baseline(cpu_time, wall, method))
            if sample is not None:
                samples.append(sample)
        for uuid in sorted(set(self._baselines) - seen):
            log.info("domain %s is no longer running here; its baseline is dropped", uuid)
            del self._baselines[uuid]
        return samples

    def _cpu_time(self, dom: Any, info_cpu_time: int) -> tuple[int, str]:
        import libvirt

        try:
            return int(dom.getCPUStats(True)[0]["cpu_time"]), CPU_STATS
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise
            return info_cpu_time, INFO
        except (IndexError, KeyError, TypeError):
            return info_cpu_time, INFO

    def _sample(self, uuid: str, vcpus: int, now: _Baseline) -> VmSample | None:
        before = self._baselines.get(uuid)
        self._baselines[uuid] = now
        if before is None:
            log.debug("domain %s: first reading taken as its baseline", uuid)
            return None
        if before.method != now.method:
            log.info("domain %s: CPU time read by %s, before by %s; new baseline", uuid, now.method, before.method)
            return None
        d_cpu = now.cpu_time_ns - before.cpu_time_ns
        d_wall = now.wall_ns - before.wall_ns
        if d_cpu < 0:
            log.warning(
                "domain %s: CPU time went backwards (%d -> %d ns; restarted?); skipped this interval",
                uuid,
                before.cpu_time_ns,
                now.cpu_time_ns,
            )
            return None
        if d_wall <= 0:
            log.info("domain %s: no time passed since the previous reading; skipped this interval", uuid)
            return None
        if vcpus < 1:
            log.warning("domain %s reports %d vCPUs; skipped this interval", uuid, vcpus)
            return None
        return VmSample(uuid, vcpu_utilization(d_cpu, d_wall, vcpus), now.cpu_time_ns, vcpus)
