"""``neat algorithms``: every registered plug-in and power driver, with its parameters.

What is shown is read from the registries and the classes (:mod:`neat.cli.catalog`), imported
when the command runs.
"""

from __future__ import annotations

import difflib
import json
import shutil

import click

from neat.cli.options import DataError

#: The algorithms' four roles (entry-point groups ``neat.<role>``), then the host power drivers.
ROLES = ("overload", "underload", "selection", "placement", "power")


@click.command("algorithms")
@click.argument("name", required=False)
@click.option("--role", type=click.Choice(ROLES), default=None, help="Only plug-ins of this role.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of plug-ins, each with its parameters.")
def algorithms_cmd(name: str | None, role: str | None, as_json: bool) -> None:
    """Show the registered plug-ins of every role (overload, underload, selection, placement) and the
    host power drivers, each with its parameters: type, default, range, unit and description.

    NAME shows one plug-in (a name used by two roles, such as never, shows both), or a whole role.
    """
    from neat.cli.catalog import catalog, detail, overview

    roles = (role,) if role else ROLES
    if name in ROLES and role is None:
        roles, name = (name,), None
    plugins = catalog(roles)
    if name is not None:
        chosen = [p for p in plugins if p.name == name]
        if not chosen:
            names = sorted({p.name for p in plugins})
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            where = f"{role} " if role else ""
            raise DataError(f"no {where}plug-in named {name!r}.{hint} Known: {', '.join(names)}")
        plugins = chosen
    if as_json:
        click.echo(json.dumps([p.as_json() for p in plugins], indent=2))
    elif name is not None:
        width = shutil.get_terminal_size().columns
        click.echo("\n\n".join(detail(p, width) for p in plugins))
    else:
        click.echo(overview(plugins))
        click.echo("\nneat algorithms NAME shows one with each parameter's description; --json for programs.")


__all__ = ["ROLES", "algorithms_cmd"]
