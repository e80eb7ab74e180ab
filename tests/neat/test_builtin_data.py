"""The data shipped in the package: three PlanetLab days and CloudSim 4.0's reference results.

The built-in days are checked on their own (shape, names, hashes pinned when they were made), and
against the original folders through their SHA-256 (taken of the folders when the days were
converted): each day's files are written back from the arrays, byte for byte, and hashed the same
way. Nothing beside the repository is read.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import numpy as np
import pytest

from neat.traces import (
    PLANETLAB_DAYS,
    PLANETLAB_INTERVAL_S,
    PLANETLAB_STEPS,
    TraceError,
    load_planetlab,
    load_planetlab_day,
    load_traces,
    reference_results,
)

ROOT = Path(__file__).resolve().parents[2]

#: day -> SHA-256 of the original folder: every file in sorted byte order of names, as
#: name + NUL + content + NUL (each content 288 lines of one integer and a newline).
ORIGINAL_SHA256 = {
    "20110303": "5a5cfdb398209a56d5a822e7c4d318fbd6577dd30305a8c5b10d1a5d1321efa7",
    "20110306": "3c97160425b7db2f4853f844709c29b7f52bebacdd55a41899700d3a36f0447f",
    "20110322": "ac079f10452670633a2c547d80826d88d27a129505382e0360d9981a40c194a1",
}

#: day -> (VMs, first name, last name, sha256 of the names joined by newlines, TraceSet.content_hash)
PINNED = {
    "20110303": (
        1052,
        "146-179_surfsnel_dsl_internl_net_colostate_557",
        "vn5_cse_wustl_edu_uw_oneswarm",
        "2e2cd7fb44f94da8",
        "7a415488a538138a",
    ),
    "20110306": (
        898,
        "146-179_surfsnel_dsl_internl_net_colostate_557",
        "vn5_cse_wustl_edu_uw_oneswarm",
        "37918b90c3fb862e",
        "0599ae346a5d9b8b",
    ),
    "20110322": (
        1516,
        "146-179_surfsnel_dsl_internl_net_arizona_guest33",
        "zoi_di_uoa_gr_uw_oneswarm",
        "65790456a79094f1",
        "3b87279f643d0426",
    ),
}


def names_hash(names: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def test_the_built_in_days_are_the_three_reference_days() -> None:
    assert PLANETLAB_DAYS == tuple(PINNED) == ("20110303", "20110306", "20110322")


@pytest.mark.parametrize("day", PLANETLAB_DAYS)
def test_a_built_in_day_has_its_pinned_shape_names_and_values(day: str) -> None:
    n_vms, first, last, expected_names_hash, expected_hash = PINNED[day]
    traces = load_traces(f"planetlab:{day}")
    assert traces.utilization.shape == (n_vms, PLANETLAB_STEPS)
    assert traces.utilization.dtype == np.float64
    assert (traces.names[0], traces.names[-1]) == (first, last)
    assert list(traces.names) == sorted(traces.names, key=str.encode)  # byte order, as CloudSim's reference
    assert names_hash(traces.names) == expected_names_hash
    assert traces.content_hash() == expected_hash
    assert traces.interval_s == PLANETLAB_INTERVAL_S
    assert traces.source == f"planetlab:{day}"
    assert traces.memory_mb is None
    percents = np.rint(traces.utilization * 100)
    assert np.array_equal(percents / 100, traces.utilization)  # integer percents, as in the files
    assert percents.min() >= 0
    assert percents.max() <= 99


def test_some_names_keep_their_spaces() -> None:
    """File names such as ``aladdin_planetlab_extranet_uni-passau_de_ rnp_dcc_ufjf`` survive as they are."""
    assert "aladdin_planetlab_extranet_uni-passau_de_ rnp_dcc_ufjf" in load_planetlab_day("20110303").names


@pytest.mark.parametrize("day", PLANETLAB_DAYS)
def test_a_built_in_day_writes_back_its_original_folder(day: str, tmp_path: Path) -> None:
    """The day's files written back from the built-in arrays hash as the original folder did, and
    reading them back as a PlanetLab folder gives the built-in traces."""
    built_in = load_traces(f"planetlab:{day}")
    percents = np.rint(built_in.utilization * 100).astype(np.int64)
    digest = hashlib.sha256()
    folder = tmp_path / day
    folder.mkdir()
    for name, row in zip(built_in.names, percents, strict=True):
        content = "".join(f"{v}\n" for v in row.tolist()).encode()
        digest.update(name.encode() + b"\0" + content + b"\0")
        (folder / name).write_bytes(content)
    assert digest.hexdigest() == ORIGINAL_SHA256[day]
    read_back = load_planetlab(folder)
    assert read_back.names == built_in.names
    assert np.array_equal(read_back.utilization, built_in.utilization)
    assert read_back.content_hash() == built_in.content_hash()


def test_an_unknown_day_lists_the_built_in_ones_and_guesses() -> None:
    with pytest.raises(TraceError) as err:
        load_traces("planetlab:2011-03-06")
    assert str(err.value) == (
        "planetlab:2011-03-06: no built-in PlanetLab day '2011-03-06'; the built-in days are "
        "20110303, 20110306, 20110322 (did you mean planetlab:20110306?)"
    )


def test_a_bare_day_name_points_to_the_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TraceError) as err:
        load_traces("20110303")
    assert str(err.value) == "20110303: no such trace folder or file (the built-in day is planetlab:20110303)"


def test_planetlab_prefix_on_a_folder_reads_the_folder(tmp_path: Path) -> None:
    day = tmp_path / "day"
    day.mkdir()
    (day / "vm").write_text("7\n" * PLANETLAB_STEPS)
    traces = load_traces(f"planetlab:{day}")
    assert traces.names == ("vm",)
    assert traces.source == str(day)


def test_cloudsim_reference_results_cover_the_built_in_days() -> None:
    reference = reference_results()
    assert tuple(sorted(reference)) == PLANETLAB_DAYS
    assert reference["20110303"]["npa"]["energy_kwh"] == 2410.8
    assert reference["20110303"]["lr-mmt-1.2"]["migrations"] == 27859
    assert reference_results("cloudsim") == reference


def test_energy_lower_bound_reference_covers_the_built_in_days() -> None:
    bound = reference_results("energy-lower-bound")
    assert tuple(sorted(bound)) == PLANETLAB_DAYS
    assert {day: entry["vms"] for day, entry in bound.items()} == {day: pin[0] for day, pin in PINNED.items()}


def test_an_unknown_reference_lists_the_names() -> None:
    with pytest.raises(ValueError, match=r"No reference results named 'paper'; the names are cloudsim, energy-lower"):
        reference_results("paper")


def test_every_data_file_is_package_data() -> None:
    """Wheels hold what ``[tool.setuptools.package-data]`` lists: every file under neat/data must match."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["neat"]
    files = {p for p in (ROOT / "neat" / "data").rglob("*") if p.is_file()}
    listed = {p for pattern in patterns for p in (ROOT / "neat").glob(pattern) if p.is_file()}
    assert files
    assert sorted(str(p) for p in files - listed) == []
    assert sum(p.stat().st_size for p in files) < 1_000_000
