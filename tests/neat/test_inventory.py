"""Scenarios that name their hosts and VMs ([hosts], [vms]): reading, errors, and the simulator
starting from the named placement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neat.decision import NEAT
from neat.decision.policy import named_policy
from neat.report.cache import scenario_fingerprint
from neat.scenario import ScenarioError, cloudsim_standard, load_scenario
from neat.simulation.engine import Simulation
from neat.traces import TraceSet

NAMED = """
name = "two-racks"

[[host_types]]
name = "small"
cores = 2
core_mips = 1000
ram_mb = 4096
idle_w = 100
peak_w = 200

[[host_types]]
name = "big"
cores = 4
core_mips = 2000
ram_mb = 8192
idle_w = 150
peak_w = 300

[[vm_types]]
name = "tiny"
mips = 500
ram_mb = 512

[[vm_types]]
name = "large"
mips = 2000
ram_mb = 2048

[hosts]
"rack2-b" = "big"
"rack1-a" = "small"
"rack1-c" = "small"

[vms]
"vm-x" = { type = "large", host = "rack1-c" }
"vm-y" = { type = "tiny", host = "rack2-b" }
"vm-z" = { type = "tiny", host = "rack2-b" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cloud.toml"
    path.write_text(text)
    return path


def test_hosts_are_the_named_ones_in_file_order_with_their_types(tmp_path: Path) -> None:
    """[hosts] lists b (big), a (small), c (small): host 0 has 4 x 2000 = 8000 MIPS, hosts 1 and 2 2 x 1000."""
    scenario = load_scenario(write(tmp_path, NAMED))
    assert scenario.host_names() == ("rack2-b", "rack1-a", "rack1-c")
    assert scenario.host_type_index().tolist() == [1, 0, 0]
    assert [t.count for t in scenario.host_types] == [2, 1]
    assert scenario.n_hosts == 3
    assert scenario.hosts().cpu_mips.tolist() == [8000.0, 2000.0, 2000.0]
    assert scenario.hosts().power_w[:, -1].tolist() == [300.0, 200.0, 200.0]


def test_trace_vms_take_their_named_type_and_first_host_whatever_the_trace_order(tmp_path: Path) -> None:
    """Traces in the order z, x: z is tiny (0) on rack2-b (0), x large (1) on rack1-c (2); y is not in the traces."""
    scenario = load_scenario(write(tmp_path, NAMED))
    assert scenario.vm_type_index(2, ("vm-z", "vm-x")).tolist() == [0, 1]
    initial = scenario.initial_hosts(("vm-z", "vm-x"))
    assert initial is not None and initial.tolist() == [0, 2]


def test_a_trace_vm_the_scenario_does_not_name_is_an_error(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, NAMED))
    with pytest.raises(ScenarioError, match=r"\[vms\] of scenario 'two-racks' does not name 1 VM\(s\).*'vm-w'"):
        scenario.vm_type_index(2, ("vm-x", "vm-w"))


