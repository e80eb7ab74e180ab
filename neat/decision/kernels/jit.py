"""The compiler of the decision round's kernels, cached under a stamp of theirs and algorithms'.

The round's kernels call the kernels of :mod:`algorithms` (PABFD's search, the detectors' row
kernels), so their cache is keyed on the kernel files of both packages
(:func:`algorithms._jit.kernel_jit`).
"""

from __future__ import annotations

from pathlib import Path

from algorithms._jit import ALGORITHMS_DIR, COMPILED, kernel_jit

#: Compile a kernel of the decision round (the identity without numba).
jit = kernel_jit(ALGORITHMS_DIR, Path(__file__).parent)

__all__ = ["COMPILED", "jit"]
