"""The energy lower bound: the cheapest way to carry a given total demand on the available hosts.

With instant on/off and free migrations, a round's minimum power is min over host counts and load
split of sum_k x_k g_k(L_k / (x_k C_k)), where g_k is the lower convex envelope of host type k's
power curve (Jensen: for convex g, spreading load evenly over x_k hosts is cheapest).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from neat.scenario import Scenario

_POINTS = np.linspace(0.0, 1.0, 11)


def convex_envelope_w(table_w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lower convex envelope of an 11-point power table, evaluated at the same 11 points."""
    hull: list[int] = []
    for i in range(len(_POINTS)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (_POINTS[b] - _POINTS[a]) * (table_w[i] - table_w[a]) - (table_w[b] - table_w[a]) * (
                _POINTS[i] - _POINTS[a]
            )
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return np.interp(_POINTS, _POINTS[hull], table_w[hull])


HostKinds = tuple[tuple[float, int, tuple[float, ...]], ...]


def host_kinds(scenario: Scenario) -> HostKinds:
    """(capacity, count, envelope) per host type, most efficient at full load first."""
    rows = []
    for t in scenario.host_types:
        env = convex_envelope_w(t.power_w)
        rows.append((t.mips, t.count, tuple(float(x) for x in env)))
    return tuple(sorted(rows, key=lambda r: r[2][-1] / r[0]))


def _g(envelope: tuple[float, ...], u: float) -> float:
    return float(np.interp(min(max(u, 0.0), 1.0), _POINTS, envelope))


def lower_bound_power(demand_mips: float, kinds: HostKinds) -> tuple[float, int]:
    """(minimum power in W, hosts on) to carry ``demand_mips`` on ``kinds`` (see :func:`host_kinds`).

    Every combination of host counts that can carry the demand is priced at once: the idle power of
    the hosts on, plus the demand poured into the envelopes' linear pieces in increasing slope order
    (exact for convex curves, where spreading load evenly over a type's hosts is cheapest). Counts
    range from 0 to the number of hosts of a type the demand could fill on its own.
    """
    if demand_mips <= 0:
        return 0.0, 0
    capacity = np.array([k[0] for k in kinds])
    count = np.array([k[1] for k in kinds])
    envelope = np.array([k[2] for k in kinds])  # (n_kinds, 11)
    if demand_mips >= float((capacity * count).sum()):  # beyond the data center: all at full power
        return float((envelope[:, -1] * count).sum()), int(count.sum())
    ranges = [np.arange(0, min(n, int(np.ceil(demand_mips / c))) + 1) for c, n in zip(capacity, count, strict=True)]
    hosts_on = np.stack([g.ravel() for g in np.meshgrid(*ranges, indexing="ij")], axis=1)  # (n_combos, n_kinds)
    # a combination with two hosts more than needed is never cheapest: dropping one saves its idle
    # power, far more than pouring its share into steeper pieces costs on these curves
    room = hosts_on @ capacity
    hosts_on = hosts_on[(room >= demand_mips - 1e-9) & (room < demand_mips + 2 * capacity.max())]
    slope_w_per_mips = np.diff(envelope, axis=1) / (capacity[:, None] / 10.0)  # (n_kinds, 10)
    order = np.argsort(slope_w_per_mips.ravel(), kind="stable")
    kind_of_piece = np.repeat(np.arange(len(kinds)), 10)[order]
    piece_mips = hosts_on[:, kind_of_piece] * (capacity[kind_of_piece] / 10.0)  # (n_combos, n_pieces)
    before = np.cumsum(piece_mips, axis=1) - piece_mips
    poured = np.clip(demand_mips - before, 0.0, piece_mips)
    carried = piece_mips.sum(axis=1)
    power = hosts_on @ envelope[:, 0] + poured @ slope_w_per_mips.ravel()[order]
    power = np.where(carried >= demand_mips - 1e-9, power, np.inf)
    best = int(np.argmin(power))
    return float(power[best]), int(hosts_on[best].sum())
