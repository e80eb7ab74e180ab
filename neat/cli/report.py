"""``neat report``: run policies over trace days and write an HTML/Markdown report with tables and plots."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from neat.cli.options import (
    DataError,
    HiddenAliasOption,
    costs_option,
    cpu_unit_option,
    mode_option,
    scenario_option,
)

if TYPE_CHECKING:
    from neat.decision.mode import Mode
    from neat.decision.policy import Policy
    from neat.report.cache import ResultCache
    from neat.report.runner import Day, MatrixRun
    from neat.scenario import Scenario

SWEEP_HELP = """
\b
A sweep file (--sweep) is TOML; every [[grid]] is a cartesian product:
  policies = ["thr-mmt-0.8"]
  [[grid]]
  overload = ["lr", "lrr"]        # detectors
  parameter = [1.1, 1.2, 1.3]     # -> lr-mmt-1.1, ... (PABFD placement)
  selection = ["mmt", "mc"]
  [[grid]]
  overload = "mad"
  overload_params = { safety = [2.0, 2.5] }
  placement = ["pabfd", "bfd"]
See neat.report.sweep for every key.
"""


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load_days(paths: Sequence[Path], cpu_unit: str | None) -> list[Day]:
    """Each path is a day of traces (whatever ``neat.traces.load_traces`` reads: a built-in day such as
    ``planetlab:20110303``, a folder or file in a known format, a long table) or a folder of such folders.

    Raises
    ------
    TraceError
        A path is missing or a trace is unusable; the message names the file, line and value.
    """
    from neat.report.runner import Day
    from neat.traces import load_traces, split_trace_spec

    found: list[tuple[str, str, Path | str]] = []  # (label, what load_traces reads, what makes it unique)
    for path in paths:
        kind, rest = split_trace_spec(path)
        if kind is not None or not path.exists():
            named = Path(rest)
            found.append((named.stem if named.is_file() else named.name or rest, str(path), str(path)))
            continue
        if path.is_file():
            found.append((path.stem, str(path), path.resolve()))
            continue
        entries = [p for p in path.iterdir() if not p.name.startswith(".")]
        subfolders = sorted((p for p in entries if p.is_dir()), key=lambda p: p.name)
        if subfolders and not any(p.is_file() for p in entries):
            found.extend((p.name, str(p), p.resolve()) for p in subfolders)
        else:
            found.append((path.name, str(path), path.resolve()))
    unique: dict[Path | str, tuple[str, str]] = {}
    for name, spec, key in found:
        unique.setdefault(key, (name, spec))
    names = [name for name, _ in unique.values()]
    days = []
    for key, (name, spec) in unique.items():
        label = name if names.count(name) == 1 else str(key)
        days.append(Day.of(label, load_traces(spec, cpu_unit=cpu_unit)))
    return days


@click.command("report", epilog=SWEEP_HELP)
@click.option(
    "--traces",
    "trace_paths",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="A day of traces, as neat simulate's --traces (a built-in day such as planetlab:20110303, a PlanetLab, "
    "Bitbrains or Azure path, a long table), or a folder of such folders. Repeatable.",
)
@cpu_unit_option
@click.option(
    "--policy",
    "policies",
    multiple=True,
    help="Policy name, repeatable: dvfs, <overload>-<selection>-<parameter> (e.g. lr-mmt-1.2). "
    "npa and dvfs are always run as baselines. Default (without --sweep): thr-mmt-0.8, mad-mmt-2.5, lr-mmt-1.2.",
)
@click.option("--sweep", "sweep_path", type=click.Path(path_type=Path), default=None, help="A sweep TOML file.")
@mode_option
@scenario_option
@costs_option
@click.option(
    "--output",
    "--out",
    "out_dir",
    cls=HiddenAliasOption,
    required=True,
    type=click.Path(path_type=Path),
    help="Report folder (created; a previous report there is replaced).",
)
@click.option(
    "--baseline",
    default=None,
    help="The reference policy of the 'lowest energy at an SLAV no worse than' rule, which ranks the "
    "consolidating policies only. Default: the first consolidating policy.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Local worker processes. Default: the number of cores.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Run the matrix on this Dask distributed scheduler (e.g. tcp://10.0.0.5:8786) instead of locally.",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Result cache folder. Default: ~/.cache/neat/results.",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
@click.option("--seed", default=1, show_default=True, help="Seed of random VM selection (rs).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def report_cmd(
    trace_paths: tuple[Path, ...],
    cpu_unit: str | None,
    policies: tuple[str, ...],
    sweep_path: Path | None,
    mode: str,
    scenario_path: Path | None,
    costs: str | None,
    out_dir: Path,
    baseline: str | None,
    jobs: int | None,
    scheduler: str | None,
    cache_dir: Path | None,
    no_cache: bool,
    seed: int,
    quiet: bool,
) -> None:
    """Run policies over trace days and write report.html, report.md and results.csv/.parquet to --output.

    Every (day, policy) result is cached, so a rerun with another policy simulates only that one.
    """
    from neat.decision.mode import MODES
    from neat.decision.policy import BASELINES, DEFAULT_POLICIES, PolicyError
    from neat.report.cache import ResultCache, default_cache_dir
    from neat.report.document import ReportInputs, build_document, check_output_folder, write_report
    from neat.report.html import render_html
    from neat.report.markdown import render_markdown
    from neat.report.runner import CellFailed, SchedulerError
    from neat.report.sweep import SweepError, resolve_policies
    from neat.report.tables import plural
    from neat.scenario import ScenarioError, scenario_for
    from neat.simulation.engine import CapacityError
    from neat.traces import TraceError

    started = time.perf_counter()
    sim_mode = MODES[mode]
    requested = policies or (() if sweep_path else tuple(p for p in DEFAULT_POLICIES if p not in BASELINES))
    try:
        check_output_folder(out_dir)
        chosen = resolve_policies(requested, sweep_path, sim_mode, baseline=baseline)
        scenario = scenario_for(scenario_path, mode, costs)
        days = load_days(trace_paths, cpu_unit)
    except (TraceError, ScenarioError, PolicyError, SweepError, FileExistsError) as exc:
        raise DataError(str(exc)) from None
    if baseline is not None:
        baseline = chosen[[p.name for p in chosen].index(baseline.strip().lower())].name
    else:
        baseline = next((p.name for p in chosen if p.kind == "dynamic"), None)
    if no_cache:
        cache = ResultCache(None)
    else:
        root = cache_dir or default_cache_dir()
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"--cache {root}: cannot create the cache folder ({exc.strerror or exc})") from None
        cache = ResultCache(root)

    workers = 0 if scheduler else min(jobs or _cpu_count(), len(days) * len(chosen))
    try:
        run = _interruptible(
            lambda: _run_with_progress(
                days,
                chosen,
                scenario,
                sim_mode,
                seed=seed,
                cache=cache,
                jobs=jobs or _cpu_count(),
                scheduler=scheduler,
                quiet=quiet,
            ),
            local_workers=workers,
        )
    except CellFailed as exc:
        if isinstance(exc.error, CapacityError):
            raise DataError(f"day {exc.day}, policy {exc.policy}: {exc.error}") from None
        raise
    except SchedulerError as exc:
        raise DataError(str(exc)) from None

    inputs = ReportInputs(
        days=tuple(days),
        policies=tuple(chosen),
        requested=tuple(p.strip().lower() for p in requested),
        mode=mode,
        scenario=scenario,
        scenario_source=(str(scenario_path) if scenario_path else f"built-in ({scenario.name})")
        + f", {scenario.costs.name} costs",
        seed=seed,
        baseline=baseline,
        version=_version(),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        computed=run.computed,
        from_cache=len(run.from_cache),
        wall_time_s=time.perf_counter() - started,
    )
    document = build_document(inputs, run)
    try:
        pages = [("report.html", render_html(document)), ("report.md", render_markdown(document))]
        write_report(document, out_dir, pages)
    except OSError as exc:
        raise DataError(f"{out_dir}: cannot write the report ({exc.strerror or exc})") from None
    cells = len(days) * len(chosen)
    click.echo(
        f"{cells} cells ({plural(len(days), 'day')} x {plural(len(chosen), 'policy', 'policies')}): "
        f"{run.computed} simulated, "
        f"{len(run.from_cache)} from the cache, {time.perf_counter() - started:.1f} s"
    )
    for best in document.best:
        click.echo(f"  {best.sentence}")
    click.echo(f"Report: {out_dir / 'report.html'}")


#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT = 130
#: At most this long, Ctrl-C waits for the worker processes to start (they inherit its being ignored).
WORKER_START_S = 3.0


def _interruptible(run: Callable[[], MatrixRun], *, local_workers: int) -> MatrixRun:
    """Run the matrix so that Ctrl-C stops it quietly.

    The worker processes start with Ctrl-C ignored (a disposition they inherit, so Python installs
    no KeyboardInterrupt in them): whatever they are doing, even importing, they print no traceback.
    This process ignores it only while they start (``local_workers`` of them, at most a few seconds),
    then Ctrl-C stops it: the workers are terminated, the cells finished so far stay in the cache,
    and the command exits with status 130.
    """
    import multiprocessing
    import signal
    import threading

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["run"] = run()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="neat-report-matrix", daemon=True)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if local_workers else None
    worker.start()
    try:
        if previous is not None:
            deadline = time.monotonic() + WORKER_START_S
            while (
                worker.is_alive()
                and len(multiprocessing.active_children()) < local_workers
                and time.monotonic() < deadline
            ):
                time.sleep(0.01)
            signal.signal(signal.SIGINT, previous)
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        # workers started while this runs are stopped too
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            children = multiprocessing.active_children()
            for child in children:
                child.terminate()
            for child in children:
                child.join(5)
            if not worker.is_alive() and not multiprocessing.active_children():
                break
            worker.join(0.2)
        click.echo("interrupted: the cells finished so far are cached; the same command goes on from there", err=True)
        raise SystemExit(INTERRUPTED_EXIT) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if "error" in outcome:
        raise outcome["error"]
    result: MatrixRun = outcome["run"]
    return result


def _version() -> str:
    from neat import __version__

    return __version__


def _run_with_progress(
    days: list[Day],
    chosen: list[Policy],
    scenario: Scenario,
    mode: Mode,
    *,
    seed: int,
    cache: ResultCache,
    jobs: int,
    scheduler: str | None,
    quiet: bool,
) -> MatrixRun:
    """:func:`run_matrix` under a progress bar over the cells (on stderr, when it is a terminal)."""
    from neat.report.runner import run_matrix

    if quiet or not sys.stderr.isatty():
        return run_matrix(days, chosen, scenario, mode, seed=seed, cache=cache, jobs=jobs, scheduler=scheduler)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    where = f"on {scheduler}" if scheduler else f"on {jobs} core{'s' if jobs > 1 else ''}"
    columns = (
        TextColumn(f"simulating {where}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("cells"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("cells", total=len(days) * len(chosen))

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run_matrix(
            days, chosen, scenario, mode, seed=seed, cache=cache, jobs=jobs, scheduler=scheduler, progress=progress
        )


__all__ = ["load_days", "report_cmd"]
