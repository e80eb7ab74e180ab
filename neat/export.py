"""A cloud's own history as a simulation: the service database's samples and inventory as traces and a scenario.

``neat export`` writes two files that ``neat simulate --traces ... --scenario ...`` replays:

- ``traces.parquet``: a long table (:func:`neat.traces.load_long_table`) with one row per VM and
  step: ``vm`` (Nova's uuid), ``timestamp`` (UTC) and ``cpu_fraction`` (the VM's CPU utilization
  as a fraction of its vCPUs). The database holds no per-step RAM use, so RAM is each VM's flavor's
  (in the scenario).
- ``scenario.toml``: a scenario file (:func:`neat.scenario.load_scenario`) whose host types are
  the hosts' capacities (cores, one core's MIPS, RAM) with the power table and migration link of
  their ``[[hosts.profile]]`` (or ``[hosts]``) in the service configuration, whose VM types are the
  flavors (vCPUs x one core's MIPS, RAM), whose ``[hosts]`` and ``[vms]`` tables name every host and
  VM with each VM's host at the first step (:mod:`neat.inventory`), with the service's ``[limits]``,
  and ``[costs]`` that plan migrations as the service does (one copy of the RAM over half the link).

The samples, taken by each host's collector on its own clock, are put on one grid of ``interval_s``
steps ending at the newest sample: a VM's value at step ``t`` is its newest sample in
``(t - interval_s, t]`` (what the global manager reads at ``t``). VMs without a sample at every
step are left out (the notes say which; ``since`` starts the span later). The first step's
placement is the inventory's current one with every migration the service recorded since then
undone (migrations made outside neat are not known).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from neat.config import ServiceConfig
from neat.db.records import SampleSeries
from neat.db.store import Store
from neat.decision.migration import PRECOPY_MIGRATION
from neat.inventory import Inventory, inventory_toml
from neat.scenario import REAL_COSTS, Costs, HostType, Scenario, VmType
from neat.traces import TraceSet

#: File names of an export in its folder.
TRACES_FILE = "traces.parquet"
SCENARIO_FILE = "scenario.toml"
#: An export's costs: the real ones, with migrations as long as the service plans them (one copy of
#: the RAM over half the link: :func:`neat.decision.migration.migration_time_s`), so that a replay
#: decides as the service did. A ``dirty_rate_mb_s`` above 0 models pre-copy rounds instead.
SERVICE_COSTS = replace(REAL_COSTS, migration=replace(PRECOPY_MIGRATION, dirty_rate_mb_s=0.0))
#: Notes naming VMs show this many names.
SHOWN_NAMES = 5

_US_PER_S = 1_000_000


class ExportError(ValueError):
    """The database's history cannot be exported; the message says what is missing and what to do."""


@dataclass(frozen=True)
class CloudHistory:
    """An export: the traces, the scenario, the first step's instant, and notes on what was left out.

    ``traces.utilization`` has shape (n_vms, n_steps), VMs sorted by uuid (the order the long table
    is read back in); ``start`` is the first step's instant (UTC).
    """

    traces: TraceSet
    scenario: Scenario
    start: datetime
    notes: tuple[str, ...] = ()


