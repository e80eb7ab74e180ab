"""The ``redfish`` power driver: a host's BMC through the ``sushy`` Redfish client.

Configuration (one table per host)::

    [power.hosts.compute-1]
    driver = "redfish"
    address = "https://10.0.0.11"        # the BMC's base URL
    system = "System.Embedded.1"         # Id in /redfish/v1/Systems, the system's UUID, or its path
    username = "neat"
    password_env = "NEAT_BMC_PASSWORD"   # the password is read from this environment variable
    off_reset_type = "ForceOff"          # or GracefulShutdown; Pause suspends; Suspend hibernates

Power off sends ``ComputerSystem.Reset`` with ``off_reset_type``, power on with ``on_reset_type``
(``On``; ``Resume`` after ``Pause``); the state is the system's ``PowerState``: ``On`` -> "on",
``Off`` -> "off", ``Paused`` -> "suspended", and ``PoweringOn``/``PoweringOff`` -> "unknown" (still
changing). A BMC checks a reset type against the ones the system offers; one it does not offer is
refused before anything is sent.

The client (its Redfish session) is opened on the first call and kept; any failure drops it, so
the next call logs in again. Timeouts are the connector's: ``connect_timeout_s`` to open a TCP
connection, ``read_timeout_s`` for an answer. Retries belong to :func:`neat.power.transition`, so
the connector itself tries each request once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sushy
from sushy import exceptions as sushy_exc
from sushy.resources import constants as res_cons

from algorithms._validation import Flag, Interval, Nullable, Options, Text
from neat.power.base import (
    ENV_NAME,
    BmcUnreachable,
    PowerCallFailed,
    PowerDriver,
    PowerState,
)

#: Redfish PowerState -> neat's power state.
STATE_MAP: dict[str, PowerState] = {
    "On": "on",
    "Off": "off",
    "Paused": "suspended",
    "PoweringOn": "unknown",
    "PoweringOff": "unknown",
}
#: HTTP statuses worth another try: the BMC is busy or the system is between states.
RETRYABLE_STATUS = frozenset({409, 429, 500, 502, 503, 504})
#: Pause sushy takes before its own retry of a failed GET (it tries once more on HTTP 5xx).
SUSHY_RETRY_DELAY_S = 0.1


@dataclass(frozen=True, kw_only=True)
class RedfishDriver(PowerDriver):
    """Power through a Redfish BMC (``ComputerSystem.Reset``), read back from ``PowerState``.

    Parameters
    ----------
    host : str
    address : str
        The BMC's base URL, ``http(s)://host[:port]``, without credentials.
    system : str
        The system's Id in the Systems collection, its UUID, or its full path.
    username : str, optional
    password_env : str, optional
        Name of the environment variable holding the password (read at login, never stored).
    verify_tls : bool
        Check the BMC's certificate (default true).
    off_reset_type : {"ForceOff", "GracefulShutdown", "Suspend", "Pause"}
        ``Pause`` leaves the system ``Paused`` ("suspended"); the others ``Off``.
    on_reset_type : {"On", "ForceOn", "Resume"}
    connect_timeout_s, read_timeout_s : float > 0
    """

    PARAMETERS = {  # noqa: RUF012
        **PowerDriver.PARAMETERS,
        "address": Text("the BMC's base URL, http(s)://host[:port]", pattern=r"https?://[^/@\s]+(/\S*)?"),
        "system": Text("the system's Id, UUID or path"),
        "username": Nullable(Text("the BMC user")),
        "password_env": Nullable(Text("an environment variable name", pattern=ENV_NAME)),
        "verify_tls": Flag("check the BMC's TLS certificate"),
        "off_reset_type": Options(("ForceOff", "GracefulShutdown", "Suspend", "Pause")),
        "on_reset_type": Options(("On", "ForceOn", "Resume")),
        "connect_timeout_s": Interval("float", 0.0, 600.0, "right"),
        "read_timeout_s": Interval("float", 0.0, 600.0, "right"),
    }

    address: str
    system: str
    username: str | None = None
    password_env: str | None = None
    verify_tls: bool = True
    off_reset_type: str = "ForceOff"
    on_reset_type: str = "On"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    _client: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def sleep_state(self) -> PowerState:
        return "suspended" if self.off_reset_type == "Pause" else "off"

    def state(self) -> PowerState:
        with self._errors("read the power state"):
            system = self._system()
            system.refresh(force=True)
            value = system.power_state
        raw = value.value if isinstance(value, res_cons.PowerState) else value
        return STATE_MAP.get(str(raw), "unknown")

    def power_off(self) -> None:
        self._reset(self.off_reset_type)

    def power_on(self) -> None:
        self._reset(self.on_reset_type)

    def close(self) -> None:
        self._client.clear()  # sushy closes its Redfish session when the root is collected

    # --- internals ------------------------------------------------------------------------------

    def _reset(self, reset_type: str) -> None:
        with self._errors(f"reset ({reset_type})"):
            try:
                wanted = res_cons.ResetType(reset_type)
            except ValueError:
                raise PowerCallFailed(
                    f"{self.host}: this sushy ({sushy.__version__}) does not know reset type {reset_type!r}",
                    retryable=False,
                ) from None
            system = self._system()
            allowed = system.get_allowed_reset_system_values()
            if wanted not in allowed:
                offered = ", ".join(sorted(v.value for v in allowed))
                raise PowerCallFailed(
                    f"{self.host}: the Redfish BMC at {self.address} does not offer reset type "
                    f"{reset_type!r} for system {self.system!r}; it offers: {offered}",
                    retryable=False,
                )
            system.reset_system(wanted)

    def _password(self) -> str | None:
        if self.password_env is None:
            return None
        password = os.environ.get(self.password_env)
        if password is None:
            raise PowerCallFailed(
                f"{self.host}: password_env names {self.password_env}, which is not set in the environment",
                retryable=False,
            )
        return password

    def _system(self) -> Any:
        system = self._client.get("system")
        if system is not None:
            return system
        root = sushy.Sushy(
            self.address,
            username=self.username,
            password=self._password(),
            verify=self.verify_tls,
            server_side_retries=1,
            server_side_retries_delay=SUSHY_RETRY_DELAY_S,
            read_timeout=self.read_timeout_s,
            connect_timeout=self.connect_timeout_s,
        )
        system = root.get_system(self._system_path(root))
        self._client.update(root=root, system=system)
        return system

    def _system_path(self, root: Any) -> str:
        if self.system.startswith("/"):
            return self.system
        collection = root.get_system_collection()
        members: tuple[str, ...] = tuple(collection.members_identities)
        by_id = f"{collection.path.rstrip('/')}/{self.system}"
        if by_id in members:
            return by_id
        for path in members:  # not an Id: look for the system by its UUID
            if str(root.get_system(path).uuid or "").lower() == self.system.lower():
                return path
        raise PowerCallFailed(
            f"{self.host}: the Redfish BMC at {self.address} has no system with Id or UUID {self.system!r}; "
            f"its systems are: {', '.join(members) or 'none'}",
            retryable=False,
        )

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Map sushy's exceptions to :class:`PowerError`; forget the client on any failure."""
        where = f"{self.host}: Redfish BMC at {self.address}"
        try:
            yield
        except PowerCallFailed:
            self.close()
            raise
        except sushy_exc.ConnectionError as exc:
            self.close()
            raise BmcUnreachable(f"{where}: no answer to {action}: {exc}") from exc
        except sushy_exc.AccessError as exc:
            self.close()
            user = f"user {self.username!r}" if self.username else "no user"
            raise PowerCallFailed(
                f"{where} refused the credentials ({user}, password from {self.password_env or 'nowhere'}) "
                f"to {action}: HTTP {exc.status_code}",
                retryable=False,
            ) from exc
        except sushy_exc.ResourceNotFoundError as exc:
            self.close()
            raise PowerCallFailed(f"{where}: not found ({action}): {exc}", retryable=False) from exc
        except sushy_exc.HTTPError as exc:
            self.close()
            raise PowerCallFailed(
                f"{where} failed to {action}: HTTP {exc.status_code}: {exc}",
                retryable=exc.status_code in RETRYABLE_STATUS,
            ) from exc
        except sushy_exc.SushyError as exc:
            self.close()
            raise PowerCallFailed(f"{where}: cannot {action}: {exc}", retryable=False) from exc
