"""An IPMI BMC on loopback for the power tests, built on pyghmi's BMC server class (as virtualbmc is).

Run as ``python _ipmi_bmc.py --user U --password P [--power on|off] [--delay-s S] [--stuck]``;
it binds a free UDP port on 127.0.0.1, prints ``port N`` and answers IPMI 2.0 (RMCP+) until
terminated. It keeps one power state: a chassis control command is accepted at once and the
state changes ``--delay-s`` seconds later, like real hardware; with ``--stuck`` every command is
accepted and nothing ever changes (the "call said success but nothing happened" fault).

pyghmi keeps its sessions in process-wide state, so the BMC runs in its own process rather than
in a thread of the test process that also runs pyghmi's client.

pyghmi's server speaks only cipher suite 3 (RAKP-HMAC-SHA1) but answers a client's proposal of
suite 17 (SHA-256), which pyghmi's own client tries first, as if it had been accepted, and the
client then fails on the RAKP2 digest length. A suite-3-only BMC refuses the proposal with RMCP+
status 0x11 (no cipher suite match) and the client falls back to SHA-1; the session
class below does that, and nothing more.
"""

from __future__ import annotations

import argparse
import time

from pyghmi.ipmi import bmc
from pyghmi.ipmi.private import serversession

#: RMCP+ status code: no cipher suite matches the proposed security algorithms.
NO_CIPHER_SUITE_MATCH = 0x11
#: RAKP-HMAC-SHA1, the only authentication algorithm pyghmi's server implements.
RAKP_HMAC_SHA1 = 1


class Suite3Session(serversession.ServerSession):  # type: ignore[misc]
    """pyghmi's server session, refusing proposals it cannot honour (see the module docstring)."""

    def create_open_session_response(self, request: bytearray) -> bytearray:
        # RMCP+ Open Session Request: tag, privilege, 2 reserved, console session id (4), then the
        # authentication payload (type, 2 reserved, length, algorithm, ...): the algorithm at 12.
        if request[12] != RAKP_HMAC_SHA1:
            return bytearray([request[0], NO_CIPHER_SUITE_MATCH, 0, 0]) + request[4:8]
        response: bytearray = super().create_open_session_response(request)
        return response


serversession.ServerSession = Suite3Session


class LoopbackBmc(bmc.Bmc):  # type: ignore[misc]
    """A BMC of one imaginary host: power on/off/soft-off/reset with a delayed state change."""

    def __init__(self, authdata: dict[str, str], *, power: str, delay_s: float, stuck: bool) -> None:
        super().__init__(authdata, port=0, address="127.0.0.1")
        # pyghmi routes a session's packets by the port it was given; port 0 asked for any free one
        self.port = self.serversocket.getsockname()[1]
        self.power = power
        self.delay_s = delay_s
        self.stuck = stuck
        self.pending: tuple[str, float] | None = None  # (state, monotonic time it takes effect)

    def _request(self, state: str) -> int:
        if not self.stuck:
            self.pending = (state, time.monotonic() + self.delay_s)
        return 0  # completion code: success

    def get_power_state(self) -> str:
        if self.pending is not None and time.monotonic() >= self.pending[1]:
            self.power, self.pending = self.pending[0], None
        return self.power

    def power_off(self) -> int:
        return self._request("off")

    def power_shutdown(self) -> int:
        return self._request("off")

    def power_on(self) -> int:
        return self._request("on")

    def power_reset(self) -> int:
        return self._request("on")

    def power_cycle(self) -> int:
        return self._request("on")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--power", choices=("on", "off"), default="on")
    parser.add_argument("--delay-s", type=float, default=0.0)
    parser.add_argument("--stuck", action="store_true")
    args = parser.parse_args()
    server = LoopbackBmc({args.user: args.password}, power=args.power, delay_s=args.delay_s, stuck=args.stuck)
    print(f"port {server.port}", flush=True)
    server.listen(timeout=0.05)


if __name__ == "__main__":
    main()
