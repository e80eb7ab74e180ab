"""Command-line options shared by ``neat simulate`` and ``neat report``."""

from __future__ import annotations

from pathlib import Path

import click

cpu_unit_option = click.option(
    "--cpu-unit",
    type=click.Choice(["percent", "fraction"]),
    default=None,
    help="Unit of the 'cpu' column of a long table.",
)

mode_option = click.option(
    "--mode",
    type=click.Choice(["neat", "cloudsim"]),
    default="neat",
    show_default=True,
    help="cloudsim reproduces CloudSim 4.0 exactly, quirks included; neat corrects them.",
)

scenario_option = click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Scenario TOML (host and VM types). Default: the standard 800-host CloudSim setup.",
)
