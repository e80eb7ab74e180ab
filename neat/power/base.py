"""Host power drivers: the interface, their errors, their parameter tables, and :func:`transition`.

A driver manages one host's power through one protocol (Redfish, IPMI, Wake-on-LAN, nothing). It
is a frozen keyword-only dataclass whose fields are its configuration, checked against its
``PARAMETERS`` table when it is built; the constructor does nothing else, so a driver never talks
to its endpoint before it is asked to. Three calls, each raising a :class:`PowerError`:

``state()``
    The power state the driver can read: ``"on"``, ``"off"``, ``"suspended"`` or ``"unknown"``.
``power_off()``
    Ask for the host's sleep state (:attr:`PowerDriver.sleep_state`: powered off or suspended).
``power_on()``
    Ask for the host to be on.

A call returns once the endpoint accepted the request; the state changes later, like on real
hardware. :func:`transition` issues a call, polls the state until it reads the target (or a
timeout), retries within bounds, and reports every failure, including a call that said yes and
changed nothing.
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from algorithms._validation import Constraint, Text, validate_parameters

log = logging.getLogger(__name__)

PowerState = Literal["on", "off", "suspended", "unknown"]
#: Every state a driver may read.
POWER_STATES: tuple[PowerState, ...] = ("on", "off", "suspended", "unknown")
#: Defaults of :func:`transition`: a server may take minutes to boot or to shut down.
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_POLL_S = 5.0
DEFAULT_RETRIES = 2
#: An environment variable name, as ``password_env`` takes it.
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


# --- errors ------------------------------------------------------------------------------------


class PowerError(Exception):
    """A power call failed. ``retryable``: may the same call succeed if tried again later?"""

    retryable: bool = True

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class BmcUnreachable(PowerError):
    """No answer from the endpoint: connection refused, timed out, or the host is not reachable."""


class PowerCallFailed(PowerError):
    """The endpoint answered and refused or failed the request (credentials, unsupported action, ...)."""


class StateNotReached(PowerError):
    """The call reported success, but the state did not reach the target in time."""


class PowerConfigError(ValueError):
    """A host's power configuration is unusable; the message names the host, the key and the value."""


# --- parameter tables: the project's constraints (algorithms._validation) ---


def check_parameters(obj: Any) -> None:
    """Check every constructor field of ``obj`` against ``type(obj).PARAMETERS``.

    Raises
    ------
    PowerConfigError
        ``The 'port' parameter of IpmiDriver (host 'compute-1') must be an int in [1, 65535].
        Got 0 instead.``
    TypeError
        The table and the fields disagree (a mistake in the driver, not in the configuration).
    """
    host = getattr(obj, "host", None)
    name = type(obj).__name__
    owner = name if not isinstance(host, str) or not host else f"{name} (host {host!r})"
    validate_parameters(obj, owner=owner, error=PowerConfigError)


# --- the driver interface ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PowerDriver(ABC):
    """Power management of one host through one protocol.

    Subclasses are frozen keyword-only dataclasses: their fields are the configuration keys of the
    host's power table (besides ``driver``), each declared in ``PARAMETERS``. A field with
    ``init=False`` holds a cached connection and is not configuration.

    Parameters
    ----------
    host : str
        The compute host this driver manages (as Nova names it); it names the host in messages.
    """

    PARAMETERS: ClassVar[dict[str, Constraint]] = {
        # never an option to a command it may reach (ssh -oProxyCommand=...)
        "host": Text("the compute host's name, not starting with '-'", pattern=r"[^-\s][^\s]*"),
    }

    host: str

    def __post_init__(self) -> None:
        check_parameters(self)

    @property
    def sleep_state(self) -> PowerState:
        """The state :meth:`power_off` leads to, as :meth:`state` reads it."""
        return "off"

    @property
    def reads_state(self) -> bool:
        """Can :meth:`state` read anything but ``"unknown"``?"""
        return True

    @abstractmethod
    def state(self) -> PowerState:
        """Read the host's power state now.

        Raises
        ------
        BmcUnreachable, PowerCallFailed
        """

    @abstractmethod
    def power_off(self) -> None:
        """Ask for :attr:`sleep_state`; returns once the request is accepted, not once it is done."""

    @abstractmethod
    def power_on(self) -> None:
        """Ask for the host to be on; returns once the request is accepted, not once it is done."""

    def close(self) -> None:  # noqa: B027 (a hook: most drivers hold nothing)
        """Release any connection or session held between calls."""


# --- transitions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransitionResult:
    """What :func:`transition` did.

    Attributes
    ----------
    target_state : PowerState
    ok : bool
        The call was accepted and, for a driver that reads state, the state reached the target.
    final_state : PowerState
        The state read last (``"unknown"`` for a driver that cannot read it).
    attempts : int
        Power calls issued (0 when the host already was in the target state).
    error : PowerError or None
        The last failure; None when ``ok``.
    elapsed_s : float
    errors : tuple of PowerError
        Every failure on the way, in order (also those of attempts that were retried).
    """

    target_state: PowerState
    ok: bool
    final_state: PowerState
    attempts: int
    error: PowerError | None
    elapsed_s: float
    errors: tuple[PowerError, ...] = ()

    @property
    def confirmed(self) -> bool:
        """The state was read in the target state (never true for a driver that cannot read it)."""
        return self.ok and self.final_state == self.target_state


