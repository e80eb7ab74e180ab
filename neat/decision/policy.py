"""Consolidation policies: which plug-in plays each role, built for a mode by one function.

A policy is five roles: an overload detector, a VM selector, a placer, an underload detector and
the power model of the hosts. Every way of naming one, a name from the literature such as
``lr-mmt-1.2`` (:func:`parse_policy`), separately named parts (:func:`custom_spec`), a sweep's
grid or the service's ``[algorithms]`` table, produces a :class:`PolicySpec`, and
:func:`build_policy` alone turns a spec into a :class:`Policy` for a :class:`~neat.decision.mode.Mode`
(so a mode's semantics reach every path). The baselines are ordinary policies made of the
do-nothing plug-ins: ``npa`` (every host at full power, always on) and ``dvfs`` (power follows load,
no migrations).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

from algorithms.base import DetectorKernel, OverloadDetector, PlacementKernel, Placer, UnderloadDetector, VmSelector
from algorithms.registry import UnknownPluginError, available, create
from neat.decision.mode import Mode

#: The policies `neat simulate` runs when none is named: both baselines, three of the field's and
#: neat's recommended one.
DEFAULT_POLICIES = ("npa", "dvfs", "thr-mmt-0.8", "mad-mmt-2.5", "lr-mmt-1.2", "recommended")
#: The baselines: no power awareness (every host at full power) and power following load.
BASELINES = ("npa", "dvfs")
#: The underload strategy of the field's named policies (CloudSim's): try to empty every host in
#: use, least utilized first.
NAMED_POLICY_UNDERLOAD = "least-utilized"
#: The placement of the field's named policies.
NAMED_POLICY_PLACEMENT = "pabfd"


class PolicyError(ValueError):
    """An unknown policy name, plug-in or parameter."""


@dataclass(frozen=True)
class Component:
    """One role's plug-in by registry name, with its explicit parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        """``name`` or ``name[key=value,...]`` with the parameters sorted."""
        return self.name + "".join(f"[{k}={v}]" for k, v in sorted(self.params.items()))


@dataclass(frozen=True)
class PolicySpec:
    """What a policy is made of, before a mode is applied.

    ``baseline`` is "npa" or "dvfs" for the baselines, else None. ``name`` is the display name.
    """

    name: str
    overload: Component
    selection: Component
    placement: Component
    underload: Component
    baseline: str | None = None


@dataclass(frozen=True)
class Policy:
    """A policy built for a mode: the plug-in of every role.

    ``always_full_power`` (NPA): every host draws its full power for the whole run and never
    switches off, whatever its load.
    """

    name: str
    mode: Mode
    detector: OverloadDetector
    selector: VmSelector
    placer: Placer
    underload: UnderloadDetector
    spec: PolicySpec
    always_full_power: bool = False

    @property
    def kind(self) -> str:
        """A label for reports: "npa" or "dvfs" for the baselines, else "dynamic"."""
        return self.spec.baseline or "dynamic"

    @property
    def is_baseline(self) -> bool:
        return self.spec.baseline is not None

    @property
    def moves_vms(self) -> bool:
        """Whether a round can move anything: False when neither detector ever flags a host."""
        return not (self.detector.NEVER and self.underload.NEVER)

    @cached_property
    def guard(self) -> OverloadDetector:
        """The detector that guards placement targets
        (:meth:`~algorithms.base.OverloadDetector.for_placement`; the overload detector itself unless
        it declares a hysteresis)."""
        return self.detector.for_placement()

    @cached_property
    def relief(self) -> OverloadDetector:
        """The detector that says when an overloaded host is relieved
        (:meth:`~algorithms.base.OverloadDetector.for_relief`; by default the guard)."""
        return self.detector.for_relief()

    @cached_property
    def kernels(self) -> tuple[PlacementKernel, DetectorKernel, DetectorKernel, DetectorKernel] | None:
        """The compiled kernels of the placer, the detector, the guard and the relief detector if all
        declare one, else None."""
        placer, detector = self.placer.kernel(), self.detector.kernel()

        def kernel_of(other: OverloadDetector) -> DetectorKernel | None:
            return detector if other is self.detector else other.kernel()

        guard, relief = kernel_of(self.guard), kernel_of(self.relief)
        if placer is None or detector is None or guard is None or relief is None:
            return None
        return placer, detector, guard, relief


#: The policy neat recommends, of ordinary plug-ins (every parameter spelled out, so later changes
#: of a plug-in's defaults do not change it). Hosts are flagged when their demand exceeds their
#: capacity and filled only to 92 % (a hysteresis: room to grow before the next move); an
#: overloaded host sheds the VM whose migration is shortest among those that relieve it alone;
#: VMs go where the power rises least, and the host woken is the cheapest per dominant share
#: (CPU or RAM) of its full power; hosts beyond what the load needs at 86 % (plus one spare,
#: averaged over three intervals) are emptied, least utilized first, and a host that one
#: switched-off host would carry more efficiently and at least 3 W cheaper is replaced by it
#: (where RAM binds, hosts with less power per GB). Chosen on the three built-in
#: PlanetLab days on standard-cpu (``python benchmarks/quality.py``), the same parameters for every
#: day and scenario.
RECOMMENDED = PolicySpec(
    name="recommended",
    overload=Component(
        "hysteresis",
        {"threshold": 1.0, "placement_threshold": 0.92, "quantile": None, "min_changes": 5, "relieve_to": "threshold"},
    ),
    selection=Component("mm", {"rank": "shortest_relief"}),
    placement=Component("pabfd", {"empty_host_cost": "efficiency", "cpu_threshold": 1.0, "all_or_nothing": False}),
    underload=Component(
        "surplus",
        {"target_utilization": 0.86, "slack_hosts": 1, "threshold": 0.7, "mean_steps": 3, "rehome_saving_w": 3.0},
    ),
)


