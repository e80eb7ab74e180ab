"""Scenarios: the standard CloudSim setup, TOML files and their error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neat.decision.limits import UNLIMITED, Limits
from neat.scenario import ScenarioError, cloudsim_standard, load_scenario

G4_W = [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117]
G5_W = [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135]


# -- the standard setup ---------------------------------------------------------------------------


def test_standard_hosts_alternate_g4_and_g5() -> None:
    """Host i is a G4 (2 x 1860 = 3720 MIPS) when i is even, a G5 (2 x 2660 = 5320) when odd."""
    scenario = cloudsim_standard()
    hosts = scenario.hosts()
    assert scenario.n_hosts == 800
    assert hosts.cpu_mips.shape == (800,)
    assert hosts.cpu_mips[:4].tolist() == [3720.0, 5320.0, 3720.0, 5320.0]
    assert hosts.pe_mips[:4].tolist() == [1860.0, 2660.0, 1860.0, 2660.0]
    np.testing.assert_array_equal(hosts.cpu_mips[0::2], 3720.0)
    np.testing.assert_array_equal(hosts.cpu_mips[1::2], 5320.0)
    np.testing.assert_array_equal(hosts.ram_mb, 4096.0)
    assert hosts.power_w.shape == (800, 11)
    assert hosts.power_w[798].tolist() == G4_W
    assert hosts.power_w[799].tolist() == G5_W
    np.testing.assert_array_equal(scenario.host_bandwidth_mbit_s(), 1000.0)
    assert scenario.interval_s == 300.0


def test_standard_vm_types() -> None:
    """Types 0..3: 2500 MIPS / 870 MB, 2000 / 1740, 1000 / 1740, 500 / 613."""
    vm_types = cloudsim_standard().vm_types
    assert [(t.mips, t.ram_mb) for t in vm_types] == [(2500, 870), (2000, 1740), (1000, 1740), (500, 613)]


def test_standard_vm_types_in_blocks_of_ceil_n_over_4() -> None:
    """N = 1052: blocks of ceil(1052 / 4) = 263: VMs 0-262 type 0, 263-525 type 1, 526-788 type 2, 789-1051 type 3."""
    index = cloudsim_standard().vm_type_index(1052)
    assert index.shape == (1052,)
    assert index[[0, 262, 263, 525, 526, 788, 789, 1051]].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert np.bincount(index).tolist() == [263, 263, 263, 263]


def test_standard_vm_blocks_when_n_is_not_a_multiple_of_4() -> None:
    """N = 5: blocks of ceil(5 / 4) = 2, so types 0, 0, 1, 1, 2 (type 3 unused)."""
    assert cloudsim_standard().vm_type_index(5).tolist() == [0, 0, 1, 1, 2]


# -- TOML files -----------------------------------------------------------------------------------

HOST_A = """
[[host_types]]
name = "A"
count = 3
cores = 2
core_mips = 1000
ram_mb = 2048
power_w = [50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60]
"""

HOST_B = """
[[host_types]]
name = "B"
count = 1
cores = 4
core_mips = 500
ram_mb = 8192
idle_w = 100
peak_w = 200
bandwidth_mbit_s = 10000
"""

VM = """
[[vm_types]]
name = "small"
mips = 250
ram_mb = 512

[[vm_types]]
name = "large"
mips = 1000
ram_mb = 1024
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dc.toml"
    path.write_text(text)
    return path


def test_load_scenario_round_trip(tmp_path: Path) -> None:
    """Interleaved with counts 3 and 1: types A, B, A, A. The linear 100..200 W model is 100, 110, ..., 200."""
    path = write(tmp_path, 'name = "two-racks"\ninterval_s = 60\n' + HOST_A + HOST_B + VM)
    scenario = load_scenario(path)
    assert scenario.name == "two-racks"
    assert scenario.interval_s == 60.0
    assert scenario.n_hosts == 4
    a, b = scenario.host_types
    assert (a.name, a.count, a.cores, a.core_mips, a.ram_mb, a.mips) == ("A", 3, 2, 1000.0, 2048.0, 2000.0)
    assert a.power_w.tolist() == [50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60]
    assert (b.name, b.count, b.mips, b.bandwidth_mbit_s) == ("B", 1, 2000.0, 10000.0)
    np.testing.assert_allclose(b.power_w, [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200])
    assert a.bandwidth_mbit_s == 1000.0
    assert scenario.host_type_index().tolist() == [0, 1, 0, 0]
    hosts = scenario.hosts()
    assert hosts.pe_mips.tolist() == [1000.0, 500.0, 1000.0, 1000.0]
    assert hosts.ram_mb.tolist() == [2048.0, 8192.0, 2048.0, 2048.0]
    assert scenario.host_bandwidth_mbit_s().tolist() == [1000.0, 10000.0, 1000.0, 1000.0]
    assert [(t.name, t.mips, t.ram_mb) for t in scenario.vm_types] == [("small", 250, 512), ("large", 1000, 1024)]
    assert scenario.vm_type_index(5).tolist() == [0, 0, 0, 1, 1]  # blocks of ceil(5 / 2) = 3


