"""Which policies a report runs: names from the command line and a sweep file of grids.

A sweep file is TOML. ``policies`` lists names as ``--policy`` takes them; each ``[[grid]]`` table
is the cartesian product of its lists (a single value counts as a list of one)::

    policies = ["npa", "dvfs"]

    # the field's names: <overload>-<selection>-<parameter>, PABFD placement
    [[grid]]
    overload = ["lr", "lrr"]          # thr, mad, iqr, lr, lrr, otf, mhod
    parameter = [1.1, 1.2, 1.3]       # threshold (thr), safety (mad, iqr, lr, lrr), OTF target (otf, mhod)
    selection = ["mmt", "mc"]         # mmt, mu, rs, mc; default "mmt"

    # any registered plug-ins (``neat algorithms``) with parameter grids
    [[grid]]
    overload = "mad"
    overload_params = { safety = [2.0, 2.5], fallback_threshold = 0.7 }
    selection = "mmt"
    placement = ["pabfd", "bfd"]      # default "pabfd"
    placement_params = {}

A grid uses either ``parameter`` (the named form) or ``overload_params`` (the component form).
"""

from __future__ import annotations

import difflib
import itertools
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from neat.decision.mode import Mode
from neat.decision.policy import BASELINES, Component, Policy, PolicyError, build_policy, custom_spec, named_policy

#: Keys of a sweep file and of its [[grid]] tables.
TOP_LEVEL_KEYS = ("policies", "grid")
GRID_KEYS = (
    "overload",
    "parameter",
    "overload_params",
    "selection",
    "selection_params",
    "placement",
    "placement_params",
)


class SweepError(ValueError):
    """A sweep file is unreadable or names an unknown policy, plug-in or parameter."""


def load_sweep(path: str | Path, mode: Mode) -> list[Policy]:
    """Read a sweep file into policies for ``mode``, in file order, duplicates dropped.

    Raises
    ------
    SweepError
        The file is missing or not TOML, a key is unknown, a value has the wrong type, or a policy,
        plug-in or parameter is unknown or out of range; the message names the file and the table.
    """
    file = Path(path)
    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{file}: no such sweep file") from None
    except IsADirectoryError:
        raise SweepError(f"{file}: is a folder; expected a sweep TOML file") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SweepError(f"{file}: not a valid TOML sweep file ({exc})") from None
    except OSError as exc:
        raise SweepError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    _check_keys(doc, TOP_LEVEL_KEYS, f"{file}: top level")
    policies: list[Policy] = []
    names = doc.get("policies", [])
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SweepError(f"{file}: 'policies' must be a list of policy names; got {names!r}")
    for name in names:
        try:
            policies.append(named_policy(name, mode))
        except PolicyError as exc:
            raise SweepError(f"{file}: policies: {exc}") from None
    grids = doc.get("grid", [])
    if isinstance(grids, dict):
        grids = [grids]
    if not isinstance(grids, list) or not all(isinstance(g, dict) for g in grids):
        raise SweepError(f"{file}: 'grid' must be [[grid]] tables; got {grids!r}")
    for i, grid in enumerate(grids):
        policies.extend(_expand_grid(grid, mode, f"{file}: [[grid]] #{i + 1}"))
    if not policies:
        raise SweepError(f"{file}: defines no policies (give 'policies = [...]' or [[grid]] tables)")
    return unique(policies)


def resolve_policies(
    names: Sequence[str], sweep: Path | None, mode: Mode, *, baseline: str | None = None
) -> list[Policy]:
    """The report's policies: the baselines, then ``names``, the sweep's, and ``baseline`` if given and missing.

    Raises
    ------
    PolicyError
        A name or the baseline is not a known policy.
    SweepError
        The sweep file is unusable.
    """
    chosen = [named_policy(name, mode) for name in (*BASELINES, *names)]
    if sweep is not None:
        chosen.extend(load_sweep(sweep, mode))
    if baseline is not None:
        try:
            chosen.append(named_policy(baseline, mode))
        except PolicyError as exc:
            raise PolicyError(f"--baseline: {exc}") from None
    return unique(chosen)


