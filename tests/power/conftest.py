"""Real protocol endpoints on loopback (127.0.0.1) for the power driver tests.

* A Redfish BMC: sushy-tools' emulator with its fake system driver, in its own process
  (``_redfish_emulator.py``), one per test session, behind HTTP basic authentication. Each test
  that changes power states owns a system, so the tests do not depend on their order.
* IPMI BMCs: pyghmi's BMC server class in a process of its own (``_ipmi_bmc.py``), one per test.
* Endpoints that fail: a closed TCP port (refused), a TCP port that accepts and never answers, a
  UDP port that never answers.
* A UDP socket that captures magic packets, and fake commands (``ssh``, ``probe``) on ``PATH``
  that record their argument lists and exit as told.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

HERE = Path(__file__).parent
#: Longest wait for an endpoint process to print its port.
START_TIMEOUT_S = 30.0
#: Seconds from an accepted Redfish reset until the state changes: within (0, 1] s by default,
#: within (1, 2] s for the systems that check that callers wait.
REDFISH_DELAY_S = 1
REDFISH_SLOW_DELAY_S = 2
BMC_USER = "neat"
BMC_PASSWORD = "loopback-secret"
PASSWORD_ENV = "NEAT_TEST_BMC_PASSWORD"

#: The emulator's systems: name -> (UUID, power state at start). Names say which test owns them.
REDFISH_SYSTEMS = {
    "read-on": ("00000000-0000-4000-8000-000000000001", "On"),
    "read-off": ("00000000-0000-4000-8000-000000000002", "Off"),
    "read-paused": ("00000000-0000-4000-8000-000000000003", "Paused"),
    "round-trip-ForceOff": ("00000000-0000-4000-8000-000000000004", "On"),
    "round-trip-GracefulShutdown": ("00000000-0000-4000-8000-000000000005", "On"),
    "slow": ("00000000-0000-4000-8000-000000000006", "Off"),
    "slow-timeout": ("00000000-0000-4000-8000-000000000007", "On"),
    "stuck": ("00000000-0000-4000-8000-000000000008", "On"),
    "unsupported": ("00000000-0000-4000-8000-000000000009", "On"),
}


def _start(argv: list[str], log: Path) -> tuple[subprocess.Popen[str], int]:
    """Start an endpoint process and read the ``port N`` line it prints once it listens."""
    with log.open("w") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(START_TIMEOUT_S)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("port "):
        _stop(proc)
        raise RuntimeError(f"{argv[1]} did not start (printed {line!r}); its log:\n{log.read_text()}")
    return proc, int(line.split()[1])


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@dataclass(frozen=True)
class RedfishBmc:
    """The running emulator: its base URL and the UUID of each system by name."""

    address: str
    systems: dict[str, str]


@pytest.fixture(scope="session")
def redfish_bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishBmc]:
    work = tmp_path_factory.mktemp("redfish")
    auth_file = work / "htpasswd"  # bcrypt at 4 rounds: the emulator checks it on every request
    digest = bcrypt.hashpw(BMC_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    auth_file.write_text(f"{BMC_USER}:{digest}\n")
    uuid = {name: u for name, (u, _) in REDFISH_SYSTEMS.items()}
    config = {
        "SUSHY_EMULATOR_FAKE_DRIVER": True,
        "SUSHY_EMULATOR_FAKE_SYSTEMS": [
            {"uuid": u, "name": name, "power_state": state} for name, (u, state) in REDFISH_SYSTEMS.items()
        ],
        "SUSHY_EMULATOR_STATE_DIR": str(work / "state"),
        "SUSHY_EMULATOR_AUTH_FILE": str(auth_file),
        "delay_s": REDFISH_DELAY_S,
        "delays": {uuid["slow"]: REDFISH_SLOW_DELAY_S, uuid["slow-timeout"]: REDFISH_SLOW_DELAY_S},
        "stuck_systems": [uuid["stuck"]],
    }
    config_file = work / "emulator.json"
    config_file.write_text(json.dumps(config))
    proc, port = _start([sys.executable, str(HERE / "_redfish_emulator.py"), str(config_file)], work / "emulator.log")
    try:
        yield RedfishBmc(address=f"http://127.0.0.1:{port}", systems=uuid)
    finally:
        _stop(proc)


@pytest.fixture
def bmc_password(monkeypatch: pytest.MonkeyPatch) -> str:
    """Put the BMC password in the environment; returns the variable's name (password_env)."""
    monkeypatch.setenv(PASSWORD_ENV, BMC_PASSWORD)
    return PASSWORD_ENV


