"""Overload detectors: the reference vectors of docs/algorithms.md and small hand-checked cases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from algorithms._validation import InputError
from algorithms._windows import nonzero_run, row_mean, row_median
from algorithms.base import FloatArray, IntArray
from algorithms.overload.iqr import IqrDetector, interquartile_range
from algorithms.overload.last_n_average import LastNAverageOverload
from algorithms.overload.mad import MadDetector, SpreadThresholdDetector, median_absolute_deviation
from algorithms.overload.otf import OtfDetector, OtfState
from algorithms.overload.regression import (
    LocalRegressionDetector,
    RobustLocalRegressionDetector,
    fit_local_regression,
    fit_robust_local_regression,
    tricube_bisquare_weights,
    tricube_weights,
)
from algorithms.overload.thr import ThresholdOverload

D20 = [2, 4, 7, -20, 22, -1, 0, -1, 7, 15, 8, 4, -4, 11, 11, 12, 3, 12, 18, 1]


def batch(*rows: list[float], window: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-align ``rows`` into a NaN-padded (n_rows, window) batch and their n_valid."""
    width = window if window is not None else max([len(r) for r in rows] + [1])
    u = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        if row:
            u[i, width - len(row) :] = row
    return u, np.array([len(r) for r in rows], dtype=np.intp)


def run(detector, *rows: list[float], tm: float | list[float] = 0.0) -> list[bool]:
    u, n = batch(*rows)
    overloaded, _ = detector.detect(u, n, migration_time_steps=tm)
    return overloaded.tolist()


# --- Spread measures (reference vectors 1-3) -------------------------------------------------


def test_mad_reference_vector_1():
    """MAD([1, 1, 2, 2, 4, 6, 9]): median 2, |x - 2| = [1, 1, 0, 0, 2, 4, 7], median of those 1."""
    u, n = batch([1, 1, 2, 2, 4, 6, 9])
    assert median_absolute_deviation(u, n).tolist() == [1.0]


def test_iqr_reference_vector_2():
    """11 values: sorted [102, 104, 105, 107, 108, 109, 110, 112, 115, 116, 118], n = 12,
    q1 at round(3) - 1 = 2 -> 105, q3 at round(9) - 1 = 8 -> 115: IQR 10."""
    u, n = batch([105, 109, 107, 112, 102, 118, 115, 104, 110, 116, 108])
    assert interquartile_range(u, n).tolist() == [10.0]


def test_iqr_reference_vector_3():
    """D20 sorted: [-20, -4, -1, -1, 0, 1, 2, 3, 4, 4, 7, 7, 8, 11, 11, 12, 12, 15, 18, 22], n = 21,
    q1 at round(5.25) - 1 = 4 -> 0, q3 at round(15.75) - 1 = 15 -> 12: IQR 12."""
    u, n = batch(D20)
    assert interquartile_range(u, n).tolist() == [12.0]


def test_iqr_rounds_half_away_from_zero():
    """range(9): n = 10, q1 at round(2.5) - 1 = 2 (not 1), q3 at round(7.5) - 1 = 7: IQR 7 - 2 = 5.

    Python 3's half-to-even rounding would give q1 index 1 and IQR 6.
    """
    u, n = batch(list(range(9)))
    assert interquartile_range(u, n).tolist() == [5.0]


def test_spread_measures_per_row_in_one_batch():
    """Rows of different lengths in one batch; empty and single-value rows give 0.

    [0.25, 0.5, 0.75]: MAD median(|.25|, 0, |.25|) = 0.25; IQR n = 4, q1 at 0 -> .25, q3 at 2 -> .75,
    IQR 0.5. [0.5]: both 0. []: both 0.
    """
    u, n = batch([0.25, 0.5, 0.75], [0.5], [])
    assert median_absolute_deviation(u, n).tolist() == [0.25, 0.0, 0.0]
    assert interquartile_range(u, n).tolist() == [0.5, 0.0, 0.0]


