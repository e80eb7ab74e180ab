"""The report's numbers: one row per (day, policy), medians and spreads per policy, the best policies.

Metrics are declared once (:data:`METRICS`: column, label, display unit and scale, description),
so the HTML and Markdown renderers draw every table from the same declarations. The display units
are fixed, the field's and ``neat simulate``'s: SLAV in units of 10\u207b\u2075, ESV in units of
10\u207b\u00b3, SLATAH and PDM in percent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from neat.decision.policy import Policy
from neat.report.record import SERIES
from neat.report.runner import Day, MatrixRun

#: The multiplication sign and the display units of the field's scaled metrics.
TIMES = "\u00d7"
E3 = TIMES + "10\u207b\u00b3"  # x10^-3
E5 = TIMES + "10\u207b\u2075"  # x10^-5
EN_DASH = "\u2013"
UNITS_NOTE = (
    f"A unit such as {E5} means the value is shown in units of 10\u207b\u2075 (SLAV 3.27 {E5} is 0.0000327), "
    "as in neat simulate's table. Values too small for two decimals show two significant digits in the same "
    "unit. Small grey ranges are the lowest and highest of the days. "
    "results.csv and results.parquet hold plain fractions and counts: no percents, no scaling."
)


@dataclass(frozen=True)
class Metric:
    """A reported quantity: ``frame[key] * scale`` is shown with ``digits`` decimals, in ``unit``."""

    key: str
    label: str
    unit: str
    scale: float
    digits: int
    description: str
    count: bool = False

    @property
    def header(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def format(self, value: float) -> str:
        """``value`` in this metric's unit: ``digits`` decimals, or two significant digits when those
        decimals would show nothing but zeros (a tiny SLAV is 0.0031, not 0.00)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        shown = float(value) * self.scale
        if shown == 0:
            return "0"
        if self.count and float(shown).is_integer():
            return f"{int(shown):,}"
        digits = 1 if self.count else self.digits
        if abs(shown) < 0.5 * 10.0**-digits:
            return f"{shown:.2g}"
        return f"{shown:,.{digits}f}"

    def format_range(self, low: float, high: float) -> str:
        """``low\u2013high`` in this metric's unit, or ``""`` when they show alike."""
        a, b = self.format(low), self.format(high)
        return "" if a == b else f"{a}{EN_DASH}{b}"


METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("esv", "ESV", E3, 1e3, 2, f"energy (kWh) {TIMES} SLAV: lower is better"),
        Metric("energy_kwh", "Energy", "kWh", 1.0, 1, "energy drawn by all hosts over the day"),
        Metric("slav", "SLAV", E5, 1e5, 2, f"SLA violation: SLATAH {TIMES} PDM"),
        Metric(
            "slatah",
            "SLATAH",
            "%",
            100.0,
            2,
            "share of active host time spent at 100 % CPU (pooled)",
        ),
        Metric("pdm", "PDM", "%", 100.0, 3, "performance degradation due to migrations (pooled)"),
        Metric("migrations", "Migrations", "count", 1.0, 0, "VM live migrations over the day", count=True),
        Metric("savings_vs_npa", "Saving vs NPA", "%", 100.0, 1, "energy saved against every host always on"),
        Metric("savings_vs_dvfs", "Saving vs DVFS", "%", 100.0, 1, "energy saved against DVFS without migrations"),
        Metric(
            "energy_lower_bound_kwh",
            "Lower bound",
            "kWh",
            1.0,
            1,
            "the cheapest way to carry each round's demand on the available hosts",
        ),
        Metric("gap_to_bound", "Gap to bound", "%", 100.0, 1, "energy / lower bound - 1"),
        Metric("host_shutdowns", "Host shutdowns", "count", 1.0, 0, "hosts switched off over the day", count=True),
    )
}

#: The field's standard results table (Beloglazov & Buyya, CCPE 2012, Table 3): one row per policy.
STANDARD_COLUMNS = ("esv", "energy_kwh", "slav", "slatah", "pdm", "migrations")
SAVINGS_COLUMNS = ("energy_kwh", "savings_vs_npa", "savings_vs_dvfs", "energy_lower_bound_kwh", "gap_to_bound")
#: The per-day values, in two tables so each fits a page's width.
PER_DAY_ENERGY_COLUMNS = ("energy_kwh", "savings_vs_npa", "savings_vs_dvfs", "gap_to_bound")
PER_DAY_SLA_COLUMNS = ("esv", "slav", "slatah", "pdm", "migrations", "host_shutdowns")

