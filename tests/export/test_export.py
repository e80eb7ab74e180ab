"""``neat export``: the database's samples and inventory as a long table and a scenario file.

The database (SQLite, a file) holds the cloud of :mod:`tests.export.history`: three hosts and four
VMs sampled every 300 s, values encoding their position, so every expected array is checked by eye.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

import neat.export
from neat.db.records import ActionSpec, SampleSeries, VmInfo
from neat.db.store import Store
from neat.decision.limits import SERVICE_DEFAULTS
from neat.export import (
    SCENARIO_FILE,
    SERVICE_COSTS,
    TRACES_FILE,
    ExportError,
    export_history,
    infer_interval_s,
    sample_grid,
    write_export,
)
from neat.scenario import load_scenario
from neat.traces import load_long_table, load_traces
from tests.export.history import CONFIG, G5_W, VMS, fill, step, value


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """The cloud of :mod:`tests.export.history` in a SQLite file."""
    (tmp_path / "db").mkdir()
    db = fill(f"sqlite:///{tmp_path / 'db' / 'neat.db'}")
    yield db
    db.close()


def test_the_grid_takes_each_vms_newest_sample_of_each_step() -> None:
    """Samples (s): a at 0, 300, 600; b at 2, 299, 601. The grid ends at the newest (601) and steps
    back 300 s: instants 1, 301, 601, each taking the newest sample in (instant - 300, instant].
    a: 0 -> step 0, 300 -> 1, 600 -> 2. b: 2 and 299 -> step 1 (299, the newer, wins), 601 -> 2; b has
    nothing at step 0."""
    seconds = np.array([0, 300, 600, 2, 299, 601], dtype=np.int64)
    series = SampleSeries(
        ("a", "b"),
        np.array([0, 0, 0, 1, 1, 1], dtype=np.intp),
        (np.datetime64("2026-01-01T00:00:00", "us") + seconds * 1_000_000).astype("datetime64[us]"),
        np.array([0.1, 0.2, 0.3, 0.5, 0.6, 0.7]),
    )
    instants, table = sample_grid(series, 300)
    assert_array_equal(
        instants, np.array(["2026-01-01T00:00:01", "2026-01-01T00:05:01", "2026-01-01T00:10:01"], "M8[us]")
    )
    assert_array_equal(table, [[0.1, 0.2, 0.3], [np.nan, 0.6, 0.7]])
    assert infer_interval_s(series) == 300  # gaps 300, 300, 297, 302: the median


def test_the_long_table_has_one_row_per_vm_and_step(store: Store, tmp_path: Path) -> None:
    """Six rounds a few seconds late (0, 1, 2, 0, 1, 2 s): the grid ends at the last (1502 s) and
    every round falls in its own step."""
    history = export_history(store, CONFIG, source="db")
    traces_file, _ = write_export(history, tmp_path / "out")
    frame = pd.read_parquet(traces_file)
    assert list(frame.columns) == ["vm", "timestamp", "cpu_fraction"]
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert len(frame) == 4 * 6
    assert frame["vm"].tolist() == [vm for vm in VMS for _ in range(6)]
    assert frame["timestamp"].iloc[0] == pd.Timestamp(step(0, 2.0))
    assert frame["timestamp"].iloc[5] == pd.Timestamp(step(5, 2.0))
    assert frame["cpu_fraction"].tolist() == [value(i, k) for i in range(4) for k in range(6)]
    assert history.start == step(0, 2.0)


def test_the_scenario_describes_the_hosts_flavors_placement_and_limits(store: Store) -> None:
    """c1 and c2 share a type (2 x 2000 MIPS, 8 GB, the [hosts] defaults); g5-1 matches the g5-* profile
    (4 x 2660 MIPS, 16 GB, its power table and 1 Gbit/s link). Flavors: 1 vCPU of 2000 MIPS with 1024
    MB (vm-a, vm-c) or 2048 MB (vm-b); vm-d's 2 vCPUs on a 2660 MIPS host: 5320 MIPS."""
    scenario = export_history(store, CONFIG).scenario
    assert [(t.name, t.count, t.cores, t.core_mips, t.ram_mb, t.bandwidth_mbit_s) for t in scenario.host_types] == [
        ("2 x 2000 MIPS, 8192 MB", 2, 2, 2000.0, 8192.0, 10_000.0),
        ("4 x 2660 MIPS, 16384 MB", 1, 4, 2660.0, 16384.0, 1000.0),
    ]
    assert scenario.host_types[1].power_w.tolist() == G5_W
    assert [(v.name, v.mips, v.ram_mb) for v in scenario.vm_types] == [
        ("1 vCPU, 1024 MB", 2000.0, 1024.0),
        ("1 vCPU, 2048 MB", 2000.0, 2048.0),
        ("2 vCPU, 1024 MB", 5320.0, 1024.0),
    ]
    inventory = scenario.inventory
    assert inventory is not None
    assert inventory.host_names == ("c1", "c2", "g5-1")
    assert inventory.host_types == (0, 0, 1)
    assert inventory.vm_names == VMS
    assert inventory.vm_types == (0, 1, 0, 2)
    assert inventory.vm_hosts == (0, 0, 1, 2)
    assert scenario.limits == SERVICE_DEFAULTS
    assert scenario.costs == SERVICE_COSTS
    assert scenario.interval_s == 300.0


