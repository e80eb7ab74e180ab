"""Host CPU utilization from the kernel's ``/proc/stat``.

The ``cpu`` lines of ``/proc/stat`` hold cumulative times in USER_HZ ticks since boot::

    cpu  user nice system idle iowait irq softirq steal guest guest_nice
    cpu0 ...

The utilization between two readings is the share of ticks the CPUs were busy::

    utilization = 1 - (Δidle + Δiowait) / Δtotal,   total = user + nice + ... + steal

``guest`` and ``guest_nice`` are left out of the total: the kernel already counts them in ``user``
and ``nice``. A reading whose counters went backwards (a reboot, a wrapped or buggy counter) or that
spans no tick gives no utilization (None) instead of a wrong number; the caller takes the new
reading as the next baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from neat.local_manager.loop import HostCapacity, HostReading

log = logging.getLogger(__name__)

PROC_STAT_PATH = "/proc/stat"
#: user nice system idle iowait irq softirq steal guest guest_nice; the first four are always present.
CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
MIN_CPU_FIELDS = 4
#: fields summed into the total (guest and guest_nice are already inside user and nice)
TOTAL_FIELDS = 8


class ProcStatError(ValueError):
    """A /proc/stat text is unusable; the message names the file, the line and the offending text."""


@dataclass(frozen=True)
class CpuTimes:
    """Cumulative CPU times of one ``cpu`` line, in ticks; absent fields (old kernels) are 0."""

    user: int
    nice: int
    system: int
    idle: int
    iowait: int = 0
    irq: int = 0
    softirq: int = 0
    steal: int = 0
    guest: int = 0
    guest_nice: int = 0

    @property
    def idle_all(self) -> int:
        """Ticks not spent working: idle + iowait."""
        return self.idle + self.iowait

    @property
    def total(self) -> int:
        """All ticks: user .. steal (guest time is already counted in user and nice)."""
        return self.user + self.nice + self.system + self.idle + self.iowait + self.irq + self.softirq + self.steal


def parse_proc_stat(text: str, source: str = PROC_STAT_PATH) -> dict[str, CpuTimes]:
    """The ``cpu`` lines of a /proc/stat text, by name (``"cpu"`` for all CPUs, ``"cpu0"``, ...).

    Raises
    ------
    ProcStatError
        No ``cpu`` line at all, or a ``cpu`` line with fewer than 4 fields or a field that is not a
        non-negative integer; the message names ``source``, the line number and the line.
    """
    found: dict[str, CpuTimes] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("cpu"):
            continue
        name, *fields = line.split()
        if len(fields) < MIN_CPU_FIELDS:
            raise ProcStatError(
                f"{source}, line {number}: {line.strip()!r} has {len(fields)} counters; "
                f"expected at least {MIN_CPU_FIELDS} (user nice system idle ...)"
            )
        try:
            values = [int(v) for v in fields[: len(CPU_FIELDS)]]
        except ValueError:
            raise ProcStatError(
                f"{source}, line {number}: {line.strip()!r} has a counter that is not an integer"
            ) from None
        if any(v < 0 for v in values):
            raise ProcStatError(f"{source}, line {number}: {line.strip()!r} has a negative counter")
        found[name] = CpuTimes(*values)
    if "cpu" not in found:
        raise ProcStatError(f"{source}: no 'cpu' line (is this a /proc/stat text?)")
    return found


def utilization_between(before: CpuTimes, after: CpuTimes) -> float | None:
    """The busy share of CPU time between two readings, a fraction in [0, 1].

    None, with a log line, when the counters went backwards (the total, the idle time or the busy
    time decreased) or no tick passed. Idle and busy time are checked as sums, not field by field:
    the kernel's ``iowait`` alone may decrease a little on tickless systems without anything wrong.
    """
    d_total = after.total - before.total
    d_idle = after.idle_all - before.idle_all
    d_busy = d_total - d_idle
    if d_total < 0 or d_idle < 0 or d_busy < 0:
        log.warning(
            "/proc/stat counters went backwards (Δtotal=%d, Δidle=%d, Δbusy=%d ticks); "
            "no host utilization for this interval",
            d_total,
            d_idle,
            d_busy,
        )
        return None
    if d_total == 0:
        log.info("/proc/stat: no CPU tick between the two readings; no host utilization for this interval")
        return None
    return 1.0 - d_idle / d_total


class ProcStatSource:
    """Host utilization from successive readings of a /proc/stat file.

    Parameters
    ----------
    capacity : the host's CPU capacity, or a function giving it (called at each reading, so that a
        capacity read through libvirt may fail for one interval and succeed at the next)
    path : the file to read; a recorded copy in tests

    The first reading only takes a baseline and gives None; so does a reading whose counters went
    backwards or spanned no tick (see :func:`utilization_between`).
    """

    def __init__(self, capacity: HostCapacity | Callable[[], HostCapacity], path: str | Path = PROC_STAT_PATH) -> None:
        self.path = Path(path)
        self._capacity = capacity
        self._previous: CpuTimes | None = None

    def read_times(self) -> CpuTimes:
        """The ``cpu`` (all CPUs) line of the file now."""
        return parse_proc_stat(self.path.read_text(encoding="ascii", errors="replace"), str(self.path))["cpu"]

    def read_host(self) -> HostReading | None:
        capacity = self._capacity() if callable(self._capacity) else self._capacity
        now = self.read_times()
        before, self._previous = self._previous, now
        if before is None:
            log.info("%s: first reading taken as the baseline", self.path)
            return None
        utilization = utilization_between(before, now)
        if utilization is None:
            return None
        return HostReading(utilization=utilization, cpu_mhz=capacity.cpu_mhz, cpu_cores=capacity.cpu_cores)
