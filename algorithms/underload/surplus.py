"""Surplus hosts: underloaded are the least utilized hosts beyond those the load needs.

The hosts switched on carry a total utilization ``U`` (in host capacities: the sum of each host's
mean over its newest ``mean_steps`` values); at a mean utilization of ``target_utilization`` they
need ``ceil(U / target_utilization)`` hosts. The ``on - ceil(U / target_utilization) - slack_hosts``
least utilized hosts at or below ``threshold`` are underloaded. Unlike a fixed threshold, a host
just woken to relieve an overloaded one is not emptied again while the others are full, and a
host is not emptied for a dip of one interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from algorithms._validation import Interval, Nullable
from algorithms._windows import last_value, newest, row_mean
from algorithms.base import BoolArray, FloatArray, IntArray, UnderloadDetector

__all__ = ["SurplusUnderload"]


@dataclass(frozen=True, kw_only=True)
class SurplusUnderload(UnderloadDetector):
    """The least utilized hosts beyond ``ceil(sum(u) / target_utilization) + slack_hosts`` are underloaded.

    Parameters
    ----------
    target_utilization : float in (0, 1]
        Mean utilization the hosts kept on are expected to carry.
    slack_hosts : int >= 0
        Hosts kept on beyond what the load needs.
    threshold : float in [0, 1]
        Only hosts at or below it are underloaded.
    mean_steps : int >= 1
        Newest values averaged per host (1: the newest alone).
    rehome_saving_w : float >= 0 or None
        Also replace a host by one switched-off host that carries its VMs more efficiently and at
        least this many watts cheaper (where RAM binds: a host of a type with less power per GB);
        None: never. See :mod:`neat.decision.rehome`.

    Notes
    -----
    :meth:`evaluate` takes ``utilization`` of shape (n_hosts, window) and ``n_valid`` of shape
    (n_hosts,) and returns a bool array of shape (n_hosts,). A host is counted as switched on when
    its newest value is above 0. The judgement depends on every host (``ROWWISE`` is False): give
    it all of them.
    """

    PARAMETERS = {  # noqa: RUF012
        "target_utilization": Interval("float", 0.0, 1.0, "right"),
        "slack_hosts": Interval("int", 0, 1_000_000),
        "threshold": Interval("float", 0.0, 1.0),
        "mean_steps": Interval("int", 1, 1000),
        "rehome_saving_w": Nullable(Interval("float", 0.0, float("inf"))),
    }

    ROWWISE = False

    target_utilization: float = 0.86
    slack_hosts: int = 1
    threshold: float = 0.7
    mean_steps: int = 3
    rehome_saving_w: float | None = 3.0

    def rehoming(self) -> float | None:
        """``rehome_saving_w``: a host whose VMs one switched-off host carries more efficiently, at
        least this many watts cheaper, is replaced by it (:mod:`neat.decision.rehome`)."""
        return self.rehome_saving_w

    def evaluate(self, utilization: FloatArray, n_valid: IntArray) -> BoolArray:
        last, has = last_value(utilization, n_valid)
        if self.mean_steps > 1:
            block, count = newest(utilization, n_valid, self.mean_steps)
            level = row_mean(block, count)
        else:
            level = last
        on = np.flatnonzero(has & (last > 0))
        needed = math.ceil(float(level[on].sum()) / self.target_utilization - 1e-9) + self.slack_hosts
        surplus = on.size - needed
        result = np.zeros(utilization.shape[0], dtype=np.bool_)
        if surplus <= 0:
            return result
        ranked = on[np.argsort(level[on], kind="stable")][:surplus]
        result[ranked] = last[ranked] <= self.threshold
        return result
