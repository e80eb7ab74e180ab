"""Trace loaders: PlanetLab folders, long tables (CSV, Parquet), the seeded synthetic day.

Every bad input raises TraceError naming the file, the line and the offending text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neat.traces import (
    PLANETLAB_INTERVAL_S,
    PLANETLAB_STEPS,
    TraceError,
    load_long_table,
    load_planetlab,
    synthetic_planetlab_like,
)


def write_day(folder: Path, files: dict[str, list[str]]) -> Path:
    """One PlanetLab file per entry, one line per value."""
    folder.mkdir(exist_ok=True)
    for name, lines in files.items():
        (folder / name).write_text("".join(f"{line}\n" for line in lines))
    return folder


def constant(value: int, n: int = PLANETLAB_STEPS) -> list[str]:
    return [str(value)] * n


def with_line(line: int, text: str) -> list[str]:
    """A valid 288-line file (all 10) whose 1-based ``line`` holds ``text``."""
    lines = constant(10)
    lines[line - 1] = text
    return lines


# -- PlanetLab ------------------------------------------------------------------------------------


def test_planetlab_files_in_byte_order_values_divided_by_100(tmp_path: Path) -> None:
    """Byte order: "B z" (0x42) < "Z" (0x5a) < "a" (0x61) < "a b" (space 0x20 after 'a') < "ab" < "b".

    Each file holds a constant percent that identifies it, so row i names its file.
    """
    files = {"b": 6, "a b": 4, "Z": 2, "ab": 5, "a": 3, "B z": 1}
    day = write_day(tmp_path / "day", {name: constant(value) for name, value in files.items()})
    traces = load_planetlab(day)
    assert traces.names == ("B z", "Z", "a", "a b", "ab", "b")
    assert traces.utilization.shape == (6, 288)
    assert traces.utilization[:, 0].tolist() == [0.01, 0.02, 0.03, 0.04, 0.05, 0.06]
    assert traces.interval_s == PLANETLAB_INTERVAL_S == 300
    assert traces.source == str(day)


def test_planetlab_values_keep_their_position(tmp_path: Path) -> None:
    """Line i (0-based) holds i % 101 percent: utilization[0, i] == (i % 101) / 100, i.e. 0, 0.01, ..., 1.0, 0, ..."""
    day = write_day(tmp_path / "day", {"vm": [str(i % 101) for i in range(288)]})
    u = load_planetlab(day).utilization
    assert u[0, :3].tolist() == [0.0, 0.01, 0.02]
    assert u[0, 100] == 1.0
    assert u[0, 101] == 0.0
    assert u[0, 287] == 0.85  # 287 % 101 = 287 - 202 = 85


def test_planetlab_trailing_blank_line_is_tolerated(tmp_path: Path) -> None:
    day = tmp_path / "day"
    day.mkdir()
    (day / "vm").write_text("7\n" * 288 + "\n")
    assert load_planetlab(day).utilization[0, -1] == 0.07


def test_planetlab_hidden_files_are_ignored(tmp_path: Path) -> None:
    day = write_day(tmp_path / "day", {"vm": constant(1), ".DS_Store": ["junk"]})
    assert load_planetlab(day).names == ("vm",)


def test_planetlab_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-day"
    with pytest.raises(TraceError, match="no such trace folder") as err:
        load_planetlab(missing)
    assert str(missing) in str(err.value)


def test_planetlab_file_instead_of_folder(tmp_path: Path) -> None:
    file = tmp_path / "vm"
    file.write_text("1\n" * 288)
    with pytest.raises(TraceError, match="not a folder") as err:
        load_planetlab(file)
    assert str(file) in str(err.value)


def test_planetlab_empty_folder(tmp_path: Path) -> None:
    day = tmp_path / "day"
    day.mkdir()
    with pytest.raises(TraceError, match="holds no trace files") as err:
        load_planetlab(day)
    assert str(day) in str(err.value)


@pytest.mark.parametrize(
    ("line", "text", "expected"),
    [
        (5, "12.5", "line 5: '12.5' is not an integer CPU percent"),
        (288, "abc", "line 288: 'abc' is not an integer CPU percent"),
        (1, "101", "line 1: 101 is outside 0..100"),
        (17, "-1", "line 17: -1 is outside 0..100"),
        (100, "", "line 100: '' is not an integer CPU percent"),
    ],
)
def test_planetlab_bad_value_names_file_line_and_text(tmp_path: Path, line: int, text: str, expected: str) -> None:
    day = write_day(tmp_path / "day", {"a": constant(1), "b c": with_line(line, text)})
    with pytest.raises(TraceError) as err:
        load_planetlab(day)
    message = str(err.value)
    assert str(day / "b c") in message
    assert expected in message


@pytest.mark.parametrize("n_lines", [287, 289, 0])
def test_planetlab_wrong_line_count(tmp_path: Path, n_lines: int) -> None:
    day = write_day(tmp_path / "day", {"vm": constant(1, n_lines)})
    with pytest.raises(TraceError) as err:
        load_planetlab(day)
    assert str(err.value) == f"{day / 'vm'}: has {n_lines} lines; expected 288 (one CPU percent per line)"


def test_planetlab_non_text_file(tmp_path: Path) -> None:
    day = tmp_path / "day"
    day.mkdir()
    (day / "vm").write_bytes(b"\xff\xfe" * 10)
    with pytest.raises(TraceError, match="not a text file") as err:
        load_planetlab(day)
    assert str(day / "vm") in str(err.value)


# -- long tables ----------------------------------------------------------------------------------


def write_csv(tmp_path: Path, text: str, name: str = "usage.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_long_table_steps_percent_by_option(tmp_path: Path) -> None:
    """VMs sorted by name: row 0 is "a" (10 %, 20 %), row 1 is "b" (30 %, 40 %); rows may come in any order."""
    path = write_csv(tmp_path, "vm,step,cpu\nb,1,40\na,0,10\nb,0,30\na,1,20\n")
    traces = load_long_table(path, cpu_unit="percent")
    assert traces.names == ("a", "b")
    assert traces.utilization.tolist() == [[0.1, 0.2], [0.3, 0.4]]
    assert traces.interval_s == 300
    assert traces.source == str(path)


def test_long_table_fraction_by_option(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "vm,step,cpu\na,0,0.25\na,1,0.5\n")
    assert load_long_table(path, cpu_unit="fraction").utilization.tolist() == [[0.25, 0.5]]


@pytest.mark.parametrize(
    ("column", "values", "expected"),
    [("cpu_percent", ("25", "50"), [[0.25, 0.5]]), ("cpu_fraction", ("0.25", "0.5"), [[0.25, 0.5]])],
)
def test_long_table_unit_from_column_name(
    tmp_path: Path, column: str, values: tuple[str, str], expected: list[list[float]]
) -> None:
    path = write_csv(tmp_path, f"vm,step,{column}\na,0,{values[0]}\na,1,{values[1]}\n")
    assert load_long_table(path).utilization.tolist() == expected


def test_long_table_option_overrides_column_name(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "vm,step,cpu_fraction\na,0,25\na,1,50\n")
    assert load_long_table(path, cpu_unit="percent").utilization.tolist() == [[0.25, 0.5]]


def test_long_table_cpu_without_unit_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "vm,step,cpu\na,0,25\n")
    with pytest.raises(TraceError, match=r"percent or a fraction \(--cpu-unit percent\|fraction\)") as err:
        load_long_table(path)
    assert str(path) in str(err.value)


def test_long_table_numeric_timestamps_give_the_interval(tmp_path: Path) -> None:
    """Timestamps 1000 and 1060 s: interval 60 s, step 0 and 1."""
    path = write_csv(tmp_path, "vm,timestamp,cpu\na,1060,20\na,1000,10\nb,1000,30\nb,1060,40\n")
    traces = load_long_table(path, cpu_unit="percent")
    assert traces.interval_s == 60
    assert traces.utilization.tolist() == [[0.1, 0.2], [0.3, 0.4]]


def test_long_table_datetime_timestamps_give_the_interval(tmp_path: Path) -> None:
    """Datetimes five minutes apart: interval 300 s.

    Fails with pandas 3 (see the report): the datetimes parse at microsecond resolution, so
    ``astype("int64") / 1e9`` is in kiloseconds and the interval comes out as 0.
    """
    path = write_csv(
        tmp_path,
        "vm,timestamp,cpu\na,2011-03-03 00:00:00,10\na,2011-03-03 00:05:00,20\n"
        "b,2011-03-03 00:00:00,30\nb,2011-03-03 00:05:00,40\n",
    )
    traces = load_long_table(path, cpu_unit="percent")
    assert traces.utilization.tolist() == [[0.1, 0.2], [0.3, 0.4]]
    assert traces.interval_s == 300


def test_long_table_bad_timestamp_names_line_and_text(tmp_path: Path) -> None:
    """Fails with pandas 3 (see the report): NaT becomes a huge negative integer instead of NaN."""
    path = write_csv(tmp_path, "vm,timestamp,cpu\na,2011-03-03 00:00:00,10\na,yesterday,20\n")
    with pytest.raises(TraceError) as err:
        load_long_table(path, cpu_unit="percent")
    assert str(err.value) == f"{path}, line 3: timestamp 'yesterday' is not a time"


def test_long_table_uneven_timestamps(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "vm,timestamp,cpu\na,0,10\na,300,20\na,900,30\n")
    with pytest.raises(TraceError, match="not evenly spaced") as err:
        load_long_table(path, cpu_unit="percent")
    assert str(path) in str(err.value)


def test_long_table_parquet(tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"
    pd.DataFrame({"vm": ["b", "a", "a", "b"], "step": [0, 0, 1, 1], "cpu_percent": [30, 10, 20, 40]}).to_parquet(path)
    traces = load_long_table(path)
    assert traces.names == ("a", "b")
    assert traces.utilization.tolist() == [[0.1, 0.2], [0.3, 0.4]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host,step,cpu\na,0,1\n", "missing column 'vm' (columns: ['cpu', 'host', 'step'])"),
        ("vm,step,load\na,0,1\n", "missing column 'cpu' (or 'cpu_percent' / 'cpu_fraction')"),
        ("vm,cpu\na,1\n", "needs a 'step' or a 'timestamp' column"),
    ],
)
def test_long_table_missing_column(tmp_path: Path, text: str, expected: str) -> None:
    path = write_csv(tmp_path, text)
    with pytest.raises(TraceError) as err:
        load_long_table(path, cpu_unit="percent")
    assert str(err.value) == f"{path}: {expected}"


def test_long_table_non_number_names_line_and_text(tmp_path: Path) -> None:
    """Header is line 1, so the second data row is line 3."""
    path = write_csv(tmp_path, "vm,step,cpu\na,0,10\na,1,abc\n")
    with pytest.raises(TraceError) as err:
        load_long_table(path, cpu_unit="percent")
    assert str(err.value) == f"{path}, line 3: cpu value 'abc' is not a number"


def test_long_table_empty_cell_names_line(tmp_path: Path) -> None:
    """An empty cell reads as NaN.

    Fails (see the report): the message shows ``np.float64(nan)``, numpy's repr, not the text.
    """
    path = write_csv(tmp_path, "vm,step,cpu\na,0,10\na,1,\n")
    with pytest.raises(TraceError) as err:
        load_long_table(path, cpu_unit="percent")
    message = str(err.value)
    assert message.startswith(f"{path}, line 3: cpu value ")
    assert "np.float64" not in message


def test_long_table_percent_given_as_fraction_gets_a_hint(tmp_path: Path) -> None:
    """Fails (see the report) only on the last line: the value is shown as ``np.float64(85.0)``."""
    path = write_csv(tmp_path, "vm,step,cpu_fraction\na,0,0.1\na,1,85\n")
    with pytest.raises(TraceError) as err:
        load_long_table(path)
    message = str(err.value)
    assert message.startswith(f"{path}, line 3: cpu ")
    assert "is outside 0..1 (it looks like a percent: use --cpu-unit percent)" in message
    assert "85" in message
    assert "np.float64" not in message


@pytest.mark.parametrize("value", ["101", "-1"])
def test_long_table_percent_out_of_range(tmp_path: Path, value: str) -> None:
    path = write_csv(tmp_path, f"vm,step,cpu\na,0,10\na,1,{value}\n")
    with pytest.raises(TraceError) as err:
        load_long_table(path, cpu_unit="percent")
    message = str(err.value)
    assert message.startswith(f"{path}, line 3: cpu ")
    assert message.endswith("is outside 0..100")
    assert value in message
    assert "looks like a percent" not in message


def test_long_table_negative_step_names_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "vm,step,cpu\na,-1,10\n")
    with pytest.raises(TraceError, match="is not a non-negative integer") as err:
        load_long_table(path, cpu_unit="percent")
    assert str(err.value).startswith(f"{path}, line 2: step ")


def test_long_table_duplicate_vm_step(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "vm,step,cpu\na,0,10\na,1,20\na,1,30\n")
    with pytest.raises(TraceError) as err:
        load_long_table(path, cpu_unit="percent")
    assert str(err.value) == f"{path}: VM 'a' has more than one value at step 1"


def test_long_table_missing_value(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "vm,step,cpu\na,0,10\na,1,20\nb,0,30\n")
    with pytest.raises(TraceError) as err:
        load_long_table(path, cpu_unit="percent")
    assert str(err.value) == f"{path}: VM 'b' has no value at step 1"


def test_long_table_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(TraceError) as err:
        load_long_table(path, cpu_unit="percent")
    assert str(err.value) == f"{path}: no such trace file"


# -- synthetic ------------------------------------------------------------------------------------


def test_synthetic_is_deterministic_per_seed() -> None:
    a = synthetic_planetlab_like(n_vms=50, seed=7)
    b = synthetic_planetlab_like(n_vms=50, seed=7)
    c = synthetic_planetlab_like(n_vms=50, seed=8)
    np.testing.assert_array_equal(a.utilization, b.utilization)
    assert a.content_hash() == b.content_hash()
    assert not np.array_equal(a.utilization, c.utilization)
    assert a.content_hash() != c.content_hash()


def test_synthetic_shape_and_values() -> None:
    traces = synthetic_planetlab_like(n_vms=40, seed=3)
    u = traces.utilization
    assert u.shape == (40, 288)
    assert (traces.n_vms, traces.n_steps) == (40, 288)
    assert u.dtype == np.float64
    assert traces.interval_s == 300
    assert len(traces.names) == 40
    assert u.min() >= 0.0
    assert u.max() <= 0.99
    np.testing.assert_array_equal(np.rint(u * 100) / 100, u)  # integer percents


def test_synthetic_is_not_all_idle() -> None:
    u = synthetic_planetlab_like(n_vms=40, seed=3).utilization
    assert u.mean() > 0.02
    assert (u.max(axis=1) > 0.05).sum() >= 20
