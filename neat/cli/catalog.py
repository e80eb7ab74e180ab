"""What ``neat algorithms`` shows: every registered plug-in and power driver, with its parameters.

Everything shown is read from the registries and the classes themselves, so a plug-in of another
distribution shows up like a built-in: the entry-point groups of the four algorithm roles and of
the power drivers (``neat.power``), each class's first docstring line (its description), its
``PARAMETERS`` table (type and range), its fields' defaults, and the numpydoc ``Parameters``
section of the class or a base class (each parameter's description). Units follow the house
naming rule (``timeout_s`` is in seconds); the field's suffix-less names get theirs from
:data:`UNITS`.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import textwrap
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Any

from algorithms._validation import Argv, Constraint, Flag, Interval, Nullable, Options, Sequence
from algorithms.registry import GROUPS, entry_point_values

#: Role -> entry-point group: the algorithms' four roles, then the host power drivers.
ROLE_GROUPS = {**GROUPS, "power": "neat.power"}
#: What each role decides, for the headings.
ROLE_TITLES = {
    "overload": "is a host overloaded now?",
    "underload": "is a host worth emptying?",
    "selection": "which VMs leave an overloaded host?",
    "placement": "which host takes each VM?",
    "power": "host power drivers, for the service's [power.hosts.NAME] tables",
}
#: Units by name suffix (the house rule: units live in names), longest suffix first.
SUFFIX_UNITS = (("_mbit_s", "Mbit/s"), ("_kwh", "kWh"), ("_mips", "MIPS"), ("_mb", "MB"), ("_w", "W"), ("_s", "s"))
#: Units of the field's parameter names that carry no suffix.
UNITS = {
    "threshold": "fraction of capacity",
    "fallback_threshold": "fraction of capacity",
    "cpu_threshold": "fraction of capacity",
    "placement_threshold": "fraction of capacity",
    "target_utilization": "fraction of capacity",
    "slack_hosts": "hosts",
    "ram_threshold": "fraction of capacity",
    "state_config": "fraction of capacity",
    "otf": "fraction of time",
    "bruteforce_step": "probability",
    "quantile": "probability",
    "placement_quantile": "probability",
    "min_changes": "changes",
    "window": "samples",
    "length": "samples",
    "n": "samples",
    "min_history": "samples",
    "limit": "samples",
    "learning_steps": "samples",
    "mean_steps": "samples",
    "window_sizes": "transitions",
}
#: Numeric parameters that are pure numbers (no unit to show).
DIMENSIONLESS = frozenset({"safety", "port", "unreachable_exit_code"})
#: Longest default shown in the overview table; the detail view shows it whole.
DEFAULT_WIDTH = 24


@dataclass(frozen=True)
class ParameterInfo:
    """One parameter of a plug-in as ``neat algorithms`` shows it.

    ``default`` is ``None`` both for a default of None and for a required parameter (``required``
    tells them apart); ``minimum``/``maximum`` are the numeric bounds (``None``: unbounded or not a
    number); ``choices`` lists the accepted values of a fixed set.
    """

    name: str
    type: str
    default: Any
    required: bool
    range: str
    unit: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None

    def as_json(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["default"] = _plain(self.default)
        record["choices"] = None if self.choices is None else [_plain(c) for c in self.choices]
        return record


@dataclass(frozen=True)
class PluginInfo:
    """A registered plug-in: role, name, ``module:Class``, one-line description, parameters.

    ``error`` says why a registered class could not be loaded (a power driver whose optional
    library is not installed); its parameters are then unknown.
    """

    role: str
    name: str
    target: str
    description: str
    parameters: tuple[ParameterInfo, ...]
    policy_parameter: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "name": self.name,
            "class": self.target,
            "description": self.description,
            "policy_parameter": self.policy_parameter,
            "error": self.error,
            "parameters": [p.as_json() for p in self.parameters],
        }


# --- reading the classes -------------------------------------------------------------------------


def catalog(roles: tuple[str, ...] = tuple(ROLE_GROUPS)) -> list[PluginInfo]:
    """Every plug-in of ``roles``, roles in order, names sorted within a role."""
    found = []
    for role in roles:
        group = ROLE_GROUPS[role]
        for name, target in entry_point_values(group).items():
            try:
                cls = EntryPoint(name=name, value=target, group=group).load()
            except ImportError as exc:
                extra = " (pip install 'neat-consolidation[power]')" if role == "power" else ""
                found.append(PluginInfo(role, name, target, "", (), error=f"cannot be loaded: {exc}{extra}"))
                continue
            found.append(describe(role, name, target, cls))
    return found


def describe(role: str, name: str, target: str, cls: type) -> PluginInfo:
    """The :class:`PluginInfo` of ``cls``, registered as ``name`` in ``role``."""
    table: dict[str, Constraint] = getattr(cls, "PARAMETERS", {})
    defaults = {f.name: f for f in dataclasses.fields(cls) if f.init} if dataclasses.is_dataclass(cls) else {}
    docs = parameter_docs(cls)
    parameters = tuple(
        parameter_info(key, constraint, defaults.get(key), docs.get(key, "")) for key, constraint in table.items()
    )
    return PluginInfo(
        role=role,
        name=name,
        target=target,
        description=summary_line(cls),
        parameters=parameters,
        policy_parameter=getattr(cls, "POLICY_PARAMETER", None),
    )


def parameter_info(name: str, constraint: Constraint, field: dataclasses.Field[Any] | None, doc: str) -> ParameterInfo:
    default: Any = None
    required = True
    if field is not None and field.default is not dataclasses.MISSING:
        default, required = field.default, False
    elif field is not None and field.default_factory is not dataclasses.MISSING:
        default, required = field.default_factory(), False
    inner = constraint.inner if isinstance(constraint, Nullable) else constraint
    low = high = None
    choices = None
    if isinstance(inner, Interval):
        low, high = _bound(inner.low), _bound(inner.high)
    elif isinstance(inner, Sequence):
        low, high = _bound(inner.item.low), _bound(inner.item.high)
    elif isinstance(inner, Options):
        choices = inner.values
    elif isinstance(inner, Flag):
        choices = (True, False)
    return ParameterInfo(
        name=name,
        type=type_name(constraint),
        default=default,
        required=required,
        range=range_text(constraint),
        unit=unit_of(name, constraint),
        description=doc or _sentence(constraint.help),
        minimum=low,
        maximum=high,
        choices=choices,
    )


def type_name(constraint: Constraint) -> str:
    """``float``, ``int``, ``str``, ``bool``, ``list[int]``, ...; ``| None`` when None is accepted."""
    if isinstance(constraint, Nullable):
        return f"{type_name(constraint.inner)} | None"
    if isinstance(constraint, Interval):
        return constraint.kind
    if isinstance(constraint, Sequence):
        return f"list[{constraint.item.kind}]"
    if isinstance(constraint, Options):
        kinds = sorted({type(v).__name__ for v in constraint.values})
        return " | ".join(kinds)
    if isinstance(constraint, Flag):
        return "bool"
    if isinstance(constraint, Argv):
        return "list[str]"
    return "str"


def range_text(constraint: Constraint) -> str:
    """The accepted values in a few characters: ``(0, inf)``, ``strict | inclusive``, ``text``."""
    if isinstance(constraint, Nullable):
        return f"{range_text(constraint.inner)} or none"
    if isinstance(constraint, Interval):
        return _interval(constraint)
    if isinstance(constraint, Sequence):
        order = "increasing, " if constraint.increasing else ""
        return f"{order}each in {_interval(constraint.item)}"
    if isinstance(constraint, Options | Flag):
        values = constraint.values if isinstance(constraint, Options) else (True, False)
        return " | ".join(_show(v) for v in values)
    if isinstance(constraint, Argv):
        return "one item per argument"
    return "non-empty text"


def unit_of(name: str, constraint: Constraint) -> str:
    """The parameter's unit: by name suffix, else :data:`UNITS`; ``""`` for text, choices and pure numbers."""
    inner = constraint.inner if isinstance(constraint, Nullable) else constraint
    if not isinstance(inner, Interval | Sequence):
        return ""
    for suffix, unit in SUFFIX_UNITS:
        if name.endswith(suffix):
            return unit
    return UNITS.get(name, "")


