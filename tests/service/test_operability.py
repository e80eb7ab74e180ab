"""What operators read: Prometheus metrics, one-line logs with the cycle and plan, neat doctor."""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from prometheus_client import generate_latest

from neat.cli import main
from neat.config import ServiceConfig
from neat.db import migrate
from neat.decision.policy import parse_policy
from neat.local_manager.loop import InMemorySink, LocalManager
from neat.logs import JsonFormatter, LogfmtFormatter, bound, setup_logging
from neat.metrics import GlobalManagerMetrics, LocalManagerMetrics, serve
from neat.service.global_manager import GlobalManager
from tests.service.fakes import FakeNova


def sample(registry, name, **labels):
    return registry.get_sample_value(name, labels or None)


def test_a_cycle_reports_its_metrics(store):
    nova = FakeNova({"vm1": "c1", "vm2": "c1", "vm3": "c2", "vm4": "c2", "vm5": "c3", "vm6": "c3"})
    metrics = GlobalManagerMetrics()
    gm = GlobalManager(ServiceConfig(policy_spec=parse_policy("thr-mmt-0.8")), store, nova, nova, metrics=metrics)
    gm.holder = "gm-1"
    gm.cycle(dry_run=True)
    now = datetime.now(UTC)
    for k in range(5):
        store.record_samples(now - timedelta(minutes=5 * k, seconds=1), vms=dict.fromkeys(nova.placement, 0.1))
    gm.cycle()
    r = metrics.registry
    assert sample(r, "neat_cycles_total", result="dry_run") == 1
    assert sample(r, "neat_cycles_total", result="acted") == 1
    assert sample(r, "neat_cycle_duration_seconds_count") == 2
    assert sample(r, "neat_migrations_total", outcome="completed") >= 1
    assert sample(r, "neat_decisions_total", kind="migrations_planned") >= 1
    assert sample(r, "neat_lease_held", holder="gm-1") == 1
    assert sample(r, "neat_hosts", state="awake") == 3
    assert sample(r, "neat_energy_saved_kwh") is not None
    assert b"neat_samples_ignored_total" in generate_latest(r)


def test_metrics_are_served_on_loopback_only_when_asked():
    metrics = LocalManagerMetrics()
    manager = LocalManager(_Host(), _Vms(), InMemorySink(), host_name="h", metrics=metrics)
    manager.collect_once()
    server, _thread = serve(metrics, 0)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'neat_samples_written_total{kind="host"} 1.0' in body
    assert 'neat_samples_written_total{kind="vm"} 1.0' in body


class _Host:
    def read_host(self):
        from neat.local_manager.loop import HostReading

        return HostReading(0.5, 4000.0, 2)


class _Vms:
    def read_vms(self):
        from neat.local_manager.loop import VmSample

        return [VmSample("vm-a", 0.25, 1, 1)]


def test_log_lines_carry_the_cycle_and_the_plan():
    record = logging.LogRecord("neat.service", logging.INFO, __file__, 1, "plan stored: %d actions", (3,), None)
    with bound(cycle=7, plan=42):
        record.neat_context = {"cycle": 7, "plan": 42}
    line = LogfmtFormatter().format(record)
    assert line.endswith('level=info logger=neat.service cycle=7 plan=42 msg="plan stored: 3 actions"')
    assert line.startswith("ts=") and "\n" not in line
    as_json = json.loads(JsonFormatter().format(record))
    assert (as_json["cycle"], as_json["plan"], as_json["msg"]) == (7, 42, "plan stored: 3 actions")


def test_the_global_options_write_the_log_file(tmp_path):
    log_file = tmp_path / "logs" / "neat.log"
    try:
        result = CliRunner().invoke(
            main, ["--log-level", "debug", "--log-file", str(log_file), "status", "--config", str(tmp_path / "x")]
        )
        assert result.exit_code == 2
        setup_logging("info", log_file)
        with bound(cycle=1):
            logging.getLogger("neat.test").warning("two\nlines")
    finally:
        setup_logging("warning")
    text = log_file.read_text()
    assert 'level=warning logger=neat.test cycle=1 msg="two\\nlines"' in text


def test_doctor_says_what_to_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("OS_CLOUD", raising=False)
    empty = tmp_path / "clouds.yaml"
    empty.write_text("clouds: {}\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(empty))
    config = tmp_path / "neat.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "neat.db"}"\n[openstack]\ncloud = "nowhere"\n')
    result = CliRunner().invoke(main, ["doctor", "--config", str(config), "--format", "json"])
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.output)}
    assert checks["configuration"]["result"] == "ok"
    assert checks["database"]["result"] == "fail" and "neat db upgrade" in checks["database"]["fix"]
    assert checks["cloud"]["result"] == "fail" and "clouds.yaml" in checks["cloud"]["fix"]
    assert checks["power"]["result"] == "skip"
    migrate.upgrade(f"sqlite:///{tmp_path / 'neat.db'}")
    result = CliRunner().invoke(main, ["doctor", "--config", str(config), "--format", "json"])
    checks = {c["name"]: c for c in json.loads(result.output)}
    assert checks["database"]["result"] == "ok" and checks["lease"]["result"] == "ok"
    assert checks["samples"]["result"] == "warn"
    table = CliRunner().invoke(main, ["doctor", "--config", str(config)])
    assert "[openstack]" in table.output or "clouds.yaml" in table.output
