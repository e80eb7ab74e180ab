"""CloudSim's underload strategy: every host in use below full load is a candidate, least utilized first.

CloudSim has no lower threshold: every round it repeatedly takes the active, non-overloaded host
with the smallest positive utilization and tries to move all of its VMs away, keeping the moves
only if every VM fits elsewhere. As an underload detector that is: flag every host whose newest
utilization is below 1; the decision round then tries the flagged hosts that are switched on
(CloudSim: a host at 0 counts as off), least utilized first, each all or nothing.

References
----------
A. Beloglazov and R. Buyya, "Optimal online deterministic algorithms and adaptive heuristics for
energy and performance efficient dynamic consolidation of virtual machines in cloud data centers",
Concurrency and Computation: Practice and Experience 24(13), 2012, section 5; CloudSim 4.0
``PowerVmAllocationPolicyMigrationAbstract.getUnderUtilizedHost``.
"""

from __future__ import annotations

from dataclasses import dataclass

from algorithms._windows import last_value
from algorithms.base import BoolArray, FloatArray, IntArray, UnderloadDetector


@dataclass(frozen=True, kw_only=True)
class LeastUtilizedUnderload(UnderloadDetector):
    """Underloaded iff ``u[-1] < 1``: every host that is not full is worth trying to empty.

    Notes
    -----
    :meth:`evaluate` takes ``utilization`` of shape (n_hosts, window) and ``n_valid`` of shape
    (n_hosts,) and returns a bool array of shape (n_hosts,). A host without history is not flagged.
    """

    PARAMETERS = {}  # noqa: RUF012

    def evaluate(self, utilization: FloatArray, n_valid: IntArray) -> BoolArray:
        last, has = last_value(utilization, n_valid)
        result: BoolArray = has & (last < 1.0)
        return result
