"""The safety rails (:func:`neat.decision.plan.plan` and :func:`neat.decision.plan.allowed`), one small
inventory at a time, with hand-built decisions.

Hosts c1..c4 are indices 0..3 and VMs vm1.. are 0..; a move is (VM, target, group): group
:data:`OVERLOAD_RELIEF` for a move off an overloaded host, else the evacuated host's index.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from algorithms.base import HostTable
from algorithms.power import linear_power_table
from neat.decision.inputs import OVERLOAD_RELIEF, Decision, DecisionInputs
from neat.decision.limits import SERVICE_DEFAULTS, UNLIMITED, Limits
from neat.decision.plan import allowed, plan

C1, C2, C3, C4 = range(4)
HOST_NAMES = ["c1", "c2", "c3", "c4"]
RELIEF = OVERLOAD_RELIEF
NOW_S = 1_767_268_800.0  # 2026-01-01 12:00 UTC


def inputs(vm_host: list[int], *, limits: Limits = UNLIMITED, **masks) -> DecisionInputs:
    """Four hosts; VMs on ``vm_host``; the masks from :func:`allowed` with ``limits`` and ``masks``."""
    n_hosts, n_vms = len(HOST_NAMES), len(vm_host)
    movable, source_ok, target_ok = allowed(
        limits, host_names=HOST_NAMES, vm_names=[f"vm{i + 1}" for i in range(n_vms)], now_s=NOW_S, **masks
    )
    return DecisionInputs(
        hosts=HostTable(
            cpu_mips=np.full(n_hosts, 8000.0),
            pe_mips=np.full(n_hosts, 2000.0),
            ram_mb=np.full(n_hosts, 8192.0),
            power_w=np.tile(linear_power_table(100.0, 200.0), (n_hosts, 1)),
        ),
        vm_host=np.array(vm_host, dtype=np.intp),
        vm_mips=np.full(n_vms, 2000.0),
        vm_ram_mb=np.full(n_vms, 512.0),
        vm_history=np.full((n_vms, 3), np.nan),
        vm_n_valid=np.zeros(n_vms, dtype=np.intp),
        vm_migration_time_s=np.zeros(n_vms),
        interval_s=300.0,
        vm_movable=movable,
        host_source_allowed=source_ok,
        host_target_allowed=target_ok,
    )


def decision(data: DecisionInputs, *moves: tuple[int, int, int]) -> Decision:
    """Moves (VM, target, group) in decision order, each from its VM's host."""
    vms = np.array([m[0] for m in moves], dtype=np.intp)
    n = data.n_hosts
    return Decision(
        vms=vms,
        sources=data.vm_host[vms],
        targets=np.array([m[1] for m in moves], dtype=np.intp),
        groups=np.array([m[2] for m in moves], dtype=np.intp),
        overloaded=np.zeros(n, dtype=np.bool_),
        underloaded=np.zeros(n, dtype=np.bool_),
        unrelieved=np.zeros(n, dtype=np.bool_),
    )


def budget(n: int) -> Limits:
    return replace(UNLIMITED, max_migrations_per_cycle=n)


#: Both ways the rails are applied: all at once, and move by move (any anti-affinity group turns the
#: latter on; a group of one VM constrains nothing).
BOTH_PATHS = pytest.mark.parametrize("groups", [(), (np.array([0], dtype=np.intp),)], ids=["vectorized", "one-by-one"])


def dropped(result) -> list[tuple[int, str]]:
    return list(zip(result.dropped_vms.tolist(), result.dropped_reasons, strict=True))


# -- the old planner's rules ------------------------------------------------------------------
@BOTH_PATHS
def test_moves_in_order_then_disable_of_the_emptied_host(groups):
    """vm1, vm2 leave c1 for c2: two migrations, then c1 (now empty) is disabled; c3 keeps vm3."""
    data = inputs([C1, C1, C3])
    result = plan(decision(data, (0, C2, C1), (1, C2, C1)), data, UNLIMITED, anti_affinity=groups)
    assert result.vms.tolist() == [0, 1]
    assert result.sources.tolist() == [C1, C1] and result.targets.tolist() == [C2, C2]
    assert result.groups.tolist() == [C1, C1]
    assert result.disables.tolist() == [C1]
    assert result.wakes.tolist() == [] and dropped(result) == []
    assert result.n_migrations == 2


