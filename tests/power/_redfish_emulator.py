"""A Redfish BMC on loopback for the power tests: sushy-tools' emulator with its fake system driver.

Run as ``python _redfish_emulator.py CONFIG.json``; it prints ``port N`` once it listens on
127.0.0.1 and serves until terminated. The JSON holds the emulator's own configuration keys
(``SUSHY_EMULATOR_*``) plus two test knobs:

``delay_s``, ``delays``
    Seconds (an int) from an accepted reset until the power state changes: ``delays`` by system
    UUID, ``delay_s`` for the others. The fake driver draws 1 to 11 s at random, like real
    hardware; the tests fix it so they stay short and deterministic. The driver applies the change
    at ``int(time.time()) + delay``, so it lands ``(delay - 1, delay]`` seconds later.
``stuck_systems``
    UUIDs of systems whose BMC answers every reset with success (204) and never changes the power
    state: the "call said success but nothing happened" fault.
"""

from __future__ import annotations

import json
import random
import sys
import threading
from pathlib import Path
from typing import Any

from sushy_tools.emulator import main as emulator
from sushy_tools.emulator.resources.systems import fakedriver
from werkzeug.serving import make_server


class _FixedDelay(random.Random):
    """Stands in for the fake driver's ``random``: a draw of a delay gives the one set last."""

    def __init__(self, delay_s: int) -> None:
        super().__init__(0)
        self.delay_s = delay_s

    def randint(self, a: int, b: int) -> int:
        return self.delay_s


def main() -> None:
    config: dict[str, Any] = json.loads(Path(sys.argv[1]).read_text())
    default_delay_s = int(config.pop("delay_s"))
    delays = {uuid: int(s) for uuid, s in config.pop("delays").items()}
    stuck = frozenset(config.pop("stuck_systems"))

    delay = _FixedDelay(default_delay_s)
    fakedriver.random = delay  # type: ignore[assignment]
    accept_reset = fakedriver.FakeDriver.set_power_state
    lock = threading.Lock()  # the server is threaded; the delay is set and drawn under the lock

    def set_power_state(self: fakedriver.FakeDriver, identity: str, state: str) -> None:
        uuid = self.uuid(identity)
        if uuid in stuck:
            return  # 204, and nothing happens
        with lock:
            delay.delay_s = delays.get(uuid, default_delay_s)
            accept_reset(self, identity, state)

    fakedriver.FakeDriver.set_power_state = set_power_state  # type: ignore[method-assign]

    emulator.app.configure(extra_config=config)
    server = make_server("127.0.0.1", 0, emulator.app, threaded=True)
    print(f"port {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
