"""The storage contract of :meth:`Store.vm_samples` (a cloud's history for an export), on every backend."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from neat.db.store import Store
from tests.db.test_store import IST, inventory, step, t, us


def test_every_sample_as_a_long_table_sorted_by_vm_then_time(store: Store) -> None:
    """Stored out of order (steps 2, 0, 1), read back by uuid then time; v4 has none, so no row."""
    inventory(store)
    store.record_samples(step(2), vms={"v3": 0.32, "v1": 0.12})
    store.record_samples(step(0), vms={"v1": 0.10, "v2": 0.20})
    store.record_samples(step(1).astimezone(IST), vms={"v1": 0.11, "v3": 0.31}, hosts={"h1": 0.5})
    series = store.vm_samples()
    assert series.names == ("v1", "v2", "v3")
    assert series.owner.dtype == np.intp
    assert series.owner.tolist() == [0, 0, 0, 1, 2, 2]
    assert_array_equal(series.recorded_at, [us(step(k)) for k in (0, 1, 2, 0, 1, 2)])
    assert series.utilization.tolist() == [0.10, 0.11, 0.12, 0.20, 0.31, 0.32]


def test_since_and_until_bound_the_span_inclusively(store: Store) -> None:
    inventory(store)
    for k, value in enumerate((0.1, 0.2, 0.3, 0.4)):
        store.record_samples(step(k), vms={"v1": value})
    series = store.vm_samples(since=step(1), until=t(2 * 300 + 1))
    assert_array_equal(series.recorded_at, [us(step(1)), us(step(2))])
    assert series.utilization.tolist() == [0.2, 0.3]


def test_no_samples_is_an_empty_table(store: Store) -> None:
    inventory(store)
    series = store.vm_samples()
    assert series.names == ()
    assert series.owner.shape == series.recorded_at.shape == series.utilization.shape == (0,)
