"""The ``neat`` command line: one group, its commands in this package.

Each command module imports only what it needs at module level (heavy libraries inside the
command), so ``neat simulate`` loads nothing of the service.
"""

from __future__ import annotations

from pathlib import Path

import click

from neat import __version__
from neat.cli.algorithms import algorithms_cmd
from neat.cli.db import db
from neat.cli.export import export_cmd
from neat.cli.local_manager import local_manager_cmd
from neat.cli.report import report_cmd
from neat.cli.service import apply_cmd, doctor_cmd, energy_cmd, global_manager_cmd, plan_cmd, status_cmd
from neat.cli.simulate import scenarios_cmd, simulate_cmd

LOG_LEVELS = ("debug", "info", "warning", "error")


@click.group()
@click.version_option(__version__, prog_name="neat")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default=None,
    help="Log records at this level and above. Default: info for the services, warning otherwise.",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append the log to this file (reopened when logrotate moves it). Default: standard error.",
)
@click.option(
    "--log-format",
    type=click.Choice(["logfmt", "json"]),
    default="logfmt",
    show_default=True,
    help="One line per record: key=value pairs, or a JSON object; both carry the cycle and plan ids.",
)
@click.pass_context
def main(ctx: click.Context, log_level: str | None, log_file: Path | None, log_format: str) -> None:
    """neat: dynamic VM consolidation for OpenStack clouds."""
    options = {"level": log_level, "file": log_file, "format": log_format, "configured": False}
    ctx.meta["neat.log"] = options
    if log_level is not None or log_file is not None:
        from neat.logs import setup_logging

        try:
            setup_logging(log_level or "info", log_file, log_format)
        except OSError as exc:
            raise click.BadParameter(f"{log_file}: {exc.strerror or exc}", param_hint="--log-file") from None
        options["configured"] = True


for command in (
    algorithms_cmd,
    simulate_cmd,
    scenarios_cmd,
    export_cmd,
    report_cmd,
    db,
    local_manager_cmd,
    global_manager_cmd,
    plan_cmd,
    apply_cmd,
    status_cmd,
    energy_cmd,
    doctor_cmd,
):
    main.add_command(command)

__all__ = ["main"]
