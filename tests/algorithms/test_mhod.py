"""MHOD: reference vectors 14-18 of docs/algorithms.md, batching, purity and a rebuild reference."""

from __future__ import annotations

import itertools
from dataclasses import fields
from fractions import Fraction

import numpy as np
import pytest

from algorithms import ParameterError, create
from algorithms._validation import InputError
from algorithms.overload import _mhod_model as model
from algorithms.overload.mhod import MhodDetector, MhodState

U44 = [
    0.859, 0.6988333333333333, 0.811, 0.7685833333333333, 0.88, 0.79475, 0.7965,
    0.7471666666666666, 0.92675, 0.8313333333333334, 0.9466666666666667, 0.7655833333333333, 0.803,
    1.0415833333333333, 0.9058333333333334, 0.7433333333333333, 0.9835, 0.9040833333333333,
    0.9189166666666667, 0.8335, 1.10275, 0.8660833333333333, 0.93475, 0.773, 0.91825,
    0.8491666666666666, 0.7414166666666666, 0.8538333333333333, 0.8065833333333333,
    0.9409166666666666, 1.1623333333333334, 0.9215833333333333, 0.8944166666666666, 0.96475,
    0.8331666666666667, 1.2955, 0.8536666666666667, 0.9679166666666666, 1.197, 0.9381666666666667,
    0.98875, 1.0150833333333333, 1.1393333333333333, 1.0570833333333334,
]  # fmt: skip

#: Vector 18's detector: interval 300 s, migration 20 s.
VECTOR_18 = {"state_config": (0.99,), "otf": 0.2, "learning_steps": 30}
TM_18 = 20 / 300


