"""Time and memory of neat's simulator on one PlanetLab day, per policy, with the per-phase split.

Run: ``python benchmarks/simulate.py [--traces DAY] [--mode cloudsim|neat] [--no-tracemalloc] [POLICY ...]``.
The day defaults to ``../shared/data/planetlab/20110303`` (relative to the repository root), the
policy to ``lr-mmt-1.2`` and the mode to ``cloudsim``, on the standard 800-host scenario.

Per policy it prints the wall time and the user CPU time of one run, the process's peak resident
memory so far (``ru_maxrss``), the split of the run over the phases the engine times (detection,
selection, placement, accounting; "other" is the rest: initial placement and bookkeeping), and the
run's energy and migrations. With tracemalloc (the default) the policy is run a second time under
``tracemalloc`` to report the peak of Python-visible allocations (numpy arrays included); that run
is slower and is not the one timed. When ``../shared/reference/cloudsim/results.json`` holds the
same day and policy, CloudSim 4.0's figures are printed beside ours, with the ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from neat.scenario import cloudsim_standard
from neat.simulation.engine import Simulation, SimulationResult
from neat.simulation.modes import MODES
from neat.simulation.policies import parse_policy
from neat.traces import TraceSet, load_planetlab

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DAY = REPO_ROOT.parent / "shared" / "data" / "planetlab" / "20110303"
REFERENCE = REPO_ROOT.parent / "shared" / "reference" / "cloudsim" / "results.json"
DEFAULT_POLICIES = ("lr-mmt-1.2",)
SEED = 1
MB = 1024 * 1024
PHASES = ("detection", "selection", "placement", "accounting")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / MB if sys.platform == "darwin" else rss / 1024


def user_cpu_s() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def run_once(traces: TraceSet, policy_name: str, mode_name: str) -> tuple[SimulationResult, float, float]:
    """(result, wall s, user CPU s) of one fresh simulation."""
    mode = MODES[mode_name]
    sim = Simulation(traces, cloudsim_standard(), parse_policy(policy_name, mode), mode, seed=SEED)
    cpu0, wall0 = user_cpu_s(), time.perf_counter()
    result = sim.run()
    return result, time.perf_counter() - wall0, user_cpu_s() - cpu0


def traced_peak_mb(traces: TraceSet, policy_name: str, mode_name: str) -> float:
    """Peak of Python-visible allocations (MiB) during one more run, measured by tracemalloc."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run_once(traces, policy_name, mode_name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / MB


def reference_for(day: Path, policy: str, mode: str) -> dict[str, Any] | None:
    """CloudSim 4.0's figures for this day and policy, if recorded (cloudsim mode only)."""
    if mode != "cloudsim" or not REFERENCE.is_file():
        return None
    entry = json.loads(REFERENCE.read_text()).get(day.name, {}).get(policy)
    return entry if isinstance(entry, dict) else None


def report(
    policy: str,
    mode: str,
    day: Path,
    result: SimulationResult,
    wall_s: float,
    cpu_s: float,
    rss_mb: float,
    traced_mb: float | None,
) -> None:
    phases = result.phases.as_dict()
    print(f"\n{policy} ({mode} mode): {result.vms} VMs, {result.hosts} hosts, {result.steps} rounds")
    print(f"  wall time         {wall_s:10.2f} s")
    print(f"  user CPU time     {cpu_s:10.2f} s")
    print(f"  peak RSS          {rss_mb:10.1f} MiB (ru_maxrss, whole process so far)")
    if traced_mb is not None:
        print(f"  tracemalloc peak  {traced_mb:10.1f} MiB (Python allocations, separate run)")
    print("  phases:")
    for name in PHASES:
        seconds = phases[f"{name}_s"]
        print(f"    {name:<14}{seconds:10.2f} s {seconds / wall_s:7.1%}")
    other = wall_s - sum(phases[f"{name}_s"] for name in PHASES)
    print(f"    {'other':<14}{other:10.2f} s {other / wall_s:7.1%}")
    print(f"  energy            {result.energy_kwh:10.2f} kWh (bound {result.energy_lower_bound_kwh:.2f} kWh)")
    print(f"  migrations        {result.migrations:10d}")
    ref = reference_for(day, policy, mode)
    if ref is not None:
        print(
            f"  CloudSim 4.0 reference: {ref['energy_kwh']:.2f} kWh, {ref['migrations']} migrations, "
            f"{ref['user_cpu_s']:.1f} s user CPU, {ref['wall_s']:.1f} s wall"
        )
        print(
            f"  ratios neat / CloudSim: energy {result.energy_kwh / ref['energy_kwh']:.3f}, "
            f"migrations {result.migrations / max(ref['migrations'], 1):.3f}, "
            f"user CPU {cpu_s / ref['user_cpu_s']:.3f} ({ref['user_cpu_s'] / cpu_s:.1f}x faster), "
            f"wall {wall_s / ref['wall_s']:.3f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policies", nargs="*", default=list(DEFAULT_POLICIES), help="policy names, e.g. lr-mmt-1.2")
    parser.add_argument("--traces", type=Path, default=DEFAULT_DAY, help=f"a PlanetLab day (default {DEFAULT_DAY})")
    parser.add_argument("--mode", choices=sorted(MODES), default="cloudsim")
    parser.add_argument("--no-tracemalloc", dest="tracemalloc", action="store_false", help="skip the traced run")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    traces = load_planetlab(args.traces)
    load_s = time.perf_counter() - started
    print(f"traces: {args.traces} ({traces.n_vms} VMs x {traces.n_steps} steps, loaded in {load_s:.2f} s)")
    print(f"python {sys.version.split()[0]}, peak RSS after loading {peak_rss_mb():.1f} MiB")
    for policy in args.policies:
        result, wall_s, cpu_s = run_once(traces, policy, args.mode)
        rss_mb = peak_rss_mb()  # before the traced run, whose bookkeeping adds to the RSS
        traced = traced_peak_mb(traces, policy, args.mode) if args.tracemalloc else None
        report(policy, args.mode, Path(args.traces), result, wall_s, cpu_s, rss_mb, traced)


if __name__ == "__main__":
    main()
