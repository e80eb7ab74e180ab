"""What the commands share: the usage error, options of ``neat simulate`` and ``neat report``, plug-in specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    help="A built-in scenario (`neat scenarios` lists them) or a scenario TOML file (host and VM types, "
    "limits, costs). Default: standard (CloudSim's 800 hosts) in cloudsim mode, standard-cpu in neat mode.",
)


costs_option = click.option(
    "--costs",
    type=click.Choice(["real", "free"]),
    default=None,
    help="Costs of migrations and host power states in neat mode: real (pre-copy migrations with their "
    "energy, suspend and resume) or free (CloudSim's). Default: the scenario's (real for the built-ins).",
)


class DataError(click.ClickException):
    """Bad input data or arguments: exit status 2, message on stderr."""

    exit_code = 2


def parse_component(spec: str, option: str) -> tuple[str, dict[str, Any]]:
    """``name`` or ``name:key=value,key=value`` -> (name, params); values parsed as TOML scalars."""
    import tomllib

    name, _, rest = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, eq, raw = item.partition("=")
        if not eq:
            raise DataError(f"{option} {spec!r}: expected NAME or NAME:key=value,... ; got {item!r}")
        try:
            params[key.strip()] = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            params[key.strip()] = raw.strip()
    return name.strip(), params


def configure_logging(ctx: click.Context | None, *, default_level: str) -> None:
    """Set up the service's logs from the global ``--log-level``/``--log-file``/``--log-format``,
    unless the group already did (it does when any was given)."""
    from neat.logs import setup_logging

    root = ctx.find_root() if ctx is not None else None
    options = root.meta.get("neat.log") if root is not None else None
    if options is not None and options.get("configured"):
        return
    given = options or {}
    setup_logging(given.get("level") or default_level, given.get("file"), given.get("format") or "logfmt")