@BOTH_PATHS
def test_a_host_that_keeps_a_vm_is_not_disabled(groups):
    data = inputs([C1, C1])
    result = plan(decision(data, (0, C2, RELIEF)), data, UNLIMITED, anti_affinity=groups)
    assert result.vms.tolist() == [0] and result.disables.tolist() == []


def test_disables_are_in_order_of_first_use_and_a_host_filled_back_is_not_disabled():
    """c3 and c2 are emptied (c3 first); c1 is emptied but receives vm4: it stays."""
    data = inputs([C1, C2, C3, C4])
    result = plan(decision(data, (2, C4, C3), (1, C4, C2), (0, C4, RELIEF), (3, C1, RELIEF)), data, UNLIMITED)
    assert result.disables.tolist() == [C3, C2]


def test_disabled_down_and_excluded_hosts_are_neither_sources_nor_targets():
    """c1 disabled and c2 down (not usable), c4 excluded: only moves from and to c3 could pass."""
    limits = replace(UNLIMITED, exclude_hosts=frozenset({"c4"}))
    data = inputs([C1, C3, C3, C4], limits=limits, host_usable=np.array([False, False, True, True]))
    assert data.host_source_allowed.tolist() == [False, False, True, False]
    assert data.host_target_allowed.tolist() == [False, False, True, False]
    result = plan(decision(data, (0, C3, RELIEF), (1, C2, RELIEF), (3, C3, RELIEF), (2, C4, RELIEF)), data, limits)
    assert result.n_migrations == 0 and result.disables.tolist() == []
    assert result.dropped_vms.tolist() == [0, 1, 3, 2]
    reasons = result.dropped_reasons
    assert "its host is excluded, disabled or down" in reasons[0]
    assert "the target is excluded, disabled or down" in reasons[1]
    assert "its host" in reasons[2] and "the target" in reasons[3]


def test_excluded_and_tagged_vms_stay():
    """vm1 excluded by name, vm2 tagged with the metadata key: neither moves; vm3 does."""
    limits = replace(UNLIMITED, exclude_vms=frozenset({"vm1"}))
    data = inputs([C1, C1, C1], limits=limits, vm_tagged=np.array([False, True, False]))
    assert data.vm_movable.tolist() == [False, False, True]
    result = plan(decision(data, (0, C2, RELIEF), (1, C2, RELIEF), (2, C2, RELIEF)), data, limits)
    assert result.vms.tolist() == [2]
    assert [v for v, _ in dropped(result)] == [0, 1]
    assert all("the VM may not move" in why and "excluded" in why for _, why in dropped(result))


def test_cooldown_keeps_a_recently_moved_vm():
    """Moved 10 minutes ago with a 1 h cooldown: stays. Moved 2 h ago, or never: goes."""
    limits = replace(UNLIMITED, vm_cooldown_s=3600.0)
    last = np.array([NOW_S - 600.0, NOW_S - 7200.0, np.nan])
    data = inputs([C1, C1, C1], limits=limits, vm_last_migrated_s=last)
    assert data.vm_movable.tolist() == [False, True, True]
    result = plan(decision(data, (0, C2, RELIEF), (1, C2, RELIEF), (2, C2, RELIEF)), data, limits)
    assert result.vms.tolist() == [1, 2]
    assert dropped(result)[0][0] == 0 and "cooling down" in dropped(result)[0][1]


def test_a_busy_vm_stays():
    data = inputs([C1, C1], vm_busy=np.array([True, False]))
    result = plan(decision(data, (0, C2, RELIEF), (1, C2, RELIEF)), data, UNLIMITED)
    assert result.vms.tolist() == [1] and "busy" in result.dropped_reasons[0]


def test_anti_affinity_members_never_share_a_host():
    """vm1 and vm2 are in one group; vm2 already runs on c2, so vm1 may not go there (c3 is fine)."""
    data = inputs([C1, C2])
    group = (np.array([0, 1], dtype=np.intp),)
    refused = plan(decision(data, (0, C2, RELIEF)), data, UNLIMITED, anti_affinity=group)
    assert refused.n_migrations == 0 and "anti-affinity" in refused.dropped_reasons[0]
    assert plan(decision(data, (0, C3, RELIEF)), data, UNLIMITED, anti_affinity=group).vms.tolist() == [0]


