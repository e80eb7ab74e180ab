"""Common checks every registered VM selector and placer must pass (STYLE.md rule 13).

Plug-ins are collected by name from the entry-point groups and loaded one by one, so a plug-in that
fails to import fails its own checks only.
"""

from __future__ import annotations

import dataclasses
import math
from importlib.metadata import entry_points
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms._validation import Constraint, Interval, Nullable, Options, ParameterError, Sequence
from algorithms.base import HostTable, PlacementRequest, Placer, VmSelector, VmTable
from algorithms.registry import GROUPS, available

SELECTION = sorted(ep.name for ep in entry_points(group=GROUPS["selection"]))
PLACEMENT = sorted(ep.name for ep in entry_points(group=GROUPS["placement"]))
ALL = [("selection", name) for name in SELECTION] + [("placement", name) for name in PLACEMENT]
IDS = [f"{role}-{name}" for role, name in ALL]

CHECK_SETTINGS = settings(max_examples=50, deadline=None)

#: Besides the defaults, configurations that take other code paths.
EXTRA_CONFIGS: dict[str, list[dict[str, Any]]] = {
    "mmt": [{"tie_break": "highest_mean", "mean_steps": 1}, {"tie_break": "highest_mean", "mean_steps": 3}],
    "bfd": [{"reorder_hosts": False, "thresholds_on_woken": False}, {"cpu_threshold": 1.0, "ram_threshold": 1.0}],
    "ffd": [{"cpu_threshold": 0.8, "ram_threshold": 0.9}],
    "pabfd": [{"empty_host_cost": "idle_excluded"}],
}
SELECTION_CONFIGS: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in SELECTION] + [
    (name, config) for name in SELECTION for config in EXTRA_CONFIGS.get(name, [])
]
PLACEMENT_CONFIGS: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in PLACEMENT] + [
    (name, config) for name in PLACEMENT for config in EXTRA_CONFIGS.get(name, [])
]


def config_ids(configs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name + "".join(f"-{k}={v}" for k, v in config.items()) for name, config in configs]


SELECTION_IDS = config_ids(SELECTION_CONFIGS)
PLACEMENT_IDS = config_ids(PLACEMENT_CONFIGS)


def load(role: str, name: str) -> type[Any]:
    """The class registered as ``name`` in ``role``, imported on its own."""
    (ep,) = (ep for ep in entry_points(group=GROUPS[role]) if ep.name == name)
    cls: type[Any] = ep.load()
    return cls


def invalid_values(constraint: Constraint) -> list[Any]:
    """Values ``constraint`` must reject."""
    if isinstance(constraint, Nullable):
        return invalid_values(constraint.inner)
    if isinstance(constraint, Options):
        return ["no-such-option"]
    if isinstance(constraint, Sequence):
        return [(), ("x",)]
    values: list[Any] = ["a string"]
    if math.isfinite(constraint.low):
        values.append(constraint.low - 1 if constraint.closed in ("both", "left") else constraint.low)
    if math.isfinite(constraint.high):
        values.append(constraint.high + 1 if constraint.closed in ("both", "right") else constraint.high)
    if constraint.kind == "int":
        values.append(float(max(constraint.low, 0)) + 1.5)
    return values


def read_only(record: Any) -> dict[str, np.ndarray]:
    """Make every array field of ``record`` read-only; return copies to compare with afterwards."""
    copies = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if isinstance(value, np.ndarray):
            copies[field.name] = value.copy()
            value.flags.writeable = False
    return copies


def assert_untouched(record: Any, copies: dict[str, np.ndarray]) -> None:
    for name, copy in copies.items():
        np.testing.assert_array_equal(getattr(record, name), copy, err_msg=name)


# --- Registry and parameter table ----------------------------------------------------------------


