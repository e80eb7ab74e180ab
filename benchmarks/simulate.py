"""Time and memory of neat's simulator on one PlanetLab day, per policy, with the per-phase split.

Run: ``python benchmarks/simulate.py [--traces DAY] [--mode cloudsim|neat] [--no-tracemalloc] [POLICY ...]``.
``--traces`` takes what ``neat simulate --traces`` takes and defaults to the built-in day
``planetlab:20110303``, the policy to ``lr-mmt-1.2`` and the mode to ``cloudsim``, on the standard
800-host scenario.
``--synthetic VMS --hosts N --cores C`` runs a seeded synthetic day instead, on N hosts of the
standard two types with C cores each (e.g. ``--synthetic 100000 --hosts 20000 --cores 8``).
``--repeat K`` runs each policy K times: with numba, the first run of a process also loads the
compiled kernels from the on-disk cache, or compiles them when the cache is cold (it says which).

Per policy it prints the wall time and the user CPU time of one run, the process's peak resident
memory so far (``ru_maxrss``), the split of the run over the phases the engine times (detection,
selection, placement, accounting, execution of the plan; "other" is the rest: initial placement and
bookkeeping), and the run's energy and migrations. With tracemalloc (the default) the policy is run
a second time under ``tracemalloc`` to report the peak of Python-visible allocations (numpy arrays
included); that run is slower and is not the one timed. On a built-in day, CloudSim 4.0's figures for
the same policy (``neat.traces.reference_results``) are printed beside ours, with the ratios.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from algorithms._jit import COMPILED
from neat.decision.kernels import placement_kernel
from neat.decision.kernels.compiled import compiled_round
from neat.decision.mode import MODES
from neat.decision.policy import named_policy
from neat.scenario import HostType, Scenario, cloudsim_standard
from neat.simulation.engine import Simulation
from neat.simulation.results import SimulationResult
from neat.traces import TraceSet, load_traces, reference_results, split_trace_spec, synthetic_planetlab_like

DEFAULT_DAY = "planetlab:20110303"
DEFAULT_POLICIES = ("lr-mmt-1.2",)
SEED = 1
MB = 1024 * 1024
PHASES = ("detection", "selection", "placement", "accounting", "execution")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / MB if sys.platform == "darwin" else rss / 1024


def user_cpu_s() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def scaled_scenario(n_hosts: int | None, cores: int) -> Scenario:
    """The standard scenario, or ``n_hosts`` hosts alternating its two types with ``cores`` cores."""
    standard = cloudsim_standard()
    if n_hosts is None:
        return standard
    counts = (n_hosts - n_hosts // 2, n_hosts // 2)
    types = tuple(
        HostType(f"{t.name} x{cores}", count, cores, t.core_mips, t.ram_mb * cores / t.cores, t.power_w)
        for t, count in zip(standard.host_types, counts, strict=True)
    )
    return Scenario(
        name=f"standard types x{cores} cores, {n_hosts} hosts", host_types=types, vm_types=standard.vm_types
    )


def kernel_cache_state(policy_name: str, mode_name: str) -> str:
    """Whether this process compiled the placement kernels or loaded them from the disk cache."""
    if not COMPILED:
        return "numba not installed: NumPy path"
    if not compiled_round(named_policy(policy_name, MODES[mode_name])):
        return "this policy's plug-ins declare no kernels: NumPy path"
    stats = placement_kernel.evacuate.stats  # type: ignore[attr-defined]
    if stats.cache_misses:
        return "kernels compiled in this process (cold cache)"
    return "kernels loaded from the on-disk cache" if stats.cache_hits else "kernels not used"


def run_once(
    traces: TraceSet, policy_name: str, mode_name: str, scenario: Scenario
) -> tuple[SimulationResult, float, float]:
    """(result, wall s, user CPU s) of one fresh simulation."""
    sim = Simulation(traces, scenario, named_policy(policy_name, MODES[mode_name]), seed=SEED)
    cpu0, wall0 = user_cpu_s(), time.perf_counter()
    result = sim.run()
    return result, time.perf_counter() - wall0, user_cpu_s() - cpu0


def traced_peak_mb(traces: TraceSet, policy_name: str, mode_name: str, scenario: Scenario) -> float:
    """Peak of Python-visible allocations (MiB) during one more run, measured by tracemalloc."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run_once(traces, policy_name, mode_name, scenario)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / MB


def reference_for(day: str, policy: str, mode: str) -> dict[str, Any] | None:
    """CloudSim 4.0's figures for this day (built in, or a folder named after one) and policy, if
    recorded (cloudsim mode only)."""
    if mode != "cloudsim":
        return None
    kind, name = split_trace_spec(day)
    entry = reference_results("cloudsim").get(name if kind else Path(day).name, {}).get(policy)
    return entry if isinstance(entry, dict) else None


def report(
    policy: str,
    mode: str,
    day: str,
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
    parser.add_argument("--traces", default=DEFAULT_DAY, help=f"traces, as neat simulate's (default {DEFAULT_DAY})")
    parser.add_argument("--mode", choices=sorted(MODES), default="cloudsim")
    parser.add_argument("--no-tracemalloc", dest="tracemalloc", action="store_false", help="skip the traced run")
    parser.add_argument("--synthetic", type=int, metavar="VMS", help="a seeded synthetic day of VMS VMs instead")
    parser.add_argument("--hosts", type=int, help="hosts of the standard two types (default: the standard 800)")
    parser.add_argument("--cores", type=int, default=2, help="cores per host with --hosts (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per policy (the first loads the kernels)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    traces = synthetic_planetlab_like(args.synthetic, seed=SEED) if args.synthetic else load_traces(args.traces)
    load_s = time.perf_counter() - started
    scenario = scaled_scenario(args.hosts, args.cores)
    day = args.traces if not args.synthetic else f"synthetic-{args.synthetic}"
    print(f"traces: {day} ({traces.n_vms} VMs x {traces.n_steps} steps, made in {load_s:.2f} s)")
    print(f"scenario: {scenario.name} ({scenario.n_hosts} hosts)")
    print(f"python {sys.version.split()[0]}, peak RSS after loading {peak_rss_mb():.1f} MiB")
    for policy in args.policies:
        for attempt in range(args.repeat):
            result, wall_s, cpu_s = run_once(traces, policy, args.mode, scenario)
            rss_mb = peak_rss_mb()  # before the traced run, whose bookkeeping adds to the RSS
            last = attempt == args.repeat - 1
            traced = traced_peak_mb(traces, policy, args.mode, scenario) if args.tracemalloc and last else None
            report(policy, args.mode, day, result, wall_s, cpu_s, rss_mb, traced)
            if attempt == 0:
                print(f"  first run of this process: {kernel_cache_state(policy, args.mode)}")


if __name__ == "__main__":
    main()