def _read(driver: PowerDriver) -> tuple[PowerState, PowerError | None]:
    try:
        return driver.state(), None
    except PowerError as exc:
        return "unknown", exc


def transition(
    driver: PowerDriver,
    target_state: PowerState,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    retries: int = DEFAULT_RETRIES,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> TransitionResult:
    """Bring a host to ``target_state``: call, poll until the state reads the target, retry.

    1. A driver that reads state is read first; a host already in the target state gets no call,
       nor does one whose read was refused for good (credentials, no such system).
    2. The call (:meth:`~PowerDriver.power_on` for ``"on"``, else :meth:`~PowerDriver.power_off`).
       A :class:`PowerError` is recorded; a retryable one is retried after ``poll_s``, one that is
       not (refused credentials, an unsupported action) ends the transition.
    3. The state is polled every ``poll_s`` until it reads the target or ``timeout_s`` passed; a
       read that fails counts as ``"unknown"`` and polling goes on. A call that succeeded and left
       the state unchanged is recorded as :class:`StateNotReached` and the call is issued again.
    4. At most ``1 + retries`` calls. A driver that cannot read state (``noop``, ``wol`` without a
       probe) returns after the first accepted call: ``ok`` but not :attr:`~TransitionResult.confirmed`.

    Parameters
    ----------
    driver : PowerDriver
    target_state : {"on", "off", "suspended"}
        ``"on"``, or the driver's :attr:`~PowerDriver.sleep_state` (either sleep state for a
        driver that cannot read state).
    timeout_s : float > 0
        How long to poll after each accepted call.
    poll_s : float > 0
        Pause between reads, and before a retry.
    retries : int >= 0
    clock, sleep
        Monotonic seconds and a pause; injected by tests.

    Returns
    -------
    TransitionResult
        Never raises a :class:`PowerError`: every failure is in the result.
    """
    _check_transition_args(driver, target_state, timeout_s, poll_s, retries)
    start = clock()
    errors: list[PowerError] = []
    call = driver.power_on if target_state == "on" else driver.power_off
    action = "power_on" if target_state == "on" else "power_off"

    def result(ok: bool, final: PowerState, attempts: int) -> TransitionResult:
        error = None if ok else (errors[-1] if errors else None)
        return TransitionResult(target_state, ok, final, attempts, error, clock() - start, tuple(errors))

    final: PowerState = "unknown"
    if driver.reads_state:
        final, read_error = _read(driver)
        if final == target_state:
            return result(True, final, 0)
        if read_error is not None:
            errors.append(read_error)
            if not read_error.retryable:  # the call would meet the same refusal
                log.warning("%s: %s not attempted: %s", driver.host, action, read_error)
                return result(False, final, 0)

    attempts = 0
    while attempts <= retries:
        if attempts:
            sleep(poll_s)
        attempts += 1
        try:
            call()
        except PowerError as exc:
            errors.append(exc)
            log.warning("%s: %s attempt %d of %d failed: %s", driver.host, action, attempts, retries + 1, exc)
            if not exc.retryable:
                break
            continue
        if not driver.reads_state:
            return result(True, "unknown", attempts)
        deadline = clock() + timeout_s
        read_error = None
        while True:
            final, read_error = _read(driver)
            if final == target_state:
                log.info("%s: %s reached %r after %d attempt(s)", driver.host, action, final, attempts)
                return result(True, final, attempts)
            remaining = deadline - clock()
            if remaining <= 0:
                break
            sleep(min(poll_s, remaining))
        last_read = f"; the last read failed: {read_error}" if read_error is not None else ""
        errors.append(
            StateNotReached(
                f"{driver.host}: {action} reported success but the state is {final!r}, not "
                f"{target_state!r}, {timeout_s:g} s later{last_read}"
            )
        )
        log.warning("%s: %s attempt %d of %d: %s", driver.host, action, attempts, retries + 1, errors[-1])
    return result(False, final, attempts)


def _check_transition_args(
    driver: PowerDriver, target_state: str, timeout_s: float, poll_s: float, retries: int
) -> None:
    accepted = {"on", "off", "suspended"} if not driver.reads_state else {"on", driver.sleep_state}
    if target_state not in accepted:
        raise ValueError(
            f"transition: target_state of {type(driver).__name__} (host {driver.host!r}) must be one of "
            f"{sorted(accepted)}; got {target_state!r}. Its power_off leads to {driver.sleep_state!r}."
        )
    for name, value in (("timeout_s", timeout_s), ("poll_s", poll_s)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or math.isinf(value):
            raise ValueError(f"transition: {name} must be a finite number > 0; got {value!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"transition: retries must be an int >= 0; got {retries!r}")