#: results.csv / results.parquet, in this order; fractions, not percents.
RESULT_COLUMNS = (
    "day",
    "policy",
    "kind",
    "mode",
    "scenario",
    "trace_hash",
    "vms",
    "hosts",
    "steps",
    "energy_kwh",
    "energy_lower_bound_kwh",
    "gap_to_bound",
    "savings_vs_npa",
    "savings_vs_dvfs",
    "slatah",
    "slatah_mean_per_host",
    "pdm",
    "pdm_mean_per_vm",
    "slav",
    "esv",
    "migrations",
    "host_shutdowns",
    "mean_time_before_host_shutdown_s",
    "host_suspends",
    "host_wakes",
    "migration_energy_kwh",
    "transition_energy_kwh",
    "ram_binding_share",
    "bound_hosts_cpu_only",
    "bound_hosts_ram_only",
    "wall_time_s",
    "from_cache",
)


def results_frame(days: Sequence[Day], policies: Sequence[Policy], run: MatrixRun, scenario: str) -> pd.DataFrame:
    """One row per (day, policy), days outer, policies in the given order; savings per day.

    ``savings_vs_npa`` = 1 - energy / energy of npa on the same day (likewise ``savings_vs_dvfs``);
    NaN where that baseline is not in ``policies``.
    """
    rows = []
    for d, day in enumerate(days):
        for p, _ in enumerate(policies):
            r = run.results[d, p]
            rows.append(
                {
                    "day": day.name,
                    **r.scalars(),
                    "scenario": scenario,
                    "trace_hash": day.trace_hash,
                    "gap_to_bound": r.gap_to_bound,
                    "slav": r.slav,
                    "esv": r.esv,
                    "from_cache": (d, p) in run.from_cache,
                }
            )
    frame = pd.DataFrame(rows)
    for baseline in ("npa", "dvfs"):
        energy = frame.loc[frame["policy"] == baseline].set_index("day")["energy_kwh"]
        reference = frame["day"].map(energy).astype(np.float64)
        frame[f"savings_vs_{baseline}"] = 1.0 - frame["energy_kwh"] / reference
    return frame[list(RESULT_COLUMNS)]


def series_frame(days: Sequence[Day], policies: Sequence[Policy], run: MatrixRun) -> pd.DataFrame:
    """The per-step series of every cell, long: day, policy, then :data:`SERIES` columns."""
    parts = []
    for d, day in enumerate(days):
        for p, policy in enumerate(policies):
            part = pd.DataFrame(run.results[d, p].series)
            part.insert(0, "policy", policy.name)
            part.insert(0, "day", day.name)
            parts.append(part)
    return pd.concat(parts, ignore_index=True)[["day", "policy", *SERIES]]


def policy_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per policy, in first-appearance order: ``kind``, ``days``, the median over days of every metric
    (column ``key``) and its lowest and highest day (``key_min``, ``key_max``)."""
    order = list(dict.fromkeys(frame["policy"]))
    grouped = frame.groupby("policy", sort=False)[list(METRICS)]
    summary = pd.concat([grouped.median(), grouped.min().add_suffix("_min"), grouped.max().add_suffix("_max")], axis=1)
    counts = frame.groupby("policy", sort=False)
    summary.insert(0, "days", counts["day"].nunique())
    summary.insert(0, "kind", counts["kind"].first())
    return summary.loc[order]


def identical_groups(frame: pd.DataFrame) -> list[list[str]]:
    """The policies grouped by identical results on every day (energy, SLATAH, PDM, migrations), in order.

    Sweeps often hold parameter values that change nothing on a workload; a figure draws each group once.
    """
    keys = ["energy_kwh", "slatah", "pdm", "migrations"]
    groups: dict[tuple[object, ...], list[str]] = {}
    for name, rows in frame.groupby("policy", sort=False):
        key = (
            rows["kind"].iloc[0],
            tuple(rows["day"]),
            *(tuple(np.round(rows[k].to_numpy(np.float64), 12)) for k in keys),
        )
        groups.setdefault(key, []).append(str(name))
    return list(groups.values())


@dataclass(frozen=True)
class Best:
    """The two best-policy lines: the rule, the winner (``None`` if no candidate) and a sentence."""

    rule: str
    policy: str | None
    sentence: str


def best_by_esv(summary: pd.DataFrame, metrics: dict[str, Metric] = METRICS) -> Best:
    """The consolidating policy (not npa or dvfs) with the lowest median ESV; ties go to lower energy."""
    rule = "Lowest ESV"
    dynamic = summary[summary["kind"] == "dynamic"]
    if dynamic.empty:
        return Best(rule, None, "Lowest ESV: no consolidating policy in this report (only baselines).")
    ranked = dynamic.sort_values(["esv", "energy_kwh"], kind="stable")
    name = str(ranked.index[0])
    row = ranked.iloc[0]
    m = metrics
    return Best(
        rule,
        name,
        f"Lowest ESV: {name}, ESV {_with_unit(m['esv'], row['esv'])} "
        f"({m['energy_kwh'].format(row['energy_kwh'])} kWh, SLAV {_with_unit(m['slav'], row['slav'])}).",
    )


def best_energy_at_slav(summary: pd.DataFrame, baseline: str | None, metrics: dict[str, Metric] = METRICS) -> Best:
    """The consolidating policy with the lowest median energy among those whose median SLAV is at most
    ``baseline``'s (the reference policy; npa and dvfs never win, their SLAV is zero by construction)."""
    rule = f"Lowest energy at an SLAV no worse than {baseline or 'the reference policy'}"
    dynamic = summary[summary["kind"] == "dynamic"]
    if baseline is None or dynamic.empty:
        return Best(rule, None, f"{rule}: no consolidating policy in this report (only baselines).")
    m = metrics
    limit = float(summary["slav"].astype(np.float64)[baseline])
    tolerance = 1e-12 * max(abs(limit), 1.0)
    eligible = dynamic[dynamic["slav"] <= limit + tolerance].sort_values(["energy_kwh", "slav"], kind="stable")
    head = f"{rule}'s ({_with_unit(m['slav'], limit)}): "
    if eligible.empty:
        return Best(
            rule,
            None,
            f"{head}none; every consolidating policy has a higher SLAV (see the trade-off of energy against SLAV).",
        )
    name = str(eligible.index[0])
    row = eligible.iloc[0]
    energy = m["energy_kwh"].format(row["energy_kwh"])
    if name == baseline:
        sentence = (
            f"{head}{baseline} itself ({energy} kWh); "
            "every consolidating policy that uses less energy has a higher SLAV."
        )
    else:
        saved = 1.0 - float(row["energy_kwh"]) / float(summary["energy_kwh"].astype(np.float64)[baseline])
        sentence = (
            f"{head}{name}, {energy} kWh ({saved:.1%} less than {baseline}), SLAV {_with_unit(m['slav'], row['slav'])}."
        )
    return Best(rule, name, sentence)