def test_without_vms_the_named_hosts_keep_the_creation_placement(tmp_path: Path) -> None:
    text = NAMED.partition("[vms]")[0]
    scenario = load_scenario(write(tmp_path, text))
    assert scenario.host_names() == ("rack2-b", "rack1-a", "rack1-c")
    assert scenario.initial_hosts(("any",)) is None
    assert scenario.vm_type_index(4).tolist() == [0, 0, 1, 1]  # blocks, as without names


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('"rack1-a" = "small"', '"rack1-a" = "smal"'),
            r"cloud.toml, line 32: \[hosts\] 'rack1-a' = 'smal': expected the name of a \[\[host_types\]\] table "
            r"\(did you mean 'small'\?\)",
        ),
        (
            ('host = "rack1-c" }', 'host = "rack9" }'),
            r"cloud.toml, line 36: \[vms\] 'vm-x'.host 'rack9' is not a host of \[hosts\]",
        ),
        (
            ('{ type = "large"', '{ type = "huge"'),
            r"cloud.toml, line 36: \[vms\] 'vm-x'.type 'huge' is not the name of a \[\[vm_types\]\] table",
        ),
        (
            ('"vm-y" = { type = "tiny", host = "rack2-b" }', '"vm-y" = "tiny"'),
            r"cloud.toml, line 37: \[vms\] 'vm-y' must be \{ type = \"VM type\", host = \"host name\" \}; got 'tiny'",
        ),
        (
            ('"vm-z" = { type = "tiny",', '"vm-z" = { flavor = "tiny",'),
            r"cloud.toml, line 38: \[vms\] 'vm-z' has an unknown key 'flavor'",
        ),
        (
            ('[hosts]\n"rack2-b" = "big"', '[hosts]\n"rack2-b" = "small"'),
            r"host_types\[1\] \('big'\) has no host in \[hosts\]",
        ),
        (
            ('name = "big"\ncores = 4', 'name = "big"\ncount = 3\ncores = 4'),
            r"host_types\[1\].count is 3, but \[hosts\] names 1 host\(s\) of type 'big'; leave count out",
        ),
        (('name = "large"', 'name = "tiny"'), r"vm_types\[1\].name 'tiny' is also vm_types\[0\]'s"),
    ],
)
def test_errors_name_the_file_line_key_and_value(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    old, new = edit
    assert old in NAMED
    with pytest.raises(ScenarioError, match=message):
        load_scenario(write(tmp_path, NAMED.replace(old, new)))


def test_vms_without_hosts_is_an_error(tmp_path: Path) -> None:
    text = NAMED.replace('[hosts]\n"rack2-b" = "big"\n"rack1-a" = "small"\n"rack1-c" = "small"\n', "")
    text = text.replace("cores = ", "count = 1\ncores = ")
    with pytest.raises(ScenarioError, match=r"\[vms\] places VMs on named hosts; it needs a \[hosts\] table"):
        load_scenario(write(tmp_path, text))


def traces(names: tuple[str, ...], percents: list[list[int]]) -> TraceSet:
    return TraceSet(np.array(percents, dtype=np.float64) / 100.0, names, 300, "test")


def test_the_simulator_starts_from_the_named_placement(tmp_path: Path) -> None:
    """PABFD would put both VMs on one host; the inventory has them on rack1-c (2) and rack2-b (0).
    With power states, rack1-a (1), holding nothing, sleeps from the start."""
    scenario = load_scenario(write(tmp_path, NAMED))
    sim = Simulation(traces(("vm-x", "vm-y"), [[50, 50], [10, 10]]), scenario, named_policy("dvfs", NEAT))
    assert sim.host_names == ("rack2-b", "rack1-a", "rack1-c")
    assert sim.initial_placement().tolist() == [2, 0]
    assert sim.vm_mips.tolist() == [2000.0, 500.0]
    assert sim.vm_ram_mb.tolist() == [2048.0, 512.0]
    result = sim.run()
    assert result.hosts == 3 and result.vms == 2 and result.migrations == 0


def test_limits_name_the_real_hosts(tmp_path: Path) -> None:
    """rack1-c carries vm-x at 95 % of its 2000 MIPS: overloaded for thr-mmt-0.8, relieved onto
    rack2-b; excluded by name, it keeps its VM."""
    percents = [[95, 95, 95], [10, 10, 10], [10, 10, 10]]
    names = ("vm-x", "vm-y", "vm-z")
    policy = named_policy("thr-mmt-0.8", NEAT)
    moved = Simulation(traces(names, percents), load_scenario(write(tmp_path, NAMED)), policy).run()
    assert moved.migrations >= 1
    excluded = load_scenario(write(tmp_path, NAMED + '\n[limits]\nexclude_hosts = ["rack1-c"]\n'))
    kept = Simulation(traces(names, percents), excluded, policy).run()
    assert kept.migrations == 0


def test_a_scenario_without_names_is_unchanged() -> None:
    """Built-in scenarios keep their host-i names, creation placement and cache fingerprint."""
    scenario = cloudsim_standard()
    assert scenario.inventory is None
    assert scenario.host_names()[:2] == ("host-0", "host-1")
    assert scenario.initial_hosts(("a",)) is None
    assert "inventory" not in scenario_fingerprint(scenario)
