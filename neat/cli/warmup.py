"""``neat warmup``: compile the kernels once after an install, so the first simulation does not.

numba compiles a kernel on its first call and caches it on disk (beside the installed source); a
day of 60 synthetic VMs under every default policy calls every kernel that ``neat simulate``'s
defaults call (in either mode: the modes differ in numbers, not in kernels), in a few seconds
once they are compiled.

It also byte-compiles neat's and the algorithms' modules. Python does that itself at a module's
first import, except where ``PYTHONDONTWRITEBYTECODE`` is set (as on some managed machines): there
every process would compile them from source again, about 0.06 s of each run's imports.
"""

from __future__ import annotations

import compileall
import time

import click

#: VMs of the warm-up day: enough to overload hosts, migrate and empty some, small enough to be quick.
WARMUP_VMS = 60


@click.command("warmup")
@click.option("--quiet", is_flag=True, help="Say nothing.")
def warmup_cmd(quiet: bool) -> None:
    """Compile the simulator's kernels and byte-compile its modules now (once per install; later runs load them)."""
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
    byte_compile()


def byte_compile() -> None:
    """Write the byte code of every module of neat and algorithms that lacks it or is out of date
    (what cannot be written, e.g. in a read-only install, Python compiles at import as it always does)."""
    import algorithms
    import neat

    for folder in (*neat.__path__, *algorithms.__path__):
        compileall.compile_dir(folder, quiet=2)