def test_anti_affinity_sees_moves_planned_earlier_in_the_cycle():
    data = inputs([C1, C2])
    group = (np.array([0, 1], dtype=np.intp),)
    result = plan(decision(data, (0, C3, RELIEF), (1, C3, RELIEF)), data, UNLIMITED, anti_affinity=group)
    assert result.vms.tolist() == [0]
    assert "anti-affinity" in result.dropped_reasons[0]


def test_anti_affinity_sees_a_member_leaving_the_target():
    """vm2 leaves c2 first, so vm1 may then go to c2."""
    data = inputs([C1, C2])
    group = (np.array([0, 1], dtype=np.intp),)
    result = plan(decision(data, (1, C3, RELIEF), (0, C2, RELIEF)), data, UNLIMITED, anti_affinity=group)
    assert result.vms.tolist() == [1, 0]


def test_an_evacuation_with_an_anti_affinity_conflict_is_dropped_whole():
    """Emptying c1 would put vm2 next to vm3 (same group) on c2: neither vm1 nor vm2 moves."""
    data = inputs([C1, C1, C2])
    group = (np.array([1, 2], dtype=np.intp),)
    result = plan(decision(data, (0, C2, C1), (1, C2, C1)), data, UNLIMITED, anti_affinity=group)
    assert result.n_migrations == 0 and result.disables.tolist() == []
    assert [v for v, _ in dropped(result)] == [0, 1]
    assert all("part of an evacuation left out: anti-affinity" in why for _, why in dropped(result))


@BOTH_PATHS
def test_at_most_n_migrations_per_cycle(groups):
    data = inputs([C1, C1, C1])
    result = plan(
        decision(data, (0, C2, RELIEF), (1, C2, RELIEF), (2, C2, RELIEF)), data, budget(2), anti_affinity=groups
    )
    assert result.vms.tolist() == [0, 1]
    assert result.disables.tolist() == []  # vm3 is still on c1
    assert dropped(result) == [(2, "over the limit of 2 migrations per cycle")]


def test_a_move_to_its_own_host_is_dropped():
    data = inputs([C1, C1])
    result = plan(decision(data, (0, C1, RELIEF), (1, C2, RELIEF)), data, UNLIMITED)
    assert result.vms.tolist() == [1]
    assert dropped(result) == [(0, "already on the target")]


def test_without_masks_every_move_may_pass():
    """Inputs without masks (None) leave every VM movable and every host a source and a target."""
    data = replace(inputs([C1, C2]), vm_movable=None, host_source_allowed=None, host_target_allowed=None)
    result = plan(decision(data, (0, C3, RELIEF), (1, C3, RELIEF)), data, UNLIMITED)
    assert result.vms.tolist() == [0, 1] and result.disables.tolist() == [C1, C2]


# -- evacuations: whole or not at all ---------------------------------------------------------
@BOTH_PATHS
def test_an_evacuation_that_does_not_fit_the_remaining_budget_is_dropped_whole(groups):
    """Budget 3: one relief move, then emptying c2 needs 3 (dropped whole), emptying c3 needs 2 (kept)."""
    data = inputs([C1, C2, C2, C2, C3, C3])
    moves = decision(data, (0, C4, RELIEF), (1, C4, C2), (2, C4, C2), (3, C4, C2), (4, C4, C3), (5, C4, C3))
    result = plan(moves, data, budget(3), anti_affinity=groups)
    assert result.vms.tolist() == [0, 4, 5]
    assert result.groups.tolist() == [RELIEF, C3, C3]
    assert result.disables.tolist() == [C1, C3]  # c2 keeps all its VMs
    assert [v for v, _ in dropped(result)] == [1, 2, 3]
    assert all(
        why == "part of an evacuation left out: emptying host 1 needs 3 migrations, over the limit of 3 per cycle"
        for _, why in dropped(result)
    )


@BOTH_PATHS
def test_relief_comes_first_then_evacuations_while_the_budget_lasts(groups):
    """Budget 2, used up by relief moves listed after an evacuation: the evacuation is dropped."""
    data = inputs([C1, C2, C3, C3])
    moves = decision(data, (2, C4, C3), (3, C4, C3), (0, C4, RELIEF), (1, C4, RELIEF))
    result = plan(moves, data, budget(2), anti_affinity=groups)
    assert result.vms.tolist() == [0, 1]  # kept in decision order
    assert [v for v, _ in dropped(result)] == [2, 3]


