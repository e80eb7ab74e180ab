"""The ``neat`` command line: one group, its commands in this package.

Each command module imports only what it needs at module level (heavy libraries inside the
command), so ``neat simulate`` loads nothing of the service.
"""

from __future__ import annotations

import click

from neat import __version__
from neat.cli.db import db
from neat.cli.local_manager import local_manager_cmd
from neat.cli.report import report_cmd
from neat.cli.service import apply_cmd, energy_cmd, global_manager_cmd, plan_cmd, status_cmd
from neat.cli.simulate import scenarios_cmd, simulate_cmd


@click.group()
@click.version_option(__version__, prog_name="neat")
def main() -> None:
    """neat: dynamic VM consolidation for OpenStack clouds."""


@main.command("algorithms")
def algorithms_cmd() -> None:
    """List the registered algorithms of every role."""
    from algorithms.registry import GROUPS, available

    for role in GROUPS:
        click.echo(f"{role}: {', '.join(available(role))}")


for command in (
    simulate_cmd,
    scenarios_cmd,
    report_cmd,
    db,
    local_manager_cmd,
    global_manager_cmd,
    plan_cmd,
    apply_cmd,
    status_cmd,
    energy_cmd,
):
    main.add_command(command)

__all__ = ["main"]
