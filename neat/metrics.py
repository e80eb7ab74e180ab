"""Prometheus metrics of the global and the local manager (prometheus-client).

Each manager gets its own registry (so tests and one process with both stay apart) and serves it
only when asked: ``--metrics-port PORT``, bound to 127.0.0.1 unless ``--metrics-address`` says
otherwise. Names follow Prometheus' conventions: a ``neat_`` prefix, the unit last, ``_total`` for
counters.
"""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["DEFAULT_METRICS_ADDRESS", "GlobalManagerMetrics", "LocalManagerMetrics", "serve"]

#: Where metrics are served unless told otherwise: this machine only.
DEFAULT_METRICS_ADDRESS = "127.0.0.1"
#: Seconds: from a fast dry run to a cycle that waits for migrations.
CYCLE_BUCKETS_S = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class GlobalManagerMetrics:
    """What the global manager reports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.cycle_duration = Histogram(
            "neat_cycle_duration_seconds", "Duration of one global-manager cycle.", registry=r, buckets=CYCLE_BUCKETS_S
        )
        self.cycles = Counter(
            "neat_cycles_total",
            "Cycles by result: acted, dry_run, idle (nothing to do), no_lease, failed.",
            ["result"],
            registry=r,
        )
        self.decisions = Counter(
            "neat_decisions_total",
            "What cycles decided: overloaded and underloaded hosts, migrations planned, hosts to disable.",
            ["kind"],
            registry=r,
        )
        self.migrations = Counter(
            "neat_migrations_total",
            "Migrations by outcome: completed, failed, timeout, skipped, cancelled, lost.",
            ["outcome"],
            registry=r,
        )
        self.actions_reconciled = Counter(
            "neat_reconciled_actions_total",
            "Actions left open by an interrupted plan, settled from the cloud's records, by final status.",
            ["status"],
            registry=r,
        )
        self.samples_ignored = Counter(
            "neat_samples_ignored_total",
            "Samples left out of a decision: stale (too old) or future (a collector's clock ahead).",
            ["reason"],
            registry=r,
        )
        self.hosts = Gauge(
            "neat_hosts", "Hosts by power state (awake, asleep, other) at the last cycle.", ["state"], registry=r
        )
        self.energy_saved = Gauge(
            "neat_energy_saved_kwh", "Energy saved over the last 24 h against every host awake.", registry=r
        )
        self.lease_held = Gauge(
            "neat_lease_held", "1 while this process holds the global-manager lease, else 0.", ["holder"], registry=r
        )
        self.lease_term = Gauge("neat_lease_term", "The lease's term as this process last saw it.", registry=r)
        self.last_success = Gauge(
            "neat_last_cycle_success_timestamp_seconds", "When the last cycle ended without an error.", registry=r
        )


class LocalManagerMetrics:
    """What a local manager reports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.samples_written = Counter(
            "neat_samples_written_total", "Samples stored, by kind (host, vm).", ["kind"], registry=r
        )
        self.samples_skipped = Counter(
            "neat_samples_skipped_total",
            "Samples not stored: the inventory does not know the VM or host yet.",
            registry=r,
        )
        self.collect_failures = Counter(
            "neat_collect_failures_total",
            "Intervals with nothing written because a source or the database failed.",
            registry=r,
        )
        self.collect_duration = Histogram(
            "neat_collect_duration_seconds", "Duration of one collection (read and write).", registry=r
        )
        self.last_write = Gauge("neat_last_write_timestamp_seconds", "When the last batch was stored.", registry=r)


def serve(metrics: Any, port: int, address: str = DEFAULT_METRICS_ADDRESS) -> tuple[Any, threading.Thread]:
    """Serve ``metrics.registry`` on http://address:port/metrics from a daemon thread; (server, thread)."""
    server, thread = start_http_server(port, addr=address, registry=metrics.registry)
    return server, thread
