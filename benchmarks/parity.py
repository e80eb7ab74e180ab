"""Print neat's cloudsim mode against CloudSim 4.0's reference results, every day and policy.

Usage: python benchmarks/parity.py [--policy NAME ...] [DAY ...]   (the built-in days: 20110303 20110306 20110322)
"""

from __future__ import annotations

import argparse
import sys

from neat.decision.mode import CLOUDSIM
from neat.decision.policy import named_policy
from neat.scenario import cloudsim_standard
from neat.simulation.engine import Simulation
from neat.traces import load_planetlab_day, reference_results

TOLERANCE = {"energy_kwh": 0.02, "migrations": 0.05, "slatah": 0.10, "pdm": 0.10}


def relative(ours: float, theirs: float) -> float:
    return (ours - theirs) / theirs if theirs else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("days", nargs="*", help="days to run (default: every day of the reference)")
    parser.add_argument(
        "--policy", action="append", dest="policies", metavar="NAME", help="only this policy (repeatable)"
    )
    args = parser.parse_args(argv)
    reference = reference_results("cloudsim")
    days = args.days or sorted(reference)
    unknown = [day for day in days if day not in reference]
    if unknown:
        parser.error(f"no reference for day(s) {', '.join(unknown)}; known: {', '.join(sorted(reference))}")
    listed = {name for day in days for name in reference[day]}
    missing = sorted(set(args.policies or ()) - listed)
    if missing:
        parser.error(f"no reference for policy(ies) {', '.join(missing)}; known: {', '.join(sorted(listed))}")
    print(
        f"{'day':9} {'policy':12} {'energy neat/ref':>22} {'migrations neat/ref':>22} "
        f"{'SLATAH neat/ref':>20} {'PDM neat/ref':>24} {'wall s':>7}  within"
    )
    failures = 0
    for day in days:
        traces = load_planetlab_day(day)
        for name, ref in reference[day].items():
            if args.policies and name not in args.policies:
                continue
            result = Simulation(traces, cloudsim_standard(), named_policy(name, CLOUDSIM)).run()
            ours = result.summary()
            ok = all(abs(relative(ours[key], ref[key])) <= tol for key, tol in TOLERANCE.items() if ref.get(key))
            failures += not ok
            cells = [f"{day:9} {name:12}"]
            for key, fmt in (("energy_kwh", "9.2f"), ("migrations", "7d"), ("slatah", ".4f"), ("pdm", ".6f")):
                theirs = ref.get(key, 0)
                cells.append(f"{ours[key]:{fmt}}/{theirs:{fmt}} {relative(ours[key], theirs):+6.1%}")
            print(*cells, f"{result.wall_time_s:7.2f}  {'yes' if ok else 'NO'}", flush=True)
    print(f"{failures} of the listed (day, policy) pairs are outside the tolerances {TOLERANCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
