"""The report's numbers: one row per (day, policy), medians per policy, the best policies.

Metrics are declared once (:data:`METRICS`: column, label, display unit and scale, description),
so the HTML and Markdown renderers draw every table from the same declarations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from neat.decision.policy import Policy
from neat.report.record import SERIES
from neat.report.runner import Day, MatrixRun

#: The multiplication sign and the display units of the field's scaled metrics.
TIMES = "\u00d7"
E3 = TIMES + "10\u207b\u00b3"  # x10^-3
E5 = TIMES + "10\u207b\u2075"  # x10^-5
UNITS_NOTE = (
    f"A unit such as {E5} means the value is shown multiplied by 10\u2075 (SLAV 3.27 {E5} is 0.0000327). "
    "results.csv and results.parquet hold plain fractions and counts: no percents, no scaling."
)
SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


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
    #: May switch to a power-of-ten unit when the declared one would show only zeros (see :meth:`fitted`).
    adaptive: bool = False

    @property
    def header(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def format(self, value: float) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        shown = float(value) * self.scale
        if shown == 0:
            return "0"
        if self.count and float(shown).is_integer():
            return f"{int(shown):,}"
        digits = 1 if self.count else self.digits
        return f"{shown:,.{digits}f}"

    def fitted(self, values: pd.Series) -> Metric:
        """This metric, or (if ``adaptive`` and the largest value would show as less than 0.1 in the
        declared unit) the same metric in a ``x10^-n`` unit that puts the median non-zero value in [1, 10)."""
        data = values.to_numpy(dtype=np.float64)
        nonzero = np.abs(data[np.isfinite(data) & (data != 0)])
        if not self.adaptive or not nonzero.size or nonzero.max() * self.scale >= 0.1:
            return self
        exponent = math.floor(math.log10(float(np.median(nonzero))))
        return replace(self, unit=f"{TIMES}10{str(exponent).translate(SUPERSCRIPT)}", scale=10.0**-exponent, digits=2)


METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("esv", "ESV", E3, 1e3, 2, f"energy (kWh) {TIMES} SLAV: lower is better", adaptive=True),
        Metric("energy_kwh", "Energy", "kWh", 1.0, 1, "energy drawn by all hosts over the day"),
        Metric("slav", "SLAV", E5, 1e5, 2, f"SLA violation: SLATAH {TIMES} PDM", adaptive=True),
        Metric(
            "slatah",
            "SLATAH",
            "%",
            100.0,
            2,
            "share of active host time spent at 100 % CPU (pooled)",
            adaptive=True,
        ),
        Metric("pdm", "PDM", "%", 100.0, 3, "performance degradation due to migrations (pooled)", adaptive=True),
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


def fit_metrics(frame: pd.DataFrame) -> dict[str, Metric]:
    """:data:`METRICS` with display units fitted to this report's values (one unit per metric)."""
    return {key: metric.fitted(frame[key]) for key, metric in METRICS.items()}


def policy_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per policy, in first-appearance order: ``kind``, ``days`` and the median over days of every metric."""
    order = list(dict.fromkeys(frame["policy"]))
    grouped = frame.groupby("policy", sort=False)
    summary = grouped[list(METRICS)].median()
    summary.insert(0, "days", grouped["day"].nunique())
    summary.insert(0, "kind", grouped["kind"].first())
    return summary.loc[order]


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
        f"Lowest ESV: {name}, ESV {m['esv'].format(row['esv'])} {m['esv'].unit} "
        f"({m['energy_kwh'].format(row['energy_kwh'])} kWh, SLAV {m['slav'].format(row['slav'])} {m['slav'].unit}).",
    )


def best_energy_at_slav(summary: pd.DataFrame, baseline: str, metrics: dict[str, Metric] = METRICS) -> Best:
    """The lowest median energy among policies whose median SLAV is at most ``baseline``'s."""
    rule = f"Lowest energy at an SLAV no worse than {baseline}"
    slav = summary["slav"].astype(np.float64)
    energy = summary["energy_kwh"].astype(np.float64)
    limit = float(slav[baseline])
    tolerance = 1e-12 * max(abs(limit), 1.0)
    eligible = summary[summary["slav"] <= limit + tolerance].sort_values(["energy_kwh", "slav"], kind="stable")
    m = metrics
    name = str(eligible.index[0])  # the baseline itself is always eligible
    row = eligible.iloc[0]
    head = f"Lowest energy at an SLAV no worse than {baseline}'s ({_with_unit(m['slav'], limit)}): "
    if name == baseline:
        sentence = (
            f"{head}{baseline} itself ({m['energy_kwh'].format(row['energy_kwh'])} kWh); "
            f"every policy that uses less energy has a higher SLAV."
        )
    else:
        saved = 1.0 - float(energy[name]) / float(energy[baseline])
        sentence = (
            f"{head}{name}, {m['energy_kwh'].format(row['energy_kwh'])} kWh ({saved:.1%} less than {baseline}), "
            f"SLAV {_with_unit(m['slav'], row['slav'])}."
        )
    return Best(rule, name, sentence)


def _with_unit(metric: Metric, value: float) -> str:
    text = metric.format(value)
    return text if text == "0" else f"{text} {metric.unit}"


def display_rows(
    summary: pd.DataFrame, columns: Sequence[str], metrics: dict[str, Metric] = METRICS
) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows (policy first) of a per-policy table over ``columns``."""
    header = ["Policy", *(metrics[c].header for c in columns)]
    rows = [[str(name), *(metrics[c].format(row[c]) for c in columns)] for name, row in summary.iterrows()]
    return header, rows


def per_day_rows(
    frame: pd.DataFrame, columns: Sequence[str], metrics: dict[str, Metric] = METRICS
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a per-day table: one row per (policy, day), policies in order, then days."""
    header = ["Policy", "Day", *(metrics[c].header for c in columns)]
    order = {name: i for i, name in enumerate(dict.fromkeys(frame["policy"]))}
    ordered = frame.assign(_order=frame["policy"].map(order)).sort_values(["_order"], kind="stable")
    rows = [
        [str(row["policy"]), str(row["day"]), *(metrics[c].format(row[c]) for c in columns)]
        for _, row in ordered.iterrows()
    ]
    return header, rows


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
    "best_by_esv",
    "best_energy_at_slav",
    "display_rows",
    "fit_metrics",
    "per_day_rows",
    "policy_summary",
    "results_frame",
    "series_frame",
]
