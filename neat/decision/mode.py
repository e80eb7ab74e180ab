"""Simulation semantics: CloudSim 4.0's, quirks included, or neat's corrected ones.

Every difference between the two lives here, as data (:class:`Mode`'s fields) and as the few
methods that apply it: the plug-in defaults a mode gives (:meth:`Mode.defaults_for`), a host
history's length (:meth:`Mode.history_length`), the detectors' migration horizon
(:meth:`Mode.migration_steps`), the RAM a migration needs (:meth:`Mode.migration_ram_mb`) and the
power baseline PABFD prices against (:meth:`Mode.pricing_baseline`). Nothing else tests a flag but
the round's underload pass and the simulator's clock (``destroy_idle_vms``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


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
    trim_leading_zeros : a host history's length is the row without its oldest zeros (CloudSim's
        MathUtil.trimZeroTail), so a host whose VMs were idle looks as if it had no history;
        neat counts every sample, a real 0 % included (``n_valid``)
    real_costs : the scenario's costs apply (migration model and energy, host power states,
        :class:`neat.scenario.Costs`); CloudSim's migrations are a single free copy and its hosts
        switch on and off instantly, for free
    """

    name: str
    empty_host_cost: str
    frozen_power_baseline: bool
    overload_targets_may_be_evacuated: bool
    ram_constrains_migrations: bool
    regression: str
    ceil_migration_steps: bool
    destroy_idle_vms: bool
    trim_leading_zeros: bool
    real_costs: bool

    def defaults_for(self, plugin: type[Any]) -> dict[str, Any]:
        """Parameter defaults this mode gives a plug-in class (explicit parameters override them).

        Any plug-in with a ``weighting`` parameter (the regressions) gets this mode's regression;
        any with an ``empty_host_cost`` parameter (PABFD) gets this mode's pricing of empty hosts.
        """
        table = getattr(plugin, "PARAMETERS", {})
        defaults: dict[str, Any] = {}
        if "weighting" in table:
            defaults["weighting"] = "none" if self.regression == "ols" else "tricube"
        if "empty_host_cost" in table:
            defaults["empty_host_cost"] = self.empty_host_cost
        return defaults

    def history_length(self, rows: FloatArray, n_valid: IntArray) -> IntArray:
        """Length of each host history ``rows`` (n_rows, window, zero-padded) that detectors see.

        ``n_valid`` (n_rows,) in neat mode; in CloudSim's, the row without its oldest zeros.
        """
        if not self.trim_leading_zeros:
            return n_valid
        return trimmed_length(rows)

    def migration_steps(self, migration_time_s: FloatArray, interval_s: float) -> FloatArray:
        """The detectors' migration horizon in steps, from migration times in seconds (any shape)."""
        steps = np.asarray(migration_time_s, dtype=np.float64) / interval_s
        return np.ceil(steps) if self.ceil_migration_steps else steps

    def migration_ram_mb(self, vm_ram_mb: FloatArray) -> FloatArray:
        """The RAM each VM needs on a migration's target: its own, or none (CloudSim)."""
        return vm_ram_mb if self.ram_constrains_migrations else np.zeros_like(vm_ram_mb)

    def pricing_baseline(self, utilization: FloatArray) -> FloatArray | None:
        """The frozen utilization PABFD prices hosts against, or None to follow the placements."""
        return utilization if self.frozen_power_baseline else None


def trimmed_length(rows: FloatArray) -> IntArray:
    """Length of each row (n_rows, window) once its oldest zeros are dropped; shape (n_rows,)."""
    nonzero = rows != 0
    window = rows.shape[1]
    first = np.argmax(nonzero, axis=1)
    result: IntArray = np.where(nonzero.any(axis=1), window - first, 0).astype(np.intp)
    return result


CLOUDSIM = Mode(
    name="cloudsim",
    empty_host_cost="idle_excluded",
    frozen_power_baseline=True,
    overload_targets_may_be_evacuated=True,
    ram_constrains_migrations=False,
    regression="ols",
    ceil_migration_steps=True,
    destroy_idle_vms=True,
    trim_leading_zeros=True,
    real_costs=False,
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
    trim_leading_zeros=False,
    real_costs=True,
)

MODES = {m.name: m for m in (CLOUDSIM, NEAT)}
