"""The ``ipmi`` power driver: a host's BMC over IPMI 2.0 (RMCP+) through ``pyghmi``.

Configuration (one table per host)::

    [power.hosts.compute-2]
    driver = "ipmi"
    address = "10.0.0.12"                # the BMC's host name or IP address
    port = 623
    username = "neat"
    password_env = "NEAT_IPMI_PASSWORD"  # the password is read from this environment variable
    off_command = "off"                  # or "softoff": ask the OS for an ACPI shutdown

IPMI's chassis control has no suspend: power off is a hard ``off`` or an ACPI ``softoff``, and the
chassis reads only "on" or "off". Calls return once the BMC accepted the command
(``set_power(..., wait=False)``); :func:`neat.power.transition` polls ``get_power``.

pyghmi gives up on a BMC that never answers after about 5 s, but may wait forever on one that
answers the first handshake messages and then goes silent. So every call runs in a daemon thread
and is abandoned after ``call_timeout_s`` (the thread ends when pyghmi gives up, if ever): a
silent BMC is :class:`~neat.power.BmcUnreachable` within a bounded time, never a hung service.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyghmi import exceptions as pyghmi_exc
from pyghmi.ipmi import command as ipmi_command

from algorithms._validation import Interval, Options, Text
from neat.power.base import (
    ENV_NAME,
    BmcUnreachable,
    PowerCallFailed,
    PowerDriver,
    PowerError,
    PowerState,
)

T = TypeVar("T")

#: pyghmi's messages for a BMC that stopped answering or a session it lost (a login timeout
#: carries no message at all).
UNREACHABLE_MESSAGES = ("timeout", "Session Disconnected", "Session failed to initialize", "no longer connected")
#: Parts of pyghmi's messages for a BMC that refused the user, the password or the privilege.
AUTH_MESSAGES = ("password", "Unauthorized", "Invalid role", "privilege")


@dataclass(frozen=True, kw_only=True)
class IpmiDriver(PowerDriver):
    """Power through an IPMI BMC's chassis control, read back from the chassis status.

    Parameters
    ----------
    host : str
    address : str
        The BMC's host name or IP address.
    port : int
        UDP port (623).
    username : str
    password_env : str
        Name of the environment variable holding the password (read at login, never stored).
    off_command : {"off", "softoff"}
        Hard power off, or an ACPI request to shut the OS down.
    call_timeout_s : float > 0
        Longest wait for one call, login included.
    """

    PARAMETERS = {  # noqa: RUF012
        **PowerDriver.PARAMETERS,
        "address": Text("the BMC's host name or IP address", pattern=r"[^\s/@]+"),
        "port": Interval("int", 1, 65535),
        "username": Text("the BMC user"),
        "password_env": Text("an environment variable name", pattern=ENV_NAME),
        "off_command": Options(("off", "softoff")),
        "call_timeout_s": Interval("float", 0.0, 600.0, "right"),
    }

    address: str
    username: str
    password_env: str
    port: int = 623
    off_command: str = "off"
    call_timeout_s: float = 20.0
    _session: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def state(self) -> PowerState:
        reply = self._call("read the power state", lambda c: c.get_power())
        value = reply.get("powerstate") if isinstance(reply, dict) else None
        return value if value in ("on", "off") else "unknown"

    def power_off(self) -> None:
        self._call(f"power off ({self.off_command})", lambda c: c.set_power(self.off_command, wait=False))

    def power_on(self) -> None:
        self._call("power on", lambda c: c.set_power("on", wait=False))

    def close(self) -> None:
        with self._lock:
            self._session.clear()

    # --- internals ------------------------------------------------------------------------------

    def _command(self) -> Any:
        with self._lock:
            cmd = self._session.get("command")
        if cmd is not None:
            return cmd
        password = os.environ.get(self.password_env)
        if password is None:
            raise PowerCallFailed(
                f"{self.host}: password_env names {self.password_env}, which is not set in the environment",
                retryable=False,
            )
        cmd = ipmi_command.Command(bmc=self.address, userid=self.username, password=password, port=self.port)
        with self._lock:
            self._session["command"] = cmd
        return cmd

    def _call(self, action: str, fn: Callable[[Any], T]) -> T:
        """Run ``fn(command)`` in a daemon thread, at most ``call_timeout_s``; map pyghmi's errors."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = fn(self._command())
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc

        worker = threading.Thread(target=run, name=f"neat-ipmi-{self.host}", daemon=True)
        worker.start()
        worker.join(self.call_timeout_s)
        where = f"{self.host}: IPMI BMC at {self.address}:{self.port}"
        if worker.is_alive():
            self.close()
            raise BmcUnreachable(f"{where}: no answer to {action} within {self.call_timeout_s:g} s")
        if "error" not in outcome:
            return outcome["value"]
        self.close()
        exc = outcome["error"]
        if isinstance(exc, PowerError):
            raise exc
        if isinstance(exc, pyghmi_exc.IpmiException):
            message = str(exc.args[0]) if exc.args and exc.args[0] else ""
            if not message or any(m in message for m in UNREACHABLE_MESSAGES):
                raise BmcUnreachable(f"{where}: no answer to {action} ({message or 'login timed out'})") from exc
            if any(m in message for m in AUTH_MESSAGES):
                raise PowerCallFailed(
                    f"{where} refused user {self.username!r} (password from {self.password_env}) "
                    f"to {action}: {message}",
                    retryable=False,
                ) from exc
            code = getattr(exc, "ipmicode", 0)
            detail = f"{message} (completion code {code:#x})" if code else message
            raise PowerCallFailed(f"{where} failed to {action}: {detail}") from exc
        if isinstance(exc, OSError):
            raise BmcUnreachable(f"{where}: cannot {action}: {exc}") from exc
        if isinstance(exc, pyghmi_exc.PyghmiException):
            raise PowerCallFailed(f"{where} failed to {action}: {exc}", retryable=False) from exc
        raise exc
