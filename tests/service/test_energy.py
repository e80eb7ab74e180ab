"""Energy used and saved from power states and utilization samples, worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from algorithms.power import linear_power_table
from neat.db import migrate
from neat.db.records import HostInfo
from neat.db.store import Store
from neat.service.energy import estimate_energy

T0 = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
LINE_W = linear_power_table(100.0, 200.0)


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'neat.db'}"
    migrate.upgrade(url)
    with Store.from_url(url) as s:
        s.upsert_hosts([HostInfo(name=n, cpu_mips=2000, cores=2, ram_mb=4096) for n in ("a", "b")])
        yield s


def test_two_hosts_one_sleeps_for_the_second_hour(store):
    """a: on for 2 h at 50 % -> 150 W x 2 h = 0.3 kWh, baseline the same.
    b: 1 h at 20 % (120 W) = 0.12 kWh, then suspended 1 h at 5 W = 0.005 kWh: used 0.125 kWh;
    awake it would have idled at 100 W: baseline 0.12 + 0.1 = 0.22 kWh, saved 0.095 kWh."""
    for k in range(12):
        store.record_samples(T0 + timedelta(minutes=10 * k), hosts={"a": 0.5} | ({"b": 0.2} if k < 6 else {}))
    store.record_power_transition("a", "on", at=T0 - timedelta(hours=1))
    store.record_power_transition("b", "on", at=T0 - timedelta(hours=1))
    store.record_power_transition("b", "suspended", at=T0 + timedelta(hours=1))
    report = estimate_energy(store, {}, T0, T0 + timedelta(hours=2), default_table_w=LINE_W, sleep_w=5.0)
    a, b = report.hosts
    assert a.used_kwh == pytest.approx(0.3) and a.saved_kwh == pytest.approx(0.0)
    assert b.used_kwh == pytest.approx(0.125)
    assert b.all_awake_kwh == pytest.approx(0.22)
    assert b.asleep_s == pytest.approx(3600.0)
    assert report.saved_kwh == pytest.approx(0.095)


def test_utilization_is_a_step_function_of_the_samples(store):
    """a: 0 % for the first 30 min (no sample yet), 100 % afterwards: (100 W x 0.5 h + 200 W x 0.5 h) = 0.15 kWh."""
    store.record_samples(T0 + timedelta(minutes=30), hosts={"a": 1.0})
    report = estimate_energy(store, {"b": np.full(11, 0.0)}, T0, T0 + timedelta(hours=1), default_table_w=LINE_W)
    a, b = report.hosts
    assert a.used_kwh == pytest.approx(0.15)
    assert b.used_kwh == 0.0  # its own (all-zero) table


def test_an_empty_period_is_refused(store):
    with pytest.raises(ValueError, match="must not be empty"):
        estimate_energy(store, {}, T0, T0, default_table_w=LINE_W)
