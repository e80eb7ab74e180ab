"""Scale: a seeded synthetic data center of N hosts and 5 N VMs, one day at 300 s, lr-mmt-1.2.

Hosts are the standard G4/G5 (their power curves and core speeds) with 8 cores and 16 GB each, so
that five standard VMs fit a host at creation (at full MIPS, as CloudSim creates them); cloudsim
mode, so the run is the same algorithm as the parity runs.

Usage: python benchmarks/scale.py [HOSTS ...]   (default: 2000 5000 20000)

Prints, per size, the wall time, the peak memory of the run (a fresh process per size, so the
peak is that size's own) and the per-phase split, then how time grows with the number of hosts.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import resource
import subprocess
import sys
import time

POLICY = "lr-mmt-1.2"


def run_one(n_hosts: int) -> dict[str, object]:
    from neat.decision.mode import CLOUDSIM
    from neat.decision.policy import named_policy
    from neat.scenario import cloudsim_standard
    from neat.simulation.engine import Simulation
    from neat.traces import synthetic_planetlab_like

    base = cloudsim_standard()
    half = n_hosts // 2
    g4, g5 = base.host_types
    scenario = dataclasses.replace(
        base,
        host_types=(
            dataclasses.replace(g4, count=half, cores=8, ram_mb=16384.0),
            dataclasses.replace(g5, count=n_hosts - half, cores=8, ram_mb=16384.0),
        ),
    )
    started = time.perf_counter()
    traces = synthetic_planetlab_like(n_vms=5 * n_hosts, seed=7)
    generated_s = time.perf_counter() - started
    result = Simulation(traces, scenario, named_policy(POLICY, CLOUDSIM)).run()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "hosts": n_hosts,
        "vms": 5 * n_hosts,
        "traces_s": round(generated_s, 2),
        "wall_s": round(result.wall_time_s, 2),
        "peak_rss_mb": round(peak_mb, 1),
        "phases_s": result.phases.as_dict(),
        "energy_kwh": round(result.energy_kwh, 2),
        "migrations": result.migrations,
    }


def main(sizes: list[int]) -> int:
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        phases = ", ".join(f"{k.removesuffix('_s')} {v:.1f}" for k, v in row["phases_s"].items())
        size = f"{row['hosts']:6d} hosts {row['vms']:7d} VMs"
        cost = f"wall {row['wall_s']:7.1f} s, peak {row['peak_rss_mb']:7.0f} MB"
        print(f"{size}: {cost} (traces {row['traces_s']:.1f} s; {phases}); {row['migrations']} migrations", flush=True)
    for a, b in itertools.pairwise(rows):
        ratio = b["wall_s"] / a["wall_s"] if a["wall_s"] else float("nan")
        print(f"{a['hosts']} -> {b['hosts']} hosts (x{b['hosts'] / a['hosts']:.1f}): time x{ratio:.1f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(int(sys.argv[2]))))
        sys.exit(0)
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hosts", type=int, nargs="*", default=[2000, 5000, 20000], help="data center sizes")
    sys.exit(main(parser.parse_args().hosts))
