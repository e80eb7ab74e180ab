"""Vectorized VM consolidation algorithms: pure numpy, no I/O.

Detectors judge every host at once from ``(n_hosts, window)`` histories; selectors pick VMs from
every overloaded host at once; placers choose targets with one vectorized score per VM.
"""

from algorithms._validation import InputError, ParameterError
from algorithms.base import (
    HostTable,
    OverloadDetector,
    PlacementGuard,
    PlacementRequest,
    Placer,
    Plugin,
    UnderloadDetector,
    VmSelector,
    VmTable,
)
from algorithms.registry import UnknownPluginError, available, create

__all__ = [
    "HostTable",
    "InputError",
    "OverloadDetector",
    "ParameterError",
    "PlacementGuard",
    "PlacementRequest",
    "Placer",
    "Plugin",
    "UnderloadDetector",
    "UnknownPluginError",
    "VmSelector",
    "VmTable",
    "available",
    "create",
]