def test_window_helpers():
    """Median/mean of the valid part only; nonzero run counted back from the newest value."""
    u, n = batch([1.0, 3.0, 2.0], [4.0, 1.0], [], window=4)
    assert row_median(u, n).tolist() == [2.0, 2.5, 0.0]
    assert row_mean(u, n).tolist() == [2.0, 2.5, 0.0]
    u, n = batch([0.5, 0.0, 0.5, 0.25], [0.0], [0.5, 0.5], [], window=4)
    assert nonzero_run(u, n).tolist() == [2, 0, 2, 0]


# --- MAD / IQR detectors (reference vector 9 and variants) -------------------------------------


@dataclass(frozen=True, kw_only=True)
class FixedSpread(SpreadThresholdDetector):
    """The MAD/IQR rule with the spread forced to 0.125, as in reference vector 9."""

    def spread(self, block: FloatArray, count: IntArray) -> FloatArray:
        return np.full(block.shape[0], 0.125)


def test_threshold_rule_reference_vector_9():
    """Threshold 1 - 1.6 * 0.125 = 0.8, openstack-neat's >=, minimum history 3, no fallback:
    [] F (no history), 0.5 F, 0.6 F, 0.8 T (0.8 >= 0.8), 0.9 T, 1.0 T."""
    detector = FixedSpread(safety=1.6, min_history=3, comparison="inclusive", fallback_threshold=None)
    rows = [[], [0, 0, 0.5], [0, 0, 0.6], [0, 0, 0.8], [0, 0, 0.9], [0, 0, 1.0]]
    assert run(detector, *rows) == [False, False, False, True, True, True]


def test_mad_strict_versus_inclusive():
    """[0.25, 0.5, 0.75]: MAD 0.25, safety 1 -> threshold 0.75; last 0.75 > 0.75 F, >= T."""
    for comparison, expected in [("strict", False), ("inclusive", True)]:
        detector = MadDetector(safety=1.0, min_history=3, comparison=comparison)
        assert run(detector, [0.25, 0.5, 0.75]) == [expected]


def test_mad_fallback_static_threshold_or_none():
    """Two values < min_history 3. CloudSim: 0.75 > 0.7 T, 0.7 > 0.7 F (strict); None: never."""
    cloudsim = MadDetector(min_history=3, fallback_threshold=0.7)
    neat = MadDetector(min_history=3, fallback_threshold=None)
    assert run(cloudsim, [0.5, 0.75], [0.5, 0.7], []) == [True, False, False]
    assert run(neat, [0.5, 0.75], [0.5, 0.7], []) == [False, False, False]


def test_mad_nonzero_run_history_rule():
    """[0.25, 0.5, 0, 0.5, 0.75], min_history 3, safety 1.

    "valid": 5 values; sorted [0, .25, .5, .5, .75], median .5, deviations sorted
    [0, 0, .25, .25, .5], MAD .25, threshold .75; .75 > .75 F.
    "nonzero_run": only 2 non-zero values since the zero < 3,
    so the static fallback decides: .75 > .7 T.
    """
    row = [0.25, 0.5, 0.0, 0.5, 0.75]
    assert run(MadDetector(safety=1.0, min_history=3, history_rule="valid"), row) == [False]
    assert run(MadDetector(safety=1.0, min_history=3, history_rule="nonzero_run"), row) == [True]


def test_mad_uses_the_newest_window_values():
    """[0, 1, .5, .5, .75], safety 1, inclusive.

    window 3: [.5, .5, .75], median .5, deviations [0, 0, .25], MAD 0, threshold 1: .75 F.
    window 5: median .5, deviations sorted [0, 0, .25, .5, .5], MAD .25, threshold .75: T.
    """
    row = [0.0, 1.0, 0.5, 0.5, 0.75]
    for window, expected in [(3, False), (5, True)]:
        detector = MadDetector(safety=1.0, window=window, min_history=3, comparison="inclusive")
        assert run(detector, row) == [expected]


def test_iqr_strict_versus_inclusive():
    """[0.25, 0.5, 0.75]: IQR 0.5, safety 0.5 -> threshold 0.75; .75 > .75 F, >= T."""
    for comparison, expected in [("strict", False), ("inclusive", True)]:
        detector = IqrDetector(safety=0.5, min_history=3, comparison=comparison)
        assert run(detector, [0.25, 0.5, 0.75]) == [expected]


