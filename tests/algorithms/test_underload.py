"""Underload detectors: reference vector 12 of docs/algorithms.md and small hand-checked cases."""

from __future__ import annotations

import numpy as np

from algorithms.underload.last_n_average import LastNAverageUnderload
from algorithms.underload.never import NeverUnderloaded
from algorithms.underload.threshold import ThresholdUnderload


def batch(*rows: list[float], window: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-align ``rows`` into a NaN-padded (n_rows, window) batch and their n_valid."""
    width = window if window is not None else max([len(r) for r in rows] + [1])
    u = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        if row:
            u[i, width - len(row) :] = row
    return u, np.array([len(r) for r in rows], dtype=np.intp)


def run(detector, *rows: list[float]) -> list[bool]:
    u, n = batch(*rows)
    return detector.detect(u, n).tolist()


def test_threshold_reference_vector_12():
    """threshold(0.5): 0.5 <= 0.5 T (inclusive); 0.6 <= 0.5 F."""
    assert run(ThresholdUnderload(threshold=0.5), [0.0, 0.5], [0.0, 0.6]) == [True, False]


def test_threshold_empty_history_is_not_underloaded():
    """No value, no decision: [] F even though nothing is running."""
    assert run(ThresholdUnderload(threshold=0.5), [], [0.25]) == [False, True]


def test_last_n_average_reference_vector_12():
    """n = 2, threshold 0.5: (0 + 1) / 2 = 0.5 T; (0.2 + 1) / 2 = 0.6 F; (0.6 + 0.6) / 2 = 0.6 F.
    n = 3: (0 + 0.6 + 0.6) / 3 = 0.4 T."""
    two = LastNAverageUnderload(threshold=0.5, n=2)
    assert run(two, [0.0, 1.0], [0.2, 1.0], [0.0, 0.6, 0.6]) == [True, False, False]
    assert run(LastNAverageUnderload(threshold=0.5, n=3), [0.0, 0.6, 0.6]) == [True]


def test_last_n_average_shorter_history_and_empty():
    """n = 3 with one value 0.25: mean 0.25 <= 0.3 T; [] F."""
    assert run(LastNAverageUnderload(threshold=0.3, n=3), [0.25], []) == [True, False]


def test_last_n_average_ignores_older_values():
    """n = 2 on [1.0, 0.25, 0.25]: the 1.0 is outside the average; 0.25 <= 0.3 T."""
    assert run(LastNAverageUnderload(threshold=0.3, n=2), [1.0, 0.25, 0.25]) == [True]


def test_never_underloaded():
    """All False, one per host."""
    assert run(NeverUnderloaded(), [0.0], [], [0.0, 0.0]) == [False, False, False]
