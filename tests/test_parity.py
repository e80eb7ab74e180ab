"""neat's cloudsim mode against CloudSim 4.0's published outputs on the built-in PlanetLab days.

The days and the reference results are package data (``neat/data``), so the tests need nothing
beside the repository.

Required: NPA energy 2410.8 kWh (+-0.1); for every listed day and policy, energy within 2 %,
migrations within 5 %, SLATAH and PDM within 10 % (relative) of the reference.
"""

from __future__ import annotations

from functools import cache

import pytest

from neat.decision.mode import CLOUDSIM
from neat.decision.policy import named_policy
from neat.scenario import cloudsim_standard
from neat.simulation.engine import Simulation
from neat.simulation.results import SimulationResult
from neat.traces import TraceSet, load_planetlab_day, reference_results

REFERENCE = reference_results("cloudsim")
TOLERANCE = {"energy_kwh": 0.02, "migrations": 0.05, "slatah": 0.10, "pdm": 0.10}


def _cases() -> list[tuple[str, str]]:
    return [(day, policy) for day in sorted(REFERENCE) for policy in sorted(REFERENCE[day])]


@cache
def _traces(day: str) -> TraceSet:
    return load_planetlab_day(day)


@cache
def _run(day: str, policy: str) -> SimulationResult:
    return Simulation(_traces(day), cloudsim_standard(), named_policy(policy, CLOUDSIM)).run()


@pytest.mark.parity
@pytest.mark.parametrize(("day", "policy"), _cases())
def test_matches_the_reference(day: str, policy: str) -> None:
    expected = REFERENCE[day][policy]
    ours = _run(day, policy).summary()
    if policy == "npa":
        assert ours["energy_kwh"] == pytest.approx(2410.8, abs=0.1)
    for key, tolerance in TOLERANCE.items():
        if key not in expected:
            continue
        if expected[key] == 0:
            assert ours[key] == 0, key
        else:
            assert ours[key] == pytest.approx(expected[key], rel=tolerance), key