@pytest.fixture
def ipmi_bmc(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Start IPMI BMCs: ``ipmi_bmc(power="on", delay_s=0.0, stuck=False) -> port``."""
    procs: list[subprocess.Popen[str]] = []

    def start(*, power: str = "on", delay_s: float = 0.0, stuck: bool = False) -> int:
        argv = [sys.executable, str(HERE / "_ipmi_bmc.py"), "--user", BMC_USER, "--password", BMC_PASSWORD]
        argv += ["--power", power, "--delay-s", str(delay_s)] + (["--stuck"] if stuck else [])
        proc, port = _start(argv, tmp_path / f"bmc-{len(procs)}.log")
        procs.append(proc)
        return port

    try:
        yield start
    finally:
        for proc in procs:
            _stop(proc)


@pytest.fixture
def closed_tcp_port() -> int:
    """A loopback TCP port nothing listens on: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def silent_tcp_port() -> Iterator[int]:
    """A loopback TCP port that accepts connections (in its backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


@pytest.fixture
def silent_udp_port() -> Iterator[int]:
    """A loopback UDP port that receives datagrams and never answers (a BMC gone quiet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@dataclass(frozen=True)
class PacketSink:
    """A UDP socket on 127.0.0.1 capturing magic packets."""

    sock: socket.socket
    port: int

    def packets(self, wait_s: float = 2.0) -> list[bytes]:
        """Every datagram received so far (waiting up to ``wait_s`` for the first one)."""
        got: list[bytes] = []
        self.sock.settimeout(wait_s)
        with contextlib.suppress(TimeoutError):
            got.append(self.sock.recv(4096))
        self.sock.settimeout(0.05)
        with contextlib.suppress(TimeoutError):
            while True:
                got.append(self.sock.recv(4096))
        return got


@pytest.fixture
def magic_sink() -> Iterator[PacketSink]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield PacketSink(s, s.getsockname()[1])


FAKE_COMMAND = """#!{python}
import json, os, sys, time
from pathlib import Path

state = Path(os.environ["NEAT_FAKE_COMMANDS"])
name = Path(sys.argv[0]).name
with open(state / (name + ".log"), "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
script = state / (name + ".exit")
codes = script.read_text().split() if script.exists() else ["0"]
if len(codes) > 1:
    script.write_text(" ".join(codes[1:]))
if codes[0] == "hang":
    time.sleep(60)
sys.stderr.write(name + ": exit " + codes[0] + "\\n")
sys.exit(int(codes[0]))
"""


@dataclass(frozen=True)
class FakeCommands:
    """Fake ``ssh`` and ``probe`` commands on ``PATH``, recording each call's arguments.

    Each call takes the next exit status told by :meth:`exits` (the last one repeats; "hang"
    sleeps a minute); by default it exits 0.
    """

    state: Path

    def exits(self, name: str, *codes: int | str) -> None:
        (self.state / f"{name}.exit").write_text(" ".join(str(c) for c in codes))

    def calls(self, name: str) -> list[list[str]]:
        log = self.state / f"{name}.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def fake_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCommands:
    bin_dir = tmp_path / "bin"
    state = tmp_path / "commands"
    bin_dir.mkdir()
    state.mkdir()
    for name in ("ssh", "probe"):
        script = bin_dir / name
        script.write_text(FAKE_COMMAND.format(python=sys.executable))
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("NEAT_FAKE_COMMANDS", str(state))
    return FakeCommands(state)
