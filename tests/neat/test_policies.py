"""Policy names: parsing in both modes, error messages, custom policies from named parts."""

from __future__ import annotations

import numpy as np
import pytest

from algorithms.overload.mad import MadDetector
from algorithms.overload.never import NeverOverloaded
from algorithms.overload.regression import LocalRegressionDetector, RobustLocalRegressionDetector
from algorithms.overload.thr import ThresholdOverload
from algorithms.placement.ffd import FirstFitDecreasing
from algorithms.placement.pabfd import PowerAwareBestFitDecreasing
from algorithms.selection.mc import MaximumCorrelation
from algorithms.selection.mmt import MinimumMigrationTime
from algorithms.selection.none import NoSelection
from algorithms.underload.least_utilized import LeastUtilizedUnderload
from algorithms.underload.never import NeverUnderloaded
from neat.decision.mode import MODES
from neat.decision.policy import (
    Component,
    PolicyError,
    PolicySpec,
    build_policy,
    custom_spec,
    named_policy,
    parse_policy,
)

#: The overload detectors and selections a policy name may use (every registered plug-in with a
#: policy parameter, and every registered selection, in registry order).
DETECTOR_NAMES = "hysteresis, iqr, last-n-average, lr, lrr, mad, mhod, otf, thr"
SELECTION_NAMES = "mc, mm, mmt, mu, none, rs"

#: How each mode prices waking an empty host in PABFD.
EMPTY_HOST_COST = {"cloudsim": "idle_excluded", "neat": "full"}


@pytest.mark.parametrize("mode", ["cloudsim", "neat"])
@pytest.mark.parametrize("name", ["npa", "dvfs"])
def test_baselines(name: str, mode: str) -> None:
    """The baselines are ordinary policies of the do-nothing plug-ins; NPA alone draws full power."""
    policy = named_policy(name, MODES[mode])
    assert (policy.name, policy.kind) == (name, name)
    assert policy.is_baseline
    assert policy.mode is MODES[mode]
    assert policy.detector == NeverOverloaded()
    assert policy.selector == NoSelection()
    assert policy.placer == FirstFitDecreasing(prefer_active=False)
    assert policy.underload == NeverUnderloaded()
    assert policy.always_full_power == (name == "npa")


@pytest.mark.parametrize("mode", ["cloudsim", "neat"])
def test_thr_mmt(mode: str) -> None:
    policy = named_policy("thr-mmt-0.8", MODES[mode])
    assert (policy.name, policy.kind) == ("thr-mmt-0.8", "dynamic")
    assert not policy.is_baseline
    assert policy.detector == ThresholdOverload(threshold=0.8)
    assert isinstance(policy.selector, MinimumMigrationTime)
    assert policy.placer == PowerAwareBestFitDecreasing(empty_host_cost=EMPTY_HOST_COST[mode])
    assert policy.underload == LeastUtilizedUnderload()
    assert policy.spec == PolicySpec(
        name="thr-mmt-0.8",
        overload=Component("thr", {"threshold": 0.8}),
        selection=Component("mmt"),
        placement=Component("pabfd"),
        underload=Component("least-utilized"),
    )


def test_parse_policy_is_mode_free_and_named_policy_builds_it() -> None:
    """The spec is the same in both modes; named_policy is build_policy of parse_policy."""
    spec = parse_policy("lr-mmt-1.2")
    for mode in MODES.values():
        assert named_policy("lr-mmt-1.2", mode) == build_policy(spec, mode)


def test_lr_mc_cloudsim_is_plain_least_squares() -> None:
    policy = named_policy("lr-mc-1.2", MODES["cloudsim"])
    assert type(policy.detector) is LocalRegressionDetector
    assert policy.detector.safety == 1.2
    assert policy.detector.weighting == "none"
    assert policy.detector.fallback_threshold == 0.7
    assert isinstance(policy.selector, MaximumCorrelation)
    assert policy.placer == PowerAwareBestFitDecreasing(empty_host_cost="idle_excluded")


def test_lr_mc_neat_is_tricube_loess() -> None:
    policy = named_policy("lr-mc-1.2", MODES["neat"])
    assert type(policy.detector) is LocalRegressionDetector
    assert policy.detector.safety == 1.2
    assert policy.detector.weighting == "tricube"
    assert isinstance(policy.selector, MaximumCorrelation)
    assert policy.placer == PowerAwareBestFitDecreasing(empty_host_cost="full")


def test_lrr_is_lr_in_cloudsim_and_robust_in_neat() -> None:
    """CloudSim never applies the weights, so its LRR is plain LR.

    The mode gives LRR ``weighting="none"`` (the robust detector without weights), which decides
    exactly as LR with the same parameters; in neat mode LRR is the tricube robust refit.
    """
    cloudsim = named_policy("lrr-mmt-1.2", MODES["cloudsim"]).detector
    neat = named_policy("lrr-mmt-1.2", MODES["neat"]).detector
    assert isinstance(cloudsim, RobustLocalRegressionDetector)
    assert cloudsim.weighting == "none"
    assert type(neat) is RobustLocalRegressionDetector
    assert neat.weighting == "tricube"
    lr = named_policy("lr-mmt-1.2", MODES["cloudsim"]).detector
    rng = np.random.default_rng(7)
    utilization = rng.uniform(0.0, 1.0, (200, 30))
    n_valid = rng.integers(0, 31, 200)
    steps = rng.uniform(0.0, 3.0, 200)
    lr_flags, _ = lr.evaluate(utilization, n_valid, steps, None)
    lrr_flags, _ = cloudsim.evaluate(utilization, n_valid, steps, None)
    np.testing.assert_array_equal(lrr_flags, lr_flags)
    # the compiled kernel of CloudSim's LRR is LR's (no robust refit)
    assert cloudsim.kernel() is not None and lr.kernel() is not None
    np.testing.assert_array_equal(cloudsim.kernel().params, lr.kernel().params)
    np.testing.assert_array_equal(cloudsim.kernel().coef, lr.kernel().coef)