def window_of(series: list[list[float]], t: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned, NaN-padded batch of the first ``t`` values of each row (``None``: no value)."""
    u = np.full((len(series), window), np.nan)
    n = np.zeros(len(series), dtype=np.intp)
    for row, values in enumerate(series):
        seen = [v for v in values[:t] if v is not None][-window:]
        n[row] = len(seen) if values[t - 1] is not None else 0
        if seen:
            u[row, window - len(seen) :] = seen
    return u, n


def run(detector: MhodDetector, series: list[list[float]], tm: float | np.ndarray = 0.0, window: int = 100):
    """Call ``detect`` once per step; rows holding ``None`` at a step have no new value then."""
    state = detector.initial_state(len(series))
    out = []
    for t in range(1, len(series[0]) + 1):
        u, n = window_of(series, t, window)
        overloaded, state = detector.detect(u, n, migration_time_steps=tm, state=state)
        out.append((overloaded, state))
    return out


# --- parameters -------------------------------------------------------------------------------


def test_parameter_table_matches_fields_and_defaults():
    d = MhodDetector()
    assert set(MhodDetector.PARAMETERS) == {f.name for f in fields(d)}
    assert (d.state_config, d.otf, d.window_sizes, d.bruteforce_step, d.learning_steps) == (
        (0.8,),
        0.1,
        (30, 40, 50, 60, 70, 80, 90, 100),
        0.5,
        10,
    )
    assert isinstance(create("overload", "mhod", otf=0.2), MhodDetector)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("state_config", (0.8, 0.4)),
        ("state_config", ()),
        ("state_config", (0.0,)),
        ("otf", 0.0),
        ("otf", 1.5),
        ("window_sizes", (1, 2)),
        ("window_sizes", (30, 30)),
        ("window_sizes", (30.0,)),
        ("bruteforce_step", 0.0),
        ("bruteforce_step", 2.0),
        ("learning_steps", 0),
        ("learning_steps", 2.5),
    ],
)
def test_invalid_parameter_message_names_owner_parameter_and_value(name, value):
    with pytest.raises(ParameterError) as info:
        MhodDetector(**{name: value})
    message = str(info.value)
    assert "MhodDetector" in message
    assert repr(name) in message
    assert f"Got {value!r} instead" in message


def test_state_for_another_batch_is_rejected():
    d = MhodDetector()
    with pytest.raises(InputError, match="MhodDetector: state must be an MhodState for 2 hosts"):
        d.detect(np.full((2, 3), 0.5), [3, 3], state=d.initial_state(3))


# --- reference vectors 14-17: the model's pieces --------------------------------------------


@pytest.mark.parametrize(
    ("m", "expected"),
    [([0.2, 0.8], [1.689655, 0.827586]), ([0.62, 0.38], [1.404, 0.341])],
)
def test_vector_14_l_functions(m, expected):
    """P = [[0.4, 0.6], [0.9, 0.1]], start in state 0; with a = 0.8, b = 0.2 (first case):
    D = 0.4*0.8*(1 - 0.02) + 0.02 + 0.6*0.9*0.16 - 1 = -0.58, L0 = 0.98/0.58, L1 = 0.48/0.58."""
    p = np.array([[0.4, 0.6], [0.9, 0.1]])
    closed, ok = model.l_functions_two_states(p, [1.0, 0.0], m)
    general, ok_general = model.l_functions(p, [1.0, 0.0], m)
    decimals = 6 if m[0] == 0.2 else 3
    np.testing.assert_array_equal(closed.round(decimals), expected)
    np.testing.assert_allclose(general, closed, rtol=1e-12)
    assert ok and ok_general


def test_general_l_functions_equal_closed_form_and_inverse():
    rng = np.random.default_rng(14)
    p = rng.uniform(0, 0.5, size=(50, 2, 2))
    start = np.eye(2)[rng.integers(0, 2, size=50)]
    m = rng.uniform(0, 1, size=(50, 2))
    closed, _ = model.l_functions_two_states(p, start, m)
    general, _ = model.l_functions(p, start, m)
    np.testing.assert_allclose(general, closed, rtol=1e-10)

    p3 = rng.uniform(0, 0.33, size=(3, 3))
    m3 = np.array([0.1, 0.5, 0.0])
    expected = np.array([0.0, 0.0, 1.0]) @ np.linalg.inv(np.eye(3) - np.diag(1 - m3) @ p3)
    np.testing.assert_allclose(model.l_functions(p3, [0.0, 0.0, 1.0], m3)[0], expected, rtol=1e-12)


def test_l_functions_flag_a_singular_system():
    """P = [[.5, .5], [.5, .5]] and no migration: the chain never leaves, D = 0 exactly."""
    p = np.full((2, 2), 0.5)
    for solver in (model.l_functions, model.l_functions_two_states):
        ls, ok = solver(p, [0.0, 1.0], [0.0, 0.0])
        assert not ok
        assert np.isnan(ls).all()


@pytest.mark.parametrize(
    ("objective", "constraint", "expected"),
    [
        (lambda x, y: x + y, lambda x, y: x + y <= 10, [1.0, 1.0]),
        (lambda x, y: x + y, lambda x, y: x + y <= 0.5, [0.0, 0.5]),
        (lambda x, y: 2 * x + y, lambda x, y: x + y <= 0.5, [0.5, 0.0]),
        (lambda x, y: x - y, lambda x, y: x - y <= 10, [1.0, 0.0]),
    ],
)
def test_vector_15_grid_solver(objective, constraint, expected):
    """Step 0.1; ties keep the first point (x outer): x + y = 0.5 is first reached at (0, 0.5)."""
    points = model.grid_points(0.1, 2)
    x, y = points[:, 0], points[:, 1]
    index, found = model.best_grid_point(objective(x, y), constraint(x, y))
    assert found
    np.testing.assert_allclose(points[index], expected)


def test_grid_points_order_and_endpoint():
    np.testing.assert_array_equal(
        model.grid_points(0.5, 2),
        [[0, 0], [0, 0.5], [0, 1], [0.5, 0], [0.5, 0.5], [0.5, 1], [1, 0], [1, 0.5], [1, 1]],
    )
    np.testing.assert_array_equal(model.grid_points(0.3, 1)[:, 0], [0.0, 0.3, 0.6, 3 * 0.3])
    assert model.grid_points(0.5, 3).shape == (27, 3)


def test_best_grid_point_needs_a_positive_feasible_objective():
    index, found = model.best_grid_point([[0.0, -1.0, 2.0], [1.0, 3.0, 3.0]], [[True, True, False], [True, True, True]])
    np.testing.assert_array_equal(found, [False, True])
    assert index[1] == 1


@pytest.mark.parametrize(
    ("config", "u", "expected"),
    [
        ([0.4, 0.7], [0.3, 0.4, 0.6, 0.7, 1.1], [0, 1, 1, 2, 2]),
        ([1.0], [0.9, 1.0], [0, 1]),
        # openstack-neat's bug would put 0.85 in state 2 (it compares u >= 1, the previous index)
        ([0.4, 0.7, 0.9], [0.0, 0.5, 0.85, 0.9, 1.3], [0, 1, 2, 3, 3]),
    ],
)
def test_vector_16_state_mapping(config, u, expected):
    np.testing.assert_array_equal(model.state_index(config, u), expected)


def test_vector_17_acceptable_variance():
    """0.2 * 0.8 / 5 = 0.032; 0.6 * 0.4 / 15 = 0.016."""
    np.testing.assert_allclose(model.acceptable_variance([0.2, 0.6], [5, 15]), [0.032, 0.016])


def test_vector_17_estimate_is_count_over_window_size():
    """States 0 0 1 0 1 0 0 0 0 0 0 0 (the first transition is from state 0): the transitions out of
    state 0 go to [0, 0, 1, 1, 0, 0, 0, 0, 0, 0], so with w = 100: p00 = 8/100, p01 = 2/100;
    out of state 1 both go to 0: p10 = 2/100."""
    states = [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    d = MhodDetector(state_config=(0.5,), window_sizes=(100,))
    _, state = run(d, [[0.9 if s else 0.1 for s in states]])[-1]
    p, selected = d.transition_estimates(state)
    np.testing.assert_allclose(p[0], [[0.08, 0.02], [0.02, 0.0]])
    np.testing.assert_array_equal(selected[0], [[100, 100], [100, 100]])
    np.testing.assert_array_equal(state.transitions[0], [10, 2])


def test_window_choice_follows_the_variance_rule():
    """Windows (2, 4), every state 0, so each transition goes 0 -> 0. After 4 steps the count
    windows of (0, 0) hold counts 1 2 2 2 (w = 2: S1 = 4 over the last 2, spread 2*8 - 16 = 0 <= 0)
    and 1 2 3 4 (w = 4: spread 4*30 - 100 = 20 > c (w - c)(w - 1) = 4*0*3 = 0): w = 4 fails, the
    chosen window is 2 and p00 = 2/2. For (0, 1) the counts are all 0 and both windows pass."""
    d = MhodDetector(state_config=(0.5,), window_sizes=(2, 4))
    _, state = run(d, [[0.1] * 4])[-1]
    p, selected = d.transition_estimates(state)
    np.testing.assert_array_equal(selected[0], [[2, 4], [4, 4]])
    np.testing.assert_array_equal(p[0], [[1.0, 0.0], [0.0, 0.0]])


# --- reference vector 18: end to end ----------------------------------------------------------


def test_vector_18_end_to_end():
    d = MhodDetector(**VECTOR_18)
    results = run(d, [U44], tm=TM_18)
    decisions = [bool(overloaded[0]) for overloaded, _ in results]
    assert decisions == [False] * 43 + [True]

    _, after_43 = results[42]
    p43, _ = d.transition_estimates(after_43)
    assert p43[0, 1, 1] == pytest.approx(1 / 30)
    np.testing.assert_array_equal(after_43.policy[0], [0.0, 0.0])

    _, after_44 = results[43]
    p, selected = d.transition_estimates(after_44)
    assert (after_44.steps[0], after_44.steps_in_top_state[0]) == (44, 8)
    np.testing.assert_allclose(p[0], [[0.8, 0.2], [5 / 30, 2 / 30]])
    np.testing.assert_array_equal(selected[0], [[30, 30], [30, 30]])
    assert np.isnan(after_44.policy[0]).all()


def test_hosts_without_a_new_value_are_untouched():
    """Two copies of U44 for 43 calls; at call 44 only the first brings a value."""
    d = MhodDetector(**VECTOR_18)
    _, state = run(d, [U44, U44], tm=TM_18, window=44)[-2]
    u = np.array([U44, U44])
    overloaded, new = d.detect(u, [44, 0], migration_time_steps=TM_18, state=state)
    assert overloaded.tolist() == [True, False]
    for f in fields(MhodState):
        np.testing.assert_array_equal(getattr(new, f.name)[1], getattr(state, f.name)[1])
    quiet, same = d.detect(u, [0, 0], state=new)
    assert not quiet.any()
    assert same is new


# --- batching and purity ----------------------------------------------------------------------


def test_batched_run_equals_each_host_alone():
    rng = np.random.default_rng(18)
    late = [None] * 10 + U44[:34]
    gaps = [None if i % 7 == 3 else v for i, v in enumerate(np.roll(U44, 11).tolist())]
    series = [U44, list(np.roll(U44, 5)), [0.93 * v for v in U44], [min(1.05 * v, 1.4) for v in U44], late, gaps]
    tm = rng.uniform(0, 1, size=len(series))
    d = MhodDetector(state_config=(0.9,), otf=0.25, window_sizes=(5, 10, 20), learning_steps=8)
    batched = run(d, series, tm)
    alone = [run(d, [s], tm[i]) for i, s in enumerate(series)]
    for t, (overloaded, state) in enumerate(batched):
        for i in range(len(series)):
            assert overloaded[i] == alone[i][t][0][0]
            for f in fields(MhodState):
                np.testing.assert_array_equal(getattr(state, f.name)[i], getattr(alone[i][t][1], f.name)[0])
    assert any(o.any() for o, _ in batched)


def test_inputs_and_state_are_not_mutated():
    d = MhodDetector(state_config=(0.9,), window_sizes=(3, 5), learning_steps=3)
    _, state = run(d, [U44[:20], U44[5:25]], tm=0.5)[-1]
    for f in fields(MhodState):
        getattr(state, f.name).flags.writeable = False
    before = {f.name: getattr(state, f.name).copy() for f in fields(MhodState)}
    u, n = window_of([U44[:21], U44[5:26]], 21, 30)
    u.flags.writeable = False
    n.flags.writeable = False
    _, new = d.evaluate(u, n, np.full(2, 0.5), state)
    for f in fields(MhodState):
        np.testing.assert_array_equal(getattr(state, f.name), before[f.name])
    assert (new.steps == state.steps + 1).all()


# --- against a rebuild-from-history reference ---------------------------------------------------


def reference_mhod(detector: MhodDetector, series: list[float], tm: float) -> list[tuple[bool, list, list, np.ndarray]]:
    """openstack-neat's semantics rebuilt from the whole history at every call (no incremental
    state), with the corrected state mapping and the paper's decision rule; exact variances."""
    config, sizes = list(detector.state_config), list(detector.window_sizes)
    top = len(config)
    n_states = top + 1
    out = []
    for t in range(1, len(series) + 1):
        states = [next((i for i, thr in enumerate(config) if u < thr), top) for u in series[:t]]
        requests: list[list[int]] = [[] for _ in range(n_states)]
        estimates = {key: [] for key in itertools.product(range(n_states), range(n_states), sizes)}
        prev = 0
        for cur in states:
            requests[prev].append(cur)
            for j, w in itertools.product(range(n_states), sizes):
                estimates[prev, j, w] = (estimates[prev, j, w] + [Fraction(requests[prev][-w:].count(j), w)])[-w:]
            prev = cur
        p = [[0.0] * n_states for _ in range(n_states)]
        selected = [[sizes[0]] * n_states for _ in range(n_states)]
        for i, j in itertools.product(range(n_states), range(n_states)):
            for w in sizes:
                est = estimates[i, j, w]
                if est:
                    mean = sum(est) / w
                    variance = sum((x - mean) ** 2 for x in est) / (w - 1) if len(est) == w else 1
                    if variance > est[-1] * (1 - est[-1]) / w:
                        break
                selected[i][j] = w
            est = estimates[i, j, selected[i][j]]
            p[i][j] = float(est[-1]) if est else 0.0
        overloaded, policy = False, np.full(n_states, np.nan)
        if t >= detector.learning_steps and states[-1] == top and p[top][top] > 0:
            start = [0.0] * top + [1.0]
            best, solution = 0.0, None
            for m in model.grid_points(detector.bruteforce_step, n_states):
                ls, ok = (model.l_functions_two_states if n_states == 2 else model.l_functions)(p, start, m)
                if not ok:
                    continue
                objective = sum(float(v) for v in ls)
                denominator = tm + t + objective
                numerator = tm + states.count(top) + float(ls[-1])
                if objective > best and denominator != 0 and numerator / denominator <= detector.otf:
                    best, solution = objective, m
            overloaded = solution is None
            if solution is not None:
                policy = solution
        out.append((overloaded, p, selected, policy))
    return out


