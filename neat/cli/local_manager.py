"""``neat local-manager``: collect this compute host's samples every interval.

Register it in the ``neat`` group with ``main.add_command(local_manager_cmd)``.

The database sink comes from ``neat.local_manager.sinks.make_sink(config)``; tests (and embedders)
inject another through the click context: ``obj={"sink_factory": lambda config: sink}``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from neat.local_manager.libvirt_source import DEFAULT_URI
from neat.local_manager.loop import LocalManager, SampleSink
from neat.local_manager.procstat import PROC_STAT_PATH

log = logging.getLogger(__name__)

SINKS_MODULE = "neat.local_manager.sinks"
#: with --once on a real host: seconds between the baseline reading and the one that is written
ONCE_BASELINE_S = 1.0


def resolve_sink_factory(obj: Any) -> Callable[[Any], SampleSink]:
    """The injected ``obj["sink_factory"]``, else ``make_sink`` of :data:`SINKS_MODULE`."""
    if isinstance(obj, dict) and obj.get("sink_factory") is not None:
        factory: Callable[[Any], SampleSink] = obj["sink_factory"]
        return factory
    if importlib.util.find_spec(SINKS_MODULE) is None:
        raise click.ClickException(
            f"neat local-manager has no database sink: the module {SINKS_MODULE} (with make_sink(config)) "
            "is not part of this installation"
        )
    module = importlib.import_module(SINKS_MODULE)
    make_sink = getattr(module, "make_sink", None)
    if make_sink is None:
        raise click.ClickException(f"neat local-manager: {SINKS_MODULE} has no make_sink(config) function")
    return make_sink


@click.command("local-manager")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The service's TOML configuration. Default: $NEAT_CONFIG, else built-in defaults.",
)
@click.option("--libvirt-uri", default=DEFAULT_URI, show_default=True, help="The hypervisor to read the VMs from.")
@click.option("--host-name", default=None, help="This host's name in the database. Default: the machine's host name.")
@click.option(
    "--proc-stat",
    "proc_stat",
    type=click.Path(dir_okay=False, path_type=Path),
    default=PROC_STAT_PATH,
    show_default=True,
    help="Where to read the host's CPU times.",
)
@click.option(
    "--replay",
    "replay_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Replay recorded traces instead of reading libvirt and /proc/stat, for demos: a built-in day "
    "(planetlab:20110303) or any --traces of neat simulate (a PlanetLab, Bitbrains or Azure path, a long table).",
)
@click.option(
    "--interval-s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds between collections. Default: [intervals] collect_s of the configuration.",
)
@click.option("--once", is_flag=True, help="Collect and write one batch, print it, and exit.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (off by default).",
)
@click.option("--metrics-address", default="127.0.0.1", show_default=True, help="The address metrics are served on.")
@click.pass_context
def local_manager_cmd(
    ctx: click.Context,
    config_path: Path | None,
    libvirt_uri: str,
    host_name: str | None,
    proc_stat: Path,
    replay_path: Path | None,
    interval_s: float | None,
    once: bool,
    metrics_port: int | None,
    metrics_address: str,
) -> None:
    """Collect this compute host's CPU utilization and its VMs' into the database, every interval."""
    from neat.cli.options import configure_logging
    from neat.config import ConfigError, load_config

    if not logging.getLogger().handlers:
        configure_logging(ctx, default_level="info")
    metrics = None
    if metrics_port is not None:
        from neat.metrics import LocalManagerMetrics, serve

        metrics = LocalManagerMetrics()
        try:
            serve(metrics, metrics_port, metrics_address)
        except OSError as exc:
            raise click.ClickException(f"cannot serve metrics on {metrics_address}:{metrics_port}: {exc}") from None
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None
    factory = resolve_sink_factory(ctx.obj)
    try:
        sink = factory(config)
    except Exception as exc:
        where = config.masked_database_url()
        raise click.ClickException(f"cannot set up the database sink for {where}: {exc}") from None
    name = host_name or socket.gethostname()
    closers: list[Callable[[], None]] = []
    if replay_path is not None:
        from neat.local_manager.replay import ReplaySource

        source = ReplaySource(_load_traces(replay_path))
        manager = LocalManager(source, source, sink, host_name=name, metrics=metrics)
        click.echo(f"replaying {source.traces.n_vms} VMs from {replay_path} as host {name}", err=True)
    else:
        from neat.local_manager.libvirt_source import LibvirtSource
        from neat.local_manager.procstat import ProcStatSource

        vms = LibvirtSource(libvirt_uri)
        closers.append(vms.close)
        manager = LocalManager(ProcStatSource(vms.host_capacity, proc_stat), vms, sink, host_name=name, metrics=metrics)
    try:
        if once:
            _once(manager, baseline_needed=replay_path is None)
        else:
            _forever(manager, interval_s or config.collect_interval_s)
    finally:
        for close in closers:
            close()


def _load_traces(path: Path) -> Any:
    from neat.traces import TraceError, load_traces

    try:
        return load_traces(path)
    except TraceError as exc:
        raise click.BadParameter(str(exc), param_hint="--replay") from None


def _once(manager: LocalManager, *, baseline_needed: bool) -> None:
    batch = manager.collect_once()
    if batch is None and baseline_needed:
        time.sleep(ONCE_BASELINE_S)  # the first reading was the baseline of the CPU-time deltas
        batch = manager.collect_once()
    if batch is None:
        raise click.ClickException("nothing was written (the log above says why)")
    if batch.stored_nothing:
        raise click.ClickException(
            f"nothing was stored: the inventory does not know host {batch.host.host!r} nor its "
            f"{len(batch.vms)} VM(s) yet; the global manager syncs it from Nova (run 'neat plan' once), "
            "and the host name must be Nova's (--host-name)"
        )
    host = batch.host
    click.echo(
        f"{host.host} {host.timestamp.isoformat(timespec='seconds')} host {host.utilization:.1%} "
        f"of {host.cpu_cores} CPUs ({host.cpu_mhz:g} MHz), {len(batch.vms)} VMs"
    )
    for vm in batch.vms:
        note = " (not stored: unknown to the inventory)" if vm.uuid in batch.skipped else ""
        click.echo(f"  {vm.uuid} {vm.utilization:.1%} of {vm.vcpus} vCPUs{note}")


def _forever(manager: LocalManager, interval_s: float) -> None:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    log.info("local manager for %s: collecting every %g s", manager.host_name, interval_s)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the scheduler is shut down by run()
        manager.run(interval_s, stop)
    log.info("local manager for %s stopped after %d writes", manager.host_name, manager.writes)
