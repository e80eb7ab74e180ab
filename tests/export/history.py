"""A small cloud's history in a service database, for the export tests.

Hosts c1, c2 (2 x 2000 MIPS, 8 GB) and g5-1 (4 x 2660, 16 GB); vm-a, vm-b on c1, vm-c on c2, vm-d
(2 vCPUs) on g5-1; six rounds of samples 300 s apart, each a few seconds late (0, 1, 2, 0, 1, 2 s:
each collector's clock). VM i at step k has utilization 0.1 * (i + 1) + 0.01 * k.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from algorithms.power import linear_power_table
from neat.config import HostProfile, ServiceConfig
from neat.db import migrate
from neat.db.records import HostInfo, VmInfo
from neat.db.store import Store

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
G5_W = [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135]
VMS = ("vm-a", "vm-b", "vm-c", "vm-d")
STEPS = 6

#: The service configuration of the cloud, as a file and as read.
CONFIG_TOML = """
[hosts]
core_mips = 2000
idle_w = 100
peak_w = 200
[[hosts.profile]]
match = "g5-*"
core_mips = 2660
power_w = [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135]
link_mbit_s = 1000
"""
CONFIG = ServiceConfig(
    profiles=(
        HostProfile(match="g5-*", core_mips=2660.0, power_w=np.array(G5_W), link_mbit_s=1000.0),
        HostProfile(core_mips=2000.0, power_w=linear_power_table(100.0, 200.0), link_mbit_s=10_000.0),
    )
)


def step(k: int, jitter_s: float = 0.0) -> datetime:
    return T0 + timedelta(seconds=300 * k + jitter_s)


def value(i: int, k: int) -> float:
    return round(0.1 * (i + 1) + 0.01 * k, 6)


def fill(url: str) -> Store:
    """Migrate the database at ``url`` and store the cloud's inventory and samples in it."""
    migrate.upgrade(url)
    db = Store.from_url(url)
    db.upsert_hosts(
        [
            HostInfo(name="c1", cpu_mips=4000.0, cores=2, ram_mb=8192),
            HostInfo(name="c2", cpu_mips=4000.0, cores=2, ram_mb=8192),
            HostInfo(name="g5-1", cpu_mips=4 * 2660.0, cores=4, ram_mb=16384),
        ],
        at=T0,
    )
    db.upsert_vms(
        [
            VmInfo(uuid="vm-a", host="c1", ram_mb=1024, vcpus=1),
            VmInfo(uuid="vm-b", host="c1", ram_mb=2048, vcpus=1),
            VmInfo(uuid="vm-c", host="c2", ram_mb=1024, vcpus=1),
            VmInfo(uuid="vm-d", host="g5-1", ram_mb=1024, vcpus=2),
        ],
        at=T0,
    )
    for k in range(STEPS):
        db.record_samples(step(k, jitter_s=k % 3), vms={vm: value(i, k) for i, vm in enumerate(VMS)})
    return db
