"""Terminal table and output files for simulation results."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import click
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from neat.simulation.results import SimulationResult, binding_note

#: The table's columns: header and justification.
COLUMNS = (
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
)


def print_table(results: Sequence[SimulationResult], source: str, failed: Sequence[tuple[str, str]] = ()) -> None:
    """One row per policy: energy, bound, SLA metrics, migrations; a policy in ``failed`` (name,
    reason) is a row marked failed, its reason below the table.

    On a terminal the table fits the terminal's width: headers wrap at their spaces, then the
    borders give way to a compact style; values are never cut (a terminal too narrow for them gets
    the compact table wider than itself). Piped or redirected, it is plain text as wide as its
    contents, without borders, colour or trailing spaces.
    """
    rows = [_cells(r) for r in results] + [[policy, "failed", *["-"] * (len(COLUMNS) - 2)] for policy, _ in failed]
    lines = [f"{policy} failed: {reason}" for policy, reason in failed] + notes(results)
    console = Console()
    if not console.is_terminal:
        table = _table(source, rows, _widths(rows, headers="whole"), style="plain")
        buffer = io.StringIO()
        Console(width=_width(console, table), no_color=True, highlight=False, file=buffer).print(table)
        click.echo("\n".join(line.rstrip() for line in buffer.getvalue().splitlines()))
        for line in lines:
            click.echo(line)
        return
    for style, headers in (("boxed", "whole"), ("boxed", "words"), ("compact", "words"), ("narrow", "fold")):
        table = _table(source, rows, _widths(rows, headers=headers), style=style)
        if _width(console, table) <= console.width:
            break
    console = Console(width=max(console.width, _width(console, table)))
    console.print(table)
    for line in lines:
        console.print(line, highlight=False)


def _width(console: Console, table: Table) -> int:
    """The table's width at its columns' widths (not clamped to the console's)."""
    return console.measure(table, options=console.options.update_width(10_000)).maximum


def _cells(r: SimulationResult) -> list[str]:
    return [
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
    ]


def _widths(rows: Sequence[Sequence[str]], *, headers: str) -> list[int]:
    """Each column's width: its longest value, and its header ``whole``, or its longest word
    (``words``), or half of it (``fold``: long words broken in two lines)."""
    widths = []
    for i, (header, _) in enumerate(COLUMNS):
        words = [cell_len(header)] if headers == "whole" else [cell_len(word) for word in header.split()]
        if headers == "fold":
            words = [(n + 1) // 2 for n in words]
        widths.append(max([*words, *(cell_len(row[i]) for row in rows)]))
    return widths


def _table(source: str, rows: Sequence[Sequence[str]], widths: Sequence[int], *, style: str) -> Table:
    """``boxed``: rich's borders; ``compact``: a rule under the headers, two spaces between columns;
    ``narrow``: the same with one space; ``plain``: no rule, two spaces."""
    from rich import box

    table = Table(
        title=f"neat simulate: {source}",
        title_justify="left",
        box=box.HEAVY_HEAD if style == "boxed" else box.SIMPLE_HEAD if style in ("compact", "narrow") else None,
        show_edge=style == "boxed",
        pad_edge=style == "boxed",
        padding=(0, 0) if style == "narrow" else (0, 1),
        collapse_padding=style == "compact",
    )
    for (header, justify), width in zip(COLUMNS, widths, strict=True):
        table.add_column(header, justify=justify, width=width, overflow="fold")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    return table


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
