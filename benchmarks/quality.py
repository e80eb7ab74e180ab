"""Consolidation quality on the built-in days: energy, bound, gap, SLA and migrations per policy.

Run: ``python benchmarks/quality.py [--scenario NAME ...] [--costs real|free ...] [--policy P ...]
[--day DAY ...] [--jobs N] [--per-day] [--sweep]``.

Defaults: the policies ``recommended``, ``lr-mmt-1.2``, ``thr-mmt-0.8``, ``mad-mmt-2.5`` and
``dvfs`` on the scenarios ``standard-cpu`` and ``standard``, free costs (CloudSim's, so the figures
compare with the literature), the three built-in PlanetLab days, neat mode. A policy is a name
(``neat simulate --policy``) or a custom spec ``OVERLOAD|SELECTION|PLACEMENT|UNDERLOAD`` whose parts
are ``NAME[:key=value,...]`` as the simulate options take them.

Prints one Markdown table of medians over the days per (scenario, costs, policy): energy, the
energy lower bound, the gap to it (with its min to max over the days), the binding resource, SLATAH,
PDM, SLAV, migrations and host wakes; ``--per-day`` adds a table of every run. ``--sweep`` adds the
``recommended`` policy's two main knobs swept (the hysteresis's placement threshold and the surplus
hosts' target utilization) as more policies, and marks the trade-off front: the runs no other run
beats in gap, SLAV and migrations at once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

DAYS = ("20110303", "20110306", "20110322")
POLICIES = ("recommended", "lr-mmt-1.2", "thr-mmt-0.8", "mad-mmt-2.5", "dvfs")


@dataclass(frozen=True)
class Run:
    """The figures of one simulated day."""

    scenario: str
    costs: str
    policy: str
    day: str
    energy_kwh: float
    bound_kwh: float
    gap: float
    ram_binds: float
    slatah: float
    pdm: float
    slav: float
    migrations: int
    wakes: int
    wall_s: float


def build(policy: str) -> Any:
    """The policy of a name or of an ``OVERLOAD|SELECTION|PLACEMENT|UNDERLOAD`` spec, neat mode."""
    from neat.cli.options import parse_component
    from neat.decision import NEAT, Component, build_policy, custom_spec, named_policy

    if "|" not in policy:
        return named_policy(policy, NEAT)
    parts = [Component(*parse_component(part, "--policy")) for part in policy.split("|")]
    return build_policy(custom_spec(*parts), NEAT)


def simulate(job: tuple[str, str, str, str]) -> Run:
    from neat.scenario import scenario_for
    from neat.simulation.engine import Simulation
    from neat.traces import load_traces

    scenario, costs, policy, day = job
    started = time.perf_counter()
    result = Simulation(load_traces(f"planetlab:{day}"), scenario_for(scenario, "neat", costs), build(policy)).run()
    return Run(
        scenario,
        costs,
        policy,
        day,
        result.energy_kwh,
        result.energy_lower_bound_kwh,
        result.gap_to_bound,
        result.ram_binding_share,
        result.slatah,
        result.pdm,
        result.slav,
        result.migrations,
        result.host_wakes,
        time.perf_counter() - started,
    )


def recommended_variant(placement_threshold: float, target_utilization: float) -> str:
    """The ``recommended`` policy's spec with two of its parameters replaced, as an ``A|B|C|D`` spec."""
    from neat.decision.policy import RECOMMENDED

    def part(component: Any, **changes: float) -> str:
        params = {**component.params, **changes}
        values = ",".join(f"{key}={value_text(value)}" for key, value in params.items() if value is not None)
        return f"{component.name}:{values}" if values else component.name

    return "|".join(
        (
            part(RECOMMENDED.overload, placement_threshold=placement_threshold),
            part(RECOMMENDED.selection),
            part(RECOMMENDED.placement),
            part(RECOMMENDED.underload, target_utilization=target_utilization),
        )
    )


