"""``neat local-manager``: options, the injected sink, --once on the test driver and on a replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from neat.cli import local_manager as cli
from neat.cli.local_manager import local_manager_cmd, resolve_sink_factory
from neat.local_manager.loop import InMemorySink, LocalManager
from neat.local_manager.replay import replay_uuid


@pytest.fixture
def sink() -> InMemorySink:
    return InMemorySink()


def invoke(args: list[str], sink: InMemorySink | None = None, **kwargs):
    obj = {"sink_factory": lambda config: sink} if sink is not None else None
    return CliRunner().invoke(local_manager_cmd, args, obj=obj, **kwargs)


def planetlab_day(folder: Path) -> Path:
    """Two VMs of 288 five-minute percents: vm-a 10, 20, 10, 20, ...; vm-b always 50."""
    folder.mkdir()
    (folder / "vm-a").write_text("".join(f"{10 if i % 2 == 0 else 20}\n" for i in range(288)))
    (folder / "vm-b").write_text("50\n" * 288)
    return folder


def test_once_on_a_replayed_planetlab_day(tmp_path, sink):
    """Step 0: vm-a 0.1, vm-b 0.5; the host (one 2000 MHz core per VM) is their mean, 0.3."""
    result = invoke(["--replay", str(planetlab_day(tmp_path / "day")), "--host-name", "demo-1", "--once"], sink)
    assert result.exit_code == 0, result.output
    (batch,) = sink.batches
    assert (batch.host.host, batch.host.utilization, batch.host.cpu_cores) == ("demo-1", pytest.approx(0.3), 2)
    assert [(vm.uuid, vm.utilization) for vm in batch.vms] == [(replay_uuid("vm-a"), 0.1), (replay_uuid("vm-b"), 0.5)]
    assert "demo-1" in result.output and "host 30.0% of 2 CPUs (4000 MHz), 2 VMs" in result.output
    assert f"{replay_uuid('vm-a')} 10.0% of 1 vCPUs" in result.output


def test_once_on_the_libvirt_test_driver_and_this_machines_proc_stat(monkeypatch, sink):
    monkeypatch.setattr(cli, "ONCE_BASELINE_S", 0.3)
    result = invoke(["--libvirt-uri", "test:///default", "--proc-stat", "/proc/stat", "--once"], sink)
    assert result.exit_code == 0, result.output
    (batch,) = sink.batches
    assert 0.0 <= batch.host.utilization <= 1.0
    assert (batch.host.cpu_mhz, batch.host.cpu_cores) == (22400.0, 16)
    assert [(vm.uuid, vm.vcpus) for vm in batch.vms] == [("6695eb01-f6a4-8304-79aa-97f2502e193f", 2)]


def test_once_fails_clearly_when_nothing_could_be_written(monkeypatch, tmp_path, sink):
    monkeypatch.setattr(cli, "ONCE_BASELINE_S", 0.0)
    result = invoke(["--libvirt-uri", f"test://{tmp_path}/missing.xml", "--once"], sink)
    assert result.exit_code == 1
    assert "nothing was written (the log above says why)" in result.output
    assert sink.batches == []


def test_the_loop_uses_the_configured_interval_unless_given(monkeypatch, tmp_path, sink):
    calls = []
    monkeypatch.setattr(LocalManager, "run", lambda self, interval_s, stop: calls.append((self.host_name, interval_s)))
    config = tmp_path / "neat.toml"
    config.write_text("[intervals]\ncollect_s = 60\n")
    day = str(planetlab_day(tmp_path / "day"))
    assert invoke(["--config", str(config), "--replay", day, "--host-name", "h"], sink).exit_code == 0
    assert (
        invoke(["--config", str(config), "--replay", day, "--host-name", "h", "--interval-s", "2"], sink).exit_code == 0
    )
    assert calls == [("h", 60.0), ("h", 2.0)]


def test_a_bad_configuration_is_a_usage_error(tmp_path, sink):
    config = tmp_path / "neat.toml"
    config.write_text("[intervals]\ncollect_s = 0\n")
    result = invoke(["--config", str(config), "--once"], sink)
    assert result.exit_code == 2
    assert "[intervals] collect_s must be a float in [1.0, 86400.0]; got 0" in result.output


def test_a_bad_replay_folder_is_a_usage_error(tmp_path, sink):
    folder = tmp_path / "day"
    folder.mkdir()
    (folder / "vm-a").write_text("10\n" * 12)
    result = invoke(["--replay", str(folder), "--once"], sink)
    assert result.exit_code == 2
    assert "has 12 lines; expected 288" in result.output


def test_without_a_sink_module_the_command_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(cli, "SINKS_MODULE", "neat.local_manager._no_such_sinks")
    result = invoke(["--replay", ".", "--once"])
    assert result.exit_code == 1
    assert "no database sink: the module neat.local_manager._no_such_sinks (with make_sink(config))" in result.output


def test_the_sink_module_is_imported_lazily(monkeypatch, tmp_path):
    (tmp_path / "my_sinks.py").write_text("SINK = object()\ndef make_sink(config):\n    return SINK\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "SINKS_MODULE", "my_sinks")
    factory = resolve_sink_factory(None)
    import my_sinks

    assert factory(None) is my_sinks.SINK


def test_a_sink_module_without_make_sink_is_reported(monkeypatch, tmp_path):
    (tmp_path / "empty_sinks.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "SINKS_MODULE", "empty_sinks")
    result = invoke(["--once"])
    assert result.exit_code == 1
    assert "empty_sinks has no make_sink(config) function" in result.output


def test_a_sink_that_cannot_be_set_up_is_reported_with_a_masked_url(tmp_path):
    config = tmp_path / "neat.toml"
    config.write_text('[database]\nurl = "postgresql+psycopg://neat:s3cret@db.example/neat"\n')

    def factory(config):
        raise OSError("no route to host")

    result = CliRunner().invoke(local_manager_cmd, ["--config", str(config), "--once"], obj={"sink_factory": factory})
    assert result.exit_code == 1
    assert "cannot set up the database sink for postgresql+psycopg://neat:***@db.example/neat" in result.output
    assert "s3cret" not in result.output


def test_help_lists_the_options():
    result = CliRunner().invoke(local_manager_cmd, ["--help"])
    assert result.exit_code == 0
    for option in ("--config", "--libvirt-uri", "--host-name", "--proc-stat", "--replay", "--interval-s", "--once"):
        assert option in result.output
    assert "qemu:///system" in result.output


def test_once_without_an_inventory_says_nothing_was_stored(tmp_path):
    """A replay whose VMs (and host) Nova's inventory does not know: the database sink skips them
    all, and --once says so instead of reporting success."""
    from neat.db import migrate
    from neat.db.store import Store
    from neat.local_manager.sinks import StoreSink

    url = f"sqlite:///{tmp_path / 'neat.db'}"
    migrate.upgrade(url)
    store = Store.from_url(url)
    obj = {"sink_factory": lambda config: StoreSink(store)}
    day = str(planetlab_day(tmp_path / "day"))
    result = CliRunner().invoke(local_manager_cmd, ["--replay", day, "--host-name", "demo-1", "--once"], obj=obj)
    assert result.exit_code == 1, result.output
    assert "nothing was stored: the inventory does not know host 'demo-1' nor its 2 VM(s)" in result.output
    assert store.host_windows(1).names == ()
    store.close()


def test_samples_unknown_to_the_inventory_are_logged_once_not_every_interval(tmp_path, caplog):
    from neat.local_manager.replay import ReplaySource
    from neat.traces import load_traces

    class Skipping:
        def write(self, host, vms):
            return [v.uuid for v in vms]

    source = ReplaySource(load_traces(planetlab_day(tmp_path / "day")))
    manager = LocalManager(source, source, Skipping(), host_name="h")
    with caplog.at_level("DEBUG", logger="neat.local_manager.loop"):
        for _ in range(5):
            manager.collect_once()
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "2 of 3 samples not stored" in warnings[0].getMessage()
    assert all(replay_uuid("vm-a") not in r.getMessage() for r in caplog.records if r.levelname == "INFO")
