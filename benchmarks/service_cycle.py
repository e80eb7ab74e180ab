"""One global-manager cycle at scale: a fake cloud of N hosts and M VMs, samples as local managers write them.

    python benchmarks/service_cycle.py --hosts 10000 --vms 50000
    python benchmarks/service_cycle.py --hosts 10000 --vms 50000 --database postgresql://postgres@127.0.0.1/test

Steps:

1. the inventory is synced from the fake cloud (a dry-run cycle, as ``neat plan`` does);
2. ``--window`` rounds of history are stored (bulk inserted: a month of local managers' writes
   would take as long to replay as it took to collect), then one more round is written the way
   local managers write it, one transaction per host through the database sink: its time is
   compared with the collection interval (300 s);
3. ``--cycles`` full cycles (sync the inventory, read the windows, decide, plan, store the plan),
   each timed by phase. The first reads the whole windows (as after a start); before each later
   one a new round is bulk inserted, and the cycle reads what the global manager reads in steady
   state: the last two rounds and a count (:meth:`neat.db.store.Store.keep_recent_samples`).

Prints a table, then, last, one JSON line: ``cycle_s`` (the median of the cycles after the first),
``first_cycle_s``, ``read_s``,
``decide_s``, ``plan_s`` (their medians), ``sync_s``, ``write_round_s``, ``peak_rss_mb``. A
benchmark, not a test: the target is a cycle under 5 s at 10,000 hosts and 50,000 VMs, and an
interval's writes well within 300 s.

With a server URL (PostgreSQL, MariaDB) a fresh database ``neat_bench_<random>`` is created on that
server and dropped at the end; without one, a SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neat.config import ServiceConfig  # noqa: E402
from neat.db import migrate  # noqa: E402
from neat.db.engine import make_engine, masked_url, normalize_url  # noqa: E402
from neat.db.store import HOST_SAMPLES, HOSTS, VM_SAMPLES, VMS, Store  # noqa: E402
from neat.decision.policy import parse_policy  # noqa: E402
from neat.local_manager.loop import HostSample, VmSample  # noqa: E402
from neat.local_manager.sinks import StoreSink  # noqa: E402
from neat.openstack.records import ComputeHost, Server  # noqa: E402
from neat.service import global_manager  # noqa: E402
from neat.service.global_manager import GlobalManager  # noqa: E402

COLLECT_S = 300.0
HOST_VCPUS = 32
HOST_RAM_MB = 131072


class FakeCloud:
    """N hosts, M servers spread evenly; reads only (a dry-run cycle changes nothing)."""

    def __init__(self, n_hosts: int, n_vms: int, rng: np.random.Generator) -> None:
        self._hosts = [
            ComputeHost(
                name=f"compute-{h:05d}",
                service_id=str(h),
                service_status="enabled",
                service_state="up",
                vcpus=HOST_VCPUS,
                memory_mb=HOST_RAM_MB,
            )
            for h in range(n_hosts)
        ]
        vcpus = rng.choice([1, 2, 4], size=n_vms)
        self._servers = [
            Server(
                id=f"{v:08x}-0000-4000-8000-{v:012x}",
                name=f"vm-{v}",
                host=self._hosts[v % n_hosts].name,
                status="ACTIVE",
                vcpus=int(vcpus[v]),
                ram_mb=int(vcpus[v]) * 2048,
            )
            for v in range(n_vms)
        ]

    def hosts(self) -> list[ComputeHost]:
        return self._hosts

    def servers(self, host: str | None = None) -> list[Server]:
        return self._servers if host is None else [s for s in self._servers if s.host == host]

    def server_groups(self) -> list[Any]:
        return []

    def aggregates(self) -> dict[str, Any]:
        return {}


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """A migrated, empty database: a new one on the server of ``url``, else a SQLite file."""
    if url is None:
        with tempfile.TemporaryDirectory() as folder:
            target = f"sqlite:///{folder}/bench.db"
            migrate.upgrade(target)
            yield target
        return
    server = normalize_url(url)
    if server.get_backend_name() == "sqlite":
        migrate.upgrade(url)
        yield url
        return
    from sqlalchemy.pool import NullPool

    admin = make_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"neat_bench_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    target = server.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(target)
        yield target
    finally:
        force = " WITH (FORCE)" if server.get_backend_name() == "postgresql" else ""
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


def utilization(rng: np.random.Generator, n: int, rounds: int) -> np.ndarray:
    """(n, rounds) fractions: most VMs light, some busy, so that hosts are both under- and overloaded."""
    level = rng.beta(1.2, 4.0, size=(n, 1))
    noise = rng.normal(0.0, 0.05, size=(n, rounds))
    return np.clip(level + noise, 0.0, 1.0)


def fill_history(store: Store, cloud: FakeCloud, rounds: int, now: datetime, rng: np.random.Generator) -> None:
    """``rounds`` collection rounds before ``now``, bulk inserted."""
    with store.engine.connect() as conn:
        host_ids = dict(conn.execute(HOSTS.select().with_only_columns(HOSTS.c.name, HOSTS.c.id)).all())
        vm_ids = dict(conn.execute(VMS.select().with_only_columns(VMS.c.uuid, VMS.c.id)).all())
    vm_u = utilization(rng, len(cloud.servers()), rounds)
    host_u = utilization(rng, len(cloud.hosts()), rounds)
    vm_keys = [vm_ids[s.id] for s in cloud.servers()]
    host_keys = [host_ids[h.name] for h in cloud.hosts()]
    chunk = 50_000
    with store.engine.begin() as conn:
        for r in range(rounds):
            at = now - timedelta(seconds=COLLECT_S * (rounds - r))
            vm_rows = [
                {"vm_id": k, "recorded_at": at, "cpu_utilization": float(u)}
                for k, u in zip(vm_keys, vm_u[:, r], strict=True)
            ]
            for i in range(0, len(vm_rows), chunk):
                conn.execute(VM_SAMPLES.insert(), vm_rows[i : i + chunk])
            conn.execute(
                HOST_SAMPLES.insert(),
                [
                    {"host_id": k, "recorded_at": at, "cpu_utilization": float(u)}
                    for k, u in zip(host_keys, host_u[:, r], strict=True)
                ],
            )


def write_round(store: Store, cloud: FakeCloud, at: datetime, rng: np.random.Generator) -> float:
    """One collection round the way local managers write it: one transaction per host. Seconds."""
    sink = StoreSink(store)
    by_host: dict[str, list[Server]] = {}
    for server in cloud.servers():
        by_host.setdefault(server.host or "", []).append(server)
    values = utilization(rng, len(cloud.servers()), 1)[:, 0].tolist()
    index = {s.id: i for i, s in enumerate(cloud.servers())}
    started = time.perf_counter()
    for host in cloud.hosts():
        vms = [VmSample(s.id, values[index[s.id]], 0, s.vcpus) for s in by_host.get(host.name, [])]
        sink.write(HostSample(host.name, at, 0.3, 64000.0, HOST_VCPUS), vms)
    return time.perf_counter() - started


def timed_cycle(gm: GlobalManager) -> dict[str, float]:
    """One full dry-run cycle (sync, read, decide, plan, store), with each phase's time."""
    phases = {"read_s": 0.0, "decide_s": 0.0, "plan_s": 0.0}
    read, decide, plan = gm.read, gm.decide, global_manager.plan

    def timing(key: str, fn: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[key] += time.perf_counter() - started

        return run

    gm.read = timing("read_s", read)  # type: ignore[method-assign]
    gm.decide = timing("decide_s", decide)  # type: ignore[method-assign]
    global_manager.plan = timing("plan_s", plan)  # type: ignore[attr-defined]
    try:
        started = time.perf_counter()
        result = gm.cycle(dry_run=True)
        phases["cycle_s"] = time.perf_counter() - started
    finally:
        gm.read, gm.decide, global_manager.plan = read, decide, plan  # type: ignore[method-assign,attr-defined]
    phases["sync_s"] = phases["cycle_s"] - phases["read_s"] - phases["decide_s"] - phases["plan_s"]
    phases["actions"] = float(len(result.plan.actions)) if result.plan is not None else 0.0
    return phases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--vms", type=int, default=5000)
    parser.add_argument(
        "--database", default=None, help="A server URL (a fresh database is made there); default SQLite"
    )
    parser.add_argument("--window", type=int, default=30, help="Samples per host and VM the detectors read.")
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--policy", default="thr-mmt-0.8")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    cloud = FakeCloud(args.hosts, args.vms, rng)
    config = ServiceConfig(
        policy_spec=parse_policy(args.policy),
        history_window=args.window,
        collect_interval_s=COLLECT_S,
        decide_interval_s=COLLECT_S,
    )
    with database(args.database) as url:
        store = Store.from_url(url)
        gm = GlobalManager(config, store, cloud, compute=None, holder="benchmark")  # type: ignore[arg-type]
        started = time.perf_counter()
        gm.cycle(dry_run=True)
        first_sync_s = time.perf_counter() - started
        now = datetime.now(UTC).replace(microsecond=0)
        started = time.perf_counter()
        fill_history(store, cloud, args.window, now - timedelta(seconds=COLLECT_S), rng)
        fill_s = time.perf_counter() - started
        write_round_s = write_round(store, cloud, now - timedelta(seconds=1), rng)
        cycles = []
        for k in range(args.cycles):
            if k:  # a new collection round since the last cycle, as in steady state (bulk inserted)
                fill_history(store, cloud, 1, datetime.now(UTC) - timedelta(seconds=1 - COLLECT_S), rng)
            cycles.append(timed_cycle(gm))
        store.close()
    steady = cycles[1:] or cycles
    med = {
        key: statistics.median(c[key] for c in steady) for key in ("cycle_s", "read_s", "decide_s", "plan_s", "sync_s")
    }
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()
    where = masked_url(args.database) if args.database else "SQLite (a temporary file)"
    print(f"{args.hosts} hosts, {args.vms} VMs, window {args.window}, policy {args.policy}, database {where}")
    print(f"load average before the cycles: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"first inventory sync (every host and VM new): {first_sync_s:8.2f} s")
    print(f"history ({args.window} rounds) bulk inserted:     {fill_s:8.2f} s")
    print(
        f"one round written as local managers write it ({args.hosts} transactions): {write_round_s:.2f} s "
        f"= {100 * write_round_s / COLLECT_S:.1f} % of a {COLLECT_S:.0f} s interval"
    )
    print(f"{'cycle':>6} {'total s':>9} {'sync s':>9} {'read s':>9} {'decide s':>9} {'plan s':>9} {'actions':>8}")
    for i, c in enumerate(cycles, 1):
        print(
            f"{i:>6} {c['cycle_s']:9.3f} {c['sync_s']:9.3f} {c['read_s']:9.3f} {c['decide_s']:9.3f} "
            f"{c['plan_s']:9.3f} {int(c['actions']):>8}"
        )
    print(
        f"first cycle {cycles[0]['cycle_s']:.3f} s (whole windows read); median of the later cycles "
        f"{med['cycle_s']:.3f} s (target < 5 s); peak RSS {peak_rss_mb:.0f} MB"
    )
    record = {
        "hosts": args.hosts,
        "vms": args.vms,
        "database": "sqlite" if args.database is None else normalize_url(args.database).get_backend_name(),
        **{k: round(v, 4) for k, v in med.items()},
        "first_cycle_s": round(cycles[0]["cycle_s"], 4),
        "write_round_s": round(write_round_s, 3),
        "peak_rss_mb": round(peak_rss_mb, 1),
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