def test_iqr_default_safety_and_fallback():
    """Default safety 1.5: [0.25, 0.5, 0.75] -> threshold 1 - 0.75 = 0.25, .75 > .25 T.
    With 2 values (< min_history 3) the fallback decides: 0.5 > 0.7 F."""
    detector = IqrDetector(min_history=3)
    assert detector.safety == 1.5
    assert run(detector, [0.25, 0.5, 0.75], [0.25, 0.5]) == [True, False]


# --- LR / LRR (reference vectors 4-8) -----------------------------------------------------------


def test_tricube_weights_reference_vector_6():
    """n = 5: (1 - (2/4)^3)^3 = 0.669922 (copied to the first two), (1 - (1/4)^3)^3 = 0.953854, 1.
    n = 10 is given truncated to 3 decimals."""
    np.testing.assert_allclose(tricube_weights(5), [0.669922, 0.669922, 0.669922, 0.953854, 1.0], atol=1e-6)
    expected_10 = [0.148, 0.148, 0.148, 0.348, 0.568, 0.759, 0.892, 0.967, 0.995, 1.0]
    np.testing.assert_allclose(tricube_weights(10), expected_10, atol=1e-3)


def test_tricube_bisquare_weights_reference_vector_7():
    """Residuals [1, 1, 2, 2, 4, 6, 9]: s6 = 6 * 2 = 12; newest 1 * (1 - (9/12)^2)^2 = 0.191;
    the first two copy the third (0.3485 * (1 - (2/12)^2)^2 = 0.329). Truncated to 3 decimals."""
    weights = tricube_bisquare_weights(np.array([[1.0, 1, 2, 2, 4, 6, 9]]))
    np.testing.assert_allclose(weights[0], [0.329, 0.329, 0.329, 0.633, 0.705, 0.554, 0.191], atol=1e-3)


def test_bisquare_cut_off_and_zero_residuals():
    """|r| >= s6 gets weight 0 (openstack-neat forgets this); all-zero residuals (s6 = 0) fall back
    to the tricube weights instead of dividing by zero. Residuals [0, 0, 0, 0, 1]: median 0 ->
    s6 = 0, so no division happens at all."""
    weights = tricube_bisquare_weights(np.array([[1.0, 1, 1, 1, 100], [0.0, 0, 0, 0, 0], [0.0, 0, 0, 0, 1]]))
    assert weights[0, -1] == 0.0
    np.testing.assert_array_equal(weights[1], tricube_weights(5))
    np.testing.assert_array_equal(weights[2], tricube_weights(5))


def test_lr_fit_reference_vector_4():
    """Tricube-weighted fit on D20 at x = 1..20: intercept 2.2639, slope 0.3724."""
    intercept, slope = fit_local_regression(np.array([D20], dtype=float), tricube_weights(20))
    np.testing.assert_allclose([intercept[0], slope[0]], [2.2639, 0.3724], atol=1e-4)


def test_lrr_fit_reference_vector_5():
    """Robust fit on D20: intercept 2.4547, slope 0.3901."""
    intercept, slope = fit_robust_local_regression(np.array([D20], dtype=float))
    np.testing.assert_allclose([intercept[0], slope[0]], [2.4547, 0.3901], atol=1e-4)


def test_fits_are_row_wise():
    """Stacked rows give the same fits as each row alone."""
    rows = np.array([D20, D20[::-1], [0.5] * 20], dtype=float)
    together = fit_robust_local_regression(rows)
    for i in range(3):
        alone = fit_robust_local_regression(rows[i : i + 1])
        np.testing.assert_allclose([together[0][i], together[1][i]], [alone[0][0], alone[1][0]], rtol=1e-12)


A8 = [1.05, 1.09, 1.07, 1.12, 1.02, 1.18, 1.15, 1.04, 1.10, 1.16, 1.08]
B8 = [0.55, 0.60, 0.62, 0.59, 0.67, 0.73, 0.85, 0.97, 0.73, 0.68, 0.69, 0.52, 0.51, 0.55, 0.48, 0.46, 0.52]
B8 += [0.55, 0.58, 0.65, 0.70]


