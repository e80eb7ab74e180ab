"""The wol driver: magic packets captured on a loopback UDP socket, commands run without a shell.

``ssh`` and ``probe`` are fake commands on PATH that record their argument lists and exit as told.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from neat.power import BmcUnreachable, PowerCallFailed, PowerConfigError, StateNotReached, transition
from neat.power.wol import WolDriver
from tests.power.conftest import FakeCommands, PacketSink

MAC = "52:54:00:12:34:56"
#: 6 bytes 0xFF, then the MAC 16 times: 102 bytes.
MAGIC = b"\xff" * 6 + bytes.fromhex("525400123456") * 16
POLL_S = 0.05


def driver_for(sink: PacketSink, **kw: object) -> WolDriver:
    return WolDriver(host="compute-3", mac=MAC, broadcast="127.0.0.1", port=sink.port, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("mac", ["52:54:00:12:34:56", "52-54-00-12-34-56", "525400123456", "5254.0012.3456"])
def test_power_on_sends_the_magic_packet(magic_sink: PacketSink, mac: str) -> None:
    driver = WolDriver(host="compute-3", mac=mac, broadcast="127.0.0.1", port=magic_sink.port)
    driver.power_on()
    assert magic_sink.packets() == [MAGIC]
    assert len(MAGIC) == 102


def test_suspend_runs_the_argument_list_without_a_shell(
    magic_sink: PacketSink, fake_commands: FakeCommands, tmp_path: Path
) -> None:
    """Shell syntax in an argument reaches ssh as one literal argument; nothing is executed."""
    marker = tmp_path / "pwned"
    command = ("ssh", "-o", "BatchMode=yes", "root@{host}", "systemctl", "suspend", f"$(touch {marker}); echo {{host}}")
    driver = driver_for(magic_sink, suspend_command=command)
    driver.power_off()
    assert fake_commands.calls("ssh") == [
        ["-o", "BatchMode=yes", "root@compute-3", "systemctl", "suspend", f"$(touch {marker}); echo compute-3"]
    ]
    assert not marker.exists()


def test_ssh_host_replaces_the_placeholder_in_every_argument(
    magic_sink: PacketSink, fake_commands: FakeCommands
) -> None:
    driver = driver_for(magic_sink, ssh_host="10.0.0.3", suspend_command=("ssh", "{host}", "echo", "{host}{host}"))
    assert driver.argv(driver.suspend_command) == ["ssh", "10.0.0.3", "echo", "10.0.0.310.0.0.3"]
    driver.power_off()
    assert fake_commands.calls("ssh") == [["10.0.0.3", "echo", "10.0.0.310.0.0.3"]]


def test_the_default_suspend_command_is_ssh_systemctl_suspend(
    magic_sink: PacketSink, fake_commands: FakeCommands
) -> None:
    driver_for(magic_sink).power_off()
    assert fake_commands.calls("ssh") == [["-o", "BatchMode=yes", "compute-3", "sudo", "-n", "systemctl", "suspend"]]


@pytest.mark.parametrize(
    ("exit_code", "error", "message"),
    [
        (255, BmcUnreachable, "could not reach the host (exit status 255: ssh: exit 255)"),
        (1, PowerCallFailed, "failed (exit status 1: ssh: exit 1)"),
        ("hang", BmcUnreachable, "did not finish within 0.5 s"),
    ],
)
def test_suspend_failures_are_mapped(
    magic_sink: PacketSink, fake_commands: FakeCommands, exit_code: int | str, error: type, message: str
) -> None:
    fake_commands.exits("ssh", exit_code)
    driver = driver_for(magic_sink, command_timeout_s=0.5)
    with pytest.raises(error) as info:
        driver.power_off()
    assert str(info.value) == f"compute-3: suspend command 'ssh' {message}"


def test_a_missing_command_is_refused_for_good(magic_sink: PacketSink) -> None:
    driver = driver_for(magic_sink, suspend_command=("/nonexistent/neat-ssh", "{host}"))
    with pytest.raises(PowerCallFailed, match="command '/nonexistent/neat-ssh' not found") as info:
        driver.power_off()
    assert not info.value.retryable


def test_the_probe_reads_the_state(magic_sink: PacketSink, fake_commands: FakeCommands) -> None:
    driver = driver_for(magic_sink, probe_command=("probe", "{host}", "true"))
    fake_commands.exits("probe", 0, 255, 1)
    assert [driver.state(), driver.state(), driver.state()] == ["on", "suspended", "suspended"]
    assert fake_commands.calls("probe") == [["compute-3", "true"]] * 3
    assert driver_for(magic_sink).state() == "unknown"  # no probe: nothing to read


def test_suspend_then_wake_round_trip(magic_sink: PacketSink, fake_commands: FakeCommands) -> None:
    """The probe answers: up (first read), up, down (asleep); then down, down, up (awake)."""
    driver = driver_for(magic_sink, probe_command=("probe", "{host}"), sleep_state="suspended")
    fake_commands.exits("probe", 0, 0, 255, 255, 255, 0)

    asleep = transition(driver, "suspended", timeout_s=5.0, poll_s=POLL_S, retries=0)
    assert (asleep.ok, asleep.confirmed, asleep.attempts) == (True, True, 1)
    assert len(fake_commands.calls("ssh")) == 1

    awake = transition(driver, "on", timeout_s=5.0, poll_s=POLL_S, retries=0)
    assert (awake.ok, awake.confirmed, awake.attempts) == (True, True, 1)
    assert magic_sink.packets() == [MAGIC]


def test_a_host_that_never_comes_back_is_reported_after_bounded_retries(
    magic_sink: PacketSink, fake_commands: FakeCommands
) -> None:
    driver = driver_for(magic_sink, probe_command=("probe", "{host}"))
    fake_commands.exits("probe", 255)
    result = transition(driver, "on", timeout_s=0.2, poll_s=POLL_S, retries=2)
    assert not result.ok and result.attempts == 3 and result.final_state == "suspended"
    assert [type(e) for e in result.errors] == [StateNotReached] * 3
    assert "power_on reported success but the state is 'suspended', not 'on'" in str(result.error)
    assert magic_sink.packets() == [MAGIC] * 3


def test_without_a_probe_a_wake_is_sent_but_unconfirmed(magic_sink: PacketSink) -> None:
    result = transition(driver_for(magic_sink), "on", timeout_s=1.0, poll_s=POLL_S)
    assert (result.ok, result.confirmed, result.final_state, result.attempts) == (True, False, "unknown", 1)
    assert magic_sink.packets() == [MAGIC]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (
            {"suspend_command": "ssh compute-3 systemctl suspend"},
            "It looks like a shell string; give the command as a list",
        ),
        ({"mac": "52:54:00:12:34"}, "The 'mac' parameter of WolDriver (host 'compute-3') must be a non-empty string"),
        ({"ssh_host": "-oProxyCommand=touch x"}, "The 'ssh_host' parameter"),
        ({"probe_command": ()}, "The 'probe_command' parameter"),
        ({"sleep_state": "Suspended"}, "Did you mean 'suspended'?"),
    ],
)
def test_invalid_configuration_is_refused(kw: dict[str, object], message: str) -> None:
    with pytest.raises(PowerConfigError) as info:
        WolDriver(**{"host": "compute-3", "mac": MAC} | kw)  # type: ignore[arg-type]
    assert message in str(info.value)
