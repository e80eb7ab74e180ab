"""Host power management: one driver per host, chosen by configuration.

Drivers (:mod:`neat.power.redfish`, :mod:`~neat.power.ipmi`, :mod:`~neat.power.wol`,
:mod:`~neat.power.noop`) implement :class:`PowerDriver`: ``state()``, ``power_off()`` and
``power_on()``, raising :class:`PowerError` subclasses. :func:`transition` drives a host to a
state, polling and retrying within bounds; :func:`build_driver` builds a host's driver from its
configuration table. Importing this package imports no protocol library: a driver's module (and
``sushy``, ``pyghmi`` or ``wakeonlan``) is loaded when a host uses it.
"""

from __future__ import annotations

from neat.power.base import (
    POWER_STATES,
    BmcUnreachable,
    PowerCallFailed,
    PowerConfigError,
    PowerDriver,
    PowerError,
    PowerState,
    StateNotReached,
    TransitionResult,
    transition,
)
from neat.power.registry import available, build_driver, build_drivers, driver_class

__all__ = [
    "BmcUnreachable",
    "POWER_STATES",
    "PowerCallFailed",
    "PowerConfigError",
    "PowerDriver",
    "PowerError",
    "PowerState",
    "StateNotReached",
    "TransitionResult",
    "available",
    "build_driver",
    "build_drivers",
    "driver_class",
    "transition",
]