@pytest.mark.parametrize("cls", [LocalRegressionDetector, RobustLocalRegressionDetector])
def test_regression_decision_reference_vector_8(cls):
    """length 3 (tricube weights of n = 3 are all 1), T_m = 0.5, safety 1.2, threshold 1.

    A: newest [1.10, 1.16, 1.08], slope -0.01, mean 1.1133 at x = 2, prediction at 3.5:
    1.0983 * 1.2 = 1.318 >= 1 T. B: newest [.58, .65, .70], slope .06, .6433 + .09 = .7333 * 1.2
    = .88 F. []: F.
    """
    detector = cls(safety=1.2, length=3, threshold=1.0, fallback_threshold=None)
    assert run(detector, A8, B8, [], tm=0.5) == [True, False, False]


def test_lr_strict_versus_inclusive():
    """[.25, .5, .75] by OLS: y = .25 x, prediction at x = 3 is .75 (up to rounding). With safety 1
    and the threshold set to that very prediction: >= T, > F."""
    intercept, slope = fit_local_regression(np.array([[0.25, 0.5, 0.75]]), np.ones(3))
    predicted = float(intercept[0] + slope[0] * 3.0)
    assert predicted == pytest.approx(0.75)
    for comparison, expected in [("strict", False), ("inclusive", True)]:
        detector = LocalRegressionDetector(
            safety=1.0, length=3, threshold=predicted, weighting="none", comparison=comparison
        )
        assert run(detector, [0.25, 0.5, 0.75]) == [expected]


def test_lr_ols_versus_tricube():
    """[0, 0, 0, 0, 1], length 5, T_m 0, safety 1.5.

    OLS (CloudSim): slope sum((x - 3)(y - .2)) / 10 = 2 / 10 = .2, intercept .2 - .6 = -.4, at x = 5:
    .6, * 1.5 = .9 < 1 F. Tricube: the newest values weigh more, prediction 0.668, * 1.5 = 1.002 T.
    """
    row = [0.0, 0.0, 0.0, 0.0, 1.0]
    assert run(LocalRegressionDetector(safety=1.5, length=5, weighting="none"), row) == [False]
    assert run(LocalRegressionDetector(safety=1.5, length=5, weighting="tricube"), row) == [True]


def test_lrr_without_weights_is_lr_as_in_cloudsim():
    """CloudSim 4.0 never applies its weights, so its LRR equals its LR on any history."""
    rng = np.random.default_rng(7)
    u = rng.uniform(0, 1, size=(200, 12))
    n = rng.integers(0, 13, size=200)
    tm = rng.uniform(0, 2, size=200)
    lr = LocalRegressionDetector(safety=1.0, weighting="none")
    lrr = RobustLocalRegressionDetector(safety=1.0, weighting="none")
    np.testing.assert_array_equal(
        lr.detect(u, n, migration_time_steps=tm)[0], lrr.detect(u, n, migration_time_steps=tm)[0]
    )


def test_lr_migration_time_per_host():
    """[.25, .5, .75] (OLS, length 3): y = .25 x; safety 1; prediction .25 (3 + T_m):
    T_m 0 -> .75 F, T_m 2 -> 1.25 T."""
    detector = LocalRegressionDetector(safety=1.0, length=3, weighting="none")
    assert run(detector, [0.25, 0.5, 0.75], [0.25, 0.5, 0.75], tm=[0.0, 2.0]) == [False, True]


def test_lr_fallback_below_length():
    """Fewer than `length` values: CloudSim's static 0.7 (strict) or never; also when the window is
    narrower than `length`."""
    assert run(LocalRegressionDetector(length=3), [0.75], [0.7], []) == [True, False, False]
    assert run(LocalRegressionDetector(length=3, fallback_threshold=None), [0.75], [0.7], []) == [False] * 3
    assert run(LocalRegressionDetector(length=10), [0.1] * 4 + [0.8]) == [True]


def test_lrr_perfect_fit_keeps_the_first_fit():
    """A constant history 0.5: residuals all 0, s6 = 0; no division by zero, the first fit's
    prediction 0.5 decides: * 2.1 = 1.05 T, * 1.9 = 0.95 F."""
    row = [0.5] * 5
    with np.errstate(all="raise"):
        assert run(RobustLocalRegressionDetector(safety=2.1, length=5), row) == [True]
        assert run(RobustLocalRegressionDetector(safety=1.9, length=5), row) == [False]


