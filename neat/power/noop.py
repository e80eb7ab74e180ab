"""The ``noop`` power driver: the host stays on; only its compute service is disabled.

Configuration::

    [power.hosts.compute-4]
    driver = "noop"

For hosts without a BMC neat may use, and for baselines. The service disables an emptied host's
compute service whatever its driver; with this one nothing else happens. It reads no state
("unknown"), and its :attr:`sleep_state` is "on": the host never sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from neat.power.base import PowerDriver, PowerState


@dataclass(frozen=True, kw_only=True)
class NoopDriver(PowerDriver):
    """Does nothing; the do-nothing object of the power role.

    Parameters
    ----------
    host : str
    """

    PARAMETERS = {**PowerDriver.PARAMETERS}  # noqa: RUF012

    @property
    def sleep_state(self) -> PowerState:
        return "on"

    @property
    def reads_state(self) -> bool:
        return False

    def state(self) -> PowerState:
        return "unknown"

    def power_off(self) -> None:
        return None

    def power_on(self) -> None:
        return None
