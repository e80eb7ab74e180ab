"""The safety limits shared by the service and the simulator, and the one reader of a ``[limits]`` table.

The service's configuration and a scenario file have the same ``[limits]`` table, read by
:func:`limits_from_table` with the same keys and checks; only the defaults differ (the service is
cautious, :data:`SERVICE_DEFAULTS`; a simulation is unlimited, :data:`UNLIMITED`, so that it
reproduces the literature).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from algorithms._validation import Interval
from neat.tables import TableReader


@dataclass(frozen=True)
class Limits:
    """Safety limits of the plan and of its execution.

    Attributes
    ----------
    max_migrations_per_cycle : migrations a plan may hold (None: any); an evacuation is kept whole
        or dropped whole
    max_concurrent_migrations : migrations in flight at once (None: all of a plan's at once)
    vm_cooldown_s : a VM that finished a migration less than this ago stays where it is
    migration_timeout_s : a migration still running after this counts as timed out (None: never);
        its source is then never disabled
    migration_retries : attempts after the first when the cloud says the server is busy
    exclude_hosts : hosts (by name) that are neither sources nor targets
    exclude_vms : VMs (by name or id) that never move
    exclude_metadata_key : a VM whose metadata holds this key never moves
    """

    max_migrations_per_cycle: int | None = None
    max_concurrent_migrations: int | None = None
    vm_cooldown_s: float = 0.0
    migration_timeout_s: float | None = None
    migration_retries: int = 0
    exclude_hosts: frozenset[str] = frozenset()
    exclude_vms: frozenset[str] = frozenset()
    exclude_metadata_key: str = "neat:exclude"

    @property
    def timeout_s(self) -> float:
        """``migration_timeout_s`` as a number (inf: never)."""
        return math.inf if self.migration_timeout_s is None else self.migration_timeout_s


#: A simulation's limits by default: none, as in the literature.
UNLIMITED = Limits()
#: The service's limits by default.
SERVICE_DEFAULTS = Limits(
    max_migrations_per_cycle=10,
    max_concurrent_migrations=2,
    vm_cooldown_s=3600.0,
    migration_timeout_s=600.0,
    migration_retries=1,
)

#: The checks of every key of a ``[limits]`` table (the exclusions are lists of names).
_NUMBERS = {
    "max_migrations_per_cycle": Interval("int", 1, 1_000_000),
    "max_concurrent_migrations": Interval("int", 1, 10_000),
    "vm_cooldown_s": Interval("float", 0.0, 10 * 365 * 86400.0),
    "migration_timeout_s": Interval("float", 1.0, 7 * 86400.0),
    "migration_retries": Interval("int", 0, 100),
}


def limits_from_table(table: Mapping[str, Any], *, where: str, defaults: Limits) -> Limits:
    """Read a ``[limits]`` table; keys left out keep ``defaults``.

    Raises
    ------
    neat.tables.TableError
        An unknown key (the message lists the known ones), a value of the wrong type or out of
        range (the message names ``where``, the key, the accepted range and the value).
    """
    reader = TableReader(table, where=where, known={f.name for f in fields(Limits)})
    values: dict[str, Any] = {}
    for key, constraint in _NUMBERS.items():
        if key in table:
            value = reader.number(key, constraint)
            values[key] = float(value) if constraint.kind == "float" else value
    for key in ("exclude_hosts", "exclude_vms"):
        if key in table:
            values[key] = frozenset(reader.names(key))
    if "exclude_metadata_key" in table:
        values["exclude_metadata_key"] = reader.text("exclude_metadata_key")
    return Limits(**{**{f.name: getattr(defaults, f.name) for f in fields(Limits)}, **values})


__all__ = ["SERVICE_DEFAULTS", "UNLIMITED", "Limits", "limits_from_table"]
