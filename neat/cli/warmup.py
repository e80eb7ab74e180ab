"""``neat warmup``: compile the kernels once after an install, so the first simulation does not.

numba compiles a kernel on its first call and caches it on disk (beside the installed source); a
day of 60 synthetic VMs under every default policy calls every kernel that ``neat simulate``'s
defaults call (in either mode: the modes differ in numbers, not in kernels), in a few seconds
once they are compiled.
"""

from __future__ import annotations

import time

import click

#: VMs of the warm-up day: enough to overload hosts, migrate and empty some, small enough to be quick.
WARMUP_VMS = 60


@click.command("warmup")
@click.option("--quiet", is_flag=True, help="Say nothing.")
def warmup_cmd(quiet: bool) -> None:
    """Compile the simulator's kernels now (once per install; later runs load them from the cache)."""
    from neat.cli.compiling import compilation_notice
    from neat.decision.mode import MODES
    from neat.decision.policy import DEFAULT_POLICIES, named_policy
    from neat.scenario import scenario_for
    from neat.simulation.engine import Simulation
    from neat.traces import synthetic_planetlab_like

    said: list[str] = []

    def say(message: str) -> None:
        said.append(message)
        if not quiet:
            click.echo(f"neat: {message}", err=True)

    started = time.perf_counter()
    traces = synthetic_planetlab_like(n_vms=WARMUP_VMS, seed=1)
    with compilation_notice(say):
        scenario = scenario_for(None, "neat")
        for name in DEFAULT_POLICIES:
            Simulation(traces, scenario, named_policy(name, MODES["neat"]), seed=1).run()
    if not said:
        say(f"kernels already compiled ({time.perf_counter() - started:.1f} s)")
