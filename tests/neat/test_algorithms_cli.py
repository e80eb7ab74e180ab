"""``neat algorithms``: every registered plug-in and power driver, its parameters and their descriptions."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result

from algorithms._validation import Interval, Options
from algorithms.registry import GROUPS, entry_point_values
from neat.cli import catalog as catalog_module
from neat.cli import main
from neat.cli.algorithms import ROLES
from neat.cli.catalog import DIMENSIONLESS, ROLE_GROUPS, catalog, describe, parameter_docs, plain_text, range_text

PLUGINS = [(role, name) for role in ROLES for name in entry_point_values(ROLE_GROUPS[role])]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["algorithms", *args])


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def everything() -> dict[tuple[str, str], dict[str, Any]]:
    result = invoke("--json")
    assert result.exit_code == 0, result.output
    return {(p["role"], p["name"]): p for p in strict_json(result.stdout)}


def test_roles_are_the_algorithm_groups_and_the_power_drivers() -> None:
    assert list(ROLES) == [*GROUPS, "power"]
    assert ROLE_GROUPS["power"] == "neat.power"


def test_overview_lists_every_plugin_under_its_role() -> None:
    result = invoke()
    assert result.exit_code == 0, result.output
    text = result.stdout
    headings = [line.split(" (")[0] for line in text.splitlines() if line and not line.startswith(" ")]
    assert headings[: len(ROLES)] == list(ROLES)
    parts = re.split(r"^(\w+) \(neat\.\w+\): ", text, flags=re.M)[1:]
    sections = dict(zip(parts[::2], parts[1::2], strict=True))
    for role, name in PLUGINS:
        assert f"\n  {name}: " in sections[role], (role, name)
    # mad's row: name, type, default, range, unit
    mad = text.split("\n  mad: ", 1)[1]
    assert "window              int           30        [1, inf)" in mad
    assert "samples" in mad.split("\n")[3]


def test_piped_output_is_plain() -> None:
    text = invoke().stdout
    assert "\x1b[" not in text
    assert all(line == line.rstrip() for line in text.splitlines())


@pytest.mark.parametrize(("role", "name"), PLUGINS, ids=[f"{r}:{n}" for r, n in PLUGINS])
def test_each_plugin_is_described_from_its_class(
    role: str, name: str, everything: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """The table matches PARAMETERS and the fields' defaults; numeric defaults lie in their range; every
    numeric parameter has a unit unless it is a pure number; the description is one line."""
    entry = everything[role, name]
    assert entry["description"] and "\n" not in entry["description"]
    assert "``" not in entry["description"] and ":class:" not in entry["description"]
    if entry["error"]:
        pytest.skip(f"{name}: {entry['error']}")
    module, attribute = entry["class"].split(":")
    cls = getattr(__import__(module, fromlist=[attribute]), attribute)
    assert [p["name"] for p in entry["parameters"]] == list(cls.PARAMETERS)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for parameter in entry["parameters"]:
        field = fields[parameter["name"]]
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            assert parameter["required"] is True
            continue
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        assert parameter["required"] is False
        assert parameter["default"] == (list(default) if isinstance(default, tuple) else default)
        if isinstance(default, int | float) and not isinstance(default, bool):
            assert parameter["minimum"] is None or parameter["minimum"] <= default
            assert parameter["maximum"] is None or default <= parameter["maximum"]
        if parameter["choices"] is not None:
            assert parameter["default"] in parameter["choices"]
        numeric = parameter["type"].split(" | ")[0] in ("int", "float", "list[int]", "list[float]")
        if numeric and parameter["name"] not in DIMENSIONLESS:
            assert parameter["unit"], (
                f"{name}.{parameter['name']} has no unit: end its name with the unit (_s, _w, _mb, ...) "
                "or add it to UNITS or DIMENSIONLESS in neat/cli/catalog.py"
            )


def test_one_plugin_in_detail() -> None:
    result = invoke("mad")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("mad (overload): MAD: overloaded iff u[-1] > 1 - safety * MAD")
    assert "  class algorithms.overload.mad:MadDetector" in lines
    assert "  in policy names such as mad-mmt-2.5 the number sets safety" in lines
    assert "    safety : float, default 2.5, range (0, inf)" in lines
    assert "      Safety parameter s of the paper." in lines
    assert "    window : int, default 30, range [1, inf), in samples" in lines
    assert '    history_rule : str, default "valid", range "valid" | "nonzero_run"' in lines


def test_parameters_documented_on_a_base_class() -> None:
    """IQR's docstring refers to SpreadThresholdDetector's Parameters section: its descriptions are found there."""
    result = invoke("iqr")
    assert result.exit_code == 0, result.output
    assert "    safety : float, default 1.5, range (0, inf)\n      Safety parameter s of the paper." in result.stdout


def test_a_name_in_two_roles_shows_both_unless_the_role_is_given() -> None:
    both = invoke("never")
    assert both.exit_code == 0, both.output
    assert both.stdout.startswith("never (overload): ")
    assert "\n\nnever (underload): " in both.stdout
    one = invoke("never", "--role", "underload")
    assert one.exit_code == 0, one.output
    assert one.stdout.startswith("never (underload): ") and "(overload)" not in one.stdout


def test_a_role_name_lists_that_role() -> None:
    result = invoke("placement")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("placement (neat.placement): ")
    assert "\n  pabfd: " in result.stdout and "\n  mad: " not in result.stdout


def test_power_drivers_with_their_parameters(everything: dict[tuple[str, str], dict[str, Any]]) -> None:
    ipmi = {p["name"]: p for p in everything["power", "ipmi"]["parameters"]}
    assert ipmi["host"]["required"] is True and ipmi["host"]["default"] is None
    assert ipmi["port"] | {"description": ""} == {
        "name": "port", "type": "int", "default": 623, "required": False, "range": "[1, 65535]", "unit": "",
        "description": "", "minimum": 1, "maximum": 65535, "choices": None,
    }  # fmt: skip
    assert ipmi["call_timeout_s"]["unit"] == "s"
    assert ipmi["off_command"]["choices"] == ["off", "softoff"]
    assert ipmi["password_env"]["description"].startswith("Name of the environment variable holding the password")


def test_json_of_one_plugin() -> None:
    result = invoke("mad", "--json")
    assert result.exit_code == 0, result.output
    (mad,) = strict_json(result.stdout)
    assert mad["role"] == "overload"
    assert mad["policy_parameter"] == "safety"
    safety = mad["parameters"][0]
    assert safety == {
        "name": "safety", "type": "float", "default": 2.5, "required": False, "range": "(0, inf)", "unit": "",
        "description": "Safety parameter s of the paper.", "minimum": 0.0, "maximum": None, "choices": None,
    }  # fmt: skip
    fallback = next(p for p in mad["parameters"] if p["name"] == "fallback_threshold")
    assert (fallback["type"], fallback["range"], fallback["unit"]) == (
        "float | None",
        "[0, 1] or none",
        "fraction of capacity",
    )


def test_unknown_name_exits_2_with_a_guess() -> None:
    result = invoke("madd")
    assert result.exit_code == 2
    assert "no plug-in named 'madd'. Did you mean 'mad'?" in result.stderr
    assert invoke("mad", "--role", "placement").exit_code == 2


def test_a_driver_that_cannot_be_loaded_is_listed_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    real = catalog_module.entry_point_values

    def with_broken(group: str) -> dict[str, str]:
        extra = {"broken": "no_such_module_for_neat_tests:Driver"} if group == "neat.power" else {}
        return real(group) | extra

    monkeypatch.setattr(catalog_module, "entry_point_values", with_broken)
    (broken,) = [p for p in catalog(("power",)) if p.name == "broken"]
    assert broken.parameters == ()
    assert broken.error is not None and "no_such_module_for_neat_tests" in broken.error
    assert "pip install 'neat-consolidation[power]'" in broken.error
    result = invoke("power")
    assert result.exit_code == 0, result.output
    assert "\n  broken: cannot be loaded: " in result.stdout


# -- reading docstrings and constraints, by hand ------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Base:
    """A base.

    Parameters
    ----------
    level, spare : float in [0, 1]
        The level. Used with ``spare``
        to decide.
    mode : {"a", "b"}
    """

    PARAMETERS: ClassVar[dict[str, Any]] = {}


@dataclass(frozen=True, kw_only=True)
class Child(Base):
    """Uses :class:`~tests.Base`'s rule on ``level``, and more.

    Parameters
    ----------
    level : float
        The child's level, in its own words.
    """

    PARAMETERS: ClassVar[dict[str, Any]] = {
        "level": Interval("float", 0.0, 1.0),
        "mode": Options(("a", "b")),
        "steps_s": Interval("int", 1, math.inf, closed="left"),
    }
    level: float = 0.5
    mode: str = "a"
    steps_s: int = 3


def test_parameter_descriptions_nearest_class_first() -> None:
    """The child's own entry wins; names listed together share one; a name without text gets none."""
    assert parameter_docs(Child) == {"level": "The child's level, in its own words.", "spare": "The level."}


def test_describe_a_class_by_hand() -> None:
    info = describe("overload", "child", "tests:Child", Child)
    assert info.description == "Uses Base's rule on level, and more."
    level, mode, steps = info.parameters
    assert (level.type, level.range, level.unit, level.default) == ("float", "[0, 1]", "", 0.5)
    assert (mode.type, mode.range, mode.choices, mode.description) == ("str", '"a" | "b"', ("a", "b"), "")
    assert (steps.type, steps.range, steps.unit, steps.minimum, steps.maximum) == ("int", "[1, inf)", "s", 1, None)


def test_plain_text() -> None:
    assert plain_text("see :func:`~algorithms.overload._mhod_model.state_index` and ``u[-1]``") == (
        "see state_index and u[-1]"
    )
    assert range_text(Interval("float", 0.0, math.inf, closed="neither")) == "(0, inf)"