def _with_unit(metric: Metric, value: float) -> str:
    text = metric.format(value)
    return text if text == "0" else f"{text} {metric.unit}"


@dataclass(frozen=True)
class Table:
    """A table's header and formatted rows; ``spreads[i][j]`` is cell (i, j)'s range over days, or ``""``."""

    header: list[str]
    rows: list[list[str]]
    spreads: list[list[str]]
    text_columns: int = 1


def summary_table(summary: pd.DataFrame, columns: Sequence[str], metrics: dict[str, Metric] = METRICS) -> Table:
    """A per-policy table over ``columns``: the median over days, and the lowest and highest day beside it."""
    header = ["Policy", *(metrics[c].header for c in columns)]
    rows, spreads = [], []
    for name, row in summary.iterrows():
        rows.append([str(name), *(metrics[c].format(row[c]) for c in columns)])
        spreads.append(
            [
                "",
                *(
                    metrics[c].format_range(row[f"{c}_min"], row[f"{c}_max"]) if row["days"] > 1 else ""
                    for c in columns
                ),
            ]
        )
    return Table(header, rows, spreads)


def per_day_table(frame: pd.DataFrame, columns: Sequence[str], metrics: dict[str, Metric] = METRICS) -> Table:
    """A per-day table: one row per (policy, day), policies in order, then days."""
    header = ["Policy", "Day", *(metrics[c].header for c in columns)]
    order = {name: i for i, name in enumerate(dict.fromkeys(frame["policy"]))}
    ordered = frame.assign(_order=frame["policy"].map(order)).sort_values(["_order"], kind="stable")
    rows = [
        [str(row["policy"]), str(row["day"]), *(metrics[c].format(row[c]) for c in columns)]
        for _, row in ordered.iterrows()
    ]
    return Table(header, rows, [[""] * len(header) for _ in rows], text_columns=2)


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 day``, ``2 days``, ``1,052 VMs``, ``3 policies`` (``many`` for an irregular plural)."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"


__all__ = [
    "METRICS",
    "PER_DAY_ENERGY_COLUMNS",
    "PER_DAY_SLA_COLUMNS",
    "RESULT_COLUMNS",
    "SAVINGS_COLUMNS",
    "STANDARD_COLUMNS",
    "TIMES",
    "UNITS_NOTE",
    "Best",
    "Metric",
    "Table",
    "best_by_esv",
    "best_energy_at_slav",
    "identical_groups",
    "per_day_table",
    "plural",
    "policy_summary",
    "results_frame",
    "series_frame",
    "summary_table",
]