def unique(policies: Iterable[Policy]) -> list[Policy]:
    """Policies in order, the later of two with the same name dropped."""
    seen: dict[str, Policy] = {}
    for p in policies:
        seen.setdefault(p.name, p)
    return list(seen.values())


def _check_keys(table: dict[str, Any], accepted: Sequence[str], where: str) -> None:
    for key in table:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SweepError(f"{where}: unknown key {key!r}{hint}; accepted keys: {', '.join(accepted)}")


def _strings(grid: dict[str, Any], key: str, where: str, default: str | None = None) -> list[str]:
    value = grid.get(key, default)
    if value is None:
        raise SweepError(f"{where}: missing {key!r} (a name or a list of names)")
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise SweepError(f"{where}: {key!r} must be a name or a non-empty list of names; got {value!r}")
    return values


def _param_grid(grid: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    """``{a = [1, 2], b = "x"}`` -> ``[{a: 1, b: "x"}, {a: 2, b: "x"}]``."""
    table = grid.get(key, {})
    if not isinstance(table, dict):
        raise SweepError(f"{where}: {key!r} must be a table such as {{ safety = [2.0, 2.5] }}; got {table!r}")
    axes: list[list[Any]] = []
    for name, value in table.items():
        values = value if isinstance(value, list) else [value]
        if not values:
            raise SweepError(f"{where}: {key}.{name} is an empty list")
        axes.append(values)
    return [dict(zip(table, combo, strict=True)) for combo in itertools.product(*axes)]


def _format_number(value: float) -> str:
    """0.8 -> "0.8", 2.0 -> "2", 1.25 -> "1.25": the text a user would type in a policy name."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _expand_grid(grid: dict[str, Any], mode: Mode, where: str) -> list[Policy]:
    _check_keys(grid, GRID_KEYS, where)
    overloads = _strings(grid, "overload", where)
    selections = _strings(grid, "selection", where, default="mmt")
    placements = _strings(grid, "placement", where, default="pabfd")
    placement_grid = _param_grid(grid, "placement_params", where)
    selection_grid = _param_grid(grid, "selection_params", where)
    if "parameter" in grid:
        if "overload_params" in grid:
            raise SweepError(
                f"{where}: give either 'parameter' (named policies such as lr-mmt-1.2) "
                f"or 'overload_params' (detector parameters by name), not both"
            )
        if placements != ["pabfd"] or selection_grid != [{}]:
            raise SweepError(
                f"{where}: 'parameter' builds the field's named policies (PABFD placement, selections "
                f"without parameters); for placement {placements!r} or selection_params use "
                f"'overload_params' instead, e.g. overload_params = {{ threshold = [0.8] }}"
            )
        raw = grid["parameter"]
        values = raw if isinstance(raw, list) else [raw]
        if not values or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise SweepError(f"{where}: 'parameter' must be a number or a non-empty list of numbers; got {raw!r}")
        out = []
        for det, value, sel, options in itertools.product(overloads, values, selections, placement_grid):
            name = f"{det}-{sel}-{_format_number(value)}"
            try:
                policy = named_policy(name, mode, placement=options)
            except PolicyError as exc:
                raise SweepError(f"{where}: {exc}") from None
            if options:
                label = ",".join(f"{k}={v}" for k, v in sorted(options.items()))
                labelled = f"{name}-pabfd[{label}]"
                policy = replace(policy, name=labelled, spec=replace(policy.spec, name=labelled))
            out.append(policy)
        return out
    if "overload_params" not in grid:
        raise SweepError(
            f"{where}: needs 'parameter' (e.g. parameter = [0.8] for thr-mmt-0.8) "
            f"or 'overload_params' (e.g. overload_params = {{ safety = [2.5] }})"
        )
    overload_grid = _param_grid(grid, "overload_params", where)
    out = []
    for det, o_params, sel, s_params, place, p_params in itertools.product(
        overloads, overload_grid, selections, selection_grid, placements, placement_grid
    ):
        try:
            spec = custom_spec(Component(det, o_params), Component(sel, s_params), Component(place, p_params))
            out.append(build_policy(spec, mode))
        except PolicyError as exc:
            raise SweepError(f"{where}: {exc}") from None
    return out


__all__ = ["BASELINES", "SweepError", "load_sweep", "resolve_policies", "unique"]
