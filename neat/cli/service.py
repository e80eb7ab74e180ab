"""``neat global-manager``, ``neat plan`` (and ``plan list|show|cancel``), ``neat apply``,
``neat status``, ``neat energy`` and ``neat doctor``.

Every failure an operator can fix (a bad configuration, a database not migrated, an unreachable
cloud, a plan that cannot be applied) ends with one line saying what and how, and exit status 2.
"""

from __future__ import annotations

import json
import math
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from neat.cli.options import configure_logging

if TYPE_CHECKING:
    from neat.config import ServiceConfig
    from neat.db.store import Store

#: ``neat energy --hours`` at most: ten years, the longest retention.
MAX_ENERGY_HOURS = 10 * 366 * 24.0


class ServiceError(click.ClickException):
    exit_code = 2


def _config(path: Path | None) -> ServiceConfig:
    from neat.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise ServiceError(str(exc)) from None


def _store(config: ServiceConfig) -> Store:
    """The configured database, refused (never created) unless migrated to head."""
    from neat.db.migrate import schema_problem
    from neat.db.store import Store

    problem = schema_problem(config.database_url)
    if problem is not None:
        raise ServiceError(problem)
    return Store.from_url(config.database_url)


def cloud_hint(config: ServiceConfig, error: Exception) -> str:
    """``error`` reaching the cloud, with what to check (:func:`neat.service.doctor.cloud_hint`)."""
    from neat.service.doctor import cloud_hint as hint

    return hint(config, error)


def _manager(config: ServiceConfig, *, metrics: Any = None, role: str = "") -> Any:
    from neat.config import ConfigError
    from neat.openstack.client import NovaClient
    from neat.openstack.errors import OpenStackError
    from neat.service.global_manager import GlobalManager
    from neat.service.lease import holder_id
    from neat.service.nova import NovaCompute

    store = _store(config)
    try:
        drivers = config.power_drivers() if config.power_hosts else None
    except ConfigError as exc:
        raise ServiceError(str(exc)) from None
    try:
        client = NovaClient.connect(cloud=config.cloud)
    except OpenStackError as exc:
        raise ServiceError(cloud_hint(config, exc)) from None
    power = None
    if drivers:
        from neat.service.power_manager import PowerManager

        power = PowerManager(store, client, drivers, config.power)
    return GlobalManager(
        config, store, client, NovaCompute(client), power, metrics=metrics, holder=holder_id(role) if role else None
    )


def _cloud_errors(config: ServiceConfig) -> Any:
    """A context turning the cloud's errors into one line with a hint (exit 2)."""
    from contextlib import contextmanager

    from neat.openstack.errors import OpenStackError

    @contextmanager
    def guard() -> Any:
        try:
            yield
        except OpenStackError as exc:
            raise ServiceError(cloud_hint(config, exc)) from None

    return guard()


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The service's TOML configuration. Default: $NEAT_CONFIG, else built-in defaults.",
)
format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table for people, or JSON for scripts.",
)


# -- plans ------------------------------------------------------------------------------------------
def _plan_summary(plan: Any, now: datetime) -> dict[str, Any]:
    kinds = [a.kind for a in plan.actions]
    return {
        "id": plan.id,
        "created_at": plan.created_at.isoformat(),
        "created_by": plan.created_by,
        "state": plan.state(now),
        "dry_run": plan.dry_run,
        "migrations": kinds.count("migrate"),
        "actions": len(kinds),
        "claimed_by": plan.claimed_by,
        "lease_term": plan.lease_term,
        "expires_at": plan.expires_at.isoformat() if plan.expires_at else None,
    }


def _action_rows(plan: Any) -> list[dict[str, Any]]:
    return [
        {
            "position": a.position,
            "kind": a.kind,
            "host": a.host,
            "vm": a.vm_uuid,
            "target": a.target_host,
            "status": a.status,
            "started_at": a.started_at.isoformat() if a.started_at else None,
            "finished_at": a.finished_at.isoformat() if a.finished_at else None,
            "error": a.error,
        }
        for a in plan.actions
    ]


