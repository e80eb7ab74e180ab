"""The energy lower bound: the cheapest way to carry a round's CPU demand and hold its RAM.

Derivation. A round needs CPU demand ``D`` (MIPS) carried and, where RAM is a constraint, VM RAM
``M`` (MB) held, on ``x_k`` hosts of type ``k`` (capacity ``C_k``, RAM ``R_k``, at most ``n_k``).
Migrations are free and hosts switch on and off instantly, so only the power drawn counts:

    P(D, M) = min over integer x and loads L_k of  sum_k x_k g_k(L_k / (x_k C_k))
              subject to  sum_k L_k = D,  sum_k x_k R_k >= M,  0 <= L_k <= x_k C_k,  x_k <= n_k,

where ``g_k`` is the lower convex envelope of type k's power table (a host's power curve, or less).
For fixed ``x`` the inner problem is convex, and by Jensen's inequality spreading a type's load
evenly over its hosts is cheapest; with the piecewise-linear envelope it is a fractional knapsack:
every host on costs ``g_k(0)``, and the demand is poured into the envelopes' linear pieces (each
``C_k / 10`` MIPS per host) in increasing order of slope, which is exact for convex pieces. The
outer minimum runs over the integer host counts that can hold the demand, pruned to the minimal
ones (removing any host would leave too little CPU or RAM: a redundant host costs at least its
idle power, more than any saving from pouring its share into steeper pieces). The bound is thus
exact for the relaxation it states: integer hosts per type, load split continuously. With hosts
that draw power asleep (``sleep_w``), every host off draws it, so a host on costs
``g_k(0) - sleep_w`` more.

Which resource binds: the CPU-only optimum ``P(D, 0)`` against ``P(D, M)``; RAM binds when holding
the RAM costs more than carrying the CPU alone (more hosts, or other types). The RAM-only host count
is the fewest hosts whose RAM holds ``M`` (largest RAM first).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

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


HostKinds = tuple[tuple[float, int, tuple[float, ...], float, float], ...]


def host_kinds(scenario: Scenario, *, sleep_fraction: float = 0.0) -> HostKinds:
    """(capacity MIPS, count, envelope W, RAM MB, sleep W) per host type, most efficient at full load first.

    ``sleep_fraction`` of a type's peak power is what a host of it draws while off (0: nothing).
    """
    rows = []
    for t in scenario.host_types:
        env = convex_envelope_w(t.power_w)
        rows.append((t.mips, t.count, tuple(float(x) for x in env), t.ram_mb, float(t.power_w[-1]) * sleep_fraction))
    return tuple(sorted(rows, key=lambda r: r[2][-1] / r[0]))


@dataclass(frozen=True)
class Bound:
    """One round's bound: its power, the hosts it keeps on, and which resource decides.

    ``cpu_only_hosts``: hosts of the CPU-only optimum; ``ram_only_hosts``: the fewest hosts whose RAM
    holds the VMs' (0 without a RAM demand); ``ram_binds``: holding the RAM costs more than
    carrying the CPU alone.
    """

    power_w: float
    hosts: int
    cpu_only_hosts: int
    ram_only_hosts: int
    ram_binds: bool


def round_bound(demand_mips: float, kinds: HostKinds, demand_ram_mb: float = 0.0) -> Bound:
    """:func:`lower_bound_power` with and without the RAM, and the RAM-only host count."""
    power, hosts = lower_bound_power(demand_mips, kinds, demand_ram_mb)
    if demand_ram_mb <= 0:
        return Bound(power, hosts, hosts, 0, False)
    cpu_power, cpu_hosts = lower_bound_power(demand_mips, kinds, 0.0)
    return Bound(power, hosts, cpu_hosts, ram_only_hosts(demand_ram_mb, kinds), power > cpu_power * (1 + 1e-9))


def ram_only_hosts(demand_ram_mb: float, kinds: HostKinds) -> int:
    """The fewest hosts whose RAM holds ``demand_ram_mb`` (largest RAM first); all of them if none do."""
    left, count = demand_ram_mb, 0
    for kind in sorted(kinds, key=lambda k: -k[3]):
        if left <= 0:
            break
        take = min(kind[1], math.ceil(left / kind[3]))
        count += take
        left -= take * kind[3]
    return count


def _g(envelope: tuple[float, ...], u: float) -> float:
    return float(np.interp(min(max(u, 0.0), 1.0), _POINTS, envelope))


class _KindArrays(NamedTuple):
    """A :data:`HostKinds` as the arrays :func:`lower_bound_power` reads (n_kinds,), and its
    envelopes' pieces in increasing order of slope (n_kinds * 10,)."""

    capacity: NDArray[np.float64]
    host_count: NDArray[np.int64]
    envelope: NDArray[np.float64]
    ram: NDArray[np.float64]
    sleep: NDArray[np.float64]
    asleep_w: float
    total_capacity: float
    total_ram: float
    full_power_w: float
    kind_of_piece: NDArray[np.intp]
    piece_capacity: NDArray[np.float64]
    piece_slope: NDArray[np.float64]


