"""Run the (day, policy) matrix: from the cache where possible, else serially, on local cores or on Dask.

Every cell is one deterministic :class:`~neat.simulation.engine.Simulation`, so the three ways of
running give equal results. Each result goes into the cache the moment it arrives; an interrupted
or failed run keeps every finished cell.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from typing import Any

from neat.decision.mode import Mode
from neat.decision.policy import Policy
from neat.report.cache import ResultCache, cell_inputs, cell_key
from neat.report.record import CellResult
from neat.scenario import Scenario
from neat.traces import TraceSet

#: How long to wait for a Dask scheduler to answer.
SCHEDULER_TIMEOUT_S = 20.0

#: (day index, policy index)
CellId = tuple[int, int]
#: Called as progress(done, total) after the cached cells are counted and after every computed one.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Day:
    """One trace day of the report: a display name, where it came from, its traces and their hash."""

    name: str
    source: str
    traces: TraceSet
    trace_hash: str

    @classmethod
    def of(cls, name: str, traces: TraceSet) -> Day:
        return cls(name=name, source=traces.source, traces=traces, trace_hash=traces.content_hash())


@dataclass
class MatrixRun:
    """The matrix's results by (day index, policy index), and which came from the cache."""

    results: dict[CellId, CellResult] = field(default_factory=dict)
    from_cache: set[CellId] = field(default_factory=set)

    @property
    def computed(self) -> int:
        return len(self.results) - len(self.from_cache)


class CellFailed(RuntimeError):
    """A cell's simulation raised; ``__cause__`` is the original exception."""

    def __init__(self, day: str, policy: str, error: BaseException) -> None:
        super().__init__(f"day {day}, policy {policy}: {error}")
        self.day = day
        self.policy = policy
        self.error = error


class SchedulerError(RuntimeError):
    """The Dask scheduler cannot be reached, or distributed is not installed."""


def simulate_cell(traces: TraceSet, scenario: Scenario, policy: Policy, mode: Mode, seed: int) -> CellResult:
    """Simulate one policy on one day (runs in a worker process or on a Dask worker)."""
    from neat.simulation.engine import Simulation

    result = Simulation(traces, scenario, policy, seed=seed).run()
    return CellResult.from_simulation(result, policy.kind)


def run_matrix(
    days: Sequence[Day],
    policies: Sequence[Policy],
    scenario: Scenario,
    mode: Mode,
    *,
    seed: int,
    cache: ResultCache,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> MatrixRun:
    """Every policy on every day: cached cells read back, the others computed and cached as they finish.

    ``jobs`` > 1 runs the missing cells in that many local processes; ``scheduler`` (a Dask
    scheduler address such as ``tcp://10.0.0.5:8786``) runs them on that cluster instead.

    Raises
    ------
    CellFailed
        A simulation raised (for example the data center is too small for a day's VMs).
    SchedulerError
        ``scheduler`` cannot be reached.
    """
    run = MatrixRun()
    total = len(days) * len(policies)
    keys: dict[CellId, str] = {}
    pending: list[CellId] = []
    for d, day in enumerate(days):
        for p, policy in enumerate(policies):
            keys[d, p] = key = cell_key(day.trace_hash, policy, mode, scenario, seed)
            hit = cache.get(key)
            if hit is not None and hit.policy == policy.name:
                run.results[d, p] = hit
                run.from_cache.add((d, p))
            else:
                pending.append((d, p))
    if progress is not None:
        progress(len(run.results), total)

    def finish(cell: CellId, result: CellResult) -> None:
        d, p = cell
        inputs = cell_inputs(days[d].trace_hash, policies[p], mode, scenario, seed)
        cache.put(keys[cell], result, {**inputs, "day": days[d].name})
        run.results[cell] = result
        if progress is not None:
            progress(len(run.results), total)

    def task(cell: CellId) -> tuple[TraceSet, Scenario, Policy, Mode, int]:
        d, p = cell
        return days[d].traces, scenario, policies[p], mode, seed

    def failed(cell: CellId, error: BaseException) -> CellFailed:
        d, p = cell
        return CellFailed(days[d].name, policies[p].name, error)

    if not pending:
        return run
    if scheduler is not None:
        _run_dask(scheduler, pending, days, task, finish, failed)
    elif jobs <= 1 or len(pending) == 1:
        for cell in pending:
            try:
                result = simulate_cell(*task(cell))
            except Exception as exc:
                raise failed(cell, exc) from exc
            finish(cell, result)
    else:
        _run_local(min(jobs, len(pending)), pending, task, finish, failed)
    return run


Task = Callable[[CellId], tuple[TraceSet, Scenario, Policy, Mode, int]]
Finish = Callable[[CellId, CellResult], None]
Failed = Callable[[CellId, BaseException], CellFailed]


def _run_local(workers: int, pending: Iterable[CellId], task: Task, finish: Finish, failed: Failed) -> None:
    # spawn, not fork: the parent may hold threads (a progress bar), and spawn behaves the same on
    # every platform
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    futures: dict[Future[CellResult], CellId] = {pool.submit(simulate_cell, *task(c)): c for c in pending}
    try:
        for future in as_completed(futures):
            cell = futures.pop(future)
            try:
                result = future.result()
            except Exception as exc:
                # keep what the other workers finish, then report the first failure
                for other in futures:
                    other.cancel()
                wait(futures)
                for other, other_cell in futures.items():
                    if other.done() and not other.cancelled() and other.exception() is None:
                        finish(other_cell, other.result())
                raise failed(cell, exc) from exc
            finish(cell, result)
    finally:
        # wait: the pool's manager thread closes its wake-up pipe after the futures have failed; an
        # interpreter exiting meanwhile (Ctrl-C) writes to that pipe unguarded (Python 3.11's
        # concurrent.futures.process._python_exit) and prints "Bad file descriptor" at exit
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(
    address: str, pending: Sequence[CellId], days: Sequence[Day], task: Task, finish: Finish, failed: Failed
) -> None:
    try:
        from distributed import Client
        from distributed import as_completed as dask_as_completed
    except ImportError:
        raise SchedulerError(
            "--scheduler needs Dask's distributed package: pip install 'neat-consolidation[dask]'"
        ) from None
    try:
        client = Client(address, timeout=f"{SCHEDULER_TIMEOUT_S}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
    with client:
        # each day's traces travel to the cluster once, not once per policy
        shipped: dict[int, Any] = {}
        for d, _ in pending:
            if d not in shipped:
                shipped[d] = client.scatter(days[d].traces)
        futures: dict[Any, CellId] = {}
        for cell in pending:
            _, scenario, policy, mode, seed = task(cell)
            future = client.submit(simulate_cell, shipped[cell[0]], scenario, policy, mode, seed, pure=False)
            futures[future] = cell
        try:
            for future in dask_as_completed(list(futures), loop=client.loop):
                cell = futures[future]
                try:
                    result = future.result()
                except Exception as exc:
                    raise failed(cell, exc) from exc
                finish(cell, result)
        finally:
            client.cancel([f for f in futures if not f.done()])


__all__ = ["CellFailed", "Day", "MatrixRun", "SchedulerError", "run_matrix", "simulate_cell"]
