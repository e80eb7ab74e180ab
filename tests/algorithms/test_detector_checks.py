"""Common checks every registered overload and underload detector must pass (STYLE.md rule 13).

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
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from algorithms._validation import Constraint, InputError, Interval, Nullable, Options, ParameterError, Sequence
from algorithms.base import OverloadDetector, UnderloadDetector
from algorithms.registry import GROUPS, available

OVERLOAD = sorted(ep.name for ep in entry_points(group=GROUPS["overload"]))
UNDERLOAD = sorted(ep.name for ep in entry_points(group=GROUPS["underload"]))
ALL = [("overload", name) for name in OVERLOAD] + [("underload", name) for name in UNDERLOAD]
IDS = [f"{role}-{name}" for role, name in ALL]

CHECK_SETTINGS = settings(max_examples=50, deadline=None)

#: Besides the defaults, configurations that reach the adaptive paths within short histories.
SMALL_CONFIGS: dict[str, list[dict[str, Any]]] = {
    "thr": [{"threshold": 0.5, "comparison": "inclusive"}],
    "last-n-average": [{"threshold": 0.5, "n": 2}],
    "mad": [{"window": 5, "min_history": 2, "comparison": "inclusive", "history_rule": "nonzero_run"}],
    "iqr": [{"window": 5, "min_history": 2, "fallback_threshold": None}],
    "lr": [{"length": 3, "weighting": "none", "comparison": "strict"}, {"length": 5, "safety": 1.0}],
    "lrr": [{"length": 3}, {"length": 5, "safety": 1.0, "fallback_threshold": None}],
    "otf": [{"otf": 0.3, "threshold": 0.8, "limit": 2}],
}
OVERLOAD_CONFIGS = [(name, {}) for name in OVERLOAD] + [
    (name, config) for name in OVERLOAD for config in SMALL_CONFIGS.get(name, [])
]


def load(role: str, name: str) -> type[Any]:
    """The class registered as ``name`` in ``role``, imported on its own."""
    (ep,) = (ep for ep in entry_points(group=GROUPS[role]) if ep.name == name)
    cls: type[Any] = ep.load()
    return cls


def call(detector: Any, u: Any, n: Any, tm: Any = 0.0, state: Any = None) -> tuple[np.ndarray, Any]:
    """Run ``detect`` on either role; underload detectors have no migration time and no state."""
    if isinstance(detector, OverloadDetector):
        return detector.detect(u, n, migration_time_steps=tm, state=state)
    return detector.detect(u, n), None


def is_stateful(detector: Any) -> bool:
    return isinstance(detector, OverloadDetector) and detector.initial_state(1) is not None


def state_arrays(state: Any) -> dict[str, np.ndarray]:
    """The per-host arrays of a state record (hosts on axis 0)."""
    return {f.name: np.asarray(getattr(state, f.name)) for f in dataclasses.fields(state)}


def row_of(state: Any, i: int) -> dict[str, np.ndarray]:
    return {key: value[i : i + 1] for key, value in state_arrays(state).items()}


def assert_same_state(batched: dict[str, np.ndarray], single: dict[str, np.ndarray]) -> None:
    assert batched.keys() == single.keys()
    for key, a in batched.items():
        b = single[key]
        assert a.shape == b.shape and a.dtype == b.dtype, key
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0.0, equal_nan=True, err_msg=key)
        else:
            np.testing.assert_array_equal(a, b, err_msg=key)


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


# --- Registry and parameter table ----------------------------------------------------------------


@pytest.mark.parametrize("role", ["overload", "underload"])
def test_registry_lists_every_entry_point(role):
    names = OVERLOAD if role == "overload" else UNDERLOAD
    assert list(available(role)) == names


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_default_construction_and_role(role, name):
    cls = load(role, name)
    detector = cls()
    assert isinstance(detector, OverloadDetector if role == "overload" else UnderloadDetector)
    assert dataclasses.is_dataclass(detector)
    with pytest.raises(dataclasses.FrozenInstanceError):
        detector.__setattr__("x", 1)


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_parameter_table_matches_fields(role, name):
    cls = load(role, name)
    assert set(cls.PARAMETERS) == {f.name for f in dataclasses.fields(cls)}
    for field in dataclasses.fields(cls):
        assert field.kw_only, field.name
        default = getattr(cls(), field.name)
        assert cls.PARAMETERS[field.name].accepts(default), field.name


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_invalid_parameters_name_owner_parameter_range_and_value(role, name):
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
def test_percentage_parameters_are_flagged(role, name):
    """A fraction parameter given as a percentage (85.0) is rejected with a hint."""
    cls = load(role, name)
    for parameter, constraint in cls.PARAMETERS.items():
        if isinstance(constraint, Interval) and constraint.kind == "float" and constraint.high <= 1.0:
            with pytest.raises(ParameterError, match="percentage"):
                cls(**{parameter: 85.0})


# --- Inputs and outputs --------------------------------------------------------------------------


def sample(n_hosts: int = 5, window: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded batch with n_valid 0, 1, short and full rows, NaN padding and per-host migration time."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(0.0, 1.3, size=(n_hosts, window))
    n = np.resize(np.array([0, 1, window // 3, window, window - 1], dtype=np.intp), n_hosts)
    u[np.arange(window)[None, :] < (window - n)[:, None]] = np.nan
    return u, n, rng.uniform(0.0, 2.0, size=n_hosts)


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_output_dtype_shape_determinism_and_read_only_inputs(role, name):
    detector = load(role, name)()
    u, n, tm = sample(window=110)
    copies = (u.copy(), n.copy(), tm.copy())
    for array in (u, n, tm):
        array.flags.writeable = False
    state = detector.initial_state(u.shape[0]) if is_stateful(detector) else None
    before = None
    if state is not None:
        before = {k: v.copy() for k, v in state_arrays(state).items()}
        for value in state_arrays(state).values():
            value.flags.writeable = False
    result, new_state = call(detector, u, n, tm, state)
    again, _ = call(detector, u, n, tm, state)
    assert result.dtype == np.bool_ and result.shape == (u.shape[0],)
    np.testing.assert_array_equal(result, again)
    for array, copy in zip((u, n, tm), copies, strict=True):
        np.testing.assert_array_equal(array, copy)
    if state is not None:
        assert before is not None
        assert_same_state(state_arrays(state), before)
        assert new_state is not state
        assert_same_state(state_arrays(detector.evaluate(u, n, tm, state)[1]), state_arrays(new_state))


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_empty_batch(role, name):
    detector = load(role, name)()
    result, _ = call(detector, np.zeros((0, 10)), np.zeros(0, dtype=np.intp), np.zeros(0))
    assert result.dtype == np.bool_ and result.shape == (0,)


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_percentages_rejected(role, name):
    detector = load(role, name)()
    with pytest.raises(InputError, match="percentage"):
        call(detector, np.array([[50.0, 85.0]]), np.array([2]))


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_negative_and_non_finite_values_rejected(role, name):
    detector = load(role, name)()
    with pytest.raises(InputError, match=">= 0"):
        call(detector, np.array([[0.5, -0.1]]), np.array([2]))
    with pytest.raises(InputError, match="NaN"):
        call(detector, np.array([[0.5, np.nan]]), np.array([2]))


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_wrong_shapes_rejected(role, name):
    detector = load(role, name)()
    with pytest.raises(InputError, match="2-D"):
        call(detector, np.array([0.5, 0.5]), np.array([2]))
    with pytest.raises(InputError, match="n_valid"):
        call(detector, np.array([[0.5, 0.5]]), np.array([2, 2]))
    with pytest.raises(InputError, match="n_valid"):
        call(detector, np.array([[0.5, 0.5]]), np.array([3]))
    with pytest.raises(InputError, match="n_valid"):
        call(detector, np.array([[0.5, 0.5]]), np.array([1.0]))
    if role == "overload":
        with pytest.raises(ValueError):
            call(detector, np.array([[0.5, 0.5]]), np.array([2]), tm=np.array([0.0, 1.0]))
        with pytest.raises(InputError, match="migration_time_steps"):
            call(detector, np.array([[0.5, 0.5]]), np.array([2]), tm=-1.0)


@pytest.mark.parametrize(("role", "name"), ALL, ids=IDS)
def test_padding_is_never_read(role, name):
    """Whatever sits left of the valid part (NaN, 0, 5.0) gives the same result and state."""
    detector = load(role, name)()
    u, n, tm = sample(n_hosts=10, window=110, seed=3)
    padding = np.arange(u.shape[1])[None, :] < (u.shape[1] - n)[:, None]
    results = []
    for fill in (np.nan, 0.0, 5.0):
        filled = np.where(padding, fill, u)
        state = detector.initial_state(u.shape[0]) if is_stateful(detector) else None
        for _ in range(2):
            result, state = call(detector, filled, n, tm, state)
        results.append((result, state))
    for result, state in results[1:]:
        np.testing.assert_array_equal(result, results[0][0])
        if state is not None:
            assert_same_state(state_arrays(state), state_arrays(results[0][1]))


# --- Batched equals per host ---------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per-host series of window + calls values, start counts (0, 1, short, full) and T_m."""
    n_hosts = draw(st.integers(1, 6))
    window = draw(st.sampled_from([1, 2, 3, 5, 12, 13, 30, 35, 110]))
    calls = draw(st.integers(1, 3))
    start = draw(
        st.lists(st.one_of(st.sampled_from([0, 1, window]), st.integers(0, window)), min_size=n_hosts, max_size=n_hosts)
    )
    value = st.one_of(st.sampled_from([0.0, 0.5, 0.8, 1.0]), st.floats(0.0, 1.3))
    flat = draw(st.lists(value, min_size=n_hosts * (window + calls), max_size=n_hosts * (window + calls)))
    series = np.array(flat).reshape(n_hosts, window + calls)
    tm = np.array(draw(st.lists(st.floats(0.0, 3.0), min_size=n_hosts, max_size=n_hosts)))
    return series, np.array(start, dtype=np.intp), tm, window