@functools.lru_cache(maxsize=16)
def _kind_arrays(kinds: HostKinds) -> _KindArrays:
    """The arrays of ``kinds``, made once per run (a bound is computed at every step)."""
    capacity = np.array([k[0] for k in kinds])
    count = np.array([k[1] for k in kinds])
    envelope = np.array([k[2] for k in kinds])  # (n_kinds, 11)
    ram = np.array([k[3] for k in kinds])
    sleep = np.array([k[4] for k in kinds])
    slope_w_per_mips = np.diff(envelope, axis=1) / (capacity[:, None] / 10.0)  # (n_kinds, 10)
    order = np.argsort(slope_w_per_mips.ravel(), kind="stable")
    kind_of_piece = np.repeat(np.arange(len(kinds)), 10)[order]
    return _KindArrays(
        capacity=capacity,
        host_count=count,
        envelope=envelope,
        ram=ram,
        sleep=sleep,
        asleep_w=float((sleep * count).sum()),  # every host off draws its sleep power
        total_capacity=float((capacity * count).sum()),
        total_ram=float((ram * count).sum()),
        full_power_w=float((envelope[:, -1] * count).sum()),
        kind_of_piece=kind_of_piece,
        piece_capacity=capacity[kind_of_piece] / 10.0,
        piece_slope=slope_w_per_mips.ravel()[order],
    )


def lower_bound_power(demand_mips: float, kinds: HostKinds, demand_ram_mb: float = 0.0) -> tuple[float, int]:
    """(minimum power in W, hosts on) to carry ``demand_mips`` (and ``demand_ram_mb``) on ``kinds``.

    Every minimal combination of host counts that can carry the demand (removing any one host would
    leave too little CPU or RAM) is priced at once: the idle power of the hosts on, plus the demand
    poured into the envelopes' linear pieces in increasing slope order (exact for convex curves,
    where spreading load evenly over a type's hosts is cheapest). Only minimal combinations are
    priced because a redundant host costs its idle power, far more than pouring its share into
    steeper pieces saves on server power curves. RAM (when given) only constrains the count.
    """
    if demand_mips <= 0 and demand_ram_mb <= 0:
        return float(sum(k[4] * k[1] for k in kinds)), 0
    arrays = _kind_arrays(kinds)
    capacity, count, envelope, ram = arrays.capacity, arrays.host_count, arrays.envelope, arrays.ram
    if demand_mips >= arrays.total_capacity or demand_ram_mb >= arrays.total_ram:
        return arrays.full_power_w, int(count.sum())  # everything on, at full power

    def needed(cpu: float, mem: float, k: int) -> int:
        return int(max(np.ceil(cpu / capacity[k]), np.ceil(mem / ram[k]) if mem > 0 else 0, 0))

    # every count of all kinds but the last, then the fewest hosts of the last kind that suffice
    ranges = [np.arange(0, min(n, needed(demand_mips, demand_ram_mb, k)) + 1) for k, n in enumerate(count[:-1])]
    heads = np.stack([g.ravel() for g in np.meshgrid(*ranges, indexing="ij")], axis=1) if ranges else None
    n_kinds = len(kinds)
    if heads is None:
        heads = np.zeros((1, 0), dtype=np.int64)
    cpu_left = np.maximum(demand_mips - heads @ capacity[:-1], 0.0)
    ram_left = np.maximum(demand_ram_mb - heads @ ram[:-1], 0.0) if n_kinds > 1 else np.full(1, demand_ram_mb)
    with np.errstate(invalid="ignore"):
        last = np.maximum(np.ceil(cpu_left / capacity[-1]), np.ceil(np.nan_to_num(ram_left / ram[-1])))
    hosts_on = np.column_stack([heads, last.astype(np.int64)])
    hosts_on = hosts_on[hosts_on[:, -1] <= count[-1]]
    cpu_room = hosts_on @ capacity
    ram_room = hosts_on @ np.where(np.isinf(ram), 0.0, ram)
    redundant = np.zeros(hosts_on.shape[0], dtype=np.bool_)
    for k in range(n_kinds):
        spare_cpu = cpu_room - capacity[k] >= demand_mips - 1e-9
        spare_ram = (ram_room - ram[k] >= demand_ram_mb - 1e-9) if np.isfinite(ram[k]) else True
        redundant |= (hosts_on[:, k] > 0) & spare_cpu & spare_ram
    hosts_on = hosts_on[~redundant]
    kind_of_piece = arrays.kind_of_piece
    piece_mips = hosts_on[:, kind_of_piece] * arrays.piece_capacity  # (n_combos, n_pieces)
    before = np.cumsum(piece_mips, axis=1) - piece_mips
    poured = np.clip(demand_mips - before, 0.0, piece_mips)
    power = hosts_on @ (envelope[:, 0] - arrays.sleep) + poured @ arrays.piece_slope + arrays.asleep_w
    best = int(np.argmin(power))
    return float(power[best]), int(hosts_on[best].sum())