def _show_plan(plan: Any, skipped: Any, output_format: str) -> None:
    now = datetime.now(UTC)
    rows = _action_rows(plan)
    if output_format == "json":
        document = {**_plan_summary(plan, now), "plan": plan.id, "action_list": rows}
        document["skipped"] = [list(s) for s in skipped]
        click.echo(json.dumps(document))
        return
    from rich.console import Console
    from rich.table import Table

    summary = _plan_summary(plan, now)
    expires = f", expires {plan.expires_at:%Y-%m-%d %H:%M:%S} UTC" if plan.expires_at else ""
    title = (
        f"plan {plan.id} ({plan.created_at:%Y-%m-%d %H:%M:%S} UTC, {summary['state']}"
        f"{', dry run' if plan.dry_run else ''}{expires})"
    )
    table = Table(title=title, title_justify="left")
    for column in ("#", "action", "host", "vm", "target", "status", "error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(*(str(r[k] or "") for k in ("position", "kind", "host", "vm", "target", "status", "error")))
    console = Console()
    console.print(table)
    if plan.claimed_by:
        console.print(f"claimed by {plan.claimed_by}", markup=False)
    for server, reason in skipped:
        console.print(f"left out {server}: {reason}", markup=False)


@click.group("plan", invoke_without_command=True)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (same as --format json).")
@format_option
@click.pass_context
def plan_cmd(ctx: click.Context, config_path: Path | None, as_json: bool, output_format: str) -> None:
    """Compute and store a consolidation plan without acting (a dry run; it needs no lease).

    Apply it with 'neat apply PLAN_ID' before it expires. Subcommands list, show and cancel plans.
    """
    if ctx.invoked_subcommand is not None:
        return
    config = _config(config_path)
    manager = _manager(config)
    with _cloud_errors(config):
        result = manager.cycle(dry_run=True)
    _show_plan(result.plan, result.skipped, "json" if as_json else output_format)


@plan_cmd.command("list")
@config_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="The newest N plans.")
@click.option("--open", "only_open", is_flag=True, help="Only plans with a pending or running action.")
@format_option
def plan_list_cmd(config_path: Path | None, limit: int, only_open: bool, output_format: str) -> None:
    """The newest plans: state (pending, running, succeeded, failed, cancelled, expired), size, owner."""
    store = _store(_config(config_path))
    now = datetime.now(UTC)
    plans = [_plan_summary(p, now) for p in store.plans(unfinished=only_open, limit=limit)]
    if output_format == "json":
        click.echo(json.dumps(plans))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="plans", title_justify="left")
    columns = ("id", "created (UTC)", "state", "dry run", "moves", "actions", "made by", "claimed by", "expires")
    for column in columns:
        table.add_column(column, overflow="fold")
    for p in plans:
        table.add_row(
            str(p["id"]),
            p["created_at"][:19].replace("T", " "),
            p["state"],
            "yes" if p["dry_run"] else "",
            str(p["migrations"]),
            str(p["actions"]),
            p["created_by"] or "",
            p["claimed_by"] or "",
            (p["expires_at"] or "")[:19].replace("T", " "),
        )
    Console().print(table)


@plan_cmd.command("show")
@config_option
@click.argument("plan_id", type=int)
@format_option
def plan_show_cmd(config_path: Path | None, plan_id: int, output_format: str) -> None:
    """One plan with its actions, their status, timings and errors."""
    from neat.db.store import StoreError

    store = _store(_config(config_path))
    try:
        plan = store.plan(plan_id)
    except StoreError as exc:
        raise ServiceError(str(exc)) from None
    _show_plan(plan, (), output_format)


@plan_cmd.command("cancel")
@config_option
@click.argument("plan_id", type=int)
@click.option("--reason", default="cancelled by an operator", show_default=True, help="Recorded on each action.")
def plan_cancel_cmd(config_path: Path | None, plan_id: int, reason: str) -> None:
    """Cancel a plan's pending actions. A plan being executed stops before its next action; the
    migrations already in flight end (Nova runs them) and are recorded."""
    from neat.db.store import StoreError

    store = _store(_config(config_path))
    try:
        plan = store.plan(plan_id)
        cancelled = store.cancel_pending(plan_id, reason=reason)
    except StoreError as exc:
        raise ServiceError(str(exc)) from None
    if cancelled == 0:
        raise ServiceError(f"plan {plan_id} has no pending action to cancel (it is {plan.state(datetime.now(UTC))})")
    running = sum(a.status == "running" for a in store.plan(plan_id).actions)
    more = f"; {running} running action(s) will end on their own" if running else ""
    click.echo(f"plan {plan_id}: {cancelled} pending action(s) cancelled{more}")


@click.command("apply")
@config_option
@click.argument("plan_id", type=int)
@format_option
def apply_cmd(config_path: Path | None, plan_id: int, output_format: str) -> None:
    """Execute a stored plan: one made by 'neat plan' (or a --dry-run manager) that has not expired.

    It takes the global-manager lease for the time it runs (refused while a global manager acts)
    and claims the plan first, so no two applies run one plan.
    """
    from neat.db.store import PlanRefused
    from neat.service.global_manager import NoLease

    config = _config(config_path)
    manager = _manager(config, role="apply")
    try:
        with _cloud_errors(config):
            plan = manager.apply_stored(plan_id)
    except PlanRefused as exc:
        raise ServiceError(f"cannot apply: {exc}") from None
    except NoLease as exc:
        raise ServiceError(
            f"cannot apply plan {plan_id} now: {exc}. A running global manager acts on its own plans; "
            "stop it (or run it with --dry-run) to apply plans by hand"
        ) from None
    _show_plan(plan, (), output_format)


