"""The four plug-in roles and the records they exchange.

Array layout (everywhere): hosts or VMs on axis 0, time on the last axis, oldest to newest,
float64 utilization as a fraction of capacity, right-aligned, NaN-padded on the left, with an
``n_valid`` count per row. A single host is a batch of one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algorithms._validation import Constraint, check_history, check_per_row, validate_parameters

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True, kw_only=True)
class Plugin:
    """Base of every plug-in: a frozen keyword-only record validated against ``PARAMETERS``."""

    PARAMETERS: ClassVar[dict[str, Constraint]] = {}

    def __post_init__(self) -> None:
        validate_parameters(self)


@dataclass(frozen=True, kw_only=True)
class OverloadDetector(Plugin, ABC):
    """Judges every host at once: is it overloaded now?

    Stateless detectors return ``state=None``; stateful ones (OTF, MHOD) take the state returned by
    the previous call and return the next one without mutating the old one, so a caller may
    evaluate a hypothetical history and throw the new state away.
    """

    def initial_state(self, n_hosts: int) -> Any:
        """Per-host state before the first call (``None`` for stateless detectors)."""
        return None

    def detect(
        self,
        utilization: ArrayLike,
        n_valid: ArrayLike,
        *,
        migration_time_steps: ArrayLike = 0.0,
        state: Any = None,
    ) -> tuple[BoolArray, Any]:
        """Validate the inputs and evaluate.

        Parameters
        ----------
        utilization : float array of shape (n_hosts, window)
        n_valid : int array of shape (n_hosts,)
        migration_time_steps : float or float array of shape (n_hosts,)
            Expected migration time in steps (migration time / interval).
        state : detector state or None

        Returns
        -------
        overloaded : bool array of shape (n_hosts,)
        state : the next detector state (``None`` for stateless detectors)
        """
        owner = type(self).__name__
        u, n = check_history(utilization, n_valid, owner=owner)
        tm = check_per_row(migration_time_steps, u.shape[0], owner=owner, name="migration_time_steps")
        if state is None:
            state = self.initial_state(u.shape[0])
        return self.evaluate(u, n, tm, state)

    @abstractmethod
    def evaluate(
        self, utilization: FloatArray, n_valid: IntArray, migration_time_steps: FloatArray, state: Any
    ) -> tuple[BoolArray, Any]:
        """The kernel behind :meth:`detect`, for callers whose inputs are already valid."""


@dataclass(frozen=True, kw_only=True)
class UnderloadDetector(Plugin, ABC):
    """Judges every host at once: is it underloaded (a candidate to be emptied)?"""

    def detect(self, utilization: ArrayLike, n_valid: ArrayLike) -> BoolArray:
        """Validate the inputs and evaluate; shapes as in :meth:`OverloadDetector.detect`."""
        u, n = check_history(utilization, n_valid, owner=type(self).__name__)
        return self.evaluate(u, n)

    @abstractmethod
    def evaluate(self, utilization: FloatArray, n_valid: IntArray) -> BoolArray:
        """The kernel behind :meth:`detect`."""


@dataclass(frozen=True)
class VmTable:
    """The VMs a selector chooses among.

    Attributes
    ----------
    host : intp array of shape (n_vms,)
        Index of the host each VM runs on; -1 for a VM that must not be chosen.
    cpu_mips : float array of shape (n_vms,)
        Current CPU demand.
    capacity_mips : float array of shape (n_vms,)
        The VM's CPU size (its history is a fraction of this).
    ram_mb : float array of shape (n_vms,)
    history : float array of shape (n_vms, window)
        CPU utilization history of each VM, right-aligned, NaN-padded.
    n_valid : intp array of shape (n_vms,)
    """

    host: IntArray
    cpu_mips: FloatArray
    capacity_mips: FloatArray
    ram_mb: FloatArray
    history: FloatArray
    n_valid: IntArray


@dataclass(frozen=True, kw_only=True)
class VmSelector(Plugin, ABC):
    """Picks one VM to leave each chosen host, for all chosen hosts at once."""

    @abstractmethod
    def select(self, vms: VmTable, hosts: BoolArray, rng: np.random.Generator | None = None) -> IntArray:
        """Pick one VM per host.

        Parameters
        ----------
        vms : VmTable with n_vms rows
        hosts : bool array of shape (n_hosts,)
            Hosts to pick a VM from.
        rng : numpy Generator, used only by randomized selectors

        Returns
        -------
        intp array of shape (n_hosts,)
            Index into ``vms`` of the chosen VM, or -1 (host not chosen, or it has no VM).
        """


@dataclass(frozen=True)
class HostTable:
    """Static description of the hosts a placer chooses among.

    Attributes
    ----------
    cpu_mips : float array of shape (n_hosts,)  total CPU capacity
    pe_mips : float array of shape (n_hosts,)   capacity of one core (a VM's demand must fit one)
    ram_mb : float array of shape (n_hosts,)
    power_w : float array of shape (n_hosts, 11)
        Power at 0, 10, ..., 100 % utilization (linear between points).
    """

    cpu_mips: FloatArray
    pe_mips: FloatArray
    ram_mb: FloatArray
    power_w: FloatArray


class PlacementGuard(Protocol):
    """Tells a placer whether a host would become overloaded by a VM, given the placements so far."""

    def would_overload(self, vm: int, hosts: IntArray) -> BoolArray:
        """For VM ``vm`` (index into the VMs being placed) and candidate ``hosts``: overloaded after?"""
        ...

    def assign(self, vm: int, host: int) -> None:
        """Record that ``vm`` was placed on ``host``."""
        ...


@dataclass(frozen=True)
class PlacementRequest:
    """Everything a placer needs, besides the hosts' static table.

    Attributes
    ----------
    vm_cpu_mips : float array of shape (n_vms,)   demand of each VM to place
    vm_ram_mb : float array of shape (n_vms,)
    used_cpu_mips : float array of shape (n_hosts,)   CPU already allocated on each host
    used_ram_mb : float array of shape (n_hosts,)
    active : bool array of shape (n_hosts,)   hosts switched on
    allowed : bool array of shape (n_hosts,)  hosts that may receive VMs
    baseline_utilization : float array of shape (n_hosts,) or None
        If given, the utilization a power-aware placer prices each host against, held fixed for
        the whole call; by default the placer follows the placements it makes.
    """

    vm_cpu_mips: FloatArray
    vm_ram_mb: FloatArray
    used_cpu_mips: FloatArray
    used_ram_mb: FloatArray
    active: BoolArray
    allowed: BoolArray
    baseline_utilization: FloatArray | None = None


@dataclass(frozen=True, kw_only=True)
class Placer(Plugin, ABC):
    """Chooses a target host for each VM to place."""

    @abstractmethod
    def place(self, hosts: HostTable, request: PlacementRequest, guard: PlacementGuard | None = None) -> IntArray:
        """Return the target host of each VM, shape (n_vms,), -1 where a VM stays where it is."""


def as_per_row(value: ArrayLike, n_rows: int, *, owner: str, name: str) -> FloatArray:
    """Broadcast a scalar or per-row value to float64 (n_rows,), checked finite and >= 0."""
    return check_per_row(value, n_rows, owner=owner, name=name)