@pytest.mark.parametrize(
    "params",
    [
        {"state_config": (0.8,), "otf": 0.5, "window_sizes": (3, 5, 8), "learning_steps": 5},
        {"state_config": (0.7,), "otf": 0.7, "window_sizes": (2, 4), "bruteforce_step": 0.25, "learning_steps": 1},
        {"state_config": (0.5, 0.8), "otf": 0.5, "window_sizes": (3, 6), "learning_steps": 5},
    ],
)
def test_incremental_state_matches_a_rebuild_from_the_whole_history(params):
    """90 steps with windows of at most 8: every ring buffer (16 slots) wraps several times."""
    rng = np.random.default_rng(len(params["window_sizes"]) + len(params["state_config"]))
    series = np.clip(rng.normal(0.75, 0.2, size=(3, 90)), 0, 1.3)
    series[2, 30:60] = 0.95  # a long stay in the top state: constant estimates, zero variance
    d = MhodDetector(**params)
    ours = run(d, series.tolist(), tm=0.4, window=10)
    for row in range(series.shape[0]):
        expected = reference_mhod(d, series[row].tolist(), 0.4)
        for (overloaded, state), (want_overloaded, want_p, want_selected, want_policy) in zip(
            ours, expected, strict=True
        ):
            p, selected = d.transition_estimates(state)
            np.testing.assert_array_equal(selected[row], want_selected)
            np.testing.assert_array_equal(p[row], want_p)
            assert overloaded[row] == want_overloaded
            np.testing.assert_array_equal(state.policy[row], want_policy)
    assert any(o.any() for o, _ in ours)
    assert any((~np.isnan(state.policy[:, 0])).any() for _, state in ours)
