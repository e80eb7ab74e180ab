"""Find plug-ins by name through entry-point groups (one per role).

The built-ins are listed in neat's own ``pyproject.toml``; another distribution adds its own by
declaring entry points in the same groups.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from algorithms._validation import ParameterError
from algorithms.base import Plugin

#: Role name -> entry-point group.
GROUPS = {
    "overload": "neat.overload",
    "underload": "neat.underload",
    "selection": "neat.selection",
    "placement": "neat.placement",
}


class UnknownPluginError(LookupError):
    """No plug-in of that name in that role."""


@cache
def _installed_entry_points() -> Any:
    """The entry points of every installed distribution, read once: each read scans them all (about
    4 ms with a hundred distributions installed, and a simulation reads four groups). Python 3.11
    gives them as SelectableGroups, later versions as EntryPoints; both select by group."""
    return entry_points()


def entry_point_values(group: str) -> dict[str, str]:
    """Map of name -> ``module:attribute`` of the entry points of ``group``, sorted by name, none imported.

    The one registry mechanism of the project: the algorithms' roles here, neat's power drivers
    (group ``neat.power``) alike.
    """
    return dict(sorted((ep.name, ep.value) for ep in _installed_entry_points().select(group=group)))


@cache
def available(role: str) -> dict[str, type[Plugin]]:
    """Map of plug-in name -> class for ``role`` ("overload", "underload", "selection", "placement")."""
    if role not in GROUPS:
        raise UnknownPluginError(f"unknown role {role!r}; expected one of {sorted(GROUPS)}")
    found: dict[str, type[Plugin]] = {}
    for ep in _installed_entry_points().select(group=GROUPS[role]):
        found[ep.name] = ep.load()
    return dict(sorted(found.items()))


def create(role: str, name: str, **params: Any) -> Plugin:
    """Instantiate the plug-in ``name`` of ``role`` with ``params``.

    Raises
    ------
    UnknownPluginError
        The name is not registered; the message lists the available names.
    ParameterError
        A parameter is unknown or out of range.
    """
    plugins = available(role)
    if name not in plugins:
        raise UnknownPluginError(f"unknown {role} algorithm {name!r}; available: {', '.join(plugins)}")
    cls = plugins[name]
    unknown = sorted(set(params) - set(cls.PARAMETERS))
    if unknown:
        raise ParameterError(
            f"{cls.__name__} has no parameter {unknown[0]!r}; its parameters are {sorted(cls.PARAMETERS)}"
        )
    return cls(**params)
