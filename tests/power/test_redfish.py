"""The redfish driver against sushy-tools' Redfish emulator on loopback, and against dead endpoints.

The emulator accepts a reset at once (HTTP 204) and changes the power state up to a second later
(two for the "slow" systems), so every change goes through transition()'s polling.
"""

from __future__ import annotations

import time

import pytest

from neat.power import BmcUnreachable, PowerCallFailed, StateNotReached, transition
from neat.power.redfish import RedfishDriver
from tests.power.conftest import BMC_PASSWORD, BMC_USER, REDFISH_SLOW_DELAY_S, RedfishBmc

#: Fast polling; the emulator changes state within 2 s.
POLL_S = 0.05
TIMEOUT_S = 5.0


def driver_for(bmc: RedfishBmc, system: str, password_env: str, **kw: object) -> RedfishDriver:
    options: dict[str, object] = {"connect_timeout_s": 1.0, "read_timeout_s": 2.0} | kw
    return RedfishDriver(
        host=f"compute-{system}",
        address=bmc.address,
        system=bmc.systems.get(system, system),
        username=BMC_USER,
        password_env=password_env,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("system", "state"), [("read-on", "on"), ("read-off", "off"), ("read-paused", "suspended")])
def test_the_state_is_read_from_the_system(redfish_bmc: RedfishBmc, bmc_password: str, system: str, state: str) -> None:
    assert driver_for(redfish_bmc, system, bmc_password).state() == state


def test_the_system_is_found_by_path_or_by_uuid(redfish_bmc: RedfishBmc, bmc_password: str) -> None:
    uuid = redfish_bmc.systems["read-on"]
    by_path = driver_for(redfish_bmc, f"/redfish/v1/Systems/{uuid}", bmc_password)
    by_uuid = driver_for(redfish_bmc, uuid.upper(), bmc_password)  # not an Id: matched on the UUID field
    assert by_path.state() == by_uuid.state() == "on"


@pytest.mark.parametrize("off_reset_type", ["ForceOff", "GracefulShutdown"])
def test_power_off_and_on_round_trip(redfish_bmc: RedfishBmc, bmc_password: str, off_reset_type: str) -> None:
    driver = driver_for(redfish_bmc, f"round-trip-{off_reset_type}", bmc_password, off_reset_type=off_reset_type)
    assert driver.state() == "on"

    off = transition(driver, "off", timeout_s=TIMEOUT_S, poll_s=POLL_S, retries=0)
    assert (off.ok, off.confirmed, off.attempts, off.errors) == (True, True, 1, ())
    assert driver.state() == "off"

    on = transition(driver, "on", timeout_s=TIMEOUT_S, poll_s=POLL_S, retries=0)
    assert (on.ok, on.confirmed, on.attempts) == (True, True, 1)
    assert driver.state() == "on"
    driver.close()


def test_a_reset_returns_before_the_state_changes_and_transition_waits(
    redfish_bmc: RedfishBmc, bmc_password: str
) -> None:
    """The "slow" system changes state 1 to 2 s after a reset: read at once, it is still off."""
    driver = driver_for(redfish_bmc, "slow", bmc_password)
    started = time.monotonic()
    driver.power_on()
    assert driver.state() == "off"
    assert time.monotonic() - started < REDFISH_SLOW_DELAY_S - 1

    result = transition(driver, "on", timeout_s=TIMEOUT_S, poll_s=POLL_S, retries=0)
    assert (result.ok, result.confirmed, result.attempts) == (True, True, 1)
    assert result.elapsed_s > REDFISH_SLOW_DELAY_S - 1 - POLL_S  # it polled until the change
    assert driver.state() == "on"


def test_a_change_slower_than_the_timeout_is_reported(redfish_bmc: RedfishBmc, bmc_password: str) -> None:
    driver = driver_for(redfish_bmc, "slow-timeout", bmc_password)
    result = transition(driver, "off", timeout_s=0.3, poll_s=POLL_S, retries=0)
    assert not result.ok and result.final_state == "on"
    assert isinstance(result.error, StateNotReached)
    assert "power_off reported success but the state is 'on', not 'off'" in str(result.error)


