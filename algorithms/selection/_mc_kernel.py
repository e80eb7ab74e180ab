"""MC's shortcut compiled: every host's R^2 from one Cholesky factorization, with its certainty.

For a host with ``m`` VMs and common history length ``L``, the R^2 of VM ``j`` regressed on the
others with an intercept is ``1 - 1 / (C^-1)_jj``, ``C`` the correlation matrix of the host's VMs
(the centred Gram matrix ``G`` scaled to a unit diagonal), factorized once per host.
:func:`shortcut` says, per host, which VM that picks and whether the pick is certain to be the
SVDs' (:func:`algorithms.selection.mc.r_squared`):

- regular for sure: the design with every column, ``D = [1, X]``, has
  ``cond(D)^2 = cond(A) <= ||A||_F ||A^-1||_F`` at most :data:`CERTAIN_CONDITION` squared
  (``A = D^T D``, inverted blockwise through ``G^-1``), so every regression's design (a subset of
  ``D``'s columns: singular values interlace) is nine orders of magnitude above the SVD's rank
  tolerance;
- the same winner for sure: every R^2 lies farther from the tie line (the best less
  ``tolerance``) than twice ``error_scale`` times an estimate of both computations' rounding error:
  the SVD's least-squares residual moves by about ``eps (1 + 2 cond(D)) |y| |r|`` (backward
  stability), the diagonal of ``C^-1`` by about ``eps m cond(C) <= eps m^2 trace(C^-1)``,
  relative.

A host that is not certain (or whose factorization fails) is decided by the SVDs.

References
----------
Beloglazov & Buyya, CCPE 24(13), 2012, section 6.2 (MC); Higham, Accuracy and Stability of
Numerical Algorithms, 2002, chapters 10 (Cholesky) and 20 (least squares).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from algorithms._jit import jit

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

EPS = float(np.finfo(np.float64).eps)
#: The largest condition number of a host's design ``[1, X]`` taken as regular without its SVDs.
CERTAIN_CONDITION = 1e5


@jit
def _host(
    history: FloatArray,
    members: IntArray,
    length: int,
    tolerance: float,
    error_scale: float,
    work: FloatArray,
    r2: FloatArray,
) -> tuple[int, bool]:
    """(position of the pick among ``members``, certain) for one host; ``work`` at least (4, m, m)."""
    m = members.shape[0]
    window = history.shape[1]
    first = window - length
    mean, spread = work[3, 0], work[3, 1]
    for a in range(m):
        total = 0.0
        for t in range(first, window):
            total += history[members[a], t]
        mean[a] = total / length
    # G = Xc^T Xc (centred Gram), S = diag(G)^-1/2, C = S G S (correlations)
    gram, factor = work[0], work[1]
    for a in range(m):
        for b in range(a + 1):
            total = 0.0
            for t in range(first, window):
                total += (history[members[a], t] - mean[a]) * (history[members[b], t] - mean[b])
            gram[a, b] = gram[b, a] = total
    norm_a = float(length) * length  # ||A||_F^2, A = [1, X]^T [1, X] = [[L, L mean^T], [L mean, G + L mean mean^T]]
    for a in range(m):
        if not gram[a, a] > 0:
            return 0, False
        spread[a] = 1.0 + length * mean[a] * mean[a] / gram[a, a]  # |y|^2 / SS_tot
        norm_a += 2.0 * (length * mean[a]) ** 2
        for b in range(m):
            norm_a += (gram[a, b] + length * mean[a] * mean[b]) ** 2
    for a in range(m):
        for b in range(m):
            factor[a, b] = gram[a, b] / math.sqrt(gram[a, a] * gram[b, b]) if b >= a else 0.0
    # Cholesky C = R^T R (R upper, in factor), then R^-1 in place
    for i in range(m):
        for k in range(i):
            factor[i, i] -= factor[k, i] * factor[k, i]
        if not factor[i, i] > 0:
            return 0, False
        factor[i, i] = math.sqrt(factor[i, i])
        for c in range(i + 1, m):
            for k in range(i):
                factor[i, c] -= factor[k, i] * factor[k, c]
            factor[i, c] /= factor[i, i]
    for i in range(m):
        factor[i, i] = 1.0 / factor[i, i]
    for c in range(m - 1, -1, -1):
        for i in range(c - 1, -1, -1):
            total = 0.0
            for k in range(i + 1, c + 1):
                total += factor[i, k] * factor[k, c]
            factor[i, c] = -total * factor[i, i]
    # G^-1 = S C^-1 S, C^-1 = R^-1 R^-T; the R^2 and ||A^-1||_F from the block inverse of A
    inverse = work[2]
    trace = 0.0
    for a in range(m):
        for b in range(m):
            total = 0.0
            for c in range(max(a, b), m):
                total += factor[a, c] * factor[b, c]
            if a == b:
                r2[a] = 1.0 - 1.0 / total
                trace += total
            inverse[a, b] = total / math.sqrt(gram[a, a] * gram[b, b])
    corner = 1.0 / length
    norm_inverse = 0.0
    for a in range(m):
        side = 0.0  # (G^-1 mean)_a
        for b in range(m):
            side += inverse[a, b] * mean[b]
            norm_inverse += inverse[a, b] * inverse[a, b]
        corner += mean[a] * side
        norm_inverse += 2.0 * side * side
    norm_inverse += corner * corner
    condition_a = math.sqrt(norm_a) * math.sqrt(norm_inverse)  # bounds cond(A) = cond(D)^2
    if not condition_a <= CERTAIN_CONDITION * CERTAIN_CONDITION:
        return 0, False
    condition_d = math.sqrt(condition_a)
    error = 0.0
    best = -math.inf
    for j in range(m):
        unexplained = max(1.0 - r2[j], 0.0)
        estimate = (1.0 + 2.0 * condition_d) * math.sqrt(spread[j]) * math.sqrt(unexplained)
        estimate += m * m * trace * unexplained
        error = max(error, estimate)
        best = max(best, r2[j])
    error *= error_scale * EPS
    tie_line = best - tolerance
    position = -1
    for j in range(m):
        if not abs(r2[j] - tie_line) > 2.0 * error:
            return 0, False
        if position < 0 and r2[j] >= tie_line:
            position = j
    return position, True


@jit
def shortcut(
    history: FloatArray,
    members: IntArray,
    start: IntArray,
    count: IntArray,
    length: IntArray,
    tolerance: float,
    error_scale: float,
) -> tuple[IntArray, BoolArray]:
    """MC's pick on every host where the shortcut is certain of it.

    Parameters
    ----------
    history : float array (n_vms, window), right-aligned (only each host's newest ``length`` read)
    members : intp array (n_members,), the VMs of every host, host after host
    start, count : intp arrays (n_hosts,), where each host's VMs are in ``members`` and how many
        (at least 2)
    length : intp array (n_hosts,), the common history length, ``count + 1 <= length <= window``
    tolerance : R^2 within this of the best tie
    error_scale : how many times the estimated rounding error the R^2 must clear the tie line by

    Returns
    -------
    position : intp array (n_hosts,), the pick's index among the host's VMs (0 where not certain)
    certain : bool array (n_hosts,), regular and the SVDs' pick for sure
    """
    n = start.shape[0]
    position = np.zeros(n, dtype=np.intp)
    certain = np.zeros(n, dtype=np.bool_)
    largest = 0
    for h in range(n):
        largest = max(largest, count[h])
    work = np.empty((4, max(largest, 2), max(largest, 2)))
    r2 = np.empty(largest)
    for h in range(n):
        position[h], certain[h] = _host(
            history,
            members[start[h] : start[h] + count[h]],
            length[h],
            tolerance,
            error_scale,
            work,
            r2,
        )
    return position, certain
