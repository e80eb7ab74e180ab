"""Policy names: parsing in both modes, error messages, custom policies from named parts."""

from __future__ import annotations

import pytest

from algorithms.overload.mad import MadDetector
from algorithms.overload.regression import LocalRegressionDetector, RobustLocalRegressionDetector
from algorithms.overload.thr import ThresholdOverload
from algorithms.placement.pabfd import PowerAwareBestFitDecreasing
from algorithms.selection.mc import MaximumCorrelation
from algorithms.selection.mmt import MinimumMigrationTime
from neat.simulation.modes import MODES
from neat.simulation.policies import PolicyError, custom_policy, parse_policy

#: How each mode prices waking an empty host in PABFD.
EMPTY_HOST_COST = {"cloudsim": "idle_excluded", "neat": "full"}


@pytest.mark.parametrize("mode", ["cloudsim", "neat"])
@pytest.mark.parametrize("name", ["npa", "dvfs"])
def test_baselines(name: str, mode: str) -> None:
    policy = parse_policy(name, MODES[mode])
    assert (policy.name, policy.kind) == (name, name)
    assert (policy.detector, policy.selector, policy.placer) == (None, None, None)


@pytest.mark.parametrize("mode", ["cloudsim", "neat"])
def test_thr_mmt(mode: str) -> None:
    policy = parse_policy("thr-mmt-0.8", MODES[mode])
    assert (policy.name, policy.kind) == ("thr-mmt-0.8", "dynamic")
    assert policy.detector == ThresholdOverload(threshold=0.8)
    assert isinstance(policy.selector, MinimumMigrationTime)
    assert policy.placer == PowerAwareBestFitDecreasing(empty_host_cost=EMPTY_HOST_COST[mode])
    assert policy.parameters == {"overload": "thr", "selection": "mmt", "parameter": 0.8}


def test_lr_mc_cloudsim_is_plain_least_squares() -> None:
    policy = parse_policy("lr-mc-1.2", MODES["cloudsim"])
    assert type(policy.detector) is LocalRegressionDetector
    assert policy.detector.safety == 1.2
    assert policy.detector.weighting == "none"
    assert policy.detector.fallback_threshold == 0.7
    assert isinstance(policy.selector, MaximumCorrelation)
    assert policy.placer == PowerAwareBestFitDecreasing(empty_host_cost="idle_excluded")


def test_lr_mc_neat_is_tricube_loess() -> None:
    policy = parse_policy("lr-mc-1.2", MODES["neat"])
    assert type(policy.detector) is LocalRegressionDetector
    assert policy.detector.safety == 1.2
    assert policy.detector.weighting == "tricube"
    assert isinstance(policy.selector, MaximumCorrelation)
    assert policy.placer == PowerAwareBestFitDecreasing(empty_host_cost="full")


def test_lrr_is_lr_in_cloudsim_and_robust_in_neat() -> None:
    """CloudSim never applies the weights, so its LRR is plain LR."""
    cloudsim = parse_policy("lrr-mmt-1.2", MODES["cloudsim"]).detector
    neat = parse_policy("lrr-mmt-1.2", MODES["neat"]).detector
    assert type(cloudsim) is LocalRegressionDetector
    assert cloudsim.weighting == "none"
    assert type(neat) is RobustLocalRegressionDetector
    assert neat.weighting == "tricube"


def test_name_is_normalized() -> None:
    assert parse_policy("  LR-MMT-1.2 ", MODES["neat"]).name == "lr-mmt-1.2"


def test_placer_options_override_the_mode() -> None:
    policy = parse_policy("thr-mmt-0.8", MODES["cloudsim"], placer_options={"empty_host_cost": "full"})
    assert policy.placer == PowerAwareBestFitDecreasing(empty_host_cost="full")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "foo",
            "policy 'foo' is not 'npa', 'dvfs' or '<overload>-<selection>-<parameter>' "
            "(e.g. lr-mmt-1.2; overload: thr, mad, iqr, lr, lrr, otf, mhod; selection: mmt, mu, rs, mc)",
        ),
        (
            "lr-mmt",
            "policy 'lr-mmt' is not 'npa', 'dvfs' or '<overload>-<selection>-<parameter>' "
            "(e.g. lr-mmt-1.2; overload: thr, mad, iqr, lr, lrr, otf, mhod; selection: mmt, mu, rs, mc)",
        ),
        ("lr-xyz-1.2", "policy 'lr-xyz-1.2': unknown VM selection 'xyz'; expected one of mmt, mu, rs, mc"),
        (
            "xyz-mmt-1.2",
            "policy 'xyz-mmt-1.2': unknown overload detector 'xyz'; expected one of thr, mad, iqr, lr, lrr, otf, mhod",
        ),
        ("lr-mmt-abc", "policy 'lr-mmt-abc': parameter 'abc' is not a number"),
        (
            "thr-mmt-5",
            "policy 'thr-mmt-5': The 'threshold' parameter of ThresholdOverload must be a float in [0.0, 1.0]. "
            "Got 5.0 instead. It looks like a percentage; pass 0.05.",
        ),
    ],
)
def test_policy_errors(name: str, expected: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(name, MODES["neat"])
    assert str(err.value) == expected


def test_custom_policy_with_parameters() -> None:
    policy = custom_policy("mad", {"safety": 2.0}, "mc", {}, "pabfd", {"empty_host_cost": "idle_excluded"})
    assert policy.name == "mad[safety=2.0]-mc-pabfd[empty_host_cost=idle_excluded]"
    assert policy.kind == "dynamic"
    assert policy.detector == MadDetector(safety=2.0)
    assert policy.selector == MaximumCorrelation()
    assert policy.placer == PowerAwareBestFitDecreasing(empty_host_cost="idle_excluded")
    assert policy.parameters == {
        "overload": {"safety": 2.0},
        "selection": {},
        "placement": {"empty_host_cost": "idle_excluded"},
    }


def test_custom_policy_unknown_parameter() -> None:
    with pytest.raises(PolicyError) as err:
        custom_policy("mad", {"bogus": 1}, "mc", {}, "pabfd", {})
    assert str(err.value) == (
        "MadDetector has no parameter 'bogus'; its parameters are "
        "['comparison', 'fallback_threshold', 'history_rule', 'min_history', 'safety', 'window']"
    )


def test_custom_policy_unknown_algorithm_lists_the_available_ones() -> None:
    with pytest.raises(PolicyError) as err:
        custom_policy("mad", {}, "biggest", {}, "pabfd", {})
    assert str(err.value) == "unknown selection algorithm 'biggest'; available: mc, mmt, mu, none, rs"


def test_custom_policy_bad_value() -> None:
    with pytest.raises(PolicyError) as err:
        custom_policy("mad", {"safety": -1.0}, "mc", {}, "pabfd", {})
    assert str(err.value) == "The 'safety' parameter of MadDetector must be a float in (0.0, inf). Got -1.0 instead."