def test_a_bmc_that_accepts_resets_and_changes_nothing_is_reported(redfish_bmc: RedfishBmc, bmc_password: str) -> None:
    driver = driver_for(redfish_bmc, "stuck", bmc_password)
    result = transition(driver, "off", timeout_s=0.3, poll_s=POLL_S, retries=2)
    assert not result.ok and result.attempts == 3
    assert [type(e) for e in result.errors] == [StateNotReached] * 3
    assert driver.state() == "on"


def test_a_suspend_action_the_system_does_not_offer_is_refused_once(redfish_bmc: RedfishBmc, bmc_password: str) -> None:
    """The emulator's systems offer On, ForceOff, GracefulShutdown, ... but not Suspend."""
    driver = driver_for(redfish_bmc, "unsupported", bmc_password, off_reset_type="Suspend")
    result = transition(driver, "off", timeout_s=TIMEOUT_S, poll_s=POLL_S, retries=3)
    assert not result.ok and result.attempts == 1
    assert isinstance(result.error, PowerCallFailed) and not result.error.retryable
    assert "does not offer reset type 'Suspend'" in str(result.error)
    assert "it offers: ForceOff, ForceOn, ForceRestart, GracefulRestart, GracefulShutdown, Nmi, On" in str(result.error)
    assert driver.state() == "on"


def test_pause_sleeps_to_suspended() -> None:
    driver = RedfishDriver(host="h", address="http://127.0.0.1:1", system="1", off_reset_type="Pause")
    assert driver.sleep_state == "suspended"
    assert RedfishDriver(host="h", address="http://127.0.0.1:1", system="1").sleep_state == "off"


def test_refused_credentials_are_not_retried_and_never_shown(
    redfish_bmc: RedfishBmc, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEAT_TEST_WRONG_PASSWORD", "not-" + BMC_PASSWORD)
    driver = driver_for(redfish_bmc, "read-on", "NEAT_TEST_WRONG_PASSWORD")
    with pytest.raises(PowerCallFailed) as info:
        driver.state()
    assert not info.value.retryable
    message = str(info.value)
    assert "refused the credentials (user 'neat', password from NEAT_TEST_WRONG_PASSWORD)" in message
    assert "HTTP 401" in message and BMC_PASSWORD not in message
    assert BMC_PASSWORD not in repr(driver)


def test_an_unset_password_variable_is_named(redfish_bmc: RedfishBmc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEAT_TEST_UNSET", raising=False)
    with pytest.raises(PowerCallFailed, match="password_env names NEAT_TEST_UNSET, which is not set"):
        driver_for(redfish_bmc, "read-on", "NEAT_TEST_UNSET").state()


def test_an_unknown_system_is_named_with_the_ones_there_are(redfish_bmc: RedfishBmc, bmc_password: str) -> None:
    with pytest.raises(PowerCallFailed) as info:
        driver_for(redfish_bmc, "no-such-system", bmc_password).state()
    assert not info.value.retryable
    assert "has no system with Id or UUID 'no-such-system'" in str(info.value)
    assert f"/redfish/v1/Systems/{redfish_bmc.systems['read-on']}" in str(info.value)


def test_a_refused_connection_is_unreachable_and_retried_within_bounds(closed_tcp_port: int) -> None:
    driver = RedfishDriver(host="compute-9", address=f"http://127.0.0.1:{closed_tcp_port}", system="1")
    result = transition(driver, "off", timeout_s=TIMEOUT_S, poll_s=POLL_S, retries=2)
    assert not result.ok and result.attempts == 3 and result.final_state == "unknown"
    assert len(result.errors) == 4  # the first read, then three calls
    assert all(isinstance(e, BmcUnreachable) for e in result.errors)
    assert f"compute-9: Redfish BMC at http://127.0.0.1:{closed_tcp_port}: no answer" in str(result.error)
    assert result.elapsed_s < 5.0


def test_a_bmc_that_never_answers_times_out(silent_tcp_port: int) -> None:
    driver = RedfishDriver(
        host="compute-9", address=f"http://127.0.0.1:{silent_tcp_port}", system="1", read_timeout_s=0.3
    )
    started = time.monotonic()
    with pytest.raises(BmcUnreachable, match="no answer to read the power state"):
        driver.state()
    assert time.monotonic() - started < 3.0