def summary_line(cls: type) -> str:
    """The first line of the class's docstring, reStructuredText markup removed."""
    doc = inspect.getdoc(cls) or ""
    return plain_text(doc.split("\n\n", 1)[0].replace("\n", " ").strip())


def parameter_docs(cls: type) -> dict[str, str]:
    """Each parameter's description (its first sentence) from the numpydoc ``Parameters`` sections of
    ``cls`` and its bases, the nearest class first."""
    found: dict[str, str] = {}
    for klass in cls.__mro__:
        for name, text in _numpydoc_parameters(klass.__dict__.get("__doc__") or "").items():
            if text and name not in found:
                found[name] = _sentence(plain_text(text))
    return found


_SECTION = re.compile(r"^Parameters\n-{3,}\n(?P<body>.*?)(?:\n\n\S[^\n]*\n-{3,}\n|\Z)", re.S | re.M)
_ENTRY = re.compile(r"^(?P<names>[A-Za-z_][\w, ]*?)\s*(?::.*)?$")


def _numpydoc_parameters(doc: str) -> dict[str, str]:
    """``name -> description`` of a numpydoc ``Parameters`` section (descriptions joined into one line)."""
    match = _SECTION.search(inspect.cleandoc(doc))
    if match is None:
        return {}
    entries: dict[str, list[str]] = {}
    current: list[str] = []
    for line in match.group("body").splitlines():
        if line and not line[0].isspace():
            head = _ENTRY.match(line)
            current = []
            if head is not None:
                for name in head.group("names").split(","):
                    entries[name.strip()] = current
        elif line.strip():
            current.append(line.strip())
    return {name: " ".join(lines) for name, lines in entries.items()}


