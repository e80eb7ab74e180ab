"""An on-disk cache of cell results, so a rerun computes only what changed.

One compressed ``.npz`` file per cell, named by a SHA-256 key over everything that decides the
result: the trace content hash, the policy (name and every effective parameter of its detector,
selector and placer), the mode, the scenario (its content: host and VM types, power tables,
interval), the seed, the neat version and a hash of the installed source of ``neat`` and
``algorithms`` (:func:`source_hash`; all of it but what cannot change a result, such as the report's
figures), so editing an algorithm invalidates its cached results.
Files are written to a temporary name and renamed, so an interrupted run leaves whole entries or
none; an unreadable entry counts as a miss.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from neat import __version__
from neat.decision.mode import Mode
from neat.decision.policy import Policy
from neat.report.record import SERIES, CellResult
from neat.scenario import Scenario

#: Bumped when the entry layout changes; part of every key.
CACHE_FORMAT = 3
#: The packages whose source is part of every key.
SOURCE_PACKAGES = ("algorithms", "neat")
#: Source that cannot change a cell's result, left out of the key so that editing it keeps the cache:
#: the command line, the service and its storage, and the report's tables, figures and pages.
#: tests/report/test_cache.py checks that simulating a cell imports none of it.
NOT_SIMULATED = (
    "neat/cli/",
    "neat/db/",
    "neat/local_manager/",
    "neat/openstack/",
    "neat/service/",
    "neat/report/document.py",
    "neat/report/drawing.py",
    "neat/report/html.py",
    "neat/report/markdown.py",
    "neat/report/plots.py",
    "neat/report/tables.py",
    "neat/report/timeseries.py",
)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/neat/results``, or ``~/.cache/neat/results``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "neat" / "results"


def source_files(roots: Iterable[Path]) -> list[tuple[str, Path]]:
    """The ``.py`` files under ``roots`` that can decide a cell's result, as (``package/relative/path``,
    path) in sorted order: every file but those under :data:`NOT_SIMULATED`."""
    found = []
    for root in roots:
        for path in root.rglob("*.py"):
            name = f"{root.name}/{path.relative_to(root).as_posix()}"
            if not name.startswith(NOT_SIMULATED):
                found.append((name, path))
    return sorted(found)


def hash_sources(roots: Iterable[Path]) -> str:
    """SHA-256 (hex) over :func:`source_files`: each file's name and bytes, so equal trees hash alike
    wherever they are installed."""
    digest = hashlib.sha256()
    for name, path in source_files(roots):
        digest.update(f"{name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def source_roots() -> list[Path]:
    """The folders of the installed ``algorithms`` and ``neat`` packages."""
    roots: list[Path] = []
    for package in SOURCE_PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations is not None, package
        roots.extend(Path(location) for location in spec.submodule_search_locations)
    return roots


@functools.cache
def source_hash() -> str:
    """:func:`hash_sources` of the installed ``algorithms`` and ``neat`` packages, read once per process
    (about 100 files, under 1 MB: a few milliseconds)."""
    return hash_sources(source_roots())


def scenario_fingerprint(scenario: Scenario) -> dict[str, Any]:
    """The scenario's content as plain values: equal for equal data centers, whatever the file's layout.

    A scenario without an inventory (:mod:`neat.inventory`) has the fingerprint it had before them.
    """
    inventory = scenario.inventory
    named = {} if inventory is None else {"inventory": dataclasses.asdict(inventory)}
    return {
        **named,
        "name": scenario.name,
        "host_types": [
            {
                "name": t.name,
                "count": t.count,
                "cores": t.cores,
                "core_mips": t.core_mips,
                "ram_mb": t.ram_mb,
                "power_w": [float(w) for w in t.power_w],
                "bandwidth_mbit_s": t.bandwidth_mbit_s,
            }
            for t in scenario.host_types
        ],
        "vm_types": [{"name": t.name, "mips": t.mips, "ram_mb": t.ram_mb} for t in scenario.vm_types],
        "interval_s": scenario.interval_s,
        "host_order": scenario.host_order,
        "vm_assignment": scenario.vm_assignment,
        "limits": {
            f.name: sorted(v) if isinstance(v, frozenset) else v
            for f in dataclasses.fields(scenario.limits)
            for v in [getattr(scenario.limits, f.name)]
        },
    }


def policy_fingerprint(policy: Policy) -> dict[str, Any]:
    """Name, kind and the full parameter set of each component (their reprs list every field)."""
    return {
        "name": policy.name,
        "kind": policy.kind,
        "detector": repr(policy.detector),
        "selector": repr(policy.selector),
        "placer": repr(policy.placer),
        "underload": repr(policy.underload),
    }


def cell_inputs(
    trace_hash: str,
    policy: Policy,
    mode: Mode,
    scenario: Scenario,
    seed: int,
    version: str = __version__,
    source: str | None = None,
) -> dict[str, Any]:
    """Everything that decides a cell's result; ``source`` defaults to :func:`source_hash`."""
    return {
        "format": CACHE_FORMAT,
        "traces": trace_hash,
        "policy": policy_fingerprint(policy),
        "mode": mode.name,
        "scenario": scenario_fingerprint(scenario),
        "seed": seed,
        "neat": version,
        "source": source_hash() if source is None else source,
    }


def cell_key(
    trace_hash: str,
    policy: Policy,
    mode: Mode,
    scenario: Scenario,
    seed: int,
    version: str = __version__,
    source: str | None = None,
) -> str:
    """SHA-256 (hex) of :func:`cell_inputs` as canonical JSON."""
    text = json.dumps(cell_inputs(trace_hash, policy, mode, scenario, seed, version, source), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class ResultCache:
    """Cell results on disk under ``root`` (``None``: a cache that holds nothing and keeps nothing)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> CellResult | None:
        """The stored result, or ``None`` if absent or unreadable."""
        if self.root is None:
            return None
        try:
            # our own file handle, closed whatever np.load makes of the bytes
            with self.path(key).open("rb") as file, np.load(file, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                series = {k: np.array(data[k], dtype=np.float64) for k in SERIES}
            if meta.get("key") != key:
                return None
            return CellResult(series=series, **meta["result"])
        except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile):
            return None

    def put(self, key: str, result: CellResult, inputs: dict[str, Any] | None = None) -> None:
        """Store ``result`` atomically (temporary file, fsync, rename); ``inputs`` are kept for reading."""
        if self.root is None:
            return
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"key": key, "inputs": inputs, "result": result.scalars()})
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}-", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                arrays: dict[str, Any] = {"meta": np.array(meta), **result.series}
                np.savez_compressed(out, **arrays)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        return 0 if self.root is None or not self.root.is_dir() else sum(1 for _ in self.root.glob("*/*.npz"))


__all__ = [
    "CACHE_FORMAT",
    "NOT_SIMULATED",
    "ResultCache",
    "SOURCE_PACKAGES",
    "cell_inputs",
    "cell_key",
    "default_cache_dir",
    "hash_sources",
    "policy_fingerprint",
    "scenario_fingerprint",
    "source_files",
    "source_hash",
    "source_roots",
]