@pytest.mark.parametrize("role", ["selection", "placement"])
def test_registry_lists_every_entry_point(role: str) -> None:
    names = SELECTION if role == "selection" else PLACEMENT
    assert list(available(role)) == names


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_default_construction_and_role(role: str, name: str) -> None:
    plugin = load(role, name)()
    assert isinstance(plugin, VmSelector if role == "selection" else Placer)
    assert dataclasses.is_dataclass(plugin)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plugin.__setattr__("x", 1)


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_parameter_table_matches_fields(role: str, name: str) -> None:
    cls = load(role, name)
    assert set(cls.PARAMETERS) == {f.name for f in dataclasses.fields(cls)}
    for field in dataclasses.fields(cls):
        assert field.kw_only, field.name
        assert cls.PARAMETERS[field.name].accepts(getattr(cls(), field.name)), field.name


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_invalid_parameters_name_owner_parameter_range_and_value(role: str, name: str) -> None:
    cls = load(role, name)
    for parameter, constraint in cls.PARAMETERS.items():
        for value in invalid_values(constraint):
            with pytest.raises(ParameterError) as info:
                cls(**{parameter: value})
            message = str(info.value)
            assert cls.__name__ in message
            assert repr(parameter) in message
            assert constraint.describe() in message
            assert repr(value) in message


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_percentage_parameters_are_flagged(role: str, name: str) -> None:
    cls = load(role, name)
    for parameter, constraint in cls.PARAMETERS.items():
        if isinstance(constraint, Interval) and constraint.kind == "float" and constraint.high <= 1.0:
            with pytest.raises(ParameterError, match="percentage"):
                cls(**{parameter: 80.0})


# --- Selection -----------------------------------------------------------------------------------


def select(selector: VmSelector, vms: VmTable, hosts: np.ndarray, seed: int = 0) -> np.ndarray:
    return selector.select(vms, hosts, np.random.default_rng(seed))


@st.composite
def selection_inputs(draw: st.DrawFn) -> tuple[VmTable, np.ndarray]:
    """A few hosts and VMs with tied RAM and CPU, short NaN-padded histories, VMs on no host."""
    n_hosts = draw(st.integers(1, 4))
    n_vms = draw(st.integers(0, 9))
    window = draw(st.integers(0, 6))
    vm = st.lists
    host = draw(vm(st.integers(-1, n_hosts - 1), min_size=n_vms, max_size=n_vms))
    ram = draw(vm(st.sampled_from([256.0, 512.0, 1024.0]), min_size=n_vms, max_size=n_vms))
    cpu = draw(vm(st.sampled_from([0.0, 100.0, 250.0]), min_size=n_vms, max_size=n_vms))
    capacity = draw(vm(st.sampled_from([500.0, 1000.0]), min_size=n_vms, max_size=n_vms))
    n_valid = draw(vm(st.integers(0, window), min_size=n_vms, max_size=n_vms))
    value = st.one_of(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]), st.floats(0.0, 1.0))
    flat = draw(vm(value, min_size=n_vms * window, max_size=n_vms * window))
    history = np.array(flat, dtype=np.float64).reshape(n_vms, window)
    n = np.array(n_valid, dtype=np.intp)
    history[np.arange(window)[None, :] < (window - n)[:, None]] = np.nan
    chosen = np.array(draw(vm(st.booleans(), min_size=n_hosts, max_size=n_hosts)), dtype=np.bool_)
    table = VmTable(
        host=np.array(host, dtype=np.intp),
        cpu_mips=np.array(cpu),
        capacity_mips=np.array(capacity),
        ram_mb=np.array(ram),
        history=history,
        n_valid=n,
    )
    return table, chosen


def sample_vms(seed: int = 0) -> tuple[VmTable, np.ndarray]:
    """Four hosts (one empty, one not chosen), ten VMs, histories of 6 steps, one VM on no host."""
    rng = np.random.default_rng(seed)
    n = np.array([6, 6, 5, 6, 6, 3, 6, 6, 2, 6], dtype=np.intp)
    history = rng.random((10, 6))
    history[np.arange(6)[None, :] < (6 - n)[:, None]] = np.nan
    table = VmTable(
        host=np.array([0, 0, 0, 1, 1, 1, 2, 2, -1, 0], dtype=np.intp),
        cpu_mips=rng.integers(0, 3, 10).astype(np.float64) * 100.0,
        capacity_mips=np.full(10, 1000.0),
        ram_mb=rng.choice([512.0, 1024.0], 10),
        history=history,
        n_valid=n,
    )
    return table, np.array([True, True, False, True])


