"""``neat export``: the service database's history as traces and a scenario that ``neat simulate`` replays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from neat.cli.options import DataError, HiddenAliasOption

if TYPE_CHECKING:
    from neat.export import CloudHistory

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    envvar="NEAT_CONFIG",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The service's configuration (env NEAT_CONFIG): its [database] url, host profiles (power tables, "
    "links) and [limits]. Default: the built-in defaults.",
)
database_option = click.option(
    "--database",
    "database_url",
    default=None,
    help="The service's database URL (sqlite:///PATH, postgresql+psycopg://..., mysql+pymysql://...). "
    "Default: the configuration's.",
)


def span_options(prefix: str = "") -> Callable[[F], F]:
    """``--since``, ``--until`` and ``--interval-s``: which samples an export takes, and its step;
    ``prefix`` starts their help texts."""

    def text(line: str) -> str:
        return prefix + line if prefix else line[0].upper() + line[1:]

    def decorate(func: F) -> F:
        func = click.option(
            "--interval-s",
            type=click.IntRange(min=1),
            default=None,
            help=text(
                "the replay's step in seconds; each VM's newest sample of each step is taken. "
                "Default: the configuration's [intervals] collect_s (300)."
            ),
        )(func)
        func = click.option(
            "--until", default=None, help=text("the samples up to this instant (ISO 8601). Default: the newest.")
        )(func)
        return click.option(
            "--since",
            default=None,
            help=text(
                "the samples from this instant (ISO 8601, UTC unless it names a zone, e.g. 2026-01-31T12:00). "
                "Default: the oldest."
            ),
        )(func)

    return decorate


@click.command("export")
@config_option
@database_option
@click.option(
    "--output",
    "--out",
    "out_dir",
    cls=HiddenAliasOption,
    required=True,
    type=click.Path(path_type=Path),
    help="A new (or empty) folder: traces.parquet and scenario.toml are written there, both or neither.",
)
@span_options()
def export_cmd(
    config_path: Path | None,
    database_url: str | None,
    out_dir: Path,
    since: str | None,
    until: str | None,
    interval_s: int | None,
) -> None:
    """Write the service database's samples and inventory as traces and a scenario to replay.

    OUT/traces.parquet holds every VM's CPU utilization per step (columns vm, timestamp,
    cpu_fraction); OUT/scenario.toml the hosts (capacity, power table), the flavors, where each VM
    was at the first step, and the service's limits. Replay it with
    `neat simulate --traces OUT/traces.parquet --scenario OUT/scenario.toml`.
    """
    history = export_to(out_dir, config_path, database_url, since, until, interval_s)
    traces = history.traces
    inventory = history.scenario.inventory
    hosts = len(inventory.host_names) if inventory is not None else history.scenario.n_hosts
    click.echo(
        f"{out_dir}: {traces.n_vms} VMs x {traces.n_steps} steps of {traces.interval_s} s ({traces.source}), "
        f"{hosts} hosts of {len(history.scenario.host_types)} type(s), {len(history.scenario.vm_types)} flavor(s)",
        err=True,
    )


def export_to(
    out_dir: Path,
    config_path: Path | None,
    database_url: str | None,
    since: str | None,
    until: str | None,
    interval_s: int | None,
) -> CloudHistory:
    """Export the configured (or given) database into ``out_dir``; every failure a :class:`DataError`
    (exit status 2), the notes on what was left out on standard error."""
    from sqlalchemy.exc import SQLAlchemyError

    from neat.config import ConfigError, load_config
    from neat.db.engine import masked_url
    from neat.db.migrate import schema_problem
    from neat.db.store import Store
    from neat.export import ExportError, export_history, parse_instant, write_export

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise DataError(str(exc)) from None
    url = database_url or config.database_url
    shown = masked_url(url)
    try:
        low = parse_instant(since, "--since") if since else None
        high = parse_instant(until, "--until") if until else None
        problem = schema_problem(url)
        if problem is not None:
            raise DataError(problem)
        store = Store.from_url(url)
        try:
            history = export_history(store, config, since=low, until=high, interval_s=interval_s, source=shown)
        finally:
            store.close()
        write_export(history, out_dir)
    except ExportError as exc:
        raise DataError(str(exc)) from None
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DataError(f"{shown}: {detail}") from None
    except OSError as exc:
        raise DataError(f"{out_dir}: cannot write the export ({exc.strerror or exc})") from None
    for note in history.notes:
        click.echo(f"note: {note}", err=True)
    return history


def export_for_simulation(
    ctx: click.Context,
    config_path: Path | None,
    database_url: str,
    since: str | None,
    until: str | None,
    interval_s: int | None,
) -> tuple[Path, Path, str]:
    """``neat simulate --database``: export into a temporary folder, removed when the command ends;
    the traces' and the scenario's paths, and what the traces are (the database and the span)."""
    import shutil
    import tempfile

    from neat.export import SCENARIO_FILE, TRACES_FILE

    folder = Path(tempfile.mkdtemp(prefix="neat-export-"))
    ctx.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    history = export_to(folder / "export", config_path, database_url, since, until, interval_s)
    return folder / "export" / TRACES_FILE, folder / "export" / SCENARIO_FILE, history.traces.source


__all__ = ["config_option", "export_cmd", "export_for_simulation", "export_to", "span_options"]