def export_history(
    store: Store,
    config: ServiceConfig,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    interval_s: int | None = None,
    source: str = "the database",
) -> CloudHistory:
    """The cloud's history in ``[since, until]`` as traces and a scenario (see the module docstring).

    Parameters
    ----------
    store : the service's database
    config : the service's configuration (host profiles, limits)
    since, until : the span (aware datetimes; default: every sample stored)
    interval_s : the step (default: the configuration's ``[intervals] collect_s``)
    source : how notes and the scenario name the database (a masked URL)

    Raises
    ------
    ExportError
        No samples in the span, fewer than two steps, no VM sampled at every step.
    """
    series = store.vm_samples(since=since, until=until)
    span = _span_text(since, until)
    if not series.names:
        raise ExportError(f"{source}: no VM samples {span}; the local managers store them (neat local-manager)")
    step_s = interval_s or max(1, round(config.collect_interval_s))
    instants, table = sample_grid(series, step_s)
    if instants.shape[0] < 2:
        raise ExportError(
            f"{source}: the samples {span} span less than one {step_s} s step; a replay needs at least two steps"
        )
    start = _utc(instants[0])
    notes: list[str] = []
    complete = [int(n) == 0 for n in np.count_nonzero(np.isnan(table), axis=1)]
    _note(notes, [n for n, ok in zip(series.names, complete, strict=True) if not ok], "lack a sample at some step")
    hosts = store.hosts()
    host_index = {h.name: i for i, h in enumerate(hosts)}
    vms = {v.uuid: v for v in store.vms()}
    placed = first_hosts({v.uuid: v.host for v in vms.values()}, store, start)
    at_start = {vm: host_index[h] for vm, h in placed.items() if h in host_index}  # VM -> host index
    known = [i for i, ok in enumerate(complete) if ok]
    _note(notes, [series.names[i] for i in known if series.names[i] not in at_start], "were on no host at the start")
    keep = [i for i in known if series.names[i] in at_start]
    if not keep:
        apart = infer_interval_s(series)
        hint = f"; the samples are about {apart} s apart: pass --interval-s {apart}" if apart and apart > step_s else ""
        raise ExportError(
            f"{source}: no VM has a sample at every {step_s} s step {span} and a host at the first "
            f"({'; '.join(notes)}){hint}; or export a later span (--since)"
        )
    names = tuple(series.names[i] for i in keep)
    host_types, host_type_of = _host_types(hosts, config)
    core_mips = [host_types[k].core_mips for k in host_type_of]
    flavors = [(vms[n].vcpus * core_mips[at_start[n]], float(vms[n].ram_mb)) for n in names]
    vm_types, vm_type_of = _vm_types(flavors, [vms[n].vcpus for n in names])
    if config.uses_aggregates:
        notes.append(
            "profiles chosen by Nova aggregate cannot be matched offline: hosts take the first profile matching "
            "their name (their cores and MIPS are the service's, from the database)"
        )
    inventory = Inventory(
        tuple(h.name for h in hosts),
        tuple(host_type_of),
        names,
        tuple(vm_type_of),
        tuple(at_start[n] for n in names),
    )
    end = _utc(instants[-1])
    label = f"{source} from {start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S} UTC"
    traces = TraceSet(table[keep], names, step_s, f"export of {label}")
    scenario = Scenario(
        name=f"export of {label}",
        host_types=tuple(host_types),
        vm_types=tuple(vm_types),
        interval_s=float(step_s),
        limits=config.limits,
        costs=SERVICE_COSTS,
        inventory=inventory,
    )
    return CloudHistory(traces, scenario, start, tuple(notes))


def infer_interval_s(series: SampleSeries) -> int | None:
    """The median time between a VM's successive samples, in whole seconds (at least 1); None if
    no VM has two samples."""
    stamps = series.recorded_at.astype(np.int64)
    same = series.owner[1:] == series.owner[:-1]
    gaps = np.diff(stamps)[same]
    if not gaps.size:
        return None
    return max(1, round(float(np.median(gaps)) / _US_PER_S))


