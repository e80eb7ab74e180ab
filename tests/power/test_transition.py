"""transition(): call, poll, retry within bounds, report; with a scripted driver and a fake clock.

The fake clock advances only when transition() sleeps, so elapsed times are exact sums of pauses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

import neat.power
from algorithms._validation import Flag, Text
from neat.power import (
    BmcUnreachable,
    PowerCallFailed,
    PowerDriver,
    PowerError,
    PowerState,
    StateNotReached,
    transition,
)
from neat.power.base import PowerConfigError, check_parameters


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass(frozen=True, kw_only=True)
class ScriptedDriver(PowerDriver):
    """Reads states from ``reads`` (the last repeats); calls raise the errors in ``call_errors``.

    A read may be a PowerError, raised instead of returning a state.
    """

    reads: list[PowerState | PowerError] = field(default_factory=list, init=False, compare=False)
    call_errors: list[PowerError | None] = field(default_factory=list, init=False, compare=False)
    calls: list[str] = field(default_factory=list, init=False, compare=False)
    readable: bool = True

    PARAMETERS = {**PowerDriver.PARAMETERS, "readable": Flag()}  # noqa: RUF012

    @property
    def reads_state(self) -> bool:
        return self.readable

    def state(self) -> PowerState:
        item = self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]
        if isinstance(item, PowerError):
            raise item
        return item

    def _call(self, name: str) -> None:
        self.calls.append(name)
        error = self.call_errors.pop(0) if self.call_errors else None
        if error is not None:
            raise error

    def power_off(self) -> None:
        self._call("off")

    def power_on(self) -> None:
        self._call("on")


def scripted(
    reads: list[PowerState | PowerError], errors: list[PowerError | None] | None = None, readable: bool = True
) -> ScriptedDriver:
    driver = ScriptedDriver(host="compute-1", readable=readable)
    driver.reads.extend(reads)
    driver.call_errors.extend(errors or [])
    return driver


def run(driver: PowerDriver, target: PowerState, clock: FakeClock, **kw: float) -> neat.power.TransitionResult:
    options: dict[str, float] = {"timeout_s": 10.0, "poll_s": 1.0, "retries": 2} | kw
    return transition(driver, target, clock=clock, sleep=clock.sleep, **options)  # type: ignore[arg-type]


def test_a_host_already_in_the_target_state_gets_no_call() -> None:
    clock = FakeClock()
    driver = scripted(["off"])
    result = run(driver, "off", clock)
    assert (result.ok, result.confirmed, result.attempts, result.final_state) == (True, True, 0, "off")
    assert driver.calls == [] and result.errors == () and result.elapsed_s == 0.0


def test_the_state_is_polled_until_it_changes() -> None:
    """Read before (on), then on, on, off: one call, two pauses of poll_s = 2 s, 4 s elapsed."""
    clock = FakeClock()
    driver = scripted(["on", "on", "on", "off"])
    result = run(driver, "off", clock, poll_s=2.0)
    assert (result.ok, result.confirmed, result.attempts) == (True, True, 1)
    assert driver.calls == ["off"]
    assert clock.sleeps == [2.0, 2.0] and result.elapsed_s == 4.0


def test_success_without_a_state_change_is_reported_and_retried_within_bounds() -> None:
    """timeout 3 s, poll 1 s, 2 retries: 3 calls, each polled for 3 s, 1 s pause between calls."""
    clock = FakeClock()
    driver = scripted(["on"])
    result = run(driver, "off", clock, timeout_s=3.0, poll_s=1.0, retries=2)
    assert not result.ok and not result.confirmed
    assert result.attempts == 3 and driver.calls == ["off"] * 3
    assert result.final_state == "on"
    assert [type(e) for e in result.errors] == [StateNotReached] * 3
    assert result.error is result.errors[-1]
    assert "power_off reported success but the state is 'on', not 'off', 3 s later" in str(result.error)
    assert result.elapsed_s == 3 * 3.0 + 2 * 1.0


def test_the_last_poll_is_cut_to_the_deadline() -> None:
    """timeout 2.5 s with poll 1 s: pauses 1, 1, 0.5."""
    clock = FakeClock()
    result = run(scripted(["on"]), "off", clock, timeout_s=2.5, retries=0)
    assert clock.sleeps == [1.0, 1.0, 0.5] and result.attempts == 1


def test_an_unreachable_bmc_is_retried_then_succeeds() -> None:
    clock = FakeClock()
    refused = BmcUnreachable("compute-1: connection refused")
    driver = scripted(["off", "on"], errors=[refused, None])
    result = run(driver, "on", clock)
    assert (result.ok, result.attempts) == (True, 2)
    assert result.errors == (refused,) and result.error is None
    assert driver.calls == ["on", "on"]


def test_an_unreachable_bmc_is_given_up_after_the_retries() -> None:
    clock = FakeClock()
    errors: list[PowerError | None] = [BmcUnreachable(f"timeout {i}") for i in range(5)]
    result = run(scripted([BmcUnreachable("read timeout")], errors=errors), "on", clock, retries=2)
    assert not result.ok and result.attempts == 3
    assert [str(e) for e in result.errors] == ["read timeout", "timeout 0", "timeout 1", "timeout 2"]
    assert result.final_state == "unknown" and str(result.error) == "timeout 2"
    assert clock.sleeps == [1.0, 1.0]


def test_a_refusal_that_retrying_cannot_fix_ends_at_once() -> None:
    clock = FakeClock()
    refused = PowerCallFailed("compute-1: credentials refused", retryable=False)
    driver = scripted(["on"], errors=[refused])
    result = run(driver, "off", clock, retries=5)
    assert (result.ok, result.attempts, result.error) == (False, 1, refused)
    assert clock.sleeps == []


def test_a_first_read_refused_for_good_means_no_call() -> None:
    """The call would meet the same refusal (credentials, no such system): nothing is sent."""
    clock = FakeClock()
    refused = PowerCallFailed("compute-1: no such system", retryable=False)
    driver = scripted([refused])
    result = run(driver, "on", clock)
    assert (result.ok, result.attempts, result.error, result.final_state) == (False, 0, refused, "unknown")
    assert driver.calls == []


def test_a_failing_read_while_polling_counts_as_unknown_and_is_named() -> None:
    clock = FakeClock()
    driver = scripted(["on", BmcUnreachable("read timed out")])
    result = run(driver, "off", clock, timeout_s=1.0, retries=0)
    assert result.final_state == "unknown"
    assert "the state is 'unknown'" in str(result.error) and "the last read failed: read timed out" in str(result.error)


def test_a_driver_that_reads_nothing_is_accepted_unconfirmed() -> None:
    clock = FakeClock()
    driver = scripted(["unknown"], readable=False)
    result = run(driver, "suspended", clock)
    assert (result.ok, result.confirmed, result.final_state, result.attempts) == (True, False, "unknown", 1)
    assert driver.calls == ["off"]


@pytest.mark.parametrize(
    ("target", "kw", "message"),
    [
        ("suspended", {}, "target_state of ScriptedDriver (host 'compute-1') must be one of ['off', 'on']"),
        ("asleep", {}, "got 'asleep'"),
        ("on", {"timeout_s": 0.0}, "timeout_s must be a finite number > 0; got 0.0"),
        ("on", {"poll_s": -1.0}, "poll_s must be a finite number > 0; got -1.0"),
        ("on", {"retries": -1}, "retries must be an int >= 0; got -1"),
        ("on", {"retries": 1.5}, "retries must be an int >= 0; got 1.5"),
    ],
)
def test_invalid_arguments_are_refused(target: str, kw: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match="transition") as info:
        run(scripted(["on"]), target, FakeClock(), **kw)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_parameter_errors_name_the_driver_the_host_the_rule_and_the_value() -> None:
    with pytest.raises(PowerConfigError) as info:
        ScriptedDriver(host="compute-1", readable=2)  # type: ignore[arg-type]
    assert str(info.value) == (
        "The 'readable' parameter of ScriptedDriver (host 'compute-1') must be true or false. Got 2 instead."
    )


def test_a_parameter_table_that_misses_a_field_is_a_driver_bug() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Broken(ScriptedDriver):
        extra: str = "x"

    with pytest.raises(TypeError, match=r"Broken.PARAMETERS does not match its fields"):
        Broken(host="h")
    Broken.PARAMETERS = {**ScriptedDriver.PARAMETERS, "extra": Text()}
    check_parameters(Broken(host="h"))


def test_the_package_surface_is_sorted_and_resolves() -> None:
    assert neat.power.__all__ == sorted(neat.power.__all__)
    assert all(hasattr(neat.power, name) for name in neat.power.__all__)
    assert neat.power.POWER_STATES == ("on", "off", "suspended", "unknown")


def test_importing_the_package_imports_no_protocol_library() -> None:
    import subprocess
    import sys

    code = "import sys, neat.power; print(sorted(m for m in ('sushy', 'pyghmi', 'wakeonlan') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
