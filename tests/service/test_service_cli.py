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


# -- operator errors: one line, exit status 2 -------------------------------------------------------
def test_status_and_energy_without_a_migrated_database_say_so_and_create_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEAT_CONFIG", raising=False)
    for args in (["status"], ["energy"], ["plan", "list"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "no database file; create it with 'neat db upgrade'" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "neat.db").exists()


def test_a_password_in_the_url_query_is_never_shown(tmp_path):
    url = "postgresql://neat@127.0.0.1:1/neat?password=s3cret"
    config = tmp_path / "neat.toml"
    config.write_text(f'[database]\nurl = "{url}"\n')
    for args in (["status", "--config", str(config)], ["db", "current", "--url", url]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code != 0 and "s3cret" not in result.output, result.output
        assert "password=***" in result.output


@pytest.mark.parametrize("hours", ["nan", "inf", "5e6", "0", "-1"])
def test_energy_refuses_hours_outside_ten_years(tmp_path, hours):
    _, config = make_store(tmp_path)
    result = CliRunner().invoke(main, ["energy", "--config", str(config), "--hours", hours])
    assert result.exit_code == 2 and "--hours must be a number of hours in (0, 87840]" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "is a folder, not a configuration file"),
        (b"\x7fELF\x02\x01\x01\x00\xd0\xff", "not a text file"),
        ("[retention]\nmax_age_s = 0\n", "max_age_s must be a float in [60.0"),
        ("[retention]\nmax_age_s = 600\n", "shorter than the samples the decision reads"),
        ("[power]\nhosts = 5\n", "[power] hosts must be a table; got 5"),
        ("[service]\nlease_ttl = 60\n", "unknown key 'lease_ttl' (did you mean 'lease_ttl_s'?)"),
        ("[samples]\nmax_clock_skew_s = nan\n", "max_clock_skew_s must be a float"),
    ],
)
def test_unusable_configurations_exit_2_with_one_line(tmp_path, monkeypatch, text, expected):
    if text is None:
        monkeypatch.setenv("NEAT_CONFIG", str(tmp_path))
        args = ["status"]
    else:
        path = tmp_path / "neat.toml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        args = ["status", "--config", str(path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output


class UnreachableClient:
    def __getattr__(self, name):
        def call(*args, **kwargs):
            from neat.openstack.errors import CloudUnreachable

            raise CloudUnreachable("listing compute services: the cloud did not answer (Connection refused)")

        return call


def test_plan_with_an_unreachable_cloud_exits_2_with_a_hint(tmp_path, monkeypatch):
    from neat.openstack.client import NovaClient

    _, config = make_store(tmp_path)
    config.write_text(config.read_text() + '[openstack]\ncloud = "production"\n')
    monkeypatch.setattr(NovaClient, "connect", classmethod(lambda cls, cloud, **kw: UnreachableClient()))
    result = CliRunner().invoke(main, ["plan", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "the cloud did not answer" in result.output and "check that Keystone and Nova answer" in result.output


def test_without_clouds_yaml_plan_names_the_settings_to_fix(tmp_path, monkeypatch):
    _, config = make_store(tmp_path)
    for name in ("OS_CLOUD", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "clouds.yaml"
    empty.write_text("clouds: {}\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(empty))
    monkeypatch.setenv("HOME", str(tmp_path))
    result = CliRunner().invoke(main, ["plan", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "[openstack] cloud" in result.output and "OS_CLOUD" in result.output


def test_an_unset_password_env_exits_2(tmp_path, monkeypatch):
    _, config = make_store(tmp_path)
    monkeypatch.delenv("NEAT_TEST_NO_SUCH_PASSWORD", raising=False)
    config.write_text(
        config.read_text()
        + '[power.hosts.c1]\ndriver = "redfish"\naddress = "http://127.0.0.1:1"\nsystem = "s"\n'
        + 'username = "u"\npassword_env = "NEAT_TEST_NO_SUCH_PASSWORD"\n'
    )
    result = CliRunner().invoke(main, ["plan", "--config", str(config)])
    assert result.exit_code == 2 and "NEAT_TEST_NO_SUCH_PASSWORD, which is not set" in result.output


# -- plans: list, show, cancel, apply ---------------------------------------------------------------
def test_plan_list_show_cancel_and_apply_refusals(tmp_path):
    from datetime import timedelta

    from neat.db.records import ActionSpec

    store, config = make_store(tmp_path)
    spec = [
        ActionSpec(kind="migrate", host="c1", vm_uuid="vm1", target_host="c2"),
        ActionSpec(kind="disable", host="c1"),
    ]
    now = datetime.now(UTC)
    fresh = store.create_plan(
        spec, created_by="neat plan", at=now, expires_at=now + timedelta(minutes=15), dry_run=True
    )
    old = store.create_plan(spec, created_by="neat plan", at=AT, expires_at=AT + timedelta(minutes=15), dry_run=True)
    runner = CliRunner()
    listed = json.loads(runner.invoke(main, ["plan", "list", "--config", str(config), "--format", "json"]).output)
    assert [(p["id"], p["state"], p["migrations"]) for p in listed] == [
        (old.id, "expired", 1),
        (fresh.id, "pending", 1),
    ]
    table = runner.invoke(main, ["plan", "list", "--config", str(config)])
    assert table.exit_code == 0 and "expired" in table.output
    shown = json.loads(
        runner.invoke(main, ["plan", "show", str(fresh.id), "--config", str(config), "--format", "json"]).output
    )
    assert [a["kind"] for a in shown["action_list"]] == ["migrate", "disable"]
    cancelled = runner.invoke(main, ["plan", "cancel", str(fresh.id), "--config", str(config)])
    assert cancelled.exit_code == 0 and "2 pending action(s) cancelled" in cancelled.output
    again = runner.invoke(main, ["plan", "cancel", str(fresh.id), "--config", str(config)])
    assert again.exit_code == 2 and "no pending action" in again.output
    missing = runner.invoke(main, ["plan", "show", "999", "--config", str(config)])
    assert missing.exit_code == 2 and "unknown plan: 999" in missing.output
