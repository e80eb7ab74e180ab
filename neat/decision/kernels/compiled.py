"""Whether a policy's round runs in the compiled kernels: a capability of its plug-ins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neat.decision.kernels.jit import COMPILED

if TYPE_CHECKING:
    from neat.decision.policy import Policy


def compiled_round(policy: Policy) -> bool:
    """True when numba is there and both the placer and the detector declare a kernel.

    (:meth:`algorithms.base.Placer.kernel`, :meth:`algorithms.base.OverloadDetector.kernel`.) The
    compiled round decides as the NumPy round does, bit for bit; any other policy takes the latter.
    """
    return COMPILED and policy.kernels is not None
