"""``report.html``: one self-contained page (inline CSS, figures as data URIs, no scripts, no requests)."""

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
    display_rows,
    per_day_rows,
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
tbody tr:nth-child(even) { background: var(--stripe); }
tr.baseline td:first-child { color: var(--muted); }
tr.best td { background: var(--best); }
ul.best { padding-left: 20px; }
ul.best li { margin: 6px 0; }
figure { margin: 26px 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: 14px; margin-top: 6px; }
figcaption b { color: var(--ink); }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
"""


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    classes: Sequence[str] = (),
    text_columns: int = 1,
) -> str:
    """A table; the first ``text_columns`` columns are left-aligned text, the others right-aligned numbers."""

    def cell(tag: str, j: int, text: str, extra: str = "") -> str:
        cls = ' class="text"' if j < text_columns else ""
        return f"<{tag}{cls}{extra}>{escape(text)}</{tag}>"

    head = "".join(cell("th", j, h, ' scope="col"') for j, h in enumerate(header))
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        body.append(f"<tr{cls}>{''.join(cell('td', j, c) for j, c in enumerate(row))}</tr>")
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def render_html(doc: Document) -> str:
    """The whole page as a string."""
    inputs = doc.inputs
    best_names = {b.policy for b in doc.best if b.policy}
    row_classes = [
        "best" if name in best_names else ("baseline" if kind != "dynamic" else "")
        for name, kind in zip(doc.summary.index, doc.summary["kind"], strict=True)
    ]
    n_days = len(inputs.days)
    days_word = f"{n_days} day{'s' if n_days != 1 else ''}"
    requested = set(inputs.requested)
    policy_items = ", ".join(
        f"<code>{escape(p.name)}</code>"
        + (" (baseline, always run)" if p.name not in requested and p.kind != "dynamic" else "")
        for p in inputs.policies
    )
    day_rows = [[d.name, f"{d.traces.n_vms:,}", f"{d.traces.n_steps:,}", d.source, d.trace_hash] for d in inputs.days]
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
        f"Tables give the median over days.</p>",
        '<section id="inputs"><h2>Inputs</h2><dl class="inputs">',
        f"<dt>Days</dt><dd>{', '.join(f'<code>{escape(d.name)}</code>' for d in inputs.days)}</dd>",
        f"<dt>Policies</dt><dd>{policy_items}</dd>",
        f"<dt>Mode</dt><dd>{escape(MODE_DESCRIPTIONS.get(inputs.mode, inputs.mode))}</dd>",
        f"<dt>Scenario</dt><dd>{escape(doc.scenario_line)}; from {escape(inputs.scenario_source)}</dd>",
        f"<dt>Baseline for SLAV</dt><dd><code>{escape(inputs.baseline)}</code></dd>",
        f"<dt>Seed</dt><dd>{inputs.seed}</dd>",
        f"<dt>Cells</dt><dd>{inputs.computed + inputs.from_cache} (day {TIMES} policy): {inputs.computed} simulated, "
        f"{inputs.from_cache} from the cache, in {inputs.wall_time_s:.1f} s</dd>",
        "</dl>",
        _table(["Day", "VMs", "Steps", "Source", "Trace hash"], day_rows, text_columns=5),
        "</section>",
        '<section id="results"><h2>Results</h2>',
        "<p>The field's standard table (Beloglazov &amp; Buyya, 2012): median over "
        f"{days_word}. Lower is better in every column. Highlighted rows are the best policies below.</p>",
        _table(*display_rows(doc.summary, STANDARD_COLUMNS, doc.metrics), classes=row_classes),
        *([f'<p class="binding">{escape(doc.binding_note)}</p>'] if doc.binding_note else []),
        "</section>",
        '<section id="savings"><h2>Energy savings</h2>',
        "<p>Median energy and the median of each day's saving against the two baselines; "
        "the gap is how far above the energy lower bound a policy stays.</p>",
        _table(*display_rows(doc.summary, SAVINGS_COLUMNS, doc.metrics), classes=row_classes),
        "</section>",
        '<section id="best"><h2>Best policies</h2><ul class="best">',
        *(f"<li>{escape(b.sentence)}</li>" for b in doc.best),
        "</ul>",
        f'<p class="note">Medians over {days_word}. ESV is ranked among consolidating policies only: NPA and '
        "DVFS never overload a host, so their SLAV and ESV are zero by construction.</p>",
        "</section>",
        '<section id="figures"><h2>Figures</h2>',
    ]
    for number, fig in enumerate(doc.figures, start=1):
        data = base64.b64encode(fig.png).decode("ascii")
        parts.append(
            f'<figure id="fig-{escape(fig.name)}"><img src="data:image/png;base64,{data}" alt="{escape(fig.alt)}">'
            f"<figcaption><b>Figure {number}. {escape(fig.title)}.</b> {escape(fig.caption)}</figcaption></figure>"
        )
    parts += [
        "</section>",
        '<section id="per-day"><h2>Per-day values</h2>',
        "<h3>Energy</h3>",
        _table(*per_day_rows(doc.frame, PER_DAY_ENERGY_COLUMNS, doc.metrics), text_columns=2),
        "<h3>SLA, migrations and shutdowns</h3>",
        _table(*per_day_rows(doc.frame, PER_DAY_SLA_COLUMNS, doc.metrics), text_columns=2),
        "</section>",
        '<section id="metrics"><h2>Metrics</h2>',
        f'<p class="note">{escape(UNITS_NOTE)}</p>',
        '<dl class="inputs">',
        *(f"<dt>{escape(m.header)}</dt><dd>{escape(m.description)}</dd>" for m in doc.metrics.values()),
        "</dl></section>",
        f"<footer>Generated by neat {escape(inputs.version)} on {escape(inputs.generated_at)}. "
        "Beside this page: <code>results.csv</code> and <code>results.parquet</code> (one row per day and "
        "policy, fractions not percents), <code>series.parquet</code> (per-step series), <code>report.md</code>, "
        "<code>plots/</code>.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


__all__ = ["render_html"]
