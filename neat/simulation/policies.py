"""Consolidation policies: a detector, a VM selector and a placer, named as in the literature.

``npa`` (no power awareness: every host at full power), ``dvfs`` (power follows load, no
migrations), and ``<overload>-<selection>-<parameter>``, e.g. ``lr-mmt-1.2``: overload detector
``thr`` (parameter: threshold), ``mad``/``iqr``/``lr``/``lrr`` (safety), ``otf`` (OTF target) or
``mhod`` (OTF target); selection ``mmt``, ``mu``, ``rs`` or ``mc``; PABFD placement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from algorithms.base import OverloadDetector, Placer, VmSelector
from algorithms.registry import UnknownPluginError, create
from neat.simulation.modes import Mode

SELECTIONS = ("mmt", "mu", "rs", "mc")
DETECTORS = ("thr", "mad", "iqr", "lr", "lrr", "otf", "mhod")


class PolicyError(ValueError):
    """An unknown policy name or parameter."""


@dataclass(frozen=True)
class Policy:
    """A named combination. ``kind`` is "npa", "dvfs" or "dynamic"."""

    name: str
    kind: str
    detector: OverloadDetector | None = None
    selector: VmSelector | None = None
    placer: Placer | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def _detector(name: str, value: float, mode: Mode) -> OverloadDetector:
    fallback = 0.7
    if name == "thr":
        return create("overload", "thr", threshold=value)  # type: ignore[return-value]
    if name in ("mad", "iqr"):
        return create("overload", name, safety=value, fallback_threshold=fallback)  # type: ignore[return-value]
    if name in ("lr", "lrr"):
        if mode.regression == "ols":  # CloudSim: weights never applied, so LRR is LR
            return create(  # type: ignore[return-value]
                "overload", "lr", safety=value, weighting="none", fallback_threshold=fallback
            )
        return create("overload", name, safety=value, fallback_threshold=fallback)  # type: ignore[return-value]
    if name == "otf":
        return create("overload", "otf", otf=value)  # type: ignore[return-value]
    if name == "mhod":
        return create("overload", "mhod", otf=value)  # type: ignore[return-value]
    raise PolicyError(f"unknown overload detector {name!r}; expected one of {', '.join(DETECTORS)}")


def parse_policy(name: str, mode: Mode, *, placer_options: dict[str, Any] | None = None) -> Policy:
    """Turn a policy name such as ``lr-mmt-1.2`` into a :class:`Policy` for ``mode``.

    Raises
    ------
    PolicyError
        The name does not have the form ``npa``, ``dvfs`` or ``<overload>-<selection>-<number>``, or
        names an unknown detector or selection, or the parameter is out of range.
    """
    key = name.strip().lower()
    if key in ("npa", "dvfs"):
        return Policy(name=key, kind=key)
    parts = key.split("-")
    if len(parts) != 3:
        raise PolicyError(
            f"policy {name!r} is not 'npa', 'dvfs' or '<overload>-<selection>-<parameter>' "
            f"(e.g. lr-mmt-1.2; overload: {', '.join(DETECTORS)}; selection: {', '.join(SELECTIONS)})"
        )
    det, sel, param = parts
    if det not in DETECTORS:
        raise PolicyError(f"policy {name!r}: unknown overload detector {det!r}; expected one of {', '.join(DETECTORS)}")
    if sel not in SELECTIONS:
        raise PolicyError(f"policy {name!r}: unknown VM selection {sel!r}; expected one of {', '.join(SELECTIONS)}")
    try:
        value = float(param)
    except ValueError:
        raise PolicyError(f"policy {name!r}: parameter {param!r} is not a number") from None
    try:
        detector = _detector(det, value, mode)
        selector = create("selection", sel)
        options = {"empty_host_cost": mode.empty_host_cost, **(placer_options or {})}
        placer = create("placement", "pabfd", **options)
    except (ValueError, UnknownPluginError) as exc:
        raise PolicyError(f"policy {name!r}: {exc}") from None
    return Policy(
        name=key,
        kind="dynamic",
        detector=detector,
        selector=selector,  # type: ignore[arg-type]
        placer=placer,  # type: ignore[arg-type]
        parameters={"overload": det, "selection": sel, "parameter": value},
    )


def custom_policy(
    overload: str,
    overload_params: dict[str, Any],
    selection: str,
    selection_params: dict[str, Any],
    placement: str,
    placement_params: dict[str, Any],
    mode: Mode | None = None,
) -> Policy:
    """A policy from separately named components, e.g. ``mad`` + ``mc`` + ``pabfd`` with parameters.

    With a ``mode``, PABFD prices empty hosts as that mode does unless told otherwise.
    """
    defaults = {"empty_host_cost": mode.empty_host_cost} if mode is not None and placement == "pabfd" else {}
    try:
        detector = create("overload", overload, **overload_params)
        selector = create("selection", selection, **selection_params)
        placer = create("placement", placement, **(defaults | placement_params))
    except (ValueError, UnknownPluginError) as exc:
        raise PolicyError(str(exc)) from None

    def label(name: str, params: dict[str, Any]) -> str:
        return name + "".join(f"[{k}={v}]" for k, v in sorted(params.items()))

    name = "-".join(
        [label(overload, overload_params), label(selection, selection_params), label(placement, placement_params)]
    )
    return Policy(
        name=name,
        kind="dynamic",
        detector=detector,  # type: ignore[arg-type]
        selector=selector,  # type: ignore[arg-type]
        placer=placer,  # type: ignore[arg-type]
        parameters={"overload": overload_params, "selection": selection_params, "placement": placement_params},
    )
