"""The ``neat`` command line: one group, its commands in this package.

Each command module imports only what it needs at module level (heavy libraries inside the
command), so ``neat simulate`` loads nothing of the service.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from neat import __version__
from neat.cli.options import reject_repeated_options

LOG_LEVELS = ("debug", "info", "warning", "error")

#: Each command's module and attribute, imported when the command runs (or ``--help`` lists it):
#: ``import neat.cli`` costs click alone, and ``neat simulate`` loads no other command's imports.
COMMANDS = {
    "algorithms": ("neat.cli.algorithms", "algorithms_cmd"),
    "simulate": ("neat.cli.simulate", "simulate_cmd"),
    "scenarios": ("neat.cli.simulate", "scenarios_cmd"),
    "export": ("neat.cli.export", "export_cmd"),
    "report": ("neat.cli.report", "report_cmd"),
    "db": ("neat.cli.db", "db"),
    "local-manager": ("neat.cli.local_manager", "local_manager_cmd"),
    "global-manager": ("neat.cli.service", "global_manager_cmd"),
    "plan": ("neat.cli.service", "plan_cmd"),
    "apply": ("neat.cli.service", "apply_cmd"),
    "status": ("neat.cli.service", "status_cmd"),
    "energy": ("neat.cli.service", "energy_cmd"),
    "doctor": ("neat.cli.service", "doctor_cmd"),
    "warmup": ("neat.cli.warmup", "warmup_cmd"),
}


class _LazyGroup(click.Group):
    """The ``neat`` group: imports a command's module on first use (:data:`COMMANDS`); every
    command refuses a single-value option given twice (:func:`reject_repeated_options`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(reject_repeated_options(command), cmd_name)
        return super().get_command(ctx, cmd_name)


@reject_repeated_options
@click.group(cls=_LazyGroup)
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


__all__ = ["main"]
