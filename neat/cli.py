"""The ``neat`` command line."""

from __future__ import annotations

import click

from neat import __version__


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
