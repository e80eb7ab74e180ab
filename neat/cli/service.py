"""``neat global-manager``, ``neat plan``, ``neat apply`` and ``neat status``."""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from neat.config import ServiceConfig


class ServiceError(click.ClickException):
    exit_code = 2


def _config(path: Path | None) -> ServiceConfig:
    from neat.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise ServiceError(str(exc)) from None


def _manager(config: ServiceConfig) -> Any:
    from neat.db.store import Store
    from neat.openstack.client import NovaClient
    from neat.openstack.errors import OpenStackError
    from neat.service.global_manager import GlobalManager
    from neat.service.nova import NovaCompute

    try:
        client = NovaClient.connect(cloud=config.cloud)
    except OpenStackError as exc:
        raise ServiceError(f"cannot reach cloud {config.cloud!r}: {exc}") from None
    store = Store.from_url(config.database_url)
    power = None
    if config.power_hosts:
        from neat.service.power_manager import PowerManager

        power = PowerManager(store, client, config.power_drivers(), config.power)
    return GlobalManager(config, store, client, NovaCompute(client), power)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The service's TOML configuration. Default: $NEAT_CONFIG, else built-in defaults.",
)


def _show_plan(plan: Any, skipped: Any, as_json: bool) -> None:
    rows = [
        {
            "position": a.position,
            "kind": a.kind,
            "host": a.host,
            "vm": a.vm_uuid,
            "target": a.target_host,
            "status": a.status,
            "error": a.error,
        }
        for a in plan.actions
    ]
    if as_json:
        click.echo(json.dumps({"plan": plan.id, "actions": rows, "skipped": [list(s) for s in skipped]}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"plan {plan.id} ({plan.created_at:%Y-%m-%d %H:%M:%S} UTC)", title_justify="left")
    for column in ("#", "action", "host", "vm", "target", "status", "error"):
        table.add_column(column)
    for r in rows:
        table.add_row(*(str(r[k] or "") for k in ("position", "kind", "host", "vm", "target", "status", "error")))
    console = Console()
    console.print(table)
    for server, reason in skipped:
        console.print(f"left out {server}: {reason}")


@click.command("plan")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_cmd(config_path: Path | None, as_json: bool) -> None:
    """Compute and store a consolidation plan without acting (a dry-run cycle)."""
    manager = _manager(_config(config_path))
    result = manager.cycle(dry_run=True)
    if result.plan is None:
        raise ServiceError(result.note)
    _show_plan(result.plan, result.skipped, as_json)


@click.command("apply")
@config_option
@click.argument("plan_id", type=int)
def apply_cmd(config_path: Path | None, plan_id: int) -> None:
    """Execute a stored plan's pending actions."""
    from neat.db.store import StoreError

    manager = _manager(_config(config_path))
    try:
        plan = manager.store.plan(plan_id)
    except StoreError as exc:
        raise ServiceError(str(exc)) from None
    if any(a.status != "pending" for a in plan.actions):
        raise ServiceError(f"plan {plan_id} was already applied (some actions are not pending)")
    manager.apply(plan)
    _show_plan(manager.store.plan(plan_id), (), as_json=False)


@click.command("global-manager")
@config_option
@click.option("--dry-run", is_flag=True, help="Store plans, never act.")
@click.option("--once", is_flag=True, help="Run one cycle and exit.")
def global_manager_cmd(config_path: Path | None, dry_run: bool, once: bool) -> None:
    """Every decide interval: detect, select, place, plan and (unless --dry-run) migrate."""
    from apscheduler.schedulers.background import BackgroundScheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = _config(config_path)
    manager = _manager(config)
    log = logging.getLogger("neat.global_manager")
    log.info(
        "database %s, cloud %r, every %.0f s", config.masked_database_url(), config.cloud, config.decide_interval_s
    )

    def cycle() -> None:
        try:
            result = manager.cycle(dry_run=dry_run)
        except Exception:  # a failed cycle is logged; the next one goes on
            log.exception("cycle failed")
            return
        if result.plan is None:
            log.info("%s", result.note)
        else:
            log.info("plan %d: %d actions %s", result.plan.id, len(result.plan.actions), result.note)

    if once:
        cycle()
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(cycle, "interval", seconds=config.decide_interval_s, max_instances=1, coalesce=True)
    scheduler.start()
    cycle()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=True)


@click.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def status_cmd(config_path: Path | None, as_json: bool) -> None:
    """Hosts (state, latest utilization, VMs), the last cycles, pending and failed actions."""
    from neat.db.store import Store

    config = _config(config_path)
    store = Store.from_url(config.database_url)
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
    plans = store.plans(limit=5)
    energy = _energy(store, config, 24.0) if hosts else None
    problems = [a for p in store.plans(limit=50) for a in p.actions if a.status in ("pending", "running", "failed")]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "database": config.masked_database_url(),
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
                    "plans": [
                        {"id": p.id, "created_at": p.created_at.isoformat(), "actions": len(p.actions)} for p in plans
                    ],
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
    if energy is not None:
        console.print(
            f"energy, last 24 h: used {energy.used_kwh:.3f} kWh, saved {energy.saved_kwh:.3f} kWh "
            f"against all hosts awake ({energy.all_awake_kwh:.3f} kWh)"
        )
    for p in plans:
        done = sum(a.status == "succeeded" for a in p.actions)
        console.print(f"plan {p.id} at {p.created_at:%Y-%m-%d %H:%M:%S}: {done}/{len(p.actions)} actions succeeded")
    for a in problems:
        move = f"{a.vm_uuid or ''} {a.host} -> {a.target_host or ''}"
        console.print(f"[{a.status}] plan {a.plan_id} {a.kind} {move} {a.error or ''}", markup=False)


def _energy(store: Any, config: ServiceConfig, hours: float) -> Any:
    """The energy report of the last ``hours``, each host priced with its configured power table."""
    from datetime import UTC, datetime, timedelta

    from neat.service.energy import estimate_energy

    until = datetime.now(UTC)
    samples = int(hours * 3600 / config.collect_interval_s) + 2
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
    from neat.db.store import Store

    if hours <= 0:
        raise ServiceError(f"--hours must be > 0; got {hours}")
    config = _config(config_path)
    store = Store.from_url(config.database_url)
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
