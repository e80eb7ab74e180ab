"""How long a live migration takes and what it moves: the model the simulator runs and the detectors plan with.

Pre-copy live migration (Clark et al., "Live migration of virtual machines", NSDI 2005): the VM's
RAM is copied while it runs, then the pages it dirtied meanwhile, round after round, until what is
left can be copied within the allowed downtime (or a round limit is reached), when the VM is paused
and the rest copied. With RAM ``V0``, a copy rate ``R`` and a dirtying rate ``D``, round ``i``
moves ``V0 (D/R)^i`` (at most ``V0``); the migration lasts the whole volume over ``R``
(Akoush et al., "Predicting the performance of virtual machine migration", MASCOTS 2010).

CloudSim's model (Beloglazov & Buyya, CCPE 24(13), 2012, section 7) is the case ``D = 0``: the RAM
once over half the link, ``RAM / (bandwidth / 2)`` (870 MB over 1 Gbit/s: 13.92 s), computed here
in CloudSim's order of operations so that simulations reproduce its timeline.

The energy of a migration is linear in the data moved (Liu et al., "Performance and energy modeling
for live migration of virtual machines", HPDC 2011): ``E = alpha * MB + beta``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from neat.constants import MBIT_PER_MB

FloatArray = NDArray[np.float64]

#: Share of a host's link a live migration gets (CloudSim: half).
MIGRATION_BANDWIDTH_SHARE = 0.5


@dataclass(frozen=True)
class MigrationModel:
    """Pre-copy live migration.

    Attributes
    ----------
    bandwidth_share : share of the slower host's link the copy gets (CloudSim: 0.5)
    dirty_rate_mb_s : pages a VM at 100 % CPU dirties per second, scaled by its utilization
        (0: one copy of the RAM, CloudSim's model)
    max_downtime_s : the last round is the one that fits this pause (KVM's default, 0.3 s)
    max_rounds : pre-copy rounds before the VM is paused whatever is left (Xen: 30)
    energy_j_per_mb, energy_j : the energy of a migration, ``energy_j_per_mb * MB moved + energy_j``
        (0 and 0: free, as in CloudSim)
    resolution_s : durations are rounded up to a multiple of this (0: exact), the resolution of the
        clouds' migration records; it also keeps a simulated round's completion instants few
    """

    bandwidth_share: float = MIGRATION_BANDWIDTH_SHARE
    dirty_rate_mb_s: float = 0.0
    max_downtime_s: float = 0.3
    max_rounds: int = 30
    energy_j_per_mb: float = 0.0
    energy_j: float = 0.0
    resolution_s: float = 0.0

    def transfer(
        self, ram_mb: ArrayLike, link_mbit_s: ArrayLike, utilization: ArrayLike = 0.0
    ) -> tuple[FloatArray, FloatArray]:
        """Seconds each migration lasts and MB it moves, for VMs of ``ram_mb`` at ``utilization`` over
        links of ``link_mbit_s`` (shapes broadcast)."""
        ram = np.asarray(ram_mb, dtype=np.float64)
        link = np.asarray(link_mbit_s, dtype=np.float64)
        if self.dirty_rate_mb_s == 0:
            # CloudSim's arithmetic, operation for operation: RAM in Mbit over the migration's share
            duration: FloatArray = ram * MBIT_PER_MB * (1.0 / self.bandwidth_share) / link
            return duration, np.broadcast_to(ram, duration.shape).astype(np.float64)
        rate_mb_s = link * self.bandwidth_share / MBIT_PER_MB
        ratio = np.asarray(utilization, dtype=np.float64) * self.dirty_rate_mb_s / rate_mb_s
        left_mb = rate_mb_s * self.max_downtime_s  # what may be copied while the VM is paused
        ram, ratio, left_mb = np.broadcast_arrays(ram, ratio, left_mb)
        moved = ram.copy()
        volume = ram.copy()
        for _ in range(self.max_rounds):  # vectorized over VMs; a few rounds in practice
            going = volume > left_mb
            if not going.any():
                break
            volume = np.where(going, np.minimum(volume * ratio, ram), 0.0)
            moved += volume  # the last round's volume is the one copied while the VM is paused
        seconds = moved / rate_mb_s
        if self.resolution_s > 0:
            seconds = np.ceil(seconds / self.resolution_s) * self.resolution_s
        return seconds, moved

    def transfer_one(self, ram_mb: float, link_mbit_s: float, utilization: float) -> tuple[float, float]:
        """:meth:`transfer` of one migration in Python floats (the same arithmetic, for a caller that
        starts migrations one by one)."""
        if self.dirty_rate_mb_s == 0:
            return ram_mb * MBIT_PER_MB * (1.0 / self.bandwidth_share) / link_mbit_s, ram_mb
        rate_mb_s = link_mbit_s * self.bandwidth_share / MBIT_PER_MB
        ratio = utilization * self.dirty_rate_mb_s / rate_mb_s
        left_mb = rate_mb_s * self.max_downtime_s
        moved = volume = ram_mb
        for _ in range(self.max_rounds):
            if volume <= left_mb:
                break
            volume = min(volume * ratio, ram_mb)
            moved += volume
        seconds = moved / rate_mb_s
        if self.resolution_s > 0:
            seconds = math.ceil(seconds / self.resolution_s) * self.resolution_s
        return seconds, moved

    def duration_s(self, ram_mb: ArrayLike, link_mbit_s: ArrayLike, utilization: ArrayLike = 0.0) -> FloatArray:
        """Seconds each migration lasts (see :meth:`transfer`)."""
        return self.transfer(ram_mb, link_mbit_s, utilization)[0]

    def energy_of(self, moved_mb: ArrayLike) -> FloatArray:
        """Joules of migrations that moved ``moved_mb``."""
        return np.asarray(moved_mb, dtype=np.float64) * self.energy_j_per_mb + self.energy_j


#: CloudSim's model: one copy of the RAM over half the link, no energy of its own.
CLOUDSIM_MIGRATION = MigrationModel()
#: Pre-copy with dirtying and the energy of the data moved (see the module's references).
PRECOPY_MIGRATION = MigrationModel(dirty_rate_mb_s=20.0, energy_j_per_mb=0.512, energy_j=20.165, resolution_s=1.0)


def migration_time_s(ram_mb: ArrayLike, link_mbit_s: ArrayLike) -> FloatArray:
    """Seconds to migrate VMs of ``ram_mb`` over links of ``link_mbit_s`` with CloudSim's model."""
    return CLOUDSIM_MIGRATION.duration_s(ram_mb, link_mbit_s)
