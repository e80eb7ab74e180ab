"""The four plug-in roles and the records they exchange.

Array layout (everywhere): hosts or VMs on axis 0, time on the last axis, oldest to newest,
float64 utilization as a fraction of capacity, right-aligned, NaN-padded on the left, with an
``n_valid`` count per row. A single host is a batch of one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from algorithms._validation import Constraint, InputError, check_history, check_per_row, validate_parameters

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True, kw_only=True)
class Plugin:
    """Base of every plug-in: a frozen keyword-only record validated against ``PARAMETERS``.

    A role declares capabilities (a compiled kernel, a local selection) as class attributes named
    in ``CAPABILITIES``; they describe the methods of the class that declares them. A subclass that
    overrides any method without declaring the capabilities again loses them (they fall back to
    the role's defaults), so a kernel never stands in for code it does not mirror.
    """

    PARAMETERS: ClassVar[dict[str, Constraint]] = {}
    #: Capability attributes of the role, with the role's defaults.
    CAPABILITIES: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = {name for name, value in vars(cls).items() if callable(value) and not name.startswith("__")}
        declared = own | set(vars(cls))
        overrides = {name for name in own if any(hasattr(base, name) for base in cls.__mro__[1:])}
        if overrides - set(cls.CAPABILITIES):
            for name, default in cls.CAPABILITIES.items():
                if name not in declared:
                    setattr(cls, name, default)

    def __post_init__(self) -> None:
        validate_parameters(self)


@dataclass(frozen=True)
class DetectorKernel:
    """An overload detector as the numbers its compiled row kernel reads.

    ``params`` (``algorithms.overload._row.N_PARAMS``,) names the kernel and holds its parameters;
    ``coef`` (3, length) holds precomputed fit coefficients or tables (0 columns if unused);
    ``state_width`` is the length of the per-host state row the kernel reads
    (:meth:`OverloadDetector.kernel_state`; 0 for a stateless detector). See
    :mod:`algorithms.overload._row` and :func:`algorithms.overload.kernel.detect_row`.
    """

    params: FloatArray
    coef: FloatArray
    state_width: int = 0


@dataclass(frozen=True)
class PlacementKernel:
    """PABFD's compiled search as the settings it reads (:mod:`algorithms.placement._pabfd_search`)."""

    cpu_threshold: float
    empty_host_cost: str
    all_or_nothing: bool


def _no_kernel(self: Any) -> None:
    """No compiled kernel: callers use the NumPy methods."""
    return None


def _no_kernel_state(self: Any, state: Any, n_hosts: int) -> FloatArray:
    """No state for a kernel to read: rows of width 0."""
    return np.zeros((n_hosts, 0))


@dataclass(frozen=True, kw_only=True)
class OverloadDetector(Plugin, ABC):
    """Judges every host at once: is it overloaded now?

    Stateless detectors return ``state=None``; stateful ones (OTF, MHOD) take the state returned by
    the previous call and return the next one without mutating the old one, so a caller may
    evaluate a hypothetical history and throw the new state away.

    Capabilities: :meth:`kernel` (a compiled row kernel that decides as :meth:`evaluate` does),
    with :meth:`kernel_state` for a stateful detector (the state as per-host rows the kernel reads:
    it judges a hypothetical history of a host as :meth:`evaluate` would from that state, and never
    advances it), and :attr:`POLICY_PARAMETER` (the parameter a policy name such as ``lr-mmt-1.2``
    sets).
    """

    #: The parameter the number of a policy name sets (``thr-mmt-0.8``: the threshold), or None.
    POLICY_PARAMETER: ClassVar[str | None] = None
    #: True for a detector that never flags a host (the baselines' null object).
    NEVER: ClassVar[bool] = False
    CAPABILITIES: ClassVar[dict[str, Any]] = {"kernel": _no_kernel, "kernel_state": _no_kernel_state, "NEVER": False}

    def kernel(self) -> DetectorKernel | None:
        """This detector as its compiled row kernel's numbers, or None (no kernel: NumPy only)."""
        return None

    def kernel_state(self, state: Any, n_hosts: int) -> FloatArray:
        """``state`` (as :meth:`evaluate` takes it; None: the initial state) as the kernel's per-host
        rows, float array (n_hosts, ``kernel().state_width``); width 0 for a stateless detector."""
        return np.zeros((n_hosts, 0))

    def initial_state(self, n_hosts: int) -> Any:
        """Per-host state before the first call (``None`` for stateless detectors)."""
        return None

    def for_placement(self) -> OverloadDetector:
        """The detector that guards targets ("would this host be overloaded with this VM?"): by
        default this one (CloudSim). A detector with a hysteresis returns a stricter variant of itself."""
        return self

    def for_relief(self) -> OverloadDetector:
        """The detector that says when an overloaded host is relieved: by default the placement level
        (:meth:`for_placement`), so a relieved host is left where a target may be filled to."""
        return self.for_placement()

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
    """Judges every host at once: is it underloaded (a candidate to be emptied)?

    The decision round tries to empty the flagged hosts least utilized first, each all or nothing.
    The newest column of the history it is given is what each host reports now.
    """

    #: True for a detector that never flags a host (the baselines' null object).
    NEVER: ClassVar[bool] = False
    #: True when each host is judged on its own row alone; False when the judgement depends on the
    #: other hosts too (a host surplus to the load of all), so a batch must hold every host.
    ROWWISE: ClassVar[bool] = True
    CAPABILITIES: ClassVar[dict[str, Any]] = {"NEVER": False, "ROWWISE": True}

    def detect(self, utilization: ArrayLike, n_valid: ArrayLike) -> BoolArray:
        """Validate the inputs and evaluate; shapes as in :meth:`OverloadDetector.detect`."""
        u, n = check_history(utilization, n_valid, owner=type(self).__name__)
        return self.evaluate(u, n)

    def rehoming(self) -> float | None:
        """Watts a host's power must fall by for the round to move all its VMs onto one switched-off
        host that carries them more efficiently (:mod:`neat.decision.rehome`); None: never."""
        return None

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
    relieves : optional callable, VM indices (k,) -> bool array (k,)
        Whether each VM leaving alone would relieve its host (by the policy's guard); given by a
        caller that can judge hosts, used by selectors that aim at the cheapest sufficient move.
    """

    host: IntArray
    cpu_mips: FloatArray
    capacity_mips: FloatArray
    ram_mb: FloatArray
    history: FloatArray
    n_valid: IntArray
    relieves: Callable[[IntArray], BoolArray] | None = None


def candidate_vms(vms: VmTable, hosts: BoolArray, *, owner: str) -> tuple[IntArray, IntArray]:
    """Check the selector inputs and list the VMs that may be chosen.

    Parameters
    ----------
    vms : VmTable with n_vms rows
    hosts : bool array of shape (n_hosts,)
    owner : str
        Class name for error messages.

    Returns
    -------
    vm : intp array of shape (n_candidates,)
        Indices of the VMs that run on a chosen host (``vms.host >= 0``), ascending.
    host : intp array of shape (n_candidates,)
        Their hosts.
    """
    chosen = np.asarray(hosts)
    if chosen.ndim != 1 or chosen.dtype != np.bool_:
        raise InputError(
            f"{owner}: hosts must be a 1-D bool mask (n_hosts,); got dtype {chosen.dtype}, shape {chosen.shape}"
        )
    vm_host = np.asarray(vms.host)
    n_vms = vm_host.shape[0] if vm_host.ndim == 1 else -1
    if n_vms < 0 or (n_vms and vm_host.dtype.kind not in "iu"):
        raise InputError(f"{owner}: vms.host must be a 1-D int array; got dtype {vm_host.dtype}")
    for name in ("cpu_mips", "capacity_mips", "ram_mb"):
        value = np.asarray(getattr(vms, name))
        if value.shape != (n_vms,):
            raise InputError(f"{owner}: vms.{name} must have shape ({n_vms},); got {value.shape}")
        if n_vms and (value.dtype.kind not in "fiu" or not np.isfinite(value).all() or value.min() < 0):
            raise InputError(f"{owner}: vms.{name} must hold finite numbers >= 0")
    history, _ = check_history(vms.history, vms.n_valid, owner=owner, name="vms.history")
    if history.shape[0] != n_vms:
        raise InputError(f"{owner}: vms.history must have shape ({n_vms}, window); got {history.shape}")
    vm_host = vm_host.astype(np.intp, copy=False)
    n_hosts = chosen.shape[0]
    if n_vms and (vm_host.min() < -1 or vm_host.max() >= n_hosts):
        raise InputError(
            f"{owner}: vms.host must be in [-1, {n_hosts}) (-1: not selectable); got {vm_host.min()}..{vm_host.max()}"
        )
    on_chosen = vm_host >= 0
    on_chosen[on_chosen] = chosen[vm_host[on_chosen]]
    vm = np.flatnonzero(on_chosen)
    return vm, vm_host[vm]


@dataclass(frozen=True, kw_only=True)
class VmSelector(Plugin, ABC):
    """Picks one VM to leave each chosen host, for all chosen hosts at once.

    Capability: :attr:`LOCAL`, true when the pick on a host depends only on that host's VMs (in
    table order) and draws no random numbers, so a caller may show it only the chosen hosts' VMs.
    """

    LOCAL: ClassVar[bool] = False
    CAPABILITIES: ClassVar[dict[str, Any]] = {"LOCAL": False}

    def select(self, vms: VmTable, hosts: BoolArray, rng: np.random.Generator | None = None) -> IntArray:
        """Validate the inputs and pick one VM per chosen host (:meth:`evaluate`).

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
        vm, host = candidate_vms(vms, hosts, owner=type(self).__name__)
        return self.evaluate(vms, hosts, vm, host, rng)

    @abstractmethod
    def evaluate(
        self, vms: VmTable, hosts: BoolArray, vm: IntArray, host: IntArray, rng: np.random.Generator | None
    ) -> IntArray:
        """The kernel behind :meth:`select`, for callers whose inputs are already valid.

        ``vm`` (n_candidates,) lists the VMs on chosen hosts (``vms.host >= 0``), ascending, and
        ``host`` their hosts. Returns as :meth:`select`.
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
    """Chooses a target host for each VM to place.

    Capabilities: :meth:`kernel` (a compiled search that places as :meth:`place` does) and
    :meth:`for_evacuation` (the placer to use when a host is emptied all or nothing).
    """

    CAPABILITIES: ClassVar[dict[str, Any]] = {"kernel": _no_kernel}

    def kernel(self) -> PlacementKernel | None:
        """This placer as its compiled search's settings, or None (no kernel: NumPy only)."""
        return None

    def for_evacuation(self) -> Placer:
        """The placer for emptying a host, where only a complete placement is kept (may stop at
        the first VM that fits nowhere). The caller discards incomplete results either way."""
        return self

    @abstractmethod
    def place(self, hosts: HostTable, request: PlacementRequest, guard: PlacementGuard | None = None) -> IntArray:
        """Return the target host of each VM, shape (n_vms,), -1 where a VM stays where it is."""


def as_per_row(value: ArrayLike, n_rows: int, *, owner: str, name: str) -> FloatArray:
    """Broadcast a scalar or per-row value to float64 (n_rows,), checked finite and >= 0."""
    return check_per_row(value, n_rows, owner=owner, name=name)