def sample_grid(series: SampleSeries, interval_s: int) -> tuple[NDArray[np.datetime64], NDArray[np.float64]]:
    """The samples on one grid of ``interval_s`` steps ending at the newest sample.

    Returns
    -------
    instants : datetime64[us] array of shape (n_steps,), the steps (UTC), oldest first
    table : float64 array of shape (n_names, n_steps): each VM's newest sample in
        ``(instant - interval_s, instant]``; NaN where it has none
    """
    stamps = series.recorded_at.astype(np.int64)
    step_us = int(interval_s) * _US_PER_S
    end, first = int(stamps.max()), int(stamps.min())
    n_steps = (end - first) // step_us + 1
    origin = end - (n_steps - 1) * step_us
    step = -((origin - stamps) // step_us)  # ceil((t - origin) / step): t in (instant - step, instant]
    key = series.owner.astype(np.int64) * n_steps + step
    newest = np.r_[key[1:] != key[:-1], True]  # sorted by owner then time: the last of each (VM, step)
    table = np.full((len(series.names), n_steps), np.nan)
    table[series.owner[newest], step[newest]] = series.utilization[newest]
    instants = (origin + step_us * np.arange(n_steps, dtype=np.int64)).astype("datetime64[us]")
    return instants, table


def first_hosts(current: dict[str, str | None], store: Store, start: datetime) -> dict[str, str | None]:
    """Each VM's host at ``start``: its host now, with every migration the service completed after
    ``start`` undone, newest first."""
    placed = dict(current)
    moves = [
        a
        for p in store.plans(limit=None)
        for a in p.actions
        if a.kind == "migrate" and a.status == "succeeded" and a.finished_at is not None and a.finished_at > start
    ]
    for action in sorted(moves, key=lambda a: (a.finished_at, a.plan_id, a.position), reverse=True):
        if action.vm_uuid in placed:
            placed[action.vm_uuid] = action.host
    return placed


def _host_types(hosts: Sequence[Any], config: ServiceConfig) -> tuple[list[HostType], list[int]]:
    """One host type per distinct capacity, power table and link; each host's type index."""
    kinds: dict[tuple[Any, ...], int] = {}
    types: list[HostType] = []
    of: list[int] = []
    for host in hosts:
        profile = config.profile(host.name)
        cores = int(profile.cores or host.cores)
        core_mips = float(host.cpu_mips) / float(host.cores)  # the service's, the aggregate's profile included
        ram_mb = float(profile.ram_mb or host.ram_mb)
        power = np.asarray(profile.power_w, dtype=np.float64)
        key = (cores, core_mips, ram_mb, tuple(power.tolist()), profile.link_mbit_s)
        if key not in kinds:
            kinds[key] = len(types)
            name = _unique_name(f"{cores} x {core_mips:g} MIPS, {ram_mb:g} MB", [t.name for t in types])
            types.append(HostType(name, 0, cores, core_mips, ram_mb, power, float(profile.link_mbit_s)))
        of.append(kinds[key])
    counts = np.bincount(np.array(of, dtype=np.intp), minlength=len(types))
    return [replace(t, count=int(counts[k])) for k, t in enumerate(types)], of


def _vm_types(flavors: Sequence[tuple[float, float]], vcpus: Sequence[int]) -> tuple[list[VmType], list[int]]:
    """One VM type per distinct (MIPS, RAM MB); each VM's type index."""
    kinds: dict[tuple[float, float], int] = {}
    types: list[VmType] = []
    of: list[int] = []
    for (mips, ram_mb), n in zip(flavors, vcpus, strict=True):
        if (mips, ram_mb) not in kinds:
            kinds[mips, ram_mb] = len(types)
            types.append(VmType(_unique_name(f"{n} vCPU, {ram_mb:g} MB", [t.name for t in types]), mips, ram_mb))
        of.append(kinds[mips, ram_mb])
    return types, of


def _utc(instant: np.datetime64) -> datetime:
    value: datetime = instant.astype("datetime64[us]").item()
    return value.replace(tzinfo=UTC)


def _unique_name(name: str, taken: Sequence[str]) -> str:
    k = 2
    chosen = name
    while chosen in taken:
        chosen, k = f"{name} ({k})", k + 1
    return chosen


def _note(notes: list[str], names: Sequence[str], why: str) -> None:
    if names:
        shown = ", ".join(names[:SHOWN_NAMES]) + (" ..." if len(names) > SHOWN_NAMES else "")
        notes.append(f"{len(names)} VM(s) left out: they {why} ({shown})")


def _span_text(since: datetime | None, until: datetime | None) -> str:
    if since is None and until is None:
        return "in the database"
    low = f"from {since.isoformat()}" if since else ""
    high = f"until {until.isoformat()}" if until else ""
    return " ".join(part for part in (low, high) if part)


# -- the files ------------------------------------------------------------------------------------------


def traces_frame(traces: TraceSet, start: datetime) -> Any:
    """The long table of ``traces``: columns ``vm``, ``timestamp`` (UTC) and ``cpu_fraction``, one
    row per VM and step (n_vms x n_steps rows), VM by VM."""
    import pandas as pd

    step = np.arange(traces.n_steps, dtype=np.int64) * int(traces.interval_s) * _US_PER_S
    origin = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "us")
    stamps = origin + step.astype("timedelta64[us]")
    return pd.DataFrame(
        {
            "vm": np.repeat(np.array(traces.names, dtype=object), traces.n_steps),
            "timestamp": pd.DatetimeIndex(np.tile(stamps, traces.n_vms)).tz_localize(UTC),
            "cpu_fraction": traces.utilization.reshape(-1),
        }
    )


