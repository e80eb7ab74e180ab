"""Build each host's power driver from its configuration table.

A table names its driver and gives the driver's keys; the host is the table's name::

    [power.hosts.compute-1]
    driver = "redfish"
    address = "http://127.0.0.1:8000"
    system = "2f0d1c9e-6f0e-4e7d-9a43-0c4c9d1c0001"
    username = "admin"
    password_env = "NEAT_BMC_PASSWORD"

Drivers are found by name in the ``neat.power`` entry-point group, where neat's pyproject lists
the built-ins and another distribution adds its own (the same mechanism as the algorithms'
plug-ins, :mod:`algorithms.registry`). A driver module is imported only when a host uses it, so a missing optional
dependency (``pip install 'neat-consolidation[power]'``) is reported for that host, not at start.

Secrets never appear in a table: a key holding a password is refused (and its value never
repeated), ``password_env`` names the environment variable to read it from.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import MISSING, fields
from importlib.metadata import EntryPoint
from typing import Any

from algorithms.registry import entry_point_values
from neat.power.base import PowerConfigError, PowerDriver

#: Entry-point group of power drivers.
GROUP = "neat.power"
#: Keys that would hold a secret in the configuration file.
SECRET_KEYS = frozenset({"password", "passwd", "secret", "token"})


def available() -> dict[str, str]:
    """Map of driver name -> ``module:class``, sorted by name (entry points, not imported)."""
    return entry_point_values(GROUP)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def driver_class(name: str, *, host: str) -> type[PowerDriver]:
    """Load the driver class registered as ``name`` (``host`` only names the owner in errors).

    Raises
    ------
    PowerConfigError
        Unknown name (the message lists the available ones), or the driver's module cannot be
        imported (a missing optional dependency).
    """
    drivers = available()
    if name not in drivers:
        raise PowerConfigError(
            f"power configuration of host {host!r}: driver {name!r} is unknown; "
            f"available: {', '.join(drivers)}.{_suggest(name, list(drivers))}"
        )
    try:
        cls = EntryPoint(name=name, value=drivers[name], group=GROUP).load()
    except ImportError as exc:
        raise PowerConfigError(
            f"power configuration of host {host!r}: the {name} driver cannot be loaded ({exc}); "
            "install neat-consolidation[power]"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, PowerDriver)):
        raise PowerConfigError(f"power driver {name!r} ({drivers[name]}) is not a PowerDriver subclass")
    return cls


def build_driver(host: str, table: Mapping[str, Any], *, check_environment: bool = True) -> PowerDriver:
    """The driver of ``host`` configured by ``table`` (a TOML table: lists become tuples).

    Parameters
    ----------
    host : str
        The compute host's name (the table's name).
    table : mapping
        ``driver`` and the driver's keys.
    check_environment : bool
        Also check that the variable named by ``password_env`` is set (its value is not read).

    Raises
    ------
    PowerConfigError
        The message names the host and the key: missing ``driver``, unknown driver, missing or
        unknown key (with the likely intended one), a secret in the table, an invalid value, an
        unset ``password_env`` variable.
    """
    owner = f"power configuration of host {host!r}"
    if not isinstance(table, Mapping):
        raise PowerConfigError(f"{owner} must be a table of keys; got {type(table).__name__}")
    if "driver" not in table:
        raise PowerConfigError(f"{owner} has no 'driver' key; set it to one of: {', '.join(available())}")
    name = table["driver"]
    if not isinstance(name, str):
        raise PowerConfigError(f"{owner}: 'driver' must be a string naming a driver; got {name!r}")
    cls = driver_class(name, host=host)
    keys = {f.name: f for f in fields(cls) if f.init and f.name != "host"}
    given = {k: v for k, v in table.items() if k != "driver"}

    secrets = sorted(k for k in given if k.lower() in SECRET_KEYS)
    if secrets:
        raise PowerConfigError(
            f"{owner}: key {secrets[0]!r} is refused: secrets never go in the configuration file. "
            "Put the password in an environment variable and name that variable with password_env."
        )
    if "host" in given:
        raise PowerConfigError(
            f"{owner}: key 'host' is not accepted; the host is the table's name"
            + (" (use ssh_host to reach it by another name)" if "ssh_host" in keys else "")
        )
    unknown = sorted(set(given) - set(keys))
    if unknown:
        raise PowerConfigError(
            f"{owner}: the {name} driver has no key {unknown[0]!r}; its keys are: "
            f"{', '.join(sorted(keys))}.{_suggest(unknown[0], list(keys))}"
        )
    missing = [k for k, f in keys.items() if f.default is MISSING and f.default_factory is MISSING and k not in given]
    if missing:
        constraint = cls.PARAMETERS[missing[0]]
        what = f" ({constraint.help})" if constraint.help else ""
        raise PowerConfigError(
            f"{owner}: the {name} driver needs key {missing[0]!r}{what}; the table has: "
            f"{', '.join(sorted(table)) or 'nothing'}"
        )

    values = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    driver = cls(host=host, **values)

    env = getattr(driver, "password_env", None)
    if check_environment and isinstance(env, str) and env not in os.environ:
        raise PowerConfigError(
            f"{owner}: password_env names the environment variable {env}, which is not set "
            "(set it in the service's environment)"
        )
    return driver


def build_drivers(hosts: Mapping[str, Mapping[str, Any]], *, check_environment: bool = True) -> dict[str, PowerDriver]:
    """One driver per host of ``hosts`` (host name -> table), as :func:`build_driver` builds it."""
    return {host: build_driver(host, table, check_environment=check_environment) for host, table in hosts.items()}