# -- the service ----------------------------------------------------------------------------------
@click.command("global-manager")
@config_option
@click.option("--dry-run", is_flag=True, help="Store plans, never act (and hold no lease).")
@click.option("--once", is_flag=True, help="Run one cycle and exit.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (off by default).",
)
@click.option(
    "--metrics-address",
    default="127.0.0.1",
    show_default=True,
    help="The address the metrics are served on.",
)
@click.pass_context
def global_manager_cmd(
    ctx: click.Context,
    config_path: Path | None,
    dry_run: bool,
    once: bool,
    metrics_port: int | None,
    metrics_address: str,
) -> None:
    """Every decide interval: settle interrupted plans, detect, select, place, plan and (unless
    --dry-run) migrate. SIGTERM stops it cleanly and releases the lease."""
    import logging

    from neat.service.daemon import run_service

    configure_logging(ctx, default_level="info")
    log = logging.getLogger("neat.global_manager")
    config = _config(config_path)
    metrics = None
    if metrics_port is not None:
        from neat.metrics import GlobalManagerMetrics, serve

        metrics = GlobalManagerMetrics()
        try:
            serve(metrics, metrics_port, metrics_address)
        except OSError as exc:
            raise ServiceError(f"cannot serve metrics on {metrics_address}:{metrics_port}: {exc}") from None
        log.info("metrics on http://%s:%d/metrics", metrics_address, metrics_port)
    manager = _manager(config, metrics=metrics)
    log.info(
        "database %s, cloud %r, every %.0f s%s, holder %s",
        config.masked_database_url(),
        config.cloud,
        config.decide_interval_s,
        " (dry run)" if dry_run else "",
        manager.holder,
    )
    if once:
        try:
            with _cloud_errors(config):
                result = manager.cycle(dry_run=dry_run)
        finally:
            if not dry_run:
                manager.keeper.release()
        if result.plan is None:
            raise ServiceError(result.note)
        return
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_service(manager, interval_s=config.decide_interval_s, dry_run=dry_run, stop=_until_interrupted(stop))
    finally:
        signal.signal(signal.SIGTERM, previous)
    log.info("stopped")


def _until_interrupted(stop: threading.Event) -> threading.Event:
    """``stop``, also set by Ctrl-C (SIGINT) rather than raising in the middle of a cycle."""
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