def value_text(value: Any) -> str:
    """A parameter value as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def front(rows: list[tuple[str, float, float, float]]) -> set[str]:
    """Names of the rows (name, gap, SLAV, migrations) that no other row beats on all three."""
    best = set()
    for name, *values in rows:
        beaten = any(all(o <= v for o, v in zip(other, values, strict=True)) and other != values for _, *other in rows)
        if not beaten:
            best.add(name)
    return best


def cell(text: str) -> str:
    """``text`` for a Markdown table cell (a custom spec's ``|`` escaped)."""
    return text.replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", nargs="+", default=["standard-cpu", "standard"])
    parser.add_argument("--costs", nargs="+", choices=["real", "free"], default=["free"])
    parser.add_argument("--policy", nargs="+", default=list(POLICIES))
    parser.add_argument("--day", nargs="+", default=list(DAYS))
    parser.add_argument("--jobs", type=int, default=2, help="simulations run at once (processes)")
    parser.add_argument("--per-day", action="store_true", help="also print every run")
    parser.add_argument("--sweep", action="store_true", help="also sweep the recommended policy's main knobs")
    args = parser.parse_args(argv)
    labels: dict[str, str] = {}
    if args.sweep:
        for p in (0.88, 0.92, 0.95):
            for t in (0.82, 0.86, 0.9):
                if (p, t) != (0.92, 0.86):
                    spec = recommended_variant(p, t)
                    labels[spec] = f"recommended, placement_threshold {p}, target_utilization {t}"
                    args.policy.append(spec)
    for policy in args.policy:
        try:
            build(policy)
        except Exception as error:  # report any bad spec before the long run
            print(f"quality.py: --policy {policy!r}: {error}", file=sys.stderr)
            return 2
    jobs = [(s, c, p, d) for s in args.scenario for c in args.costs for p in args.policy for d in args.day]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(simulate, jobs))
    print(f"{len(runs)} runs in {time.perf_counter() - started:.0f} s wall ({args.jobs} processes), neat mode\n")
    print(
        "| scenario | costs | policy | energy kWh | bound kWh | gap (min to max) | binds "
        "| SLATAH | PDM | SLAV | migrations | wakes |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for scenario in args.scenario:
        for costs in args.costs:
            fields = ("energy_kwh", "bound_kwh", "gap", "ram_binds", "slatah", "pdm", "slav", "migrations", "wakes")
            here = [r for r in runs if (r.scenario, r.costs) == (scenario, costs)]
            groups = {p: [r for r in here if r.policy == p] for p in args.policy}
            medians = {p: {f: statistics.median(getattr(r, f) for r in g) for f in fields} for p, g in groups.items()}
            consolidating = [(p, m["gap"], m["slav"], m["migrations"]) for p, m in medians.items() if p != "dvfs"]
            on_front = front(consolidating) if args.sweep else set()
            for policy, m in medians.items():
                gaps = [r.gap for r in groups[policy]]
                binds = "RAM" if m["ram_binds"] > 0.5 else "CPU"
                mark = " (front)" if policy in on_front else ""
                print(
                    f"| {scenario} | {costs} | {cell(labels.get(policy, policy))}{mark} "
                    f"| {m['energy_kwh']:.1f} | {m['bound_kwh']:.1f} "
                    f"| {m['gap']:+.1%} ({min(gaps):+.1%} to {max(gaps):+.1%}) | {binds} | {m['slatah']:.4f} "
                    f"| {m['pdm']:.5f} | {m['slav']:.2e} | {m['migrations']:.0f} | {m['wakes']:.0f} |"
                )
    if args.per_day:
        print("\n| scenario | costs | policy | day | energy kWh | gap | SLAV | migrations | wakes | wall s |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in runs:
            print(
                f"| {r.scenario} | {r.costs} | {cell(labels.get(r.policy, r.policy))} | {r.day} "
                f"| {r.energy_kwh:.1f} | {r.gap:+.1%} "
                f"| {r.slav:.2e} | {r.migrations} | {r.wakes} | {r.wall_s:.1f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
