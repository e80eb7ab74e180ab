"""The local manager: on one compute host, every interval, the host's and its VMs' CPU utilization.

Sources give readings (libvirt and /proc/stat on a compute host, a replayed trace in tests and
demos); :class:`LocalManager` turns them into one batch per interval and writes it to a
:class:`SampleSink` (the database in the service). ``libvirt`` is imported only by
:mod:`neat.local_manager.libvirt_source`, when a connection is first opened.
"""

from neat.local_manager.libvirt_source import LibvirtSource, vcpu_utilization
from neat.local_manager.loop import (
    Collected,
    HostCapacity,
    HostReading,
    HostSample,
    HostSource,
    InMemorySink,
    LocalManager,
    SampleSink,
    VmSample,
    VmSource,
    utc_now,
)
from neat.local_manager.procstat import (
    CpuTimes,
    ProcStatError,
    ProcStatSource,
    parse_proc_stat,
    utilization_between,
)
from neat.local_manager.replay import ReplayExhausted, ReplaySource, replay_uuid

__all__ = [
    "Collected",
    "CpuTimes",
    "HostCapacity",
    "HostReading",
    "HostSample",
    "HostSource",
    "InMemorySink",
    "LibvirtSource",
    "LocalManager",
    "ProcStatError",
    "ProcStatSource",
    "ReplayExhausted",
    "ReplaySource",
    "SampleSink",
    "VmSample",
    "VmSource",
    "parse_proc_stat",
    "replay_uuid",
    "utc_now",
    "utilization_between",
    "vcpu_utilization",
]