def test_name_is_normalized() -> None:
    assert named_policy("  LR-MMT-1.2 ", MODES["neat"]).name == "lr-mmt-1.2"


def test_placer_options_override_the_mode() -> None:
    policy = named_policy("thr-mmt-0.8", MODES["cloudsim"], placement={"empty_host_cost": "full"})
    assert policy.placer == PowerAwareBestFitDecreasing(empty_host_cost="full")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "foo",
            "policy 'foo' is not 'npa', 'dvfs', 'recommended' or '<overload>-<selection>-<parameter>' "
            f"(e.g. lr-mmt-1.2; overload: {DETECTOR_NAMES}; selection: {SELECTION_NAMES})",
        ),
        (
            "lr-mmt",
            "policy 'lr-mmt' is not 'npa', 'dvfs', 'recommended' or '<overload>-<selection>-<parameter>' "
            f"(e.g. lr-mmt-1.2; overload: {DETECTOR_NAMES}; selection: {SELECTION_NAMES})",
        ),
        ("lr-xyz-1.2", f"policy 'lr-xyz-1.2': unknown VM selection 'xyz'; expected one of {SELECTION_NAMES}"),
        (
            "xyz-mmt-1.2",
            f"policy 'xyz-mmt-1.2': unknown overload detector 'xyz'; expected one of {DETECTOR_NAMES}",
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
        named_policy(name, MODES["neat"])
    assert str(err.value) == expected


def custom(
    o: str, o_params: dict[str, object], s: str, s_params: dict[str, object], p: str, p_params: dict[str, object]
) -> PolicySpec:
    return custom_spec(Component(o, o_params), Component(s, s_params), Component(p, p_params))


def test_custom_policy_with_parameters() -> None:
    spec = custom("mad", {"safety": 2.0}, "mc", {}, "pabfd", {"empty_host_cost": "idle_excluded"})
    policy = build_policy(spec, MODES["neat"])
    assert policy.name == "mad[safety=2.0]-mc-pabfd[empty_host_cost=idle_excluded]"
    assert policy.kind == "dynamic"
    assert policy.detector == MadDetector(safety=2.0)
    assert policy.selector == MaximumCorrelation()
    assert policy.placer == PowerAwareBestFitDecreasing(empty_host_cost="idle_excluded")
    assert policy.underload == LeastUtilizedUnderload()
    assert (policy.spec.overload, policy.spec.selection, policy.spec.placement) == (
        Component("mad", {"safety": 2.0}),
        Component("mc", {}),
        Component("pabfd", {"empty_host_cost": "idle_excluded"}),
    )


@pytest.mark.parametrize("mode", ["cloudsim", "neat"])
def test_custom_policy_takes_the_mode_defaults(mode: str) -> None:
    policy = build_policy(custom("lr", {"safety": 1.2}, "mmt", {}, "pabfd", {}), MODES[mode])
    assert policy.name == "lr[safety=1.2]-mmt-pabfd"
    assert policy.placer == PowerAwareBestFitDecreasing(empty_host_cost=EMPTY_HOST_COST[mode])
    assert policy.detector == named_policy("lr-mmt-1.2", MODES[mode]).detector


def test_custom_policy_unknown_parameter() -> None:
    with pytest.raises(PolicyError) as err:
        build_policy(custom("mad", {"bogus": 1}, "mc", {}, "pabfd", {}), MODES["neat"])
    assert str(err.value) == (
        "policy 'mad[bogus=1]-mc-pabfd': MadDetector has no parameter 'bogus'; its parameters are "
        "['comparison', 'fallback_threshold', 'history_rule', 'min_history', 'safety', 'window']"
    )


def test_custom_policy_unknown_algorithm_lists_the_available_ones() -> None:
    with pytest.raises(PolicyError) as err:
        build_policy(custom("mad", {}, "biggest", {}, "pabfd", {}), MODES["neat"])
    assert str(err.value) == (
        "policy 'mad-biggest-pabfd': unknown selection algorithm 'biggest'; available: mc, mm, mmt, mu, none, rs"
    )


def test_custom_policy_bad_value() -> None:
    with pytest.raises(PolicyError) as err:
        build_policy(custom("mad", {"safety": -1.0}, "mc", {}, "pabfd", {}), MODES["neat"])
    assert str(err.value) == (
        "policy 'mad[safety=-1.0]-mc-pabfd': "
        "The 'safety' parameter of MadDetector must be a float in (0.0, inf). Got -1.0 instead."
    )
