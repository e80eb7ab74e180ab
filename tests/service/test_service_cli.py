"""neat status and the local manager's database sink, on a SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from neat.cli import main
from neat.db import migrate
from neat.db.records import HostInfo, VmInfo
from neat.db.store import Store
from neat.local_manager.loop import HostSample, VmSample
from neat.local_manager.sinks import StoreSink

AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def make_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'neat.db'}"
    migrate.upgrade(url)
    config = tmp_path / "neat.toml"
    config.write_text(f'[database]\nurl = "{url}"\n')
    return Store.from_url(url), config


def test_the_sink_writes_one_round_and_skips_unknown_vms(tmp_path):
    store, _ = make_store(tmp_path)
    store.upsert_hosts([HostInfo(name="c1", cpu_mips=4000, cores=2, ram_mb=4096)])
    store.upsert_vms([VmInfo(uuid="vm-a", host="c1", ram_mb=512, vcpus=1)])
    StoreSink(store).write(
        HostSample(host="c1", timestamp=AT, utilization=0.25, cpu_mhz=4000.0, cpu_cores=2),
        [
            VmSample(uuid="vm-a", utilization=0.5, cpu_time_ns=1, vcpus=1),
            VmSample(uuid="vm-new", utilization=0.1, cpu_time_ns=1, vcpus=1),
        ],
    )
    assert store.host_windows(1).utilization.tolist() == [[0.25]]
    assert store.vm_windows(1).utilization.tolist() == [[0.5]]


def test_status_shows_hosts_latest_utilization_and_vm_counts(tmp_path):
    store, config = make_store(tmp_path)
    store.upsert_hosts(
        [
            HostInfo(name="c1", cpu_mips=4000, cores=2, ram_mb=4096),
            HostInfo(name="c2", cpu_mips=4000, cores=2, ram_mb=4096),
        ]
    )
    store.upsert_vms(
        [VmInfo(uuid="vm-a", host="c1", ram_mb=512, vcpus=1), VmInfo(uuid="vm-b", host="c1", ram_mb=512, vcpus=1)]
    )
    store.record_samples(AT, hosts={"c1": 0.4})
    result = CliRunner().invoke(main, ["status", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["hosts"] == [
        {"name": "c1", "service": "enabled", "power": "unknown", "utilization": 0.4, "vms": 2},
        {"name": "c2", "service": "enabled", "power": "unknown", "utilization": None, "vms": 0},
    ]
    table = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert table.exit_code == 0 and "c1" in table.output and "40%" in table.output


def test_a_bad_configuration_exits_2(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[limits]\nmax_migrations_per_cycle = -3\n")
    result = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert result.exit_code == 2
    assert "max_migrations_per_cycle" in result.output


def test_energy_prices_each_host_with_its_configured_power(tmp_path):
    """c1 takes the [hosts] defaults (a flat 50 W), c2 its profile (a flat 300 W); no samples, on all hour."""
    store, config = make_store(tmp_path)
    store.upsert_hosts([HostInfo(name=n, cpu_mips=4000, cores=2, ram_mb=4096) for n in ("c1", "c2")])
    config.write_text(
        config.read_text()
        + '[hosts]\nidle_w = 50\npeak_w = 50\n[[hosts.profile]]\nmatch = "c2"\nidle_w = 300\npeak_w = 300\n'
    )
    result = CliRunner().invoke(main, ["energy", "--config", str(config), "--hours", "1", "--json"])
    assert result.exit_code == 0, result.output
    used = {h["host"]: h["used_kwh"] for h in json.loads(result.output)["hosts"]}
    assert used == pytest.approx({"c1": 0.05, "c2": 0.3})
