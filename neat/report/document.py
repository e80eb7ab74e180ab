"""Assemble a report from the matrix's results and write its folder in one piece.

The folder holds ``report.html`` (self-contained: figures embedded as SVG), ``report.md`` (figures
in ``plots/``, each as a 200 dpi PNG, an SVG and a PDF), ``results.csv`` and ``results.parquet``
(one row per day and policy) and ``series.parquet`` (every cell's per-step series). It is written
to a staging folder beside the target and renamed into place, so an interrupted run never leaves
half a report.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from neat.decision.policy import Policy
from neat.report.plots import (
    Figure,
    energy_figure,
    hosts_figure,
    migrations_figure,
    power_figure,
    tradeoff_figure,
)
from neat.report.runner import Day, MatrixRun
from neat.report.tables import (
    METRICS,
    TIMES,
    Best,
    Metric,
    best_by_esv,
    best_energy_at_slav,
    identical_groups,
    policy_summary,
    results_frame,
    series_frame,
)
from neat.scenario import Scenario
from neat.simulation.results import binding_note

#: Files that mark a folder as a previous report, which a rerun may replace.
REPORT_FILES = ("report.html", "report.md", "results.csv", "results.parquet", "series.parquet", "plots")

MODE_DESCRIPTIONS = {
    "neat": "neat: CloudSim's model with its quirks corrected (RAM limits migrations, loess regression)",
    "cloudsim": "cloudsim: CloudSim 4.0's power package as released, quirks included",
}


@dataclass(frozen=True)
class ReportInputs:
    """What the report was run on, for its Inputs section."""

    days: tuple[Day, ...]
    policies: tuple[Policy, ...]
    requested: tuple[str, ...]
    mode: str
    scenario: Scenario
    scenario_source: str
    seed: int
    #: The reference of the "lowest energy at an SLAV no worse than" rule (None: no consolidating policy).
    baseline: str | None
    version: str
    generated_at: str
    computed: int
    from_cache: int
    wall_time_s: float


@dataclass(frozen=True)
class Document:
    """Everything a renderer needs."""

    inputs: ReportInputs
    frame: pd.DataFrame
    series: pd.DataFrame
    summary: pd.DataFrame
    best: tuple[Best, ...]
    figures: tuple[Figure, ...]
    metrics: dict[str, Metric]
    #: Policies with identical results on every day, each group in report order.
    groups: tuple[tuple[str, ...], ...] = ()

    @property
    def binding_note(self) -> str:
        """Says when RAM, not CPU, decides the bound's host count (medians over the report's cells)."""
        frame = self.frame
        if frame.empty or "ram_binding_share" not in frame:
            return ""
        return binding_note(
            float(frame["ram_binding_share"].median()),
            int(frame["bound_hosts_ram_only"].median()),
            int(frame["bound_hosts_cpu_only"].median()),
            float(frame.groupby("day", sort=False)["energy_lower_bound_kwh"].first().median()),
        )

    def steps(self, day: str) -> int:
        """The 5-minute rounds simulated on ``day`` (results.csv's ``steps``): one fewer than the samples per
        VM, the first sample placing the VMs."""
        return int(self.frame.loc[self.frame["day"] == day, "steps"].max())

    @property
    def scenario_line(self) -> str:
        s = self.inputs.scenario
        types = ", ".join(f"{t.count} {TIMES} {t.name}" for t in s.host_types)
        return f"{s.name}: {s.n_hosts} hosts ({types}), {len(s.vm_types)} VM types"


def build_document(inputs: ReportInputs, run: MatrixRun) -> Document:
    """Tables, best policies and figures from the matrix's results."""
    days, policies = inputs.days, inputs.policies
    frame = results_frame(days, policies, run, inputs.scenario.name)
    series = series_frame(days, policies, run)
    summary = policy_summary(frame)
    metrics = METRICS
    groups = identical_groups(frame)
    best = (best_by_esv(summary, metrics), best_energy_at_slav(summary, inputs.baseline, metrics))
    bound = float(np.median(frame.groupby("day", sort=False)["energy_lower_bound_kwh"].first()))
    names = [d.name for d in days]
    figures = (
        energy_figure(frame, summary),
        tradeoff_figure(summary, groups, bound, metrics["slav"]),
        hosts_figure(series, summary, groups, names, inputs.scenario.n_hosts),
        power_figure(series, summary, groups, names),
        migrations_figure(series, summary, groups),
    )
    return Document(inputs, frame, series, summary, best, figures, metrics, tuple(tuple(g) for g in groups))


def check_output_folder(out: Path) -> None:
    """Refuse a path that is a file, or a non-empty folder that is not a previous report.

    Raises
    ------
    FileExistsError
        With a message naming the folder and what is in the way.
    """
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder")
    if out.is_dir():
        entries = {p.name for p in out.iterdir()}
        if entries and "report.html" not in entries:
            raise FileExistsError(
                f"{out}: the folder is not empty and holds no report.html; "
                f"choose a new --output folder (a previous report's folder is replaced)"
            )
        foreign = sorted(entries - set(REPORT_FILES))
        if foreign:
            raise FileExistsError(
                f"{out}: holds files a report does not write ({', '.join(foreign[:5])}); "
                f"move them or choose another --output folder"
            )


def write_report(document: Document, out: Path, render: Sequence[tuple[str, str]]) -> None:
    """Write the folder: ``render`` is (file name, text) pairs (the HTML and Markdown pages).

    Everything goes to a staging folder beside ``out`` first; ``out`` (a previous report, if any)
    is replaced only when every file is written.
    """
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=parent))
    try:
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a report folder is an ordinary one
        for name, text in render:
            (staging / name).write_text(text, encoding="utf-8")
        document.frame.to_csv(staging / "results.csv", index=False)
        document.frame.to_parquet(staging / "results.parquet", index=False)
        document.series.to_parquet(staging / "series.parquet", index=False)
        (staging / "plots").mkdir()
        for figure in document.figures:
            for suffix, data in (("png", figure.png), ("svg", figure.svg), ("pdf", figure.pdf)):
                (staging / "plots" / f"{figure.name}.{suffix}").write_bytes(data)
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=parent))
            out.rename(retired / out.name)
            staging.rename(out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


__all__ = ["MODE_DESCRIPTIONS", "Document", "ReportInputs", "build_document", "check_output_folder", "write_report"]