# --- THR and last-n average (reference vectors 10, 11) ------------------------------------------


def test_thr_reference_vector_10():
    """THR(0.5): 0.6 > 0.5 T; 0.5 > 0.5 F (strict); [] F."""
    assert run(ThresholdOverload(threshold=0.5), [0.0, 0.6], [0.0, 0.5], []) == [True, False, False]


def test_thr_inclusive():
    """0.5 >= 0.5 T with comparison="inclusive"."""
    assert run(ThresholdOverload(threshold=0.5, comparison="inclusive"), [0.5], [0.4]) == [True, False]


def test_last_n_average_reference_vector_11():
    """n = 2, threshold 0.5: (1.2 + 0.4) / 2 = 0.8 > 0.5 T; (0.4 + 0.5) / 2 = 0.45 F; [] F."""
    detector = LastNAverageOverload(threshold=0.5, n=2)
    assert run(detector, [0.1, 1.2, 0.4], [0.9, 0.4, 0.5], []) == [True, False, False]


def test_last_n_average_short_history_and_inclusive():
    """n = 3 with 2 values: (0.25 + 0.75) / 2 = 0.5; > 0.5 F, >= 0.5 T."""
    assert run(LastNAverageOverload(threshold=0.5, n=3), [0.25, 0.75]) == [False]
    assert run(LastNAverageOverload(threshold=0.5, n=3, comparison="inclusive"), [0.25, 0.75]) == [True]


# --- OTF (reference vector 13) ------------------------------------------------------------------


def test_otf_reference_vector_13():
    """otf 0.5, threshold 1.0, limit 4, one call per growing row; counters (overload/total) and T_m:

    [0.9] 0/1 F; +1.3 1/2 F (n 2 < 4); +1.1 2/3 F (n 3); +1.2 3/4: (1 + 3) / (1 + 4) = 0.8 T;
    +0.3 (T_m 100) 3/5 F, not over now; +1.3 4/6: 5/7 T; +0.2 4/7 F; +0.1 (T_m 0) 4/8 F; +0.1 4/9 F.
    """
    detector = OtfDetector(otf=0.5, threshold=1.0, limit=4)
    values = [0.9, 1.3, 1.1, 1.2, 0.3, 1.3, 0.2, 0.1, 0.1]
    tms = [1, 1, 1, 1, 100, 1, 1, 0, 0]
    expected = [False, False, False, True, False, True, False, False, False]
    counters = [(0, 1), (1, 2), (2, 3), (3, 4), (3, 5), (4, 6), (4, 7), (4, 8), (4, 9)]
    state = detector.initial_state(1)
    for k in range(1, 10):
        u, n = batch(values[:k])
        overloaded, state = detector.detect(u, n, migration_time_steps=tms[k - 1], state=state)
        assert overloaded.tolist() == [expected[k - 1]]
        assert (int(state.overload_steps[0]), int(state.total_steps[0])) == counters[k - 1]


def test_otf_state_is_not_mutated_and_empty_rows_are_not_counted():
    """A hypothetical evaluation leaves the old state intact; a host without history adds nothing."""
    detector = OtfDetector(otf=0.5, limit=1)
    old = OtfState(np.array([1, 0], dtype=np.int64), np.array([2, 0], dtype=np.int64))
    u, n = batch([1.0], [])
    overloaded, new = detector.detect(u, n, migration_time_steps=0.0, state=old)
    assert overloaded.tolist() == [True, False]  # (0 + 2) / (0 + 3) >= 0.5
    assert new.overload_steps.tolist() == [2, 0] and new.total_steps.tolist() == [3, 0]
    assert old.overload_steps.tolist() == [1, 0] and old.total_steps.tolist() == [2, 0]


def test_otf_initial_state_and_state_shape_check():
    """initial_state is zero int64 counters; a state of the wrong size is an InputError."""
    state = OtfDetector().initial_state(3)
    assert state.overload_steps.dtype == np.int64 and state.total_steps.tolist() == [0, 0, 0]
    u, n = batch([1.0], [1.0])
    with pytest.raises(InputError, match="state"):
        OtfDetector().detect(u, n, state=state)