@BOTH_PATHS
def test_an_evacuation_with_a_vm_that_may_not_move_is_dropped_whole(groups):
    """vm2 (on c1, being emptied) is excluded: vm1 stays too, c1 is not disabled; c2's evacuation goes on."""
    limits = replace(UNLIMITED, exclude_vms=frozenset({"vm2"}))
    data = inputs([C1, C1, C2], limits=limits)
    result = plan(decision(data, (0, C3, C1), (1, C3, C1), (2, C3, C2)), data, limits, anti_affinity=groups)
    assert result.vms.tolist() == [2] and result.disables.tolist() == [C2]
    reasons = dict(dropped(result))
    assert reasons[1].startswith("the VM may not move")
    assert reasons[0].startswith("part of an evacuation left out: the VM may not move")


@BOTH_PATHS
def test_an_evacuation_that_fits_exactly_is_kept(groups):
    data = inputs([C1, C1, C2])
    result = plan(decision(data, (0, C3, C1), (1, C3, C1), (2, C3, C2)), data, budget(3), anti_affinity=groups)
    assert result.vms.tolist() == [0, 1, 2] and result.disables.tolist() == [C1, C2]


# -- wakes ------------------------------------------------------------------------------------
@BOTH_PATHS
def test_asleep_targets_are_woken_in_order_of_first_use(groups):
    """c4 and c3 sleep: both are woken (c4 first, as used first); c2 is awake; a dropped move wakes nothing."""
    data = inputs([C1, C1, C1, C2, C2], vm_busy=np.array([False, False, False, False, True]))
    asleep = np.array([False, False, True, True])
    moves = decision(data, (0, C4, RELIEF), (1, C2, RELIEF), (2, C3, RELIEF), (3, C4, RELIEF), (4, C3, RELIEF))
    result = plan(moves, data, UNLIMITED, anti_affinity=groups, host_asleep=asleep)
    assert result.wakes.tolist() == [C4, C3]
    dropped_asleep = plan(decision(data, (4, C3, RELIEF)), data, UNLIMITED, host_asleep=asleep)
    assert dropped_asleep.wakes.tolist() == []


def test_no_wakes_without_asleep_hosts():
    data = inputs([C1])
    assert plan(decision(data, (0, C4, RELIEF)), data, UNLIMITED).wakes.tolist() == []


def test_a_target_over_its_budget_is_not_woken():
    data = inputs([C1, C1])
    result = plan(
        decision(data, (0, C2, RELIEF), (1, C3, RELIEF)),
        data,
        budget(1),
        host_asleep=np.array([False, False, True, False]),
    )
    assert result.vms.tolist() == [0] and result.wakes.tolist() == []


# -- allowed ----------------------------------------------------------------------------------
def test_allowed_with_nothing_to_exclude_allows_everything():
    movable, source, target = allowed(UNLIMITED, host_names=HOST_NAMES, vm_names=["a", "b"])
    assert movable.tolist() == [True, True]
    assert source.tolist() == target.tolist() == [True] * 4
    assert source is not target  # two masks, not one shared


def test_allowed_combines_every_exclusion():
    limits = replace(
        SERVICE_DEFAULTS, exclude_hosts=frozenset({"c2", "nowhere"}), exclude_vms=frozenset({"a"}), vm_cooldown_s=100.0
    )
    usable = np.array([True, True, False, True])
    movable, source, target = allowed(
        limits,
        host_names=HOST_NAMES,
        vm_names=["a", "b", "c", "d", "e"],
        host_usable=usable,
        vm_busy=np.array([False, True, False, False, False]),
        vm_tagged=np.array([False, False, True, False, False]),
        vm_last_migrated_s=np.array([np.nan, np.nan, np.nan, 950.0, 850.0]),
        now_s=1000.0,
    )
    assert movable.tolist() == [False, False, False, False, True]
    assert source.tolist() == target.tolist() == [True, False, False, True]
    assert usable.tolist() == [True, True, False, True]  # the caller's array is not written to


def test_no_cooldown_lets_a_vm_just_moved_go_again():
    movable, _, _ = allowed(
        UNLIMITED, host_names=HOST_NAMES, vm_names=["a"], vm_last_migrated_s=np.array([999.0]), now_s=1000.0
    )
    assert movable.tolist() == [True]