def test_load_scenario_blocks_and_round_robin(tmp_path: Path) -> None:
    path = write(tmp_path, 'host_order = "blocks"\nvm_assignment = "round_robin"\n' + HOST_A + HOST_B + VM)
    scenario = load_scenario(path)
    assert scenario.name == "dc"  # the file's stem when no name is given
    assert scenario.interval_s == 300.0
    assert scenario.host_type_index().tolist() == [0, 0, 0, 1]
    assert scenario.vm_type_index(5).tolist() == [0, 1, 0, 1, 0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HOST_A.replace("count = 3\n", "") + VM, "host_types[0] is missing 'count'"),
        (HOST_A + VM.replace("mips = 250\n", ""), "vm_types[0] is missing 'mips'"),
        (
            HOST_A.replace("power_w = [50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60]\n", "") + VM,
            "host_types[0] needs power_w (11 values) or idle_w and peak_w",
        ),
        (VM, "needs at least one [[host_types]] table"),
        (HOST_A, "needs at least one [[vm_types]] table"),
    ],
)
def test_load_scenario_missing_keys(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == f"{path}: {expected}"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("count = 3", "count = 0", "host_types[0].count must be an int in [1, inf); got 0"),
        ("count = 3", 'count = "3"', "host_types[0].count must be an int in [1, inf); got '3'"),
        ("count = 3", "count = 2.5", "host_types[0].count must be an int in [1, inf); got 2.5"),
        ("core_mips = 1000", "core_mips = -1", "host_types[0].core_mips must be a float in (0.0, inf); got -1"),
        ("ram_mb = 2048", "ram_mb = true", "host_types[0].ram_mb must be a float in (0.0, inf); got True"),
        ("mips = 250", "mips = 0", "vm_types[0].mips must be a float in (0.0, inf); got 0"),
        ("60]", "60, 61]", "host_types[0].power_w must have 11 points (0, 10, ..., 100 %); got shape (12,)"),
        ("[50, 51", "[52, 51", "host_types[0].power_w must not decrease with utilization"),
    ],
)
def test_load_scenario_bad_values(tmp_path: Path, old: str, new: str, expected: str) -> None:
    path = write(tmp_path, (HOST_A + VM).replace(old, new, 1))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == f"{path}: {expected}"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("idle_w = 100", "idle_w = 300", "idle_w"),
        ("idle_w = 100", 'idle_w = "x"', "idle_w"),
        ("bandwidth_mbit_s = 10000", 'bandwidth_mbit_s = "fast"', "bandwidth_mbit_s"),
    ],
    ids=["idle-above-peak", "idle-not-a-number", "bandwidth-not-a-number"],
)
def test_load_scenario_bad_linear_power_or_bandwidth(tmp_path: Path, old: str, new: str, key: str) -> None:
    """Every bad value is a ScenarioError naming the file and the key.

    Fails (see the report): these raise InputError / ValueError without the file name, which the
    command line does not catch (a traceback and exit status 1 instead of 2).
    """
    path = write(tmp_path, (HOST_B + VM).replace(old, new))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(path) in str(err.value)
    assert key in str(err.value)


def test_load_scenario_bad_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "name = \n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value).startswith(f"{path}: not valid TOML (")
    assert "line 1" in str(err.value)


def test_load_scenario_unknown_host_order(tmp_path: Path) -> None:
    path = write(tmp_path, 'host_order = "random"\n' + HOST_A + VM)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == f"{path}: host_order must be 'interleaved' or 'blocks'; got 'random'"


def test_load_scenario_unknown_vm_assignment(tmp_path: Path) -> None:
    path = write(tmp_path, 'vm_assignment = "random"\n' + HOST_A + VM)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == f"{path}: vm_assignment must be 'blocks' or 'round_robin'; got 'random'"


def test_load_scenario_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == f"{path}: no such scenario file"


def test_limits_default_to_none_and_come_from_a_limits_table(tmp_path: Path) -> None:
    assert cloudsim_standard().limits == UNLIMITED
    assert load_scenario(write(tmp_path, HOST_A + VM)).limits == UNLIMITED
    text = '[limits]\nmax_migrations_per_cycle = 5\nvm_cooldown_s = 600\nexclude_hosts = ["host-2", "host-0"]\n'
    scenario = load_scenario(write(tmp_path, text + HOST_A + VM))
    assert scenario.limits == Limits(
        max_migrations_per_cycle=5, vm_cooldown_s=600.0, exclude_hosts=frozenset({"host-0", "host-2"})
    )


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("bogus = 1", "[limits] has an unknown key 'bogus'; expected one of ['exclude_hosts', "),
        ("max_migrations_per_cycle = 0", "[limits] max_migrations_per_cycle must be an int in [1, 1000000]; got 0"),
    ],
)
def test_load_scenario_bad_limits(tmp_path: Path, table: str, expected: str) -> None:
    path = write(tmp_path, f"[limits]\n{table}\n" + HOST_A + VM)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value).startswith(f"{path}: {expected}")


def test_an_unknown_key_is_an_error_with_a_guess(tmp_path: Path) -> None:
    path = write(tmp_path, (HOST_A + VM).replace("ram_mb = 2048", "ram_mbs = 2048", 1))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == f"{path}: host_types[0] has an unknown key 'ram_mbs' (did you mean 'ram_mb'?)"