def prefix_batch(series: np.ndarray, start: np.ndarray, window: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Call ``k``: row i holds its first ``start[i] + k`` values, right-aligned, NaN-padded."""
    u = np.full((series.shape[0], window), np.nan)
    n = np.zeros(series.shape[0], dtype=np.intp)
    for i in range(series.shape[0]):
        seen = series[i, : start[i] + k]
        n[i] = min(seen.size, window)
        if n[i]:
            u[i, window - n[i] :] = seen[seen.size - n[i] :]
    return u, n


def check_batched_equals_per_host(
    role: str, name: str, config: dict[str, Any], data: tuple[np.ndarray, np.ndarray, np.ndarray, int]
) -> None:
    series, start, tm, window = data
    detector = load(role, name)(**config)
    n_hosts = series.shape[0]
    calls = series.shape[1] - window
    stateful = is_stateful(detector)
    batched_state = detector.initial_state(n_hosts) if stateful else None
    row_states = [detector.initial_state(1) if stateful else None for _ in range(n_hosts)]
    for k in range(calls):
        u, n = prefix_batch(series, start, window, k)
        batched, batched_state = call(detector, u, n, tm, batched_state)
        for i in range(n_hosts):
            single, row_states[i] = call(detector, u[i : i + 1], n[i : i + 1], float(tm[i]), row_states[i])
            assert bool(batched[i]) == bool(single[0]), (k, i)
            if stateful:
                assert_same_state(row_of(batched_state, i), state_arrays(row_states[i]))


@pytest.mark.parametrize(("name", "config"), OVERLOAD_CONFIGS, ids=[f"{n}-{c}" for n, c in OVERLOAD_CONFIGS])
@CHECK_SETTINGS
@given(data=histories())
def test_overload_batched_equals_per_host(name, config, data):
    check_batched_equals_per_host("overload", name, config, data)


@pytest.mark.parametrize("name", [name for name in UNDERLOAD if load("underload", name).ROWWISE])
@CHECK_SETTINGS
@given(data=histories())
def test_underload_batched_equals_per_host(name, data):
    check_batched_equals_per_host("underload", name, {}, data)


@pytest.mark.parametrize("name", [name for name in UNDERLOAD if not load("underload", name).ROWWISE])
@CHECK_SETTINGS
@given(data=histories(), seed=st.integers(0, 2**32 - 1))
def test_underload_judging_all_hosts_ignores_order_and_switched_off_hosts(name, data, seed):
    """A detector that judges hosts against each other flags the same hosts whatever their order
    (newest values distinct, so no tie decides), and a host at 0 % added changes nothing."""
    series, start, _, window = data
    u, n = prefix_batch(series, start, window, 0)
    last = np.where(n > 0, u[:, -1], -1.0)
    assume(np.unique(last).size == last.size)
    detector = load("underload", name)()
    flagged, _ = call(detector, u, n)
    order = np.random.default_rng(seed).permutation(u.shape[0])
    permuted, _ = call(detector, u[order], n[order])
    np.testing.assert_array_equal(permuted, flagged[order])
    with_off, _ = call(detector, np.vstack([u, np.zeros((1, window))]), np.append(n, window))
    np.testing.assert_array_equal(with_off[:-1], flagged)
    assert not with_off[-1]
