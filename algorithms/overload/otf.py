"""OTF: keep each host's overload time fraction below a target, counting migration time as overload.

Per host, two counters: ``total`` steps observed and ``overload`` steps with ``u[-1] >=
threshold``. Every call counts the newest value once (hosts with no history are not counted). A
host is overloaded iff it is over the threshold now, has at least ``limit`` values, and
``(T_m + overload) / (T_m + total) >= otf``, ``T_m`` being the migration time in steps.

References
----------
A. Beloglazov and R. Buyya, "Managing overloaded hosts for dynamic consolidation of virtual
machines in cloud data centers under quality of service constraints", IEEE Transactions on
Parallel and Distributed Systems 24(7), 2013 (OTF).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import jit
from algorithms._validation import InputError, Interval
from algorithms._windows import last_value
from algorithms.base import BoolArray, DetectorKernel, FloatArray, IntArray, OverloadDetector
from algorithms.overload._row import new_params

Int64Array = NDArray[np.int64]

#: The OTF row kernel's code (``params[CODE]``) and the positions of its parameters in ``params``.
OTF_KERNEL, TARGET, THRESHOLD, LIMIT = 5, 4, 5, 6
#: Columns of the OTF kernel's state rows (:meth:`OtfDetector.kernel_state`).
OVERLOAD_STEPS, TOTAL_STEPS = 0, 1


@jit
def otf_row(
    params: NDArray[np.float64], state: NDArray[np.float64], row: NDArray[np.float64], n_valid: int, steps: float
) -> bool:
    """:meth:`OtfDetector.evaluate` on one row (window,) with history, from the host's state row
    (:meth:`OtfDetector.kernel_state`), which it does not advance."""
    over_now = row[row.shape[0] - 1] >= params[THRESHOLD]
    numerator = steps + (state[OVERLOAD_STEPS] + (1.0 if over_now else 0.0))
    denominator = steps + (state[TOTAL_STEPS] + 1.0)
    fraction = numerator / denominator if denominator > 0 else 0.0
    return over_now and n_valid >= params[LIMIT] and fraction >= params[TARGET]


@dataclass(frozen=True)
class OtfState:
    """Counters of :class:`OtfDetector`, one entry per host.

    Attributes
    ----------
    overload_steps : int64 array of shape (n_hosts,)
        Steps observed with ``u[-1] >= threshold``.
    total_steps : int64 array of shape (n_hosts,)
        Steps observed.
    """

    overload_steps: Int64Array
    total_steps: Int64Array


@dataclass(frozen=True, kw_only=True)
class OtfDetector(OverloadDetector):
    """OTF: overloaded iff over the threshold now and the overload time fraction reaches ``otf``.

    Parameters
    ----------
    otf : float in (0, 1]
        Target overload time fraction.
    threshold : float in (0, 1]
        Utilization at or above which a step counts as overloaded (the paper: 1.0, full load).
    limit : int >= 1
        Minimum history (``n_valid``) for a decision.

    Notes
    -----
    :meth:`evaluate` takes ``utilization`` of shape (n_hosts, window), ``n_valid`` and
    ``migration_time_steps`` of shape (n_hosts,), and an :class:`OtfState` of n_hosts entries; it
    returns a bool array of shape (n_hosts,) and a new :class:`OtfState` (the input state is not
    modified, so a caller may evaluate a hypothetical history and discard the result).
    """

    POLICY_PARAMETER = "otf"
    PARAMETERS = {  # noqa: RUF012
        "otf": Interval("float", 0.0, 1.0, closed="right"),
        "threshold": Interval("float", 0.0, 1.0, closed="right"),
        "limit": Interval("int", 1, float("inf")),
    }

    otf: float = 0.1
    threshold: float = 1.0
    limit: int = 30

    def kernel(self) -> DetectorKernel:
        params = new_params(OTF_KERNEL)
        params[TARGET], params[THRESHOLD], params[LIMIT] = self.otf, self.threshold, self.limit
        return DetectorKernel(params, np.zeros((3, 0)), state_width=2)

    def kernel_state(self, state: OtfState | None, n_hosts: int) -> FloatArray:
        """The counters as the kernel's state rows: float array (n_hosts, 2), overload steps and steps."""
        if state is None:
            state = self.initial_state(n_hosts)
        return np.stack([state.overload_steps, state.total_steps], axis=1).astype(np.float64)

    def initial_state(self, n_hosts: int) -> OtfState:
        """Zero counters for ``n_hosts`` hosts."""
        return OtfState(np.zeros(n_hosts, dtype=np.int64), np.zeros(n_hosts, dtype=np.int64))

    def evaluate(
        self, utilization: FloatArray, n_valid: IntArray, migration_time_steps: FloatArray, state: OtfState
    ) -> tuple[BoolArray, OtfState]:
        n_hosts = utilization.shape[0]
        if state.overload_steps.shape != (n_hosts,) or state.total_steps.shape != (n_hosts,):
            raise InputError(
                f"{type(self).__name__}: state must hold ({n_hosts},) counters to match utilization; "
                f"got {state.overload_steps.shape} and {state.total_steps.shape}"
            )
        last, has = last_value(utilization, n_valid)
        over_now = has & (last >= self.threshold)
        overload = state.overload_steps + over_now
        total = state.total_steps + has
        numerator = migration_time_steps + overload
        denominator = migration_time_steps + total
        fraction = np.divide(numerator, denominator, out=np.zeros(n_hosts), where=denominator > 0)
        overloaded = over_now & (n_valid >= self.limit) & (fraction >= self.otf)
        return overloaded, OtfState(overload, total)