@pytest.mark.parametrize(("name", "config"), SELECTION_CONFIGS, ids=SELECTION_IDS)
def test_selection_output_determinism_and_read_only_inputs(name: str, config: dict[str, Any]) -> None:
    selector = load("selection", name)(**config)
    vms, hosts = sample_vms()
    copies = read_only(vms)
    hosts_copy = hosts.copy()
    hosts.flags.writeable = False
    result = select(selector, vms, hosts, seed=5)
    assert result.dtype == np.intp and result.shape == hosts.shape
    np.testing.assert_array_equal(select(selector, vms, hosts, seed=5), result)
    assert_untouched(vms, copies)
    np.testing.assert_array_equal(hosts, hosts_copy)
    assert result[2] == -1 and result[3] == -1  # not chosen; chosen but empty


@pytest.mark.parametrize(("name", "config"), SELECTION_CONFIGS, ids=SELECTION_IDS)
def test_selection_of_no_vms(name: str, config: dict[str, Any]) -> None:
    selector = load("selection", name)(**config)
    empty = VmTable(
        host=np.zeros(0, dtype=np.intp),
        cpu_mips=np.zeros(0),
        capacity_mips=np.zeros(0),
        ram_mb=np.zeros(0),
        history=np.zeros((0, 3)),
        n_valid=np.zeros(0, dtype=np.intp),
    )
    assert select(selector, empty, np.array([True, False])).tolist() == [-1, -1]


@pytest.mark.parametrize(("name", "config"), SELECTION_CONFIGS, ids=SELECTION_IDS)
def test_batched_selection_equals_host_by_host(name: str, config: dict[str, Any]) -> None:
    selector = load("selection", name)(**config)

    @CHECK_SETTINGS
    @given(selection_inputs(), st.integers(0, 2**32 - 1))
    def check(inputs: tuple[VmTable, np.ndarray], seed: int) -> None:
        vms, hosts = inputs
        batched = select(selector, vms, hosts, seed)
        assert batched.dtype == np.intp and batched.shape == hosts.shape
        for h in range(hosts.size):
            if not hosts[h]:
                assert batched[h] == -1
                continue
            alone = np.zeros_like(hosts)
            alone[h] = True
            single = select(selector, vms, alone, seed)
            assert single[h] == batched[h], h
            assert (np.delete(single, h) == -1).all()
            if batched[h] >= 0:
                assert vms.host[batched[h]] == h
            elif name != "none":
                assert not (vms.host == h).any(), "a host with VMs must give one up"

    check()


# --- Placement -----------------------------------------------------------------------------------


@st.composite
def placement_inputs(draw: st.DrawFn) -> tuple[HostTable, PlacementRequest]:
    """A few hosts of mixed core and total sizes, partly used, some asleep or excluded."""
    n_hosts = draw(st.integers(1, 5))
    n_vms = draw(st.integers(0, 7))
    hosts_of = st.lists
    cores = np.array(draw(hosts_of(st.integers(1, 4), min_size=n_hosts, max_size=n_hosts)))
    pe = np.array(draw(hosts_of(st.sampled_from([1000.0, 1860.0, 2660.0]), min_size=n_hosts, max_size=n_hosts)))
    ram = np.array(draw(hosts_of(st.sampled_from([2048.0, 4096.0]), min_size=n_hosts, max_size=n_hosts)))
    fraction = st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0])
    used_cpu = np.array(draw(hosts_of(fraction, min_size=n_hosts, max_size=n_hosts))) * cores * pe
    used_ram = np.array(draw(hosts_of(fraction, min_size=n_hosts, max_size=n_hosts))) * ram
    active = np.array(draw(hosts_of(st.booleans(), min_size=n_hosts, max_size=n_hosts)), dtype=np.bool_)
    allowed = np.array(draw(hosts_of(st.booleans(), min_size=n_hosts, max_size=n_hosts)), dtype=np.bool_)
    used_cpu[~active] = 0.0
    used_ram[~active] = 0.0
    vm_cpu = draw(
        hosts_of(st.sampled_from([0.0, 250.0, 500.0, 1000.0, 2000.0, 2500.0]), min_size=n_vms, max_size=n_vms)
    )
    vm_ram = draw(hosts_of(st.sampled_from([0.0, 613.0, 870.0, 1740.0]), min_size=n_vms, max_size=n_vms))
    power = (
        np.linspace(86.0, 117.0, 11)
        + np.array(draw(hosts_of(st.sampled_from([0.0, 10.0]), min_size=n_hosts, max_size=n_hosts)))[:, None]
    )
    hosts = HostTable(cpu_mips=cores * pe, pe_mips=pe, ram_mb=ram, power_w=power)
    request = PlacementRequest(
        vm_cpu_mips=np.array(vm_cpu, dtype=np.float64),
        vm_ram_mb=np.array(vm_ram, dtype=np.float64),
        used_cpu_mips=used_cpu,
        used_ram_mb=used_ram,
        active=active,
        allowed=allowed,
    )
    return hosts, request