def baseline_spec(name: str) -> PolicySpec:
    """The spec of a baseline: the do-nothing detectors and selector; VMs created first fit."""
    if name not in BASELINES:
        raise PolicyError(f"unknown baseline {name!r}; expected one of {', '.join(BASELINES)}")
    return PolicySpec(
        name=name,
        overload=Component("never"),
        selection=Component("none"),
        placement=Component("ffd", {"prefer_active": False}),
        underload=Component("never"),
        baseline=name,
    )


def parse_policy(name: str, *, placement: Mapping[str, Any] | None = None) -> PolicySpec:
    """The spec of ``npa``, ``dvfs``, ``recommended`` (:data:`RECOMMENDED`) or a name from the
    literature, ``<overload>-<selection>-<number>``.

    The number sets the detector's declared policy parameter
    (:attr:`algorithms.base.OverloadDetector.POLICY_PARAMETER`: the threshold of ``thr``, the safety
    of ``mad``, ``iqr``, ``lr`` and ``lrr``, the OTF target of ``otf`` and ``mhod``); placement is
    PABFD (with ``placement`` as its parameters) and underload the least-utilized evacuation.

    Raises
    ------
    PolicyError
        The name has another form, or names an unknown detector or selection, or a detector without
        a policy parameter.
    """
    key = name.strip().lower()
    if key in BASELINES:
        return baseline_spec(key)
    if key == RECOMMENDED.name:
        return RECOMMENDED
    detectors = {n: c for n, c in available("overload").items() if getattr(c, "POLICY_PARAMETER", None) is not None}
    selections = available("selection")
    parts = key.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        raise PolicyError(
            f"policy {name!r} is not 'npa', 'dvfs', 'recommended' or '<overload>-<selection>-<parameter>' "
            f"(e.g. lr-mmt-1.2; overload: {', '.join(detectors)}; selection: {', '.join(selections)})"
        )
    det, sel, param = parts
    if det not in detectors:
        raise PolicyError(f"policy {name!r}: unknown overload detector {det!r}; expected one of {', '.join(detectors)}")
    if sel not in selections:
        raise PolicyError(f"policy {name!r}: unknown VM selection {sel!r}; expected one of {', '.join(selections)}")
    try:
        value = float(param)
    except ValueError:
        raise PolicyError(f"policy {name!r}: parameter {param!r} is not a number") from None
    parameter = cast(str, cast(type[OverloadDetector], detectors[det]).POLICY_PARAMETER)
    return PolicySpec(
        name=key,
        overload=Component(det, {parameter: value}),
        selection=Component(sel),
        placement=Component(NAMED_POLICY_PLACEMENT, dict(placement or {})),
        underload=Component(NAMED_POLICY_UNDERLOAD),
    )


def custom_spec(
    overload: Component,
    selection: Component,
    placement: Component,
    underload: Component | None = None,
    *,
    name: str | None = None,
) -> PolicySpec:
    """A spec from separately named parts; underload defaults to the least-utilized evacuation.

    The display name lists every part with its explicit parameters unless ``name`` is given.
    """
    underload = underload or Component(NAMED_POLICY_UNDERLOAD)
    parts = [overload, selection, placement]
    if underload.name != NAMED_POLICY_UNDERLOAD or underload.params:
        parts.append(underload)
    return PolicySpec(
        name=name or "-".join(p.label() for p in parts),
        overload=overload,
        selection=selection,
        placement=placement,
        underload=underload,
    )


def build_policy(spec: PolicySpec, mode: Mode) -> Policy:
    """Create every plug-in of ``spec`` under ``mode``'s defaults (explicit parameters win).

    Raises
    ------
    PolicyError
        An unknown plug-in name or parameter, or a parameter out of range; the message names the
        policy.
    """
    plugins: dict[str, Any] = {}
    for role, component in (
        ("overload", spec.overload),
        ("selection", spec.selection),
        ("placement", spec.placement),
        ("underload", spec.underload),
    ):
        try:
            cls = available(role).get(component.name)
            defaults = mode.defaults_for(cls) if cls is not None else {}
            plugins[role] = create(role, component.name, **(defaults | dict(component.params)))
        except (ValueError, UnknownPluginError) as exc:
            raise PolicyError(f"policy {spec.name!r}: {exc}") from None
    return Policy(
        name=spec.name,
        mode=mode,
        detector=plugins["overload"],
        selector=plugins["selection"],
        placer=plugins["placement"],
        underload=plugins["underload"],
        spec=spec,
        always_full_power=spec.baseline == "npa",
    )


def named_policy(name: str, mode: Mode, *, placement: Mapping[str, Any] | None = None) -> Policy:
    """``build_policy(parse_policy(name, placement=placement), mode)``."""
    return build_policy(parse_policy(name, placement=placement), mode)


__all__ = [
    "BASELINES",
    "DEFAULT_POLICIES",
    "RECOMMENDED",
    "Component",
    "Policy",
    "PolicyError",
    "PolicySpec",
    "baseline_spec",
    "build_policy",
    "custom_spec",
    "named_policy",
    "parse_policy",
]
