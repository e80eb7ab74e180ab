"""The project's one validation module: constraints, parameter tables and input checks.

Every plug-in is a frozen keyword-only dataclass with a class attribute ``PARAMETERS`` mapping
each field name to a constraint. ``validate_parameters`` runs in ``__post_init__`` and is the only
thing a constructor does. neat's power drivers, database records, collector records and
configuration tables use the same constraints (:class:`Interval`, :class:`Options`,
:class:`Nullable`, :class:`Sequence`, :class:`Text`, :class:`Flag`, :class:`Argv`) and the same
messages: the owner, the parameter, the accepted set, the value received, and a guess at the
likely mistake.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Utilization above this is taken for a percentage by mistake. Requested load may exceed 1.0
#: (over-subscribed hosts), so the check is deliberately loose.
MAX_UTILIZATION_FRACTION = 10.0


class ParameterError(ValueError):
    """A plug-in parameter is outside its accepted range or set."""


class InputError(ValueError):
    """An input array has the wrong shape, dtype or values."""


@dataclass(frozen=True)
class Interval:
    """A numeric range; ``kind`` is ``"int"`` or ``"float"`` (which accepts ints too)."""

    kind: str
    low: float
    high: float
    closed: str = "both"  # "both", "left", "right" or "neither"
    help: str = ""

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind == "int":
            if not isinstance(value, int | np.integer):
                return False
        elif not isinstance(value, int | float | np.integer | np.floating):
            return False
        if isinstance(value, float | np.floating) and math.isnan(value):
            return False
        low_ok = value >= self.low if self.closed in ("both", "left") else value > self.low
        high_ok = value <= self.high if self.closed in ("both", "right") else value < self.high
        return bool(low_ok and high_ok)

    def describe(self) -> str:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        name = "an int" if self.kind == "int" else "a float"

        def fmt(x: float) -> str:
            if math.isinf(x):
                return "inf" if x > 0 else "-inf"
            return str(int(x)) if self.kind == "int" else str(float(x))

        return f"{name} in {left}{fmt(self.low)}, {fmt(self.high)}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple[Any, ...]
    help: str = ""

    def accepts(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def describe(self) -> str:
        return "one of {" + ", ".join(repr(v) for v in self.values) + "}"


@dataclass(frozen=True)
class Text:
    """A non-empty string, matching ``pattern`` (a full match) when given."""

    help: str = ""
    pattern: str | None = None

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, str) or not value:
            return False
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None

    def describe(self) -> str:
        return f"a non-empty string ({self.help})" if self.help else "a non-empty string"


@dataclass(frozen=True)
class Flag:
    """``True`` or ``False``."""

    help: str = ""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Argv:
    """A command as a non-empty tuple of non-empty strings, one per argument: never a shell string."""

    help: str = ""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, tuple) and len(value) > 0 and all(isinstance(a, str) and a for a in value)

    def describe(self) -> str:
        return "a non-empty list of non-empty strings, one per argument"


@dataclass(frozen=True)
class Nullable:
    """``None`` (a key left out) or a value accepted by ``inner``."""

    inner: Interval | Options | Text | Flag | Argv

    @property
    def help(self) -> str:
        return self.inner.help

    def accepts(self, value: Any) -> bool:
        return value is None or self.inner.accepts(value)

    def describe(self) -> str:
        return f"None or {self.inner.describe()}"


@dataclass(frozen=True)
class Sequence:
    """A non-empty tuple whose items are accepted by ``item``; optionally strictly increasing."""

    item: Interval
    increasing: bool = False
    help: str = ""

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, tuple | list) or len(value) == 0:
            return False
        if not all(self.item.accepts(v) for v in value):
            return False
        return not self.increasing or all(a < b for a, b in pairwise(value))

    def describe(self) -> str:
        order = " strictly increasing" if self.increasing else ""
        return f"a non-empty{order} sequence of {self.item.describe().removeprefix('a ')}s"


Constraint = Interval | Options | Nullable | Sequence | Text | Flag | Argv


def likely_mistake(constraint: Constraint, value: Any) -> str:
    """A guess at the mistake behind a rejected value (a sentence with a leading space), or ""."""
    inner = constraint.inner if isinstance(constraint, Nullable) else constraint
    if isinstance(inner, Interval) and isinstance(value, int | float) and inner.high <= 1.0 and 1.0 < value <= 100.0:
        return f" It looks like a percentage; pass {value / 100:g}."
    if isinstance(inner, Interval) and isinstance(value, str):
        return " Write the number without quotes."
    if isinstance(inner, Argv) and isinstance(value, str):
        return (
            " It looks like a shell string; give the command as a list with one argument per item, "
            'e.g. ["ssh", "{host}", "systemctl", "suspend"]. No shell ever runs it.'
        )
    if isinstance(inner, Text) and isinstance(value, str) and "@" in value and "://" in value:
        return " Credentials do not belong in the address: use username and password_env."
    if isinstance(inner, Options) and isinstance(value, str):
        folded = [v for v in inner.values if isinstance(v, str) and v.lower() == value.lower()]
        if folded:
            return f" Did you mean {folded[0]!r}? The names are case-sensitive."
    return ""


def check_value(
    owner: str, name: str, value: Any, constraint: Constraint, *, error: type[Exception] = ValueError
) -> None:
    """Raise ``error`` (``The 'x' of Owner must be .... Got ... instead.``) unless ``constraint`` accepts ``value``."""
    if not constraint.accepts(value):
        raise error(
            f"The {name!r} of {owner} must be {constraint.describe()}. Got {value!r} instead."
            f"{likely_mistake(constraint, value)}"
        )


def validate_parameters(obj: Any, *, owner: str | None = None, error: type[Exception] = ParameterError) -> None:
    """Check every constructor field of ``obj`` against ``type(obj).PARAMETERS``.

    Raises
    ------
    ParameterError (or ``error``)
        ``The 'safety' parameter of MadDetector must be a float in (0, inf). Got -1.0 instead.``
    TypeError
        The table and the fields disagree (a mistake in the class, not in its caller).
    """
    owner = owner or type(obj).__name__
    table: dict[str, Constraint] = type(obj).PARAMETERS
    names = {f.name for f in fields(obj) if f.init}
    if set(table) != names:
        raise TypeError(
            f"{type(obj).__name__}.PARAMETERS does not match its fields: {sorted(table)} vs {sorted(names)}"
        )
    for name, constraint in table.items():
        value = getattr(obj, name)
        if not constraint.accepts(value):
            raise error(
                f"The {name!r} parameter of {owner} must be {constraint.describe()}. Got {value!r} instead."
                f"{likely_mistake(constraint, value)}"
            )


def check_history(
    utilization: ArrayLike, n_valid: ArrayLike, *, owner: str, name: str = "utilization"
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Validate a right-aligned, left-NaN-padded history batch.

    Parameters
    ----------
    utilization : array of shape (n_rows, window)
        Utilization as a fraction of capacity, oldest to newest; the newest ``n_valid[i]`` values
        of row ``i`` are valid, the rest is padding (NaN by convention, never read).
    n_valid : int array of shape (n_rows,)

    Returns
    -------
    utilization : float64 array of shape (n_rows, window)
        The input, not copied when already float64 (never written to).
    n_valid : intp array of shape (n_rows,)
    """
    u = np.asarray(utilization)
    if u.ndim != 2:
        raise InputError(f"{owner}: {name} must be a 2-D array (n_hosts, window); got shape {u.shape}")
    if u.dtype.kind not in "fiu":
        raise InputError(f"{owner}: {name} must be numeric; got dtype {u.dtype}")
    u = u.astype(np.float64, copy=False)
    n = np.asarray(n_valid)
    if n.shape != (u.shape[0],):
        raise InputError(f"{owner}: n_valid must have shape ({u.shape[0]},) to match {name}; got {n.shape}")
    if n.size and n.dtype.kind not in "iu":
        raise InputError(f"{owner}: n_valid must be integers; got dtype {n.dtype}")
    n = n.astype(np.intp, copy=False)
    if n.size and (n.min() < 0 or n.max() > u.shape[1]):
        bad = int(n[(n < 0) | (n > u.shape[1])][0])
        raise InputError(f"{owner}: n_valid must be in [0, {u.shape[1]}] (the window); got {bad}")
    valid = valid_mask(u.shape, n)
    vals = u[valid]
    if vals.size:
        if not np.isfinite(vals).all():
            raise InputError(f"{owner}: {name} has NaN or inf inside the valid part of a row")
        low, high = vals.min(), vals.max()
        if low < 0:
            raise InputError(f"{owner}: {name} must be a fraction >= 0; got {low!r}")
        if high > MAX_UTILIZATION_FRACTION:
            raise InputError(
                f"{owner}: {name} must be a fraction in [0, {MAX_UTILIZATION_FRACTION:g}]; "
                f"got {high!r}, which looks like a percentage"
            )
    return u, n


def valid_mask(shape: tuple[int, ...], n_valid: NDArray[np.intp]) -> NDArray[np.bool_]:
    """Boolean mask of shape ``shape`` (n_rows, window): True on the newest ``n_valid`` columns."""
    window = shape[1]
    result: NDArray[np.bool_] = np.arange(window)[None, :] >= (window - n_valid)[:, None]
    return result


def check_per_row(value: ArrayLike, n_rows: int, *, owner: str, name: str, low: float = 0.0) -> NDArray[np.float64]:
    """Broadcast a scalar or (n_rows,) array to float64 (n_rows,) and check it is finite and >= low."""
    a = np.broadcast_to(np.asarray(value, dtype=np.float64), (n_rows,))
    if a.size and (not np.isfinite(a).all() or a.min() < low):
        raise InputError(f"{owner}: {name} must be finite and >= {low:g}; got {a[~(a >= low)][:1]}")
    return a


def check_choice(value: Any, choices: Collection[Any], *, owner: str, name: str) -> None:
    """Raise a ParameterError naming the accepted set when ``value`` is not in ``choices``."""
    if value not in choices:
        raise ParameterError(
            f"The {name!r} parameter of {owner} must be one of {sorted(choices)}. Got {value!r} instead."
        )
