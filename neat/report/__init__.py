"""Reports over many trace days and policies: a cached, parallel matrix of simulations, tables and plots.

``neat report`` (:mod:`neat.cli.report`) runs every policy on every day (:mod:`~neat.report.runner`,
locally in parallel or on a Dask cluster), keeps each result in an on-disk cache
(:mod:`~neat.report.cache`), aggregates them (:mod:`~neat.report.tables`), draws the figures
(:mod:`~neat.report.plots`) and writes ``report.html``, ``report.md`` and ``results.csv`` /
``results.parquet`` (:mod:`~neat.report.document`).

The names below are imported on first use, so ``import neat.cli.report`` (which the ``neat``
command does at start-up) pulls in neither matplotlib nor pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neat.report.cache import ResultCache, cell_key, default_cache_dir
    from neat.report.document import Document, ReportInputs, build_document, write_report
    from neat.report.record import CellResult
    from neat.report.runner import CellFailed, Day, MatrixRun, SchedulerError, run_matrix, simulate_cell
    from neat.report.sweep import SweepError, load_sweep, resolve_policies

_WHERE = {
    "CellFailed": "runner",
    "CellResult": "record",
    "Day": "runner",
    "Document": "document",
    "MatrixRun": "runner",
    "ReportInputs": "document",
    "ResultCache": "cache",
    "SchedulerError": "runner",
    "SweepError": "sweep",
    "build_document": "document",
    "cell_key": "cache",
    "default_cache_dir": "cache",
    "load_sweep": "sweep",
    "resolve_policies": "sweep",
    "run_matrix": "runner",
    "simulate_cell": "runner",
    "write_report": "document",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'neat.report' has no attribute {name!r}")
    return getattr(importlib.import_module(f"neat.report.{_WHERE[name]}"), name)


__all__ = [
    "CellFailed",
    "CellResult",
    "Day",
    "Document",
    "MatrixRun",
    "ReportInputs",
    "ResultCache",
    "SchedulerError",
    "SweepError",
    "build_document",
    "cell_key",
    "default_cache_dir",
    "load_sweep",
    "resolve_policies",
    "run_matrix",
    "simulate_cell",
    "write_report",
]
