"""Reading a TOML table with checks: unknown keys, types and ranges, errors that name the place.

Every configuration file of neat (the service's configuration, a scenario, the power hosts' tables)
reads its tables through :class:`TableReader`, with the range checks of
:mod:`algorithms._validation` (the one place constraints are written). An error names the file and
table (``where``), the key, what was expected and the value received, and suggests the known key
a misspelt one was probably meant to be.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from algorithms._validation import Interval


class TableError(ValueError):
    """A table of a configuration file is unusable; the message says where and why."""


#: The ``default`` of a key that must be given.
REQUIRED: Any = object()


class TableReader:
    """Checked access to one table (a mapping read from TOML).

    Parameters
    ----------
    table : the table
    where : how errors name it, e.g. ``neat.toml: [limits]``
    known : every key the table may hold; any other key is an error at construction
    joiner : what separates ``where`` from a key in messages (``"."`` for an array's tables:
        ``host_types[0].count``)
    """

    def __init__(self, table: Mapping[str, Any], *, where: str, known: Iterable[str], joiner: str = " ") -> None:
        if not isinstance(table, Mapping):
            raise TableError(f"{where} must be a table; got {table!r}")
        self.table = table
        self.where = where
        self.joiner = joiner
        self.known = frozenset(known)
        for key in table:
            if key not in self.known:
                raise TableError(f"{where} has an unknown key {key!r}{_suggestion(key, self.known)}")

    def __contains__(self, key: str) -> bool:
        return key in self.table

    def _get(self, key: str, default: Any) -> Any:
        if key not in self.table and default is REQUIRED:
            raise TableError(f"{self.where} is missing {key!r}")
        return self.table.get(key, default)

    def _name(self, key: str) -> str:
        return f"{self.where}{self.joiner}{key}"

    def number(self, key: str, constraint: Interval, default: Any = REQUIRED) -> Any:
        """The value of ``key`` (``default`` if absent), an int or a finite float ``constraint`` accepts."""
        value = self._get(key, default)
        accepted = constraint.accepts(value) and not (isinstance(value, float) and math.isinf(value))
        if constraint.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            accepted = accepted or Interval("int", constraint.low, constraint.high, constraint.closed).accepts(value)
        if not accepted:
            raise TableError(f"{self._name(key)} must be {constraint.describe()}; got {value!r}")
        return value

    def text(self, key: str, default: Any = REQUIRED) -> str:
        """The value of ``key`` (``default`` if absent), a non-empty string."""
        value = self._get(key, default)
        if not isinstance(value, str) or not value:
            raise TableError(f"{self._name(key)} must be a non-empty string; got {value!r}")
        return value

    def flag(self, key: str, default: Any = REQUIRED) -> bool:
        """The value of ``key`` (``default`` if absent), true or false."""
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise TableError(f"{self._name(key)} must be true or false; got {value!r}")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: Any = REQUIRED) -> str:
        """The value of ``key`` (``default`` if absent), one of ``options``."""
        value = self._get(key, default)
        if value not in options:
            accepted = " or ".join(repr(o) for o in options)
            raise TableError(f"{self._name(key)} must be {accepted}; got {value!r}")
        return str(value)

    def names(self, key: str) -> list[str]:
        """The value of ``key`` (empty if absent), a list of non-empty strings."""
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise TableError(f"{self._name(key)} must be a list of names; got {value!r}")
        return list(value)

    def subtable(self, key: str) -> Mapping[str, Any]:
        """The value of ``key`` (empty if absent), a table."""
        value = self.table.get(key, {})
        if not isinstance(value, Mapping):
            raise TableError(f"{self._name(key)} must be a table; got {value!r}")
        return value


def _suggestion(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f"; expected one of {sorted(known)}"


__all__ = ["REQUIRED", "TableError", "TableReader"]
