"""Shared inputs for the report tests: a 20-host scenario and tiny PlanetLab-format days.

Each day has 24 VMs whose CPU swings with a four-per-day sine around a per-VM level, so the
consolidating policies migrate and violate SLAs in ``cloudsim`` mode within ~0.1 s per cell.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from neat.decision.mode import NEAT
from neat.decision.policy import Policy, named_policy
from tests.scenarios import SCENARIO_TOML

N_VMS = 24
STEPS = 288


def day_percents(seed: int, n_vms: int = N_VMS) -> np.ndarray:
    """(n_vms, 288) integer CPU percents: level U(5, 70) + 25 sin(4 cycles a day) + N(0, 8), clipped."""
    rng = np.random.default_rng(seed)
    t = np.arange(STEPS)
    level = rng.uniform(5, 70, n_vms)[:, None]
    wave = 25 * np.sin(2 * np.pi * (t / 96 + rng.uniform(0, 1, (n_vms, 1))))
    return np.clip(np.rint(level + wave + rng.normal(0, 8, (n_vms, STEPS))), 0, 100)


def write_day(folder: Path, seed: int, n_vms: int = N_VMS) -> Path:
    """A PlanetLab day: one file per VM, one integer percent per line."""
    folder.mkdir(parents=True)
    for k, row in enumerate(day_percents(seed, n_vms)):
        (folder / f"vm-{k:03d}").write_text("".join(f"{int(v)}\n" for v in row))
    return folder


@dataclass(frozen=True)
class Inputs:
    days: Path  # a folder of two days, "day1" and "day2"
    scenario: Path


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    root = tmp_path_factory.mktemp("report-inputs")
    write_day(root / "days" / "day1", seed=1)
    write_day(root / "days" / "day2", seed=2)
    scenario = root / "twenty.toml"
    scenario.write_text(SCENARIO_TOML)
    return Inputs(root / "days", scenario)


@pytest.fixture(autouse=True)
def private_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real ~/.cache, whatever a test passes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def fake_policy(name: str, kind: str) -> Policy:
    """A policy of ``kind`` under ``name``: a baseline ("npa", "dvfs"), or a dynamic policy renamed."""
    if kind != "dynamic":
        policy = named_policy(kind, NEAT)
        assert policy.name == name
        return policy
    policy = named_policy("thr-mmt-0.8", NEAT)
    return dataclasses.replace(policy, name=name, spec=dataclasses.replace(policy.spec, name=name))


def invoke(*args: str | Path) -> Result:
    from neat.cli.report import report_cmd

    return CliRunner().invoke(report_cmd, [str(a) for a in args])


def base_args(inputs: Inputs, out: Path, cache: Path) -> list[str | Path]:
    """A small, serial, cloudsim-mode report over both days."""
    return [
        "--traces", inputs.days, "--scenario", inputs.scenario, "--mode", "cloudsim",
        "--out", out, "--cache", cache, "--jobs", "1", "--quiet",
    ]  # fmt: skip
