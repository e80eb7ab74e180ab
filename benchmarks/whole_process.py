"""Whole-process speed of ``neat simulate`` on one day against CloudSim 4.0's, side by side.

Run: ``python benchmarks/whole_process.py [--policy NAME] [--day DAY] [--repeat K]
[--cloudsim COMMAND]``.

Times ``neat simulate --traces planetlab:DAY --mode cloudsim --policy NAME`` as a fresh process
(start-up, imports, loading the compiled kernels, the run and the table: what a user waits for),
``--repeat`` times (default 5; ``neat warmup`` runs once before, untimed, as the README's first
command has it: it compiles the kernels and byte-compiles the modules after an install), and
prints the fastest and the median wall time and the CPU time (user + system) of the child.
``--cloudsim`` runs a CloudSim 4.0 command line for the same day and policy in the same
way, right after, so both are measured under the same load; without it, CloudSim's figures are the
ones recorded with the reference results (``neat.traces.reference_results``: wall and user CPU
time of one run on a shared 2-core machine) and the range reported for CloudSim 4.0's reference runs
of such a day, 60 to 90 s wall and about 57 s user CPU, which the table says. The load
average before and after is printed: on a shared machine, read the CPU times first.

CloudSim's command is its example's main, e.g. ``java -cp CLASSES:commons-math3.jar
org.cloudbus.cloudsim.examples.power.planetlab.LrMmt`` with ``workload/planetlab/DAY`` on the
class path. Two things to know when comparing: the example logs every event (hundreds of MB a day;
it runs about twice as fast with its ``enableOutput`` off, which the example hard-codes on), and it
gives VMs the trace files in directory-listing order, where the reference results (and neat) use
sorted file names; with the listing's order the results are a different run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time

from neat.traces import reference_results


def timed(command: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the child: user + system) of one run of ``command``, output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def series(command: list[str], repeat: int) -> tuple[float, float, float, float]:
    """(fastest wall, median wall, fastest CPU, median CPU) over ``repeat`` runs."""
    runs = [timed(command) for _ in range(repeat)]
    walls, cpus = [w for w, _ in runs], [c for _, c in runs]
    return min(walls), statistics.median(walls), min(cpus), statistics.median(cpus)


def summary(best: float, median: float, best_cpu: float, median_cpu: float) -> str:
    wall = f"wall {best:6.2f} s fastest, {median:6.2f} s median"
    return f"  {wall}; CPU {best_cpu:6.2f} s fastest, {median_cpu:6.2f} s median"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="lr-mmt-1.2")
    parser.add_argument("--day", default="20110303", help="a built-in PlanetLab day")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cloudsim", help="a command line that runs CloudSim 4.0 on the same day and policy")
    args = parser.parse_args(argv)

    neat = [sys.executable, "-m", "neat", "simulate", "--traces", f"planetlab:{args.day}", "--mode", "cloudsim"]
    neat += ["--policy", args.policy]
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    timed([sys.executable, "-m", "neat", "warmup", "--quiet"])  # not counted
    best, median, best_cpu, median_cpu = series(neat, args.repeat)
    print(f"neat simulate ({args.policy}, {args.day}, {args.repeat} runs):")
    print(summary(best, median, best_cpu, median_cpu))
    if args.cloudsim:
        c_best, c_median, c_cpu, c_median_cpu = series(shlex.split(args.cloudsim), args.repeat)
        source = "measured now"
    else:
        recorded = reference_results("cloudsim").get(args.day, {}).get(args.policy)
        if not isinstance(recorded, dict) or "wall_s" not in recorded:
            print("CloudSim: no recorded time for this day and policy; pass --cloudsim")
            return 0
        c_best = c_median = float(recorded["wall_s"])
        c_cpu = c_median_cpu = float(recorded["user_cpu_s"])
        source = "recorded with the reference results (user CPU), not measured now"
    print(f"CloudSim 4.0 ({source}):")
    print(summary(c_best, c_median, c_cpu, c_median_cpu))
    if not args.cloudsim:
        print("  reported for the reference runs: 60-90 s wall, about 57 s user CPU")
    print(f"neat faster by: wall x{c_median / median:.1f} (medians), CPU x{c_median_cpu / median_cpu:.1f} (medians)")
    if not args.cloudsim:
        print(f"  against the reported 60 s wall: x{60.0 / median:.1f}, 57 s CPU: x{57.0 / median_cpu:.1f}")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