# -- status and energy ----------------------------------------------------------------------------
@click.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def status_cmd(config_path: Path | None, as_json: bool) -> None:
    """Hosts (state, latest utilization, VMs), the lease, the last plans, pending and failed actions."""
    config = _config(config_path)
    store = _store(config)
    hosts = store.hosts()
    vms = store.vms()
    windows = store.host_windows(1) if hosts else None
    latest = {}
    if windows is not None:
        latest = {
            n: (float(u[-1]) if k else None)
            for n, u, k in zip(windows.names, windows.utilization, windows.n_valid, strict=True)
        }
    per_host = {h.name: 0 for h in hosts}
    for vm in vms:
        if vm.host in per_host:
            per_host[vm.host] += 1
    now = datetime.now(UTC)
    plans = store.plans(limit=5)
    lease = store.lease()
    energy = _energy(store, config, 24.0) if hosts else None
    problems = [a for p in store.plans(limit=50) for a in p.actions if a.status in ("pending", "running", "failed")]
    held = lease is not None and lease.expires_at > now
    if as_json:
        click.echo(
            json.dumps(
                {
                    "database": config.masked_database_url(),
                    "lease": None
                    if lease is None
                    else {
                        "holder": lease.holder,
                        "term": lease.term,
                        "expires_at": lease.expires_at.isoformat(),
                        "held": held,
                    },
                    "hosts": [
                        {
                            "name": h.name,
                            "service": h.service_state,
                            "power": h.power_state,
                            "utilization": latest.get(h.name),
                            "vms": per_host[h.name],
                        }
                        for h in hosts
                    ],
                    "unplaced_vms": sum(vm.host is None for vm in vms),
                    "plans": [_plan_summary(p, now) for p in plans],
                    "open_or_failed_actions": [
                        {
                            "plan": a.plan_id,
                            "kind": a.kind,
                            "host": a.host,
                            "vm": a.vm_uuid,
                            "status": a.status,
                            "error": a.error,
                        }
                        for a in problems
                    ],
                }
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"hosts ({config.masked_database_url()})", title_justify="left")
    for column in ("host", "service", "power", "utilization", "VMs"):
        table.add_column(column)
    for h in hosts:
        u = latest.get(h.name)
        table.add_row(
            h.name, h.service_state, h.power_state or "", "" if u is None else f"{u:.0%}", str(per_host[h.name])
        )
    console.print(table)
    if lease is None:
        console.print("lease: never held (no global manager has acted)")
    elif held:
        until = f"{lease.expires_at:%Y-%m-%d %H:%M:%S} UTC"
        console.print(f"lease: held by {lease.holder} (term {lease.term}) until {until}", markup=False)
    else:
        since = f"{lease.expires_at:%Y-%m-%d %H:%M:%S} UTC"
        console.print(f"lease: free since {since} (last holder {lease.holder})", markup=False)
    if energy is not None:
        console.print(
            f"energy, last 24 h: used {energy.used_kwh:.3f} kWh, saved {energy.saved_kwh:.3f} kWh "
            f"against all hosts awake ({energy.all_awake_kwh:.3f} kWh)"
        )
    for p in plans:
        done = sum(a.status == "succeeded" for a in p.actions)
        console.print(
            f"plan {p.id} at {p.created_at:%Y-%m-%d %H:%M:%S}: {p.state(now)}, "
            f"{done}/{len(p.actions)} actions succeeded{' (dry run)' if p.dry_run else ''}"
        )
    for a in problems:
        move = f"{a.vm_uuid or ''} {a.host} -> {a.target_host or ''}"
        console.print(f"[{a.status}] plan {a.plan_id} {a.kind} {move} {a.error or ''}", markup=False)


def _energy(store: Any, config: ServiceConfig, hours: float) -> Any:
    """The energy report of the last ``hours``, each host priced with its configured power table."""
    from datetime import timedelta

    from neat.service.energy import estimate_energy

    until = datetime.now(UTC)
    kept_s = min(hours * 3600, config.retention_max_age_s)  # no sample is older than the retention
    samples = int(kept_s / config.collect_interval_s) + 2
    tables = {h.name: config.profile(h.name).power_w for h in store.hosts()}
    return estimate_energy(
        store,
        tables,
        until - timedelta(hours=hours),
        until,
        default_table_w=config.profiles[-1].power_w,
        sleep_w=config.power.sleep_w,
        max_samples=samples,
    )


@click.command("energy")
@config_option
@click.option("--hours", type=float, default=24.0, show_default=True, help="The period: the last N hours.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def energy_cmd(config_path: Path | None, hours: float, as_json: bool) -> None:
    """Energy used and saved (against every host awake) over a period, from recorded power states."""
    if not (math.isfinite(hours) and 0 < hours <= MAX_ENERGY_HOURS):
        raise ServiceError(f"--hours must be a number of hours in (0, {MAX_ENERGY_HOURS:g}] (ten years); got {hours}")
    config = _config(config_path)
    store = _store(config)
    report = _energy(store, config, hours)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "since": report.since.isoformat(),
                    "until": report.until.isoformat(),
                    "used_kwh": report.used_kwh,
                    "all_awake_kwh": report.all_awake_kwh,
                    "saved_kwh": report.saved_kwh,
                    "hosts": [
                        {"host": h.host, "used_kwh": h.used_kwh, "saved_kwh": h.saved_kwh, "asleep_s": h.asleep_s}
                        for h in report.hosts
                    ],
                }
            )
        )
        return
    click.echo(
        f"last {hours:g} h: used {report.used_kwh:.3f} kWh, all hosts awake {report.all_awake_kwh:.3f} kWh, "
        f"saved {report.saved_kwh:.3f} kWh"
    )


# -- doctor ---------------------------------------------------------------------------------------
@click.command("doctor")
@config_option
@format_option
@click.option("--skip-bmc", is_flag=True, help="Do not call the hosts' power controllers.")
def doctor_cmd(config_path: Path | None, output_format: str, skip_bmc: bool) -> None:
    """Check the configuration, the database and its schema, the lease, the cloud, every BMC and the
    samples' freshness; say what to fix. Exit status 1 if any check failed."""
    from neat.service.doctor import run_checks

    checks = run_checks(config_path, call_bmcs=not skip_bmc)
    if output_format == "json":
        click.echo(json.dumps([c.as_dict() for c in checks]))
    else:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(title="neat doctor", title_justify="left")
        for column in ("check", "result", "detail", "fix"):
            table.add_column(column, overflow="fold")
        colour = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
        for c in checks:
            table.add_row(escape(c.name), f"[{colour[c.result]}]{c.result}[/]", escape(c.detail), escape(c.fix))
        Console().print(table)
    if any(c.result == "fail" for c in checks):
        raise SystemExit(1)


__all__ = [
    "apply_cmd",
    "doctor_cmd",
    "energy_cmd",
    "global_manager_cmd",
    "plan_cmd",
    "status_cmd",
]
