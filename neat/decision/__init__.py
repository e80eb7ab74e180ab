"""The decision core shared by the simulator and the service.

:func:`decide` turns a round's inputs (:class:`DecisionInputs`) into moves (:class:`Decision`) with
a policy (:func:`build_policy`) built for a :class:`Mode`; :func:`plan` applies the safety limits
(:class:`Limits`) and gives the actions (:class:`Plan`). Nothing here does I/O.
"""

from neat.decision.decide import decide
from neat.decision.inputs import OVERLOAD_RELIEF, Decision, DecisionInputs, PhaseTimes
from neat.decision.limits import SERVICE_DEFAULTS, UNLIMITED, Limits, limits_from_table
from neat.decision.mode import CLOUDSIM, MODES, NEAT, Mode
from neat.decision.plan import Plan, allowed, plan
from neat.decision.policy import (
    DEFAULT_POLICIES,
    RECOMMENDED,
    Component,
    Policy,
    PolicyError,
    PolicySpec,
    build_policy,
    custom_spec,
    named_policy,
    parse_policy,
)

__all__ = [
    "CLOUDSIM",
    "DEFAULT_POLICIES",
    "RECOMMENDED",
    "MODES",
    "NEAT",
    "OVERLOAD_RELIEF",
    "SERVICE_DEFAULTS",
    "UNLIMITED",
    "Component",
    "Decision",
    "DecisionInputs",
    "Limits",
    "Mode",
    "PhaseTimes",
    "Plan",
    "Policy",
    "PolicyError",
    "PolicySpec",
    "allowed",
    "build_policy",
    "custom_spec",
    "decide",
    "limits_from_table",
    "named_policy",
    "parse_policy",
    "plan",
]