def plain_text(text: str) -> str:
    """reStructuredText to plain text: ``:class:`~a.b.C``` -> ``C``, double backquotes dropped."""
    text = re.sub(r":\w+:`~?(?:[\w.]*\.)?([^`]+)`", r"\1", text)
    return text.replace("``", "").replace("`", "")


def _sentence(text: str) -> str:
    """The first sentence of ``text`` (a period followed by a space and a capital, or the end)."""
    match = re.match(r"(.+?\.)(?=\s+[A-Z(\"]|$)", text.strip(), re.S)
    return (match.group(1) if match else text).strip()


def _bound(x: float) -> float | None:
    return None if math.isinf(x) else x


def _interval(interval: Interval) -> str:
    left = "[" if interval.closed in ("both", "left") and not math.isinf(interval.low) else "("
    right = "]" if interval.closed in ("both", "right") and not math.isinf(interval.high) else ")"

    def number(x: float) -> str:
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return str(int(x)) if float(x).is_integer() else repr(float(x))

    return f"{left}{number(interval.low)}, {number(interval.high)}{right}"


def _plain(value: Any) -> Any:
    """Tuples as lists and infinities as None, so ``json.dumps`` writes strict JSON."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def _show(value: Any) -> str:
    """A value as it would be written in TOML: true, 0.8, "full", [30, 40]."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)


# --- rendering -----------------------------------------------------------------------------------


def default_text(parameter: ParameterInfo) -> str:
    return "required" if parameter.required else _show(parameter.default)


def overview(plugins: list[PluginInfo]) -> str:
    """Every plug-in with its description and a table of its parameters, grouped by role."""
    lines: list[str] = []
    for role in dict.fromkeys(p.role for p in plugins):
        if lines:
            lines.append("")
        lines.append(f"{role} ({ROLE_GROUPS[role]}): {ROLE_TITLES[role]}")
        for plugin in (p for p in plugins if p.role == role):
            lines.append("")
            lines.append(f"  {plugin.name}: {plugin.error or plugin.description}")
            if plugin.parameters:
                rows = [[p.name, p.type, _clip(default_text(p)), p.range, p.unit or "-"] for p in plugin.parameters]
                lines.extend(
                    "    " + line for line in _columns([["parameter", "type", "default", "range", "unit"], *rows])
                )
            elif plugin.error is None:
                lines.append("    no parameters")
    return "\n".join(lines)


def detail(plugin: PluginInfo, width: int) -> str:
    """One plug-in: its description, class, and each parameter with its description."""
    width = max(width, 40)
    wrap = textwrap.TextWrapper(width=width, initial_indent="      ", subsequent_indent="      ")
    head = textwrap.TextWrapper(width=width, initial_indent="    ", subsequent_indent="        ")
    lines = textwrap.wrap(f"{plugin.name} ({plugin.role}): {plugin.error or plugin.description}", width)
    lines.append(f"  class {plugin.target}")
    defaults = {p.name: default_text(p) for p in plugin.parameters}
    if plugin.policy_parameter in defaults:
        example = f"{plugin.name}-mmt-{defaults[plugin.policy_parameter]}"
        lines.append(f"  in policy names such as {example} the number sets {plugin.policy_parameter}")
    if plugin.error is None:
        lines.append("  no parameters" if not plugin.parameters else "  parameters:")
    for p in plugin.parameters:
        unit = f", in {p.unit}" if p.unit else ""
        lines.extend(head.wrap(f"{p.name} : {p.type}, default {default_text(p)}, range {p.range}{unit}"))
        if p.description:
            lines.extend(wrap.wrap(p.description))
    return "\n".join(lines)


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _clip(text: str) -> str:
    return text if len(text) <= DEFAULT_WIDTH else text[: DEFAULT_WIDTH - 3] + "..."


__all__ = [
    "DIMENSIONLESS",
    "ROLE_GROUPS",
    "ROLE_TITLES",
    "UNITS",
    "ParameterInfo",
    "PluginInfo",
    "catalog",
    "describe",
    "detail",
    "overview",
    "parameter_docs",
    "plain_text",
    "range_text",
    "type_name",
    "unit_of",
]
