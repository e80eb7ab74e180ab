"""Terminal table and output files for simulation results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from neat.simulation.results import SimulationResult, binding_note


def print_table(results: Sequence[SimulationResult], source: str) -> None:
    """One row per policy: energy, bound, SLA metrics, migrations."""
    table = Table(title=f"neat simulate: {source}", title_justify="left")
    for name, justify in [
        ("policy", "left"),
        ("energy kWh", "right"),
        ("bound kWh", "right"),
        ("gap", "right"),
        ("SLATAH %", "right"),
        ("PDM %", "right"),
        ("SLAV \u00d710\u207b\u2075", "right"),  # the report's units: SLAV in units of 10^-5
        ("ESV \u00d710\u207b\u00b3", "right"),
        ("migrations", "right"),
        ("shutdowns", "right"),
        ("wall s", "right"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in results:
        table.add_row(
            r.policy,
            f"{r.energy_kwh:.2f}",
            f"{r.energy_lower_bound_kwh:.2f}",
            f"{r.gap_to_bound:.1%}",
            f"{r.slatah * 100:.2f}",
            f"{r.pdm * 100:.3f}",
            f"{r.slav * 1e5:.2f}",
            f"{r.esv * 1e3:.2f}",
            str(r.migrations),
            str(r.host_shutdowns),
            f"{r.wall_time_s:.2f}",
        )
    console = Console()
    # Never shrink the columns: rich would cut policy names to "thr…" in an 80-column terminal,
    # and assumes 80 columns when stdout is a pipe or a file. Widen the console to the table.
    needed = console.measure(table, options=console.options.update_width(10_000)).maximum
    if needed > console.width:
        console = Console(width=needed)
    console.print(table)
    for line in notes(results):
        console.print(line, soft_wrap=True)


def notes(results: Sequence[SimulationResult]) -> list[str]:
    """What the table does not say: which resource binds, and which policies give identical results."""
    lines = []
    moving = [r for r in results if r.migrations > 0]
    if moving:
        r = moving[0]
        note = binding_note(
            r.ram_binding_share, r.bound_hosts_ram_only, r.bound_hosts_cpu_only, r.energy_lower_bound_kwh
        )
        if note:
            lines.append(note)
    same: dict[tuple[float, int], list[str]] = {}
    for r in moving:
        same.setdefault((round(r.energy_kwh, 2), r.migrations), []).append(r.policy)
    for group in same.values():
        if len(group) > 1:
            lines.append(f"{', '.join(group)} give identical results on this workload.")
    return lines


def write_outputs(results: Sequence[SimulationResult], folder: Path) -> None:
    """Per policy: ``<policy>/series.parquet``, ``<policy>/series.csv``; and ``summary.jsonl``."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "summary.jsonl").open("w") as out:
        for r in results:
            out.write(json.dumps(r.summary()) + "\n")
            sub = folder / _safe(r.policy)
            sub.mkdir(exist_ok=True)
            frame = pd.DataFrame(r.series)
            frame.to_parquet(sub / "series.parquet", index=False)
            frame.to_csv(sub / "series.csv", index=False)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name)
