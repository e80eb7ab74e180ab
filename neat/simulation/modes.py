"""Simulation modes: CloudSim 4.0's semantics, quirks included, or neat's corrected ones."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    """The semantic choices on which CloudSim 4.0 and neat differ.

    Attributes
    ----------
    name : "cloudsim" or "neat"
    empty_host_cost : how PABFD prices waking a switched-off host ("idle_excluded": CloudSim
        compares against the idle power, so waking looks cheap; "full": the whole power)
    frozen_power_baseline : PABFD prices each host against its utilization at the last update,
        ignoring VMs planned onto it in the same round (CloudSim)
    overload_targets_may_be_evacuated : hosts that receive VMs from overloaded hosts may still be
        picked as underloaded in the same round (CloudSim: the exclusion is made from an empty
        list), which can move one VM twice in a round
    ram_constrains_migrations : RAM limits migrations too (CloudSim: only the initial placement,
        because a created VM requests 0 MB)
    regression : "ols" (CloudSim: weights never applied, LRR = LR) or "loess" (tricube; LRR robust)
    ceil_migration_steps : the regression horizon is ceil(migration time / interval) steps
        (CloudSim) instead of the migration time itself
    destroy_idle_vms : a VM that requests 0 MIPS at a host update (and is not migrating) is
        destroyed for the rest of the run (CloudSim: PowerDatacenter "Remove completed VMs" with
        HostDynamicWorkload.getCompletedVms, which tests getCurrentRequestedTotalMips() == 0)
    """

    name: str
    empty_host_cost: str
    frozen_power_baseline: bool
    overload_targets_may_be_evacuated: bool
    ram_constrains_migrations: bool
    regression: str
    ceil_migration_steps: bool
    destroy_idle_vms: bool


CLOUDSIM = Mode(
    name="cloudsim",
    empty_host_cost="idle_excluded",
    frozen_power_baseline=True,
    overload_targets_may_be_evacuated=True,
    ram_constrains_migrations=False,
    regression="ols",
    ceil_migration_steps=True,
    destroy_idle_vms=True,
)

NEAT = Mode(
    name="neat",
    empty_host_cost="full",
    frozen_power_baseline=False,
    overload_targets_may_be_evacuated=False,
    ram_constrains_migrations=True,
    regression="loess",
    ceil_migration_steps=False,
    destroy_idle_vms=False,
)

MODES = {m.name: m for m in (CLOUDSIM, NEAT)}
