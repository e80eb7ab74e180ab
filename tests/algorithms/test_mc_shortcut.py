"""MC's shortcut (one eigenvalue problem and one inverse per host) picks what the SVDs pick.

:func:`algorithms.selection.mc.most_correlated` decides a host from its correlation matrix only where
the answer cannot differ from :func:`~algorithms.selection.mc.r_squared`'s, and hands the other hosts
to the SVDs. Checked host by host against the SVD-only decision on random stacks and on the cases
that make the two disagree if the shortcut were taken blindly: exact and near ties, duplicated and
constant VMs, nearly collinear VMs, VMs with a tiny spread around a large mean.
"""

from __future__ import annotations

import numpy as np
import pytest

from algorithms.selection import mc
from algorithms.selection.mc import R2_TIE_TOLERANCE, most_correlated, r_squared

WINDOW = 30


def svd_decision(histories: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each host alone through :func:`r_squared`: the chosen VM (first within the tie tolerance of
    the best) and whether its regressions are regular."""
    position = np.zeros(histories.shape[0], dtype=np.intp)
    regular = np.zeros(histories.shape[0], dtype=np.bool_)
    for i, common in enumerate(length):
        r2, ok = r_squared(np.moveaxis(histories[i : i + 1, :, WINDOW - common :], 1, 2))
        near_best = r2[0] >= r2[0].max() - R2_TIE_TOLERANCE
        position[i], regular[i] = np.argmax(near_best), ok[0]
    return position, regular


def stack(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` hosts of ``m`` VMs: right-aligned histories with NaN before a random common length, and
    every troublesome case on some hosts."""
    level = rng.random((n, m, 1))
    spread = 0.05 + 0.25 * rng.random((n, m, 1))
    histories = np.clip(level + spread * rng.standard_normal((n, m, WINDOW)), 0, 1)
    histories[::3] = np.round(histories[::3] * 100) / 100  # whole percents, as the traces
    histories[1::7, 1] = histories[1::7, 0]  # duplicated VM: an exact linear relation
    histories[2::7, m - 1] = 0.42  # constant VM
    histories[3::7, 1] = 0.5 * histories[3::7, 0] + 0.1 + 1e-9 * rng.standard_normal((len(range(3, n, 7)), WINDOW))
    histories[4::7] = 0.6 + 1e-4 * rng.standard_normal((len(range(4, n, 7)), m, WINDOW))  # tiny spread
    if m >= 3:  # VM 2 a combination of VMs 0 and 1: R^2 of all three is 1, a tie within rounding
        histories[5::7, 2] = 0.3 * histories[5::7, 0] + 0.7 * histories[5::7, 1]
    length = rng.integers(m + 1, WINDOW + 1, n)
    histories[np.arange(WINDOW)[None, None, :] < (WINDOW - length)[:, None, None] + np.zeros((1, m, 1))] = np.nan
    return histories, length


def counting_svds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the hosts :func:`most_correlated` hands to the SVDs."""
    handed: list[int] = []

    def counted(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        handed.append(data.shape[0])
        return r_squared(data)

    monkeypatch.setattr(mc, "r_squared", counted)
    return handed


@pytest.mark.parametrize("m", [2, 3, 5, 8, 13, 20, 28])
def test_the_shortcut_decides_as_the_svds(m: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(m)
    histories, length = stack(rng, 280, m)
    handed = counting_svds(monkeypatch)
    position, regular = most_correlated(histories, length)
    monkeypatch.undo()
    expected_position, expected_regular = svd_decision(histories, length)
    np.testing.assert_array_equal(regular, expected_regular)
    np.testing.assert_array_equal(position[regular], expected_position[regular])
    assert 0 < regular.sum() < regular.size  # both answers are reached
    assert 0 < sum(handed) < 280  # both ways of deciding are taken


def test_near_ties_at_the_tolerance_go_to_the_svds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two VMs whose R^2 differ by about the tie tolerance: the shortcut does not decide the host."""
    rng = np.random.default_rng(3)
    base = rng.random((1, 3, WINDOW))
    histories = np.repeat(base, 40, axis=0)
    histories[:, 2] = histories[:, 0] + histories[:, 1] + 1e-5 * rng.standard_normal((40, WINDOW))
    length = np.full(40, WINDOW)
    handed = counting_svds(monkeypatch)
    position, regular = most_correlated(histories, length)
    monkeypatch.undo()
    expected_position, expected_regular = svd_decision(histories, length)
    np.testing.assert_array_equal(regular, expected_regular)
    np.testing.assert_array_equal(position, expected_position)
    assert sum(handed) == 40


def test_most_hosts_take_the_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    """On ordinary histories the SVDs run for few hosts (the shortcut is the path, not the exception)."""
    rng = np.random.default_rng(5)
    histories = rng.random((200, 6, WINDOW))
    handed = counting_svds(monkeypatch)
    most_correlated(histories, np.full(200, WINDOW))
    assert sum(handed) < 20


def tie_line_stack(seed: int, m: int, n: int) -> np.ndarray:
    """``n`` hosts of ``m`` VMs (WINDOW values each) whose VMs 0 and 1 have R^2 that differ by the
    tie tolerance to within a millionth of it: VM 1 is VM 0 reversed in time plus ``eps`` times a
    fixed direction, the others read the same backwards (so at ``eps = 0`` the two R^2 are equal),
    and ``eps`` is found by bisection on the SVDs' R^2."""
    rng = np.random.default_rng(seed)
    first, direction = rng.random(WINDOW), rng.standard_normal(WINDOW)
    half = rng.random((m - 2, WINDOW // 2))
    others = np.concatenate([half, half[:, ::-1]], axis=1)

    def host(eps: float) -> np.ndarray:
        return np.vstack([first, first[::-1] + eps * direction, others])

    def gap(eps: float) -> float:
        r2 = r_squared(host(eps).T[None])[0][0]
        return float(r2.max() - min(r2[0], r2[1]))

    low, high = 0.0, 1e-3
    while gap(high) < R2_TIE_TOLERANCE:
        high *= 2
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if gap(middle) < R2_TIE_TOLERANCE else (low, middle)
    return np.stack([host(low * (1 + k)) for k in np.linspace(-1e-6, 1e-6, n)])


@pytest.mark.parametrize("m", [3, 5, 8])
def test_hosts_on_the_tie_line_are_decided_as_by_the_svds(m: int) -> None:
    """The shortcut's margin is what keeps these right: with a thousandth of it, some are not."""
    for seed in range(8):
        histories = tie_line_stack(seed, m, 21)
        length = np.full(histories.shape[0], WINDOW)
        position, regular = most_correlated(histories, length)
        expected_position, expected_regular = svd_decision(histories, length)
        np.testing.assert_array_equal(regular, expected_regular)
        np.testing.assert_array_equal(position, expected_position)
