"""The ``wol`` power driver: wake with a Wake-on-LAN magic packet, suspend with a command over ssh.

Configuration (one table per host)::

    [power.hosts.compute-3]
    driver = "wol"
    mac = "52:54:00:12:34:56"
    broadcast = "10.0.0.255"             # where the magic packet goes (UDP)
    port = 9
    suspend_command = ["ssh", "-o", "BatchMode=yes", "{host}", "sudo", "-n", "systemctl", "suspend"]
    probe_command = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "{host}", "true"]

Commands are argument lists run without a shell (``subprocess.run(argv, shell=False)``): ``{host}``
in any argument is replaced by ``ssh_host`` (the host's name unless set), argument by argument, and
nothing else is interpreted, so no quoting or injection can happen. A command that is a single
string is refused at configuration time.

The state is what the probe says: exit status 0 -> "on"; any other status or a timeout -> the
driver's ``sleep_state`` (it cannot tell a sleeping host from a dead one). Without a probe the
driver reads nothing ("unknown") and :func:`neat.power.transition` cannot confirm a change.
The suspend command failing with ``unreachable_exit_code`` (ssh: 255) or timing out is
:class:`~neat.power.BmcUnreachable`; any other non-zero status is
:class:`~neat.power.PowerCallFailed`.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import wakeonlan

from algorithms._validation import Argv, Interval, Nullable, Options, Text
from neat.power.base import (
    BmcUnreachable,
    PowerCallFailed,
    PowerDriver,
    PowerState,
)

#: A MAC address as wakeonlan takes it: 12 hex digits, optionally grouped by ':' or '-' (2) or '.' (4).
MAC_PATTERN = r"[0-9A-Fa-f]{2}([:-]?)[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"
#: Standard suspend over ssh: never prompts (BatchMode), sudo without a terminal.
DEFAULT_SUSPEND_COMMAND = ("ssh", "-o", "BatchMode=yes", "{host}", "sudo", "-n", "systemctl", "suspend")
#: Characters of stderr kept in an error message.
STDERR_TAIL_CHARS = 300


@dataclass(frozen=True, kw_only=True)
class WolDriver(PowerDriver):
    """Wake-on-LAN to wake, a configured command (over ssh) to suspend, an optional probe to read.

    Parameters
    ----------
    host : str
    mac : str
        The MAC address of the host's wake-enabled NIC.
    broadcast : str
        Destination address of the magic packet (a broadcast address, or the host's own).
    port : int
        Destination UDP port (9, the discard port).
    interface : str, optional
        Source IP address to send from (picks the network).
    ssh_host : str, optional
        What replaces ``{host}`` in commands (default: ``host``).
    suspend_command : tuple of str
        Argument list run to suspend the host.
    probe_command : tuple of str, optional
        Argument list whose exit status 0 means the host is up.
    command_timeout_s : float > 0
    unreachable_exit_code : int, optional
        Exit status by which the suspend command says it could not reach the host (ssh: 255).
    sleep_state : {"suspended", "off"}
        What the suspend command does, and what a failing probe reads as.
    """

    PARAMETERS = {  # noqa: RUF012
        **PowerDriver.PARAMETERS,
        "mac": Text("a MAC address such as 52:54:00:12:34:56", pattern=MAC_PATTERN),
        "broadcast": Text("an IP address or host name", pattern=r"[^\s/]+"),
        "port": Interval("int", 1, 65535),
        "interface": Nullable(Text("a source IP address", pattern=r"[^\s/]+")),
        "ssh_host": Nullable(Text("a host name not starting with '-'", pattern=r"[^-\s][^\s]*")),
        "suspend_command": Argv("the suspend command"),
        "probe_command": Nullable(Argv("the probe command")),
        "command_timeout_s": Interval("float", 0.0, 3600.0, "right"),
        "unreachable_exit_code": Nullable(Interval("int", 1, 255)),
        "sleep_state": Options(("suspended", "off")),
    }

    mac: str
    broadcast: str = wakeonlan.BROADCAST_IP
    port: int = wakeonlan.DEFAULT_PORT
    interface: str | None = None
    ssh_host: str | None = None
    suspend_command: tuple[str, ...] = DEFAULT_SUSPEND_COMMAND
    probe_command: tuple[str, ...] | None = None
    command_timeout_s: float = 30.0
    unreachable_exit_code: int | None = 255
    sleep_state: PowerState = "suspended"

    @property
    def reads_state(self) -> bool:
        return self.probe_command is not None

    def argv(self, command: tuple[str, ...]) -> list[str]:
        """``command`` with ``{host}`` replaced in each argument; what is run, exactly."""
        target = self.ssh_host or self.host
        return [arg.replace("{host}", target) for arg in command]

    def state(self) -> PowerState:
        if self.probe_command is None:
            return "unknown"
        argv = self.argv(self.probe_command)
        try:
            done = self._run(argv)
        except subprocess.TimeoutExpired:
            return self.sleep_state
        return "on" if done.returncode == 0 else self.sleep_state

    def power_off(self) -> None:
        argv = self.argv(self.suspend_command)
        where = f"{self.host}: suspend command {argv[0]!r}"
        try:
            done = self._run(argv)
        except subprocess.TimeoutExpired as exc:
            raise BmcUnreachable(f"{where} did not finish within {self.command_timeout_s:g} s") from exc
        if done.returncode == 0:
            return
        stderr = (done.stderr or "").strip()[-STDERR_TAIL_CHARS:]
        detail = f"exit status {done.returncode}" + (f": {stderr}" if stderr else "")
        if done.returncode == self.unreachable_exit_code:
            raise BmcUnreachable(f"{where} could not reach the host ({detail})")
        raise PowerCallFailed(f"{where} failed ({detail})")

    def power_on(self) -> None:
        try:
            wakeonlan.wake(self.mac, host=self.broadcast, port=self.port, interface=self.interface)
        except OSError as exc:
            raise BmcUnreachable(
                f"{self.host}: cannot send the magic packet to {self.broadcast}:{self.port}: {exc}"
            ) from exc

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                argv,
                shell=False,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.command_timeout_s,
                check=False,
            )
        except FileNotFoundError as exc:
            raise PowerCallFailed(f"{self.host}: command {argv[0]!r} not found", retryable=False) from exc
        except OSError as exc:
            raise PowerCallFailed(f"{self.host}: cannot run {argv[0]!r}: {exc}", retryable=False) from exc
