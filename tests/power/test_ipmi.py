"""The ipmi driver against an IPMI BMC on loopback built on pyghmi's BMC server class.

Each test starts its own BMC process (about 0.2 s); the BMC accepts a chassis command at once and
changes state ``delay_s`` later. On loopback pyghmi's client now and then notices a reply only
when its retransmit timer fires (0.5 to 1 s later), so timings here are lower bounds with slack.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from neat.power import BmcUnreachable, PowerCallFailed, StateNotReached, transition
from neat.power.ipmi import IpmiDriver
from tests.power.conftest import BMC_PASSWORD, BMC_USER

POLL_S = 0.05
TIMEOUT_S = 5.0

StartBmc = Callable[..., int]


def driver_for(port: int, password_env: str, **kw: object) -> IpmiDriver:
    options: dict[str, object] = {"call_timeout_s": 10.0} | kw
    return IpmiDriver(
        host="compute-2",
        address="127.0.0.1",
        port=port,
        username=options.pop("username", BMC_USER),  # type: ignore[arg-type]
        password_env=password_env,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("off_command", ["off", "softoff"])
def test_power_off_and_on_round_trip(ipmi_bmc: StartBmc, bmc_password: str, off_command: str) -> None:
    driver = driver_for(ipmi_bmc(power="on", delay_s=0.3), bmc_password, off_command=off_command)
    assert driver.state() == "on"

    off = transition(driver, "off", timeout_s=TIMEOUT_S, poll_s=POLL_S, retries=0)
    assert (off.ok, off.confirmed, off.attempts, off.errors) == (True, True, 1, ())
    assert off.elapsed_s >= 0.3
    assert driver.state() == "off"

    on = transition(driver, "on", timeout_s=TIMEOUT_S, poll_s=POLL_S, retries=0)
    assert (on.ok, on.confirmed, on.attempts) == (True, True, 1)
    assert driver.state() == "on"
    driver.close()


def test_a_command_returns_before_the_state_changes(ipmi_bmc: StartBmc, bmc_password: str) -> None:
    driver = driver_for(ipmi_bmc(power="off", delay_s=1.0), bmc_password)
    driver.power_on()
    assert driver.state() == "off"
    result = transition(driver, "on", timeout_s=TIMEOUT_S, poll_s=POLL_S, retries=0)
    assert result.confirmed and result.elapsed_s >= 0.5


def test_a_bmc_that_accepts_commands_and_changes_nothing_is_reported(ipmi_bmc: StartBmc, bmc_password: str) -> None:
    driver = driver_for(ipmi_bmc(power="on", stuck=True), bmc_password)
    result = transition(driver, "off", timeout_s=0.3, poll_s=POLL_S, retries=1)
    assert not result.ok and result.attempts == 2 and result.final_state == "on"
    assert [type(e) for e in result.errors] == [StateNotReached] * 2
    assert "compute-2: power_off reported success but the state is 'on', not 'off'" in str(result.error)


def test_a_wrong_password_is_refused_once_and_never_shown(ipmi_bmc: StartBmc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEAT_TEST_WRONG_PASSWORD", "not-" + BMC_PASSWORD)
    driver = driver_for(ipmi_bmc(), "NEAT_TEST_WRONG_PASSWORD")
    result = transition(driver, "off", timeout_s=TIMEOUT_S, poll_s=POLL_S, retries=3)
    assert not result.ok and result.attempts == 0  # the first read was refused: no call is tried
    assert isinstance(result.error, PowerCallFailed) and not result.error.retryable
    assert "refused user 'neat' (password from NEAT_TEST_WRONG_PASSWORD)" in str(result.error)
    assert "Incorrect password" in str(result.error)
    assert BMC_PASSWORD not in str(result.error)


def test_a_silent_bmc_is_unreachable_after_the_call_timeout_and_retried_within_bounds(
    silent_udp_port: int, bmc_password: str
) -> None:
    """call_timeout 0.5 s: the first read and two calls give up after 0.5 s each."""
    driver = driver_for(silent_udp_port, bmc_password, call_timeout_s=0.5)
    result = transition(driver, "on", timeout_s=TIMEOUT_S, poll_s=POLL_S, retries=1)
    assert not result.ok and result.attempts == 2
    assert [type(e) for e in result.errors] == [BmcUnreachable] * 3
    assert f"compute-2: IPMI BMC at 127.0.0.1:{silent_udp_port}: no answer to power on within 0.5 s" == str(
        result.error
    )
    assert 1.5 <= result.elapsed_s < 4.0


def test_pyghmis_own_login_timeout_is_unreachable(silent_udp_port: int, bmc_password: str) -> None:
    """pyghmi gives up on a silent BMC after about 5 s, with an error that has no message."""
    driver = driver_for(silent_udp_port, bmc_password, call_timeout_s=30.0)
    started = time.monotonic()
    with pytest.raises(BmcUnreachable, match=r"no answer to read the power state \(login timed out\)"):
        driver.state()
    assert time.monotonic() - started < 15.0


def test_a_bmc_that_stops_answering_mid_handshake_cannot_hang_the_caller(ipmi_bmc: StartBmc, bmc_password: str) -> None:
    """pyghmi's BMC ignores an unknown user's RAKP1; pyghmi's client then waits forever."""
    driver = driver_for(ipmi_bmc(), bmc_password, username="nobody", call_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(BmcUnreachable, match=r"within 0\.5 s"):
        driver.power_off()
    assert time.monotonic() - started < 2.0


def test_an_unset_password_variable_is_named(ipmi_bmc: StartBmc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEAT_TEST_UNSET", raising=False)
    with pytest.raises(PowerCallFailed, match="password_env names NEAT_TEST_UNSET, which is not set") as info:
        driver_for(ipmi_bmc(), "NEAT_TEST_UNSET").state()
    assert not info.value.retryable