def scenario_toml(scenario: Scenario, comments: Sequence[str] = ()) -> str:
    """A scenario file that :func:`neat.scenario.load_scenario` reads back as ``scenario``."""
    lines = [f"# {c}" for c in comments]
    lines += [f"name = {_toml(scenario.name)}", f"interval_s = {_toml(scenario.interval_s)}"]
    if scenario.inventory is None:
        lines += [f"host_order = {_toml(scenario.host_order)}", f"vm_assignment = {_toml(scenario.vm_assignment)}"]
    limits = {f.name: getattr(scenario.limits, f.name) for f in fields(scenario.limits)}
    lines += ["", "[limits]"] + [
        f"{key} = {_toml(sorted(value) if isinstance(value, frozenset) else value)}"
        for key, value in limits.items()
        if value is not None
    ]
    lines += ["", "[costs]"] + [f"{key} = {_toml(value)}" for key, value in _cost_table(scenario.costs).items()]
    for t in scenario.host_types:
        lines += ["", "[[host_types]]", f"name = {_toml(t.name)}"]
        if scenario.inventory is None:
            lines.append(f"count = {t.count}")
        lines += [
            f"cores = {t.cores}",
            f"core_mips = {_toml(t.core_mips)}",
            f"ram_mb = {_toml(t.ram_mb)}",
            f"power_w = {_toml([float(w) for w in t.power_w])}",
            f"bandwidth_mbit_s = {_toml(t.bandwidth_mbit_s)}",
        ]
    for v in scenario.vm_types:
        lines += [
            "",
            "[[vm_types]]",
            f"name = {_toml(v.name)}",
            f"mips = {_toml(v.mips)}",
            f"ram_mb = {_toml(v.ram_mb)}",
        ]
    text = "\n".join(lines) + "\n"
    if scenario.inventory is not None:
        names = ([t.name for t in scenario.host_types], [t.name for t in scenario.vm_types])
        text += "\n" + inventory_toml(scenario.inventory, *names)
    return text


def _cost_table(costs: Costs) -> dict[str, Any]:
    m = costs.migration
    return {
        "model": costs.name,
        "bandwidth_share": m.bandwidth_share,
        "dirty_rate_mb_s": m.dirty_rate_mb_s,
        "max_downtime_s": m.max_downtime_s,
        "max_rounds": m.max_rounds,
        "migration_energy_j_per_mb": m.energy_j_per_mb,
        "migration_energy_j": m.energy_j,
        "migration_resolution_s": m.resolution_s,
        "power_states": costs.power_states,
        "suspend_s": costs.suspend_s,
        "resume_s": costs.resume_s,
        "sleep_fraction": costs.sleep_fraction,
    }


def _toml(value: Any) -> str:
    """A TOML value: a string, a bool, an int, a float (repr, exact) or a list of them."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf" if value < 0 else "nan")
    return "[" + ", ".join(_toml(v) for v in value) + "]"


def write_export(history: CloudHistory, folder: str | Path) -> tuple[Path, Path]:
    """Write ``traces.parquet`` and ``scenario.toml`` into ``folder`` (new, or empty), whole or not at all.

    Both files are written into a staging folder beside ``folder``, which is then renamed to it.

    Raises
    ------
    ExportError
        ``folder`` is a file, or a folder that is not empty.
    """
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target}: exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        raise ExportError(f"{target}: the folder exists and is not empty (an export writes a new folder)")
    parent = target.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".neat-{target.name}-", dir=parent))
    try:
        traces_frame(history.traces, history.start).to_parquet(staging / TRACES_FILE, index=False)
        span = history.traces.source.removeprefix("export of ")
        comments = [
            f"neat export of {span}",
            f"{history.traces.n_vms} VMs x {history.traces.n_steps} steps of {history.traces.interval_s} s "
            f"in {TRACES_FILE}; replay: neat simulate --traces {TRACES_FILE} --scenario {SCENARIO_FILE}",
            *history.notes,
        ]
        (staging / SCENARIO_FILE).write_text(scenario_toml(history.scenario, comments), encoding="utf-8")
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target / TRACES_FILE, target / SCENARIO_FILE


def parse_instant(text: str, option: str) -> datetime:
    """An ISO 8601 date and time (UTC unless it names a zone) for ``--since``/``--until``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ExportError(
            f"{option} {text!r}: not a date and time; expected ISO 8601 such as 2026-01-31T12:00 "
            f"(UTC unless it names a zone, e.g. 2026-01-31T12:00+01:00)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


__all__ = [
    "SCENARIO_FILE",
    "SERVICE_COSTS",
    "TRACES_FILE",
    "CloudHistory",
    "ExportError",
    "export_history",
    "first_hosts",
    "infer_interval_s",
    "parse_instant",
    "sample_grid",
    "scenario_toml",
    "traces_frame",
    "write_export",
]
