"""``report.html``: one self-contained page (inline CSS, figures as SVG data URIs, no scripts, no requests)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from neat.report.document import MODE_DESCRIPTIONS, Document
from neat.report.tables import (
    PER_DAY_ENERGY_COLUMNS,
    PER_DAY_SLA_COLUMNS,
    SAVINGS_COLUMNS,
    STANDARD_COLUMNS,
    TIMES,
    UNITS_NOTE,
    Table,
    per_day_table,
    plural,
    summary_table,
)

CSS = """
:root { color-scheme: light; --ink: #1d232b; --muted: #5b6570; --rule: #d9dee4; --stripe: #f5f7f9;
  --accent: #1f5f99; --best: #fff4cc; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h3 { font-size: 16px; margin: 18px 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--rule); }
p.lede { color: var(--muted); margin: 0 0 8px; }
p.note { color: var(--muted); font-size: 13px; margin: 6px 0 0; }
dl.inputs { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.inputs dt { color: var(--muted); }
dl.inputs dd { margin: 0; }
code { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: var(--stripe);
  padding: 1px 4px; border-radius: 3px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--rule); text-align: right; white-space: nowrap; }
th.text, td.text { text-align: left; }
th { font-weight: 600; border-bottom: 2px solid var(--ink); vertical-align: bottom; }
td { font-variant-numeric: tabular-nums; }
td .spread { display: block; color: var(--muted); font-size: 12px; line-height: 1.2; }
tbody tr:nth-child(even) { background: var(--stripe); }
tr.baseline td:first-child { color: var(--muted); }
tr.best td { background: var(--best); }
ul.best { padding-left: 20px; }
ul.best li { margin: 6px 0; }
figure { margin: 26px 0; }
figure img { display: block; width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: 14px; margin-top: 6px; }
figcaption b { color: var(--ink); }
figcaption .files { display: block; font-size: 12px; margin-top: 2px; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
"""


def _table(table: Table, *, classes: Sequence[str] = ()) -> str:
    """A table; the text columns are left-aligned, the numbers right-aligned with their spread beneath."""

    def cell(tag: str, j: int, text: str, spread: str = "", extra: str = "") -> str:
        cls = ' class="text"' if j < table.text_columns else ""
        below = f'<span class="spread">{escape(spread)}</span>' if spread else ""
        return f"<{tag}{cls}{extra}>{escape(text)}{below}</{tag}>"

    head = "".join(cell("th", j, h, extra=' scope="col"') for j, h in enumerate(table.header))
    body = []
    for i, (row, spreads) in enumerate(zip(table.rows, table.spreads, strict=True)):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        cells = "".join(cell("td", j, c, s) for j, (c, s) in enumerate(zip(row, spreads, strict=True)))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _plain_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, text_columns: int = 1) -> str:
    return _table(Table(list(header), [list(r) for r in rows], [[""] * len(header) for _ in rows], text_columns))


def render_html(doc: Document) -> str:
    """The whole page as a string."""
    inputs = doc.inputs
    best_names = {b.policy for b in doc.best if b.policy}
    row_classes = [
        "best" if name in best_names else ("baseline" if kind != "dynamic" else "")
        for name, kind in zip(doc.summary.index, doc.summary["kind"], strict=True)
    ]
    n_days = len(inputs.days)
    days_word = plural(n_days, "day")
    spread_word = ", with the lowest and highest day beneath it in grey" if n_days > 1 else ""
    requested = set(inputs.requested)
    policy_items = ", ".join(
        f"<code>{escape(p.name)}</code>"
        + (" (baseline, always run)" if p.name not in requested and p.kind != "dynamic" else "")
        for p in inputs.policies
    )
    day_rows = [
        [d.name, f"{d.traces.n_vms:,}", f"{d.traces.n_steps:,}", f"{doc.steps(d.name):,}", d.source, d.trace_hash]
        for d in inputs.days
    ]
    reference = (
        f"<code>{escape(inputs.baseline)}</code>"
        if inputs.baseline
        else "none (no consolidating policy in this report)"
    )
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>neat report: {len(inputs.policies)} policies on {days_word}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body><main>",
        "<h1>VM consolidation report</h1>",
        f'<p class="lede">{len(inputs.policies)} policies on {days_word} of traces, mode '
        f"<code>{escape(inputs.mode)}</code>, scenario <code>{escape(inputs.scenario.name)}</code>. "
        f"Tables give the median over days{spread_word}.</p>",
        '<section id="inputs"><h2>Inputs</h2><dl class="inputs">',
        f"<dt>Days</dt><dd>{', '.join(f'<code>{escape(d.name)}</code>' for d in inputs.days)}</dd>",
        f"<dt>Policies</dt><dd>{policy_items}</dd>",
        f"<dt>Mode</dt><dd>{escape(MODE_DESCRIPTIONS.get(inputs.mode, inputs.mode))}</dd>",
        f"<dt>Scenario</dt><dd>{escape(doc.scenario_line)}; from {escape(inputs.scenario_source)}</dd>",
        f"<dt>Reference for SLAV</dt><dd>{reference}: the policy whose SLAV the best-energy rule may not exceed "
        "(<code>--baseline</code>; by default the first consolidating policy)</dd>",
        f"<dt>Seed</dt><dd>{inputs.seed}</dd>",
        f"<dt>Cells</dt><dd>{inputs.computed + inputs.from_cache} (day {TIMES} policy): {inputs.computed} simulated, "
        f"{inputs.from_cache} from the cache, in {inputs.wall_time_s:.1f} s</dd>",
        "</dl>",
        _plain_table(["Day", "VMs", "Samples per VM", "Steps", "Source", "Trace hash"], day_rows, text_columns=6),
        '<p class="note">Steps are the 5-minute decision rounds simulated, as <code>steps</code> in results.csv: '
        "one fewer than the samples per VM, the first sample placing the VMs.</p>",
        "</section>",
        '<section id="results"><h2>Results</h2>',
        "<p>The field's standard table (Beloglazov &amp; Buyya, 2012): median over "
        f"{days_word}{spread_word}. Lower is better in every column. Highlighted rows are the best policies "
        "below.</p>",
        _table(summary_table(doc.summary, STANDARD_COLUMNS, doc.metrics), classes=row_classes),
        *([f'<p class="binding">{escape(doc.binding_note)}</p>'] if doc.binding_note else []),
        "</section>",
        '<section id="savings"><h2>Energy savings</h2>',
        "<p>Median energy and the median of each day's saving against the two baselines; "
        "the gap is how far above the energy lower bound a policy stays.</p>",
        _table(summary_table(doc.summary, SAVINGS_COLUMNS, doc.metrics), classes=row_classes),
        "</section>",
        '<section id="best"><h2>Best policies</h2><ul class="best">',
        *(f"<li>{escape(b.sentence)}</li>" for b in doc.best),
        "</ul>",
        f'<p class="note">Medians over {days_word}. Both rules rank consolidating policies only: NPA and '
        "DVFS never overload a host, so their SLAV and ESV are zero by construction.</p>",
        "</section>",
        '<section id="figures"><h2>Figures</h2>',
    ]
    for number, fig in enumerate(doc.figures, start=1):
        data = base64.b64encode(fig.svg).decode("ascii")
        files = f"plots/{fig.name}.pdf, plots/{fig.name}.svg, plots/{fig.name}.png (200 dpi)"
        parts.append(
            f'<figure id="fig-{escape(fig.name)}"><img src="data:image/svg+xml;base64,{data}" alt="{escape(fig.alt)}">'
            f"<figcaption><b>Figure {number}. {escape(fig.title)}.</b> {escape(fig.caption)} "
            f'<span class="files">Beside this page: {escape(files)}.</span></figcaption></figure>'
        )
    parts += [
        "</section>",
        '<section id="per-day"><h2>Per-day values</h2>',
        "<h3>Energy</h3>",
        _table(per_day_table(doc.frame, PER_DAY_ENERGY_COLUMNS, doc.metrics)),
        "<h3>SLA, migrations and shutdowns</h3>",
        _table(per_day_table(doc.frame, PER_DAY_SLA_COLUMNS, doc.metrics)),
        "</section>",
        '<section id="metrics"><h2>Metrics</h2>',
        f'<p class="note">{escape(UNITS_NOTE)}</p>',
        '<dl class="inputs">',
        *(f"<dt>{escape(m.header)}</dt><dd>{escape(m.description)}</dd>" for m in doc.metrics.values()),
        "</dl></section>",
        f"<footer>Generated by neat {escape(inputs.version)} on {escape(inputs.generated_at)}. "
        "Beside this page: <code>results.csv</code> and <code>results.parquet</code> (one row per day and "
        "policy, fractions not percents), <code>series.parquet</code> (per-step series), <code>report.md</code>, "
        "<code>plots/</code> (every figure as PDF, SVG and 200 dpi PNG).</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


__all__ = ["render_html"]