def assert_capacity_respected(hosts: HostTable, request: PlacementRequest, targets: np.ndarray) -> None:
    """Apply the placements in VM order: every target is allowed and has room on a core, in total
    CPU and in RAM at that point."""
    n_hosts = hosts.cpu_mips.size
    assert targets.dtype == np.intp and targets.shape == request.vm_cpu_mips.shape
    assert ((targets >= -1) & (targets < n_hosts)).all()
    used_cpu = request.used_cpu_mips.copy()
    used_ram = request.used_ram_mb.copy()
    for vm, host in enumerate(targets):
        if host < 0:
            continue
        assert request.allowed[host], (vm, host)
        cpu, ram = request.vm_cpu_mips[vm], request.vm_ram_mb[vm]
        assert cpu <= hosts.pe_mips[host], (vm, host)
        used_cpu[host] += cpu
        used_ram[host] += ram
        assert used_cpu[host] <= hosts.cpu_mips[host] * (1 + 1e-12), (vm, host)
        assert used_ram[host] <= hosts.ram_mb[host] * (1 + 1e-12), (vm, host)


@pytest.mark.parametrize(("name", "config"), PLACEMENT_CONFIGS, ids=PLACEMENT_IDS)
def test_placement_respects_capacity(name: str, config: dict[str, Any]) -> None:
    placer = load("placement", name)(**config)

    @CHECK_SETTINGS
    @given(placement_inputs())
    def check(inputs: tuple[HostTable, PlacementRequest]) -> None:
        hosts, request = inputs
        assert_capacity_respected(hosts, request, placer.place(hosts, request))

    check()


@pytest.mark.parametrize(("name", "config"), PLACEMENT_CONFIGS, ids=PLACEMENT_IDS)
def test_placement_output_determinism_and_read_only_inputs(name: str, config: dict[str, Any]) -> None:
    placer = load("placement", name)(**config)
    rng = np.random.default_rng(11)
    n_hosts, n_vms = 6, 5
    pe = rng.choice([1860.0, 2660.0], n_hosts)
    hosts = HostTable(
        cpu_mips=2 * pe, pe_mips=pe, ram_mb=np.full(n_hosts, 4096.0), power_w=np.tile(np.linspace(86, 117, 11), (6, 1))
    )
    request = PlacementRequest(
        vm_cpu_mips=rng.choice([250.0, 500.0, 1000.0, 1860.0], n_vms),
        vm_ram_mb=rng.choice([613.0, 870.0, 1740.0], n_vms),
        used_cpu_mips=rng.uniform(0.0, 0.5, n_hosts) * 2 * pe,
        used_ram_mb=rng.uniform(0.0, 0.5, n_hosts) * 4096.0,
        active=np.array([True, True, True, False, False, True]),
        allowed=np.array([True, True, False, True, True, True]),
    )
    copies = {**read_only(hosts), **{f"request.{k}": v for k, v in read_only(request).items()}}
    targets = placer.place(hosts, request)
    assert targets.dtype == np.intp and targets.shape == (n_vms,)
    np.testing.assert_array_equal(placer.place(hosts, request), targets)
    assert_untouched(hosts, {k: v for k, v in copies.items() if not k.startswith("request.")})
    assert_untouched(request, {k.removeprefix("request."): v for k, v in copies.items() if k.startswith("request.")})
    assert_capacity_respected(hosts, request, targets)
    assert (targets >= 0).any()
