"""How long a live migration takes: the model the simulator runs and the detectors plan with.

CloudSim's model (Beloglazov & Buyya, CCPE 24(13), 2012, section 7): a VM's RAM is copied over half
of the link's bandwidth, ``RAM / (bandwidth / 2)``; for 870 MB over 1 Gbit/s, 13.92 s.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from neat.constants import MBIT_PER_MB

#: Share of a host's link a live migration gets (CloudSim: half).
MIGRATION_BANDWIDTH_SHARE = 0.5


def migration_time_s(ram_mb: ArrayLike, link_mbit_s: ArrayLike) -> NDArray[np.float64]:
    """Seconds to migrate VMs of ``ram_mb`` over links of ``link_mbit_s`` (broadcast shapes)."""
    ram = np.asarray(ram_mb, dtype=np.float64)
    link = np.asarray(link_mbit_s, dtype=np.float64)
    result: NDArray[np.float64] = ram * MBIT_PER_MB * (1.0 / MIGRATION_BANDWIDTH_SHARE) / link
    return result
