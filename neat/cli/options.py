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


class HiddenAliasOption(click.Option):
    """An option whose names after the first are still accepted but not shown by ``--help``
    (an old spelling kept for scripts)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        names = self.opts
        self.opts = names[:1]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = names


def reject_repeated_options(command: click.Command) -> click.Command:
    """Make ``command`` and its subcommands refuse a single-value option given more than once.

    click keeps the last value silently (``--overload mad --overload lr`` would run lr); options
    declared ``multiple``, counters and flags may repeat. A repeat is a usage error (exit status 2).
    """
    parse_args = command.parse_args

    def checked(ctx: click.Context, args: list[str]) -> list[str]:
        try:
            _, _, order = command.make_parser(ctx).parse_args(args=list(args))
        except click.UsageError:
            return parse_args(ctx, args)  # reported as click reports it
        seen: dict[str, int] = {}
        for param in order:
            if isinstance(param, click.Option) and not (param.multiple or param.count or param.is_flag):
                name = param.opts[0]
                seen[name] = seen.get(name, 0) + 1
                if seen[name] == 2:
                    given = ", ".join(repr(value) for value in _values_of(param, args))
                    raise click.UsageError(f"{name} takes one value; got {given}. Give it once.", ctx=ctx)
        return parse_args(ctx, args)

    command.parse_args = checked  # type: ignore[method-assign]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            reject_repeated_options(sub)
    return command


def _values_of(option: click.Option, args: list[str]) -> list[str]:
    """The values given to ``option`` in ``args`` (``--name VALUE`` or ``--name=VALUE``)."""
    values = []
    for i, token in enumerate(args):
        for name in option.opts:
            if token == name and i + 1 < len(args):
                values.append(args[i + 1])
            elif token.startswith(f"{name}="):
                values.append(token.partition("=")[2])
    return values


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
