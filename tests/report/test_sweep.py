"""Sweep files: named policies, grids expanded in order, and errors that name the file and table."""

from __future__ import annotations

from pathlib import Path

import pytest

from neat.decision.mode import CLOUDSIM, NEAT
from neat.decision.policy import Component, PolicyError, parse_policy
from neat.report.sweep import BASELINES, SweepError, load_sweep, resolve_policies


def sweep(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def names(path: Path) -> list[str]:
    return [p.name for p in load_sweep(path, NEAT)]


def test_named_grid_is_the_product_in_order(tmp_path: Path) -> None:
    path = sweep(
        tmp_path,
        """
        policies = ["dvfs"]
        [[grid]]
        overload = ["lr", "lrr"]
        parameter = [1.1, 1.2]
        selection = ["mmt", "mc"]
        """,
    )
    assert names(path) == [
        "dvfs",
        "lr-mmt-1.1", "lr-mc-1.1", "lr-mmt-1.2", "lr-mc-1.2",
        "lrr-mmt-1.1", "lrr-mc-1.1", "lrr-mmt-1.2", "lrr-mc-1.2",
    ]  # fmt: skip


def test_single_values_and_default_selection(tmp_path: Path) -> None:
    path = sweep(tmp_path, '[[grid]]\noverload = "mad"\nparameter = 2.5\n')
    (policy,) = load_sweep(path, NEAT)
    assert policy.name == "mad-mmt-2.5"
    assert (policy.spec.overload, policy.spec.selection) == (Component("mad", {"safety": 2.5}), Component("mmt"))
    assert policy.spec == parse_policy("mad-mmt-2.5")


def test_integer_parameters_are_named_as_typed(tmp_path: Path) -> None:
    """2 and 2.0 both name "mad-mmt-2", as a user would type it; 0.75 stays "0.75"."""
    path = sweep(tmp_path, '[[grid]]\noverload = "mad"\nparameter = [2, 2.0, 0.75]\n')
    assert names(path) == ["mad-mmt-2", "mad-mmt-0.75"]


def test_named_grid_is_built_for_the_mode(tmp_path: Path) -> None:
    path = sweep(tmp_path, '[[grid]]\noverload = "lr"\nparameter = 1.2\n')
    (neat_policy,) = load_sweep(path, NEAT)
    (cloudsim_policy,) = load_sweep(path, CLOUDSIM)
    assert neat_policy.name == cloudsim_policy.name == "lr-mmt-1.2"
    assert neat_policy.detector != cloudsim_policy.detector  # loess vs CloudSim's plain least squares


def test_component_grid_with_parameter_grids(tmp_path: Path) -> None:
    path = sweep(
        tmp_path,
        """
        [[grid]]
        overload = "mad"
        overload_params = { safety = [2.0, 3.0], fallback_threshold = 0.7 }
        selection = "mc"
        placement = ["pabfd", "bfd"]
        """,
    )
    policies = load_sweep(path, NEAT)
    assert [p.name for p in policies] == [
        "mad[fallback_threshold=0.7][safety=2.0]-mc-pabfd",
        "mad[fallback_threshold=0.7][safety=2.0]-mc-bfd",
        "mad[fallback_threshold=0.7][safety=3.0]-mc-pabfd",
        "mad[fallback_threshold=0.7][safety=3.0]-mc-bfd",
    ]
    assert policies[2].detector is not None
    assert policies[2].detector.safety == 3.0  # type: ignore[attr-defined]


def test_named_grid_with_placer_options_gets_a_distinct_name(tmp_path: Path) -> None:
    path = sweep(
        tmp_path,
        '[[grid]]\noverload = "thr"\nparameter = 0.8\n'
        'placement_params = { empty_host_cost = ["full", "idle_excluded"] }\n',
    )
    assert names(path) == [
        "thr-mmt-0.8-pabfd[empty_host_cost=full]",
        "thr-mmt-0.8-pabfd[empty_host_cost=idle_excluded]",
    ]


def test_duplicates_keep_the_first(tmp_path: Path) -> None:
    path = sweep(tmp_path, 'policies = ["thr-mmt-0.8", "THR-MMT-0.8"]\n[[grid]]\noverload = "thr"\nparameter = 0.8\n')
    assert names(path) == ["thr-mmt-0.8"]


def test_resolve_puts_the_baselines_first_and_adds_the_chosen_baseline(tmp_path: Path) -> None:
    path = sweep(tmp_path, 'policies = ["lr-mmt-1.2"]\n')
    chosen = resolve_policies(["thr-mmt-0.8", "dvfs"], path, NEAT, baseline="mad-mmt-2.5")
    assert [p.name for p in chosen] == [*BASELINES, "thr-mmt-0.8", "lr-mmt-1.2", "mad-mmt-2.5"]


def test_resolve_rejects_an_unknown_baseline() -> None:
    with pytest.raises(PolicyError, match=r"--baseline: .*'foo'"):
        resolve_policies([], None, NEAT, baseline="foo")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('policies = ["dvfs"]\nfoo = = 1', r"sweep\.toml: not a valid TOML sweep file \(.*line 2"),
        ("", r"sweep\.toml: defines no policies"),
        ('polices = ["dvfs"]', r"sweep\.toml: top level: unknown key 'polices' \(did you mean 'policies'\?\)"),
        ("policies = 3", r"'policies' must be a list of policy names; got 3"),
        ('policies = ["lr-xyz-1.2"]', r"sweep\.toml: policies: .*unknown VM selection 'xyz'"),
        ("[[grid]]\nparameter = 0.8", r"\[\[grid\]\] #1: missing 'overload'"),
        ('[[grid]]\noverload = "thr"', r"\[\[grid\]\] #1: needs 'parameter'"),
        ('[[grid]]\noverload = "thr"\nparameter = 0.8\nselections = "mu"', r"unknown key 'selections' \(did you mean"),
        (
            '[[grid]]\noverload = "nope"\nparameter = 0.8',
            r"#1: policy 'nope-mmt-0.8': unknown overload detector 'nope'",
        ),
        ('[[grid]]\noverload = "thr"\nparameter = 1.5', r"#1: policy 'thr-mmt-1.5': .*threshold"),
        ('[[grid]]\noverload = "thr"\nparameter = "high"', r"'parameter' must be a number .*got 'high'"),
        ('[[grid]]\noverload = "thr"\nparameter = []', r"'parameter' must be a number or a non-empty list"),
        (
            '[[grid]]\noverload = "mad"\noverload_params = { bogus = 1 }',
            r"#1: policy 'mad\[bogus=1\]-mmt-pabfd': MadDetector has no parameter 'bogus'; its parameters are",
        ),
        (
            '[[grid]]\noverload = "mad"\noverload_params = { safety = [] }',
            r"overload_params\.safety is an empty list",
        ),
        (
            '[[grid]]\noverload = "mad"\nparameter = 2.5\noverload_params = { safety = 2.5 }',
            r"either 'parameter' .* or 'overload_params'",
        ),
        (
            '[[grid]]\noverload = "thr"\nparameter = 0.8\nplacement = "bfd"',
            r"for placement \['bfd'\] .*overload_params",
        ),
        ('[[grid]]\noverload = "mad"\noverload_params = { safety = 2.5 }\nplacement = "best"', r"'best'"),
    ],
)
def test_errors_name_the_file_the_table_and_the_value(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SweepError, match=expected):
        load_sweep(sweep(tmp_path, text), NEAT)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match=r"nothere\.toml: no such sweep file"):
        load_sweep(tmp_path / "nothere.toml", NEAT)
    with pytest.raises(SweepError, match=r"is a folder; expected a sweep TOML file"):
        load_sweep(tmp_path, NEAT)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SweepError, match=r"binary\.toml: not a valid TOML sweep file"):
        load_sweep(binary, NEAT)