def test_the_first_placement_undoes_the_migrations_made_since(store: Store) -> None:
    """vm-a moved c1 -> c2 at step 3 and vm-c c2 -> c1 before step 0 (the inventory shows both done):
    at the first step vm-a was on c1 again, vm-c already on c1. A failed migration changes nothing."""
    moves = store.create_plan(
        [
            ActionSpec(kind="migrate", host="c2", vm_uuid="vm-c", target_host="c1"),
            ActionSpec(kind="migrate", host="c1", vm_uuid="vm-a", target_host="c2"),
            ActionSpec(kind="migrate", host="c1", vm_uuid="vm-b", target_host="c2"),
        ],
        at=step(-1),
    )
    c, a, b = moves.actions
    store.finish_action(c.id, "succeeded", at=step(-1, 30))
    store.finish_action(a.id, "succeeded", at=step(3, 30))
    store.finish_action(b.id, "failed", at=step(3, 40))
    store.upsert_vms(
        [
            VmInfo(uuid="vm-a", host="c2", ram_mb=1024, vcpus=1),
            VmInfo(uuid="vm-c", host="c1", ram_mb=1024, vcpus=1),
        ],
        at=step(4),
    )
    inventory = export_history(store, CONFIG).scenario.inventory
    assert inventory is not None
    assert [inventory.host_names[h] for h in inventory.vm_hosts] == ["c1", "c1", "c1", "g5-1"]


def test_the_files_read_back_as_the_export(store: Store, tmp_path: Path) -> None:
    """What the simulator reads from the two files is what was exported."""
    history = export_history(store, CONFIG)
    traces_file, scenario_file = write_export(history, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [SCENARIO_FILE, TRACES_FILE]
    traces = load_traces(traces_file)
    assert (traces.names, traces.interval_s, traces.source) == (history.traces.names, 300, str(traces_file))
    assert_array_equal(traces.utilization, history.traces.utilization)
    assert_array_equal(load_long_table(traces_file).utilization, history.traces.utilization)
    scenario = load_scenario(scenario_file)
    expected = history.scenario
    assert dataclasses.replace(scenario, host_types=(), name="") == dataclasses.replace(
        expected, host_types=(), name=""
    )
    assert scenario.name == expected.name
    for got, want in zip(scenario.host_types, expected.host_types, strict=True):
        assert dataclasses.replace(got, power_w=None) == dataclasses.replace(want, power_w=None)
        assert_array_equal(got.power_w, want.power_w)


def test_a_span_and_a_coarser_step(store: Store) -> None:
    """since step 1, until step 4 (a few seconds late): samples at 301, 602, 900 and 1201 s. Steps of
    600 s ending at the newest: 601 s and 1201 s, each with the newest sample of the 600 s before
    it: step 1's (301 s) and step 4's (1201 s)."""
    history = export_history(store, CONFIG, since=step(1), until=step(4, 5), interval_s=600)
    assert history.traces.interval_s == 600
    assert history.start == step(2, 1.0)
    assert history.traces.utilization.tolist()[0] == [value(0, 1), value(0, 4)]


def test_vms_missing_a_step_are_left_out_with_a_note(store: Store) -> None:
    store.upsert_vms([VmInfo(uuid="vm-late", host="c2", ram_mb=512, vcpus=1)], at=step(3))
    store.record_samples(step(4), vms={"vm-late": 0.5})
    store.record_samples(step(5), vms={"vm-late": 0.5})
    store.upsert_vms([VmInfo(uuid="vm-gone", host=None, ram_mb=512, vcpus=1)], at=step(0))
    for k in range(6):
        store.record_samples(step(k, k % 3 + 0.5), vms={"vm-gone": 0.5})
    history = export_history(store, CONFIG)
    assert history.traces.names == VMS
    assert history.notes == (
        "1 VM(s) left out: they lack a sample at some step (vm-late)",
        "1 VM(s) left out: they were on no host at the start (vm-gone)",
    )


@pytest.mark.parametrize(
    ("since", "interval_s", "message"),
    [
        (step(9), None, r"db: no VM samples from 2026-01-01T12:45:00\+00:00; the local managers store them"),
        (step(5), None, r"db: the samples from .* span less than one 300 s step; a replay needs at least two steps"),
        (
            None,
            100,
            r"db: no VM has a sample at every 100 s step in the database and a host at the first \(4 VM\(s\) left "
            r"out: they lack a sample at some step \(vm-a, vm-b, vm-c, vm-d\)\); the samples are about 301 s apart: "
            r"pass --interval-s 301",
        ),
    ],
)
def test_too_little_history_is_an_error(
    store: Store, since: datetime | None, interval_s: int | None, message: str
) -> None:
    with pytest.raises(ExportError, match=message):
        export_history(store, CONFIG, since=since, interval_s=interval_s, source="db")


def test_an_export_is_written_whole_or_not_at_all(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = export_history(store, CONFIG)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match=r"busy: the folder exists and is not empty"):
        write_export(history, busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]

    def broken(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(neat.export, "scenario_toml", broken)
    with pytest.raises(OSError, match="No space left"):
        write_export(history, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "db"]  # no folder, no staging left
