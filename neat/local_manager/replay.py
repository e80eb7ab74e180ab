"""A source that replays recorded traces instead of reading libvirt and /proc/stat.

One :class:`neat.traces.TraceSet` row per VM; every call gives the next step (one sample per call),
so a local manager can be demonstrated, or tested, on PlanetLab days without a hypervisor. It is
both a host source and a VM source: :meth:`ReplaySource.read_host` and :meth:`ReplaySource.read_vms`
each keep their own position, so they stay in step when each is called once per interval.

The host's utilization is the VMs' summed demand over its capacity::

    utilization[t] = min(1, sum_i u[i, t] x vcpus x core_mhz / cpu_mhz)

With the default capacity (one core of ``core_mhz`` per vCPU) it is the mean of the VMs.
"""

from __future__ import annotations

import logging
import uuid as uuidlib

import numpy as np
from numpy.typing import NDArray

from algorithms._validation import Interval, check_value
from neat.local_manager.loop import HostCapacity, HostReading, VmSample
from neat.traces import TraceSet

log = logging.getLogger(__name__)

#: clock of one replayed core, when the capacity is not given
REPLAY_CORE_MHZ = 2000.0
#: namespace of the UUIDs made from trace names (uuid5), so that a VM keeps its UUID across runs
REPLAY_NAMESPACE = uuidlib.UUID("6f1c3d2a-5b7e-4c1a-9d3f-0e2b4a6c8d10")


class ReplayExhausted(RuntimeError):
    """The trace has no step left and ``wrap`` is off."""


def replay_uuid(name: str) -> str:
    """The stable UUID of a replayed VM named ``name``."""
    return str(uuidlib.uuid5(REPLAY_NAMESPACE, name))


class ReplaySource:
    """Replays a trace set, one step per call.

    Parameters
    ----------
    traces : utilization of shape (n_vms, n_steps), one row per VM
    vcpus : vCPUs of every VM
    core_mhz : MHz of one vCPU (and of one host core, for the default capacity)
    capacity : the host's capacity; default ``n_vms x vcpus`` cores of ``core_mhz``
    wrap : start again at the first step after the last (the CPU times keep growing); if False,
        a call past the end raises :class:`ReplayExhausted`
    """

    def __init__(
        self,
        traces: TraceSet,
        *,
        vcpus: int = 1,
        core_mhz: float = REPLAY_CORE_MHZ,
        capacity: HostCapacity | None = None,
        wrap: bool = True,
    ) -> None:
        check_value("ReplaySource", "vcpus", vcpus, Interval("int", 1, np.inf))
        check_value("ReplaySource", "core_mhz", core_mhz, Interval("float", 0.0, np.inf, "neither"))
        if traces.n_vms < 1 or traces.n_steps < 1:
            raise ValueError(
                f"The 'traces' parameter of ReplaySource must hold at least one VM and one step. "
                f"Got shape {traces.utilization.shape} from {traces.source}."
            )
        self.traces = traces
        self.vcpus = vcpus
        self.capacity = capacity or HostCapacity(
            cpu_mhz=float(core_mhz) * traces.n_vms * vcpus, cpu_cores=traces.n_vms * vcpus
        )
        self.wrap = wrap
        self.uuids = tuple(replay_uuid(name) for name in traces.names)
        u = traces.utilization
        demand = u.sum(axis=0) * vcpus * float(core_mhz) / self.capacity.cpu_mhz
        over = int(np.count_nonzero(demand > 1.0))
        if over:
            log.warning("%s: the VMs ask more than the host's capacity at %d steps; clipped to 1", traces.source, over)
        self._host: NDArray[np.float64] = np.minimum(demand, 1.0)
        # CPU time at the end of each step, and over one pass of the trace
        spent_ns = np.rint(u * (traces.interval_s * vcpus * 1e9)).astype(np.int64)
        self._cpu_time_ns: NDArray[np.int64] = np.cumsum(spent_ns, axis=1)
        self._host_step = 0
        self._vm_step = 0

    @property
    def position(self) -> tuple[int, int]:
        """The next steps (host, VMs) to be replayed, counted from the start over all passes."""
        return self._host_step, self._vm_step

    def _index(self, step: int) -> tuple[int, int]:
        n = self.traces.n_steps
        if step >= n and not self.wrap:
            raise ReplayExhausted(f"{self.traces.source}: all {n} steps were replayed (wrap is off)")
        return divmod(step, n)

    def read_host(self) -> HostReading:
        """The host's utilization at the next step."""
        _, t = self._index(self._host_step)
        self._host_step += 1
        return HostReading(float(self._host[t]), self.capacity.cpu_mhz, self.capacity.cpu_cores)

    def read_vms(self) -> list[VmSample]:
        """Every VM's utilization at the next step."""
        lap, t = self._index(self._vm_step)
        self._vm_step += 1
        cpu_time = self._cpu_time_ns[:, t] + lap * self._cpu_time_ns[:, -1]
        u = self.traces.utilization[:, t]
        return [VmSample(uuid, float(u[i]), int(cpu_time[i]), self.vcpus) for i, uuid in enumerate(self.uuids)]
