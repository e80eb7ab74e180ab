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

    Full hosts of the most efficient types first; the remainder goes on one more host of whichever
    type is cheapest for it, or is spread evenly over one more host of the last type used.
    """
    if demand_mips <= 0:
        return 0.0, 0
    remaining = demand_mips
    power = 0.0
    hosts = 0
    spare: list[tuple[float, tuple[float, ...]]] = []
    last: tuple[float, int, tuple[float, ...]] | None = None
    for capacity, count, env in kinds:
        full = int(min(count, remaining // capacity))
        power += full * env[-1]
        hosts += full
        remaining -= full * capacity
        if full:
            last = (capacity, full, env)
        if count > full:
            spare.append((capacity, env))
        if remaining <= 1e-9:
            return power, hosts
    options = [_g(env, remaining / capacity) for capacity, env in spare if remaining <= capacity]
    if last is not None and any(c == last[0] and e == last[2] for c, e in spare):
        capacity, full, env = last
        spread = (full + 1) * _g(env, (full * capacity + remaining) / ((full + 1) * capacity)) - full * env[-1]
        options.append(spread)
    if not options:  # demand beyond the data center: every host at full power
        return power, hosts
    return power + min(options), hosts + 1
