"""Wall time per simulated day of every built-in named policy, with its phase split.

Run: ``python benchmarks/policies.py [--traces DAY] [--mode cloudsim|neat] [--repeat K]
[--json OUT] [--compare OLD.json] [POLICY ...]``.

The built-in named policies are the baselines (``npa``, ``dvfs``) and every overload detector with a
policy parameter (``thr``, ``mad``, ``iqr``, ``lr``, ``lrr``, ``otf``, ``mhod``) crossed with the
published selections (``mmt``, ``mu``, ``rs``, ``mc``), at the literature's parameters. Every
policy runs ``--repeat`` times (default 1) in this one process, after one untimed warm-up run of
``lr-mmt-1.2`` that loads the compiled kernels; the table shows the fastest run's wall time and
the CPU time of the process during it (the steadier figure on a shared machine), the phases the
engine times, whether the round ran compiled, the energy and the migrations.
``--json`` writes the rows; ``--compare`` reads such a file (from an older checkout) and adds its
wall time and the ratio old / new per policy. Results must not differ between old and new: a
changed energy or migration count is flagged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

DETECTORS = {"thr": 0.8, "mad": 2.5, "iqr": 1.5, "lr": 1.2, "lrr": 1.2, "otf": 0.2, "mhod": 0.2}
SELECTIONS = ("mmt", "mu", "rs", "mc")
BUDGET_S = 3.0
PHASES = ("detection", "selection", "placement", "accounting", "execution")


def builtin_policies() -> list[str]:
    """``npa``, ``dvfs`` and every detector-selection pair at its literature parameter."""
    return ["npa", "dvfs"] + [f"{d}-{s}-{p:g}" for d, p in DETECTORS.items() for s in SELECTIONS]


def run(traces: object, mode_name: str, policy_name: str, repeat: int) -> dict[str, object]:
    from neat.decision.kernels.compiled import compiled_round
    from neat.decision.mode import MODES
    from neat.decision.policy import named_policy
    from neat.scenario import cloudsim_standard
    from neat.simulation.engine import Simulation

    best: dict[str, object] | None = None
    for _ in range(repeat):
        policy = named_policy(policy_name, MODES[mode_name])
        sim = Simulation(traces, cloudsim_standard(), policy, seed=1)  # type: ignore[arg-type]
        started, cpu_started = time.perf_counter(), time.process_time()
        result = sim.run()
        wall_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        if best is None or wall_s < float(best["wall_s"]):  # type: ignore[arg-type]
            best = {
                "policy": policy_name,
                "wall_s": round(wall_s, 3),
                "cpu_s": round(cpu_s, 3),
                "compiled": compiled_round(policy),
                "phases_s": {k: round(v, 3) for k, v in result.phases.as_dict().items()},
                "energy_kwh": round(result.energy_kwh, 4),
                "migrations": result.migrations,
            }
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policies", nargs="*", help="policies (default: every built-in named policy)")
    parser.add_argument("--traces", default="planetlab:20110303", help="traces, as neat simulate's")
    parser.add_argument("--mode", choices=("cloudsim", "neat"), default="cloudsim")
    parser.add_argument("--repeat", type=int, default=1, help="runs per policy; the fastest is shown")
    parser.add_argument("--json", dest="json_out", help="write the rows to this file")
    parser.add_argument("--compare", help="rows of an earlier run (--json) to show beside these")
    args = parser.parse_args(argv)

    from neat.traces import load_traces

    traces = load_traces(args.traces)
    old = {}
    if args.compare:
        with open(args.compare) as f:
            old = {row["policy"]: row for row in json.load(f)["rows"]}
    load = os.getloadavg()
    print(
        f"{args.traces}, {args.mode} mode, {traces.n_vms} VMs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    run(traces, args.mode, "lr-mmt-1.2", 1)  # loads the compiled kernels

    names = args.policies or builtin_policies()
    header = f"{'policy':<14}{'wall s':>8}{'CPU s':>7}{'path':>9}" + "".join(f"{p[:6]:>8}" for p in PHASES)
    header += f"{'kWh':>9}{'migr':>7}" + (f"{'old s':>8}{'old/new':>8}" if old else "")
    print(header)
    rows = []
    for name in names:
        row = run(traces, args.mode, name, args.repeat)
        rows.append(row)
        phases = row["phases_s"]
        line = f"{name:<14}{row['wall_s']:>8.2f}{row['cpu_s']:>7.2f}{'compiled' if row['compiled'] else 'numpy':>9}"
        line += "".join(f"{phases[f'{p}_s']:>8.2f}" for p in PHASES)  # type: ignore[index]
        line += f"{row['energy_kwh']:>9.2f}{row['migrations']:>7}"
        if name in old:
            was = old[name]
            line += f"{was['wall_s']:>8.2f}{was['wall_s'] / row['wall_s']:>7.1f}x"  # type: ignore[operator]
            if (was["energy_kwh"], was["migrations"]) != (row["energy_kwh"], row["migrations"]):
                line += "  RESULT CHANGED"
        if float(row["wall_s"]) > BUDGET_S:  # type: ignore[arg-type]
            line += f"  over {BUDGET_S:g} s"
        print(line, flush=True)
    slowest = max(rows, key=lambda r: float(r["wall_s"]))  # type: ignore[arg-type]
    print(f"slowest: {slowest['policy']} {slowest['wall_s']:.2f} s per day (budget {BUDGET_S:g} s)")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"traces": args.traces, "mode": args.mode, "load": load, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
