"""Hand-checkable cases for every VM selector: the VM chosen per host, ties, and fallbacks.

VM indices in the comments are rows of the VM table; ``chosen`` marks the hosts asked about.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from algorithms._validation import InputError
from algorithms.base import VmSelector, VmTable
from algorithms.selection import mc, mmt, mu, none, rs
from algorithms.selection.mc import MaximumCorrelation, r_squared
from algorithms.selection.mmt import MinimumMigrationTime, first_per_host, mean_of_last
from algorithms.selection.mu import MinimumUtilization
from algorithms.selection.none import NoSelection
from algorithms.selection.rs import RandomSelection

NAN = np.nan


def table(
    host: Sequence[int],
    *,
    ram: Sequence[float] | None = None,
    cpu: Sequence[float] | None = None,
    capacity: Sequence[float] | None = None,
    history: Sequence[Any] | None = None,
) -> VmTable:
    """A VM table; ``n_valid`` counts the non-NaN values of each history row."""
    n = len(host)
    hist = np.zeros((n, 1)) if history is None else np.array(history, dtype=np.float64).reshape(n, -1)
    return VmTable(
        host=np.array(host, dtype=np.intp),
        cpu_mips=np.zeros(n) if cpu is None else np.array(cpu, dtype=np.float64),
        capacity_mips=np.full(n, 1000.0) if capacity is None else np.array(capacity, dtype=np.float64),
        ram_mb=np.full(n, 1024.0) if ram is None else np.array(ram, dtype=np.float64),
        history=hist,
        n_valid=(~np.isnan(hist)).sum(axis=1).astype(np.intp),
    )


def mask(*flags: int) -> np.ndarray:
    return np.array(flags, dtype=np.bool_)


class TestGroupHelpers:
    def test_first_per_host_orders_by_keys_then_index(self) -> None:
        """Host 0: VMs 0, 2, 4 with keys (1, 0, 0) -> VM 2 (tie with 4, lower index);
        host 2: VM 1 only; host 1: none -> -1."""
        vm = np.array([0, 1, 2, 4])
        host = np.array([0, 2, 0, 0])
        key = np.array([1.0, 5.0, 0.0, 0.0])
        assert first_per_host(vm, host, (key,), 3).tolist() == [2, -1, 1]

    def test_mean_of_last_uses_only_valid_values(self) -> None:
        """Rows [., 1, 3] (2 valid), [2, 4, 6], [., ., .] with steps 2: 2, 5, -inf."""
        history = np.array([[NAN, 1.0, 3.0], [2.0, 4.0, 6.0], [NAN, NAN, NAN]])
        result = mean_of_last(history, np.array([2, 3, 0]), 2)
        assert result.tolist() == [2.0, 5.0, -np.inf]


class TestNoSelection:
    def test_never_selects(self) -> None:
        vms = table([0, 0, 1])
        assert NoSelection().select(vms, mask(1, 1, 1)).tolist() == [-1, -1, -1]


class TestMinimumMigrationTime:
    # Host 0: VMs 0 (2048 MB), 1 (1024), 2 (1024); host 1: VMs 3 (512), 4 (256); host 2: VM 5,
    # not chosen; VM 6 has the least RAM but is on no host; host 3 is chosen and empty.
    HOSTS = (0, 0, 0, 1, 1, 2, -1)
    RAM = (2048, 1024, 1024, 512, 256, 128, 1)

    def test_least_ram_ties_to_lowest_index(self) -> None:
        vms = table(self.HOSTS, ram=self.RAM)
        assert MinimumMigrationTime().select(vms, mask(1, 1, 0, 1)).tolist() == [1, 4, -1, -1]

    @pytest.mark.parametrize(
        ("mean_steps", "expected"),
        [
            # VM 1: [.6, .3] of 1000 MIPS, VM 2: [.1, .4]. Means of the last 2: 450 vs 250 -> VM 1.
            (2, 1),
            # Last value only: 300 vs 400 -> VM 2.
            (1, 2),
        ],
    )
    def test_highest_mean_breaks_ram_ties(self, mean_steps: int, expected: int) -> None:
        history = [[0, 0], [0.6, 0.3], [0.1, 0.4], [0, 0], [0, 0], [0, 0], [0, 0]]
        vms = table(self.HOSTS, ram=self.RAM, history=history)
        selector = MinimumMigrationTime(tie_break="highest_mean", mean_steps=mean_steps)
        assert selector.select(vms, mask(1, 1, 0, 1)).tolist() == [expected, 4, -1, -1]

    def test_highest_mean_is_in_mips(self) -> None:
        """VM 0: 0.3 of 2000 MIPS = 600; VM 1: 0.5 of 1000 = 500 -> VM 0 (by fraction it would be 1)."""
        vms = table([0, 0], capacity=[2000, 1000], history=[[0.3], [0.5]])
        selector = MinimumMigrationTime(tie_break="highest_mean", mean_steps=1)
        assert selector.select(vms, mask(1)).tolist() == [0]

    def test_highest_mean_equal_means_and_missing_history(self) -> None:
        """VMs 0 and 2 both average 0.2 -> VM 0; VM 1 has no history and ranks last."""
        vms = table([0, 0, 0], history=[[0.1, 0.3], [NAN, NAN], [0.2, 0.2]])
        selector = MinimumMigrationTime(tie_break="highest_mean")
        assert selector.select(vms, mask(1)).tolist() == [0]
        assert selector.select(table([0, 0], history=[[NAN], [0.0]]), mask(1)).tolist() == [1]


class TestMinimumUtilization:
    def test_least_cpu_ties_to_lowest_index(self) -> None:
        """Host 0: cpu (300, 100, 100) -> VM 1; host 1: (50, 20) -> VM 4; VM 5 on no host."""
        vms = table([0, 0, 0, 1, 1, -1], cpu=[300, 100, 100, 50, 20, 0])
        assert MinimumUtilization().select(vms, mask(1, 1)).tolist() == [1, 4]
        assert MinimumUtilization().select(vms, mask(0, 1)).tolist() == [-1, 4]


class TestRandomSelection:
    VMS = table([0, 0, 0, 1, -1, 2])

    def test_needs_a_generator(self) -> None:
        with pytest.raises(InputError, match="numpy Generator"):
            RandomSelection().select(self.VMS, mask(1, 1, 1))

    def test_seeded_generator_is_reproducible(self) -> None:
        first = RandomSelection().select(self.VMS, mask(1, 1, 1), np.random.default_rng(7))
        again = RandomSelection().select(self.VMS, mask(1, 1, 1), np.random.default_rng(7))
        assert first.tolist() == again.tolist()
        assert first[0] in (0, 1, 2)
        assert first[1:].tolist() == [3, 5]

    def test_every_vm_is_drawn(self) -> None:
        rng = np.random.default_rng(2024)
        picks = [int(RandomSelection().select(self.VMS, mask(1, 0, 0), rng)[0]) for _ in range(300)]
        assert set(picks) == {0, 1, 2}, np.bincount(picks)


class TestMaximumCorrelation:
    A = (0.1, 0.3, 0.1, 0.3, 0.1, 0.3, 0.1, 0.3)
    B = (0.1, 0.1, 0.3, 0.3, 0.1, 0.1, 0.3, 0.3)
    E = (0, 0, 0, 0, 0.02, 0, 0, 0)

    def test_two_vms_share_one_r_squared(self) -> None:
        """a = [1, 2, 3, 4] / 10, b = [1, 3, 2, 4] / 10: centred [-1.5, -.5, .5, 1.5] and
        [-1.5, .5, -.5, 1.5], cross sum 4, squares 5 each: r = 0.8, R^2 = 0.64 either way."""
        r2, regular = r_squared(np.array([[[0.1, 0.1], [0.2, 0.3], [0.3, 0.2], [0.4, 0.4]]]))
        np.testing.assert_allclose(r2, [[0.64, 0.64]])
        assert regular.tolist() == [True]
        # The tie goes to the lower index, although MMT would pick VM 1 (less RAM).
        vms = table([0, 0], ram=[2048, 1024], history=[[0.1, 0.2, 0.3, 0.4], [0.1, 0.3, 0.2, 0.4]])
        assert MaximumCorrelation().select(vms, mask(1)).tolist() == [0]

    def test_picks_the_near_linear_combination(self) -> None:
        """d = a + b + e with a, b uncorrelated and of equal variance: each is explained by the
        other two up to the same small noise, but d has twice the variance, so its R^2 is the
        largest (0.99836 against 0.99672 for a and b). d is last and has the most RAM: MMT
        would not take it."""
        d = np.add(np.add(self.A, self.B), self.E)
        r2, regular = r_squared(np.stack([self.A, self.B, d], axis=1)[None])
        np.testing.assert_allclose(r2, [[0.99672346, 0.99672346, 0.99835904]], rtol=1e-7)
        assert regular.tolist() == [True]
        vms = table([0, 0, 0], ram=[512, 512, 4096], history=[self.A, self.B, d])
        assert MaximumCorrelation().select(vms, mask(1)).tolist() == [2]

    def test_exact_linear_combination_ties_to_lowest_index(self) -> None:
        """c = a + b exactly: a = c - b and b = c - a too, so all three R^2 are 1 (up to
        rounding) and the lowest index wins. Here the combination is VM 0; VM 1 has the least RAM."""
        c = np.add(self.A, self.B)
        vms = table([0, 0, 0], ram=[1024, 256, 1024], history=[c, self.A, self.B])
        assert MaximumCorrelation().select(vms, mask(1)).tolist() == [0]

    def test_singular_regression_falls_back_to_mmt(self) -> None:
        """Four VMs with d = a + b: the design of the fourth VM's regression holds a, b and a + b,
        so it is singular and the host falls back to MMT (least RAM: VM 3)."""
        c = (0.5, 0.5, 0.1, 0.2, 0.6, 0.3, 0.4, 0.1)
        d = np.add(self.A, self.B)
        vms = table([0, 0, 0, 0], ram=[1024, 1024, 1024, 512], history=[d, self.A, self.B, c])
        assert MaximumCorrelation().select(vms, mask(1)).tolist() == [3]

    def test_constant_series_falls_back_to_mmt(self) -> None:
        """A constant VM is collinear with the intercept in the others' regressions."""
        vms = table([0, 0, 0], ram=[1024, 2048, 512], history=[self.A, self.B, [0.2] * 8])
        assert MaximumCorrelation().select(vms, mask(1)).tolist() == [2]

    def test_short_common_history_falls_back_to_mmt(self) -> None:
        """Three VMs need at least 4 common values (3 coefficients + 1). VM 2 has 3 valid: MMT."""
        history = [[0.1, 0.2, 0.3, 0.4], [0.4, 0.1, 0.3, 0.2], [NAN, 0.3, 0.1, 0.2]]
        vms = table([0, 0, 0], ram=[2048, 512, 1024], history=history)
        assert MaximumCorrelation().select(vms, mask(1)).tolist() == [1]

    def test_hosts_of_every_shape_in_one_batch(self) -> None:
        """Host 0 as in the near-combination case (-> VM 2), host 1 a single VM (-> VM 3),
        host 2 two VMs (-> VM 4 by the tie), host 3 not chosen, VM 7 on no host."""
        d = np.add(np.add(self.A, self.B), self.E)
        history = [self.A, self.B, d, self.A, self.A, self.B, self.A, d]
        vms = table([0, 0, 0, 1, 2, 2, 3, -1], ram=[512, 512, 4096, 1, 1, 1, 1, 1], history=history)
        assert MaximumCorrelation().select(vms, mask(1, 1, 1, 0)).tolist() == [2, 3, 4, -1]

    def test_r_squared_matches_lstsq(self) -> None:
        data = np.random.default_rng(3).random((2, 7, 3))
        r2, regular = r_squared(data)
        assert regular.all()
        for h in range(2):
            for j in range(3):
                y = data[h, :, j]
                x = np.column_stack([np.ones(7), np.delete(data[h], j, axis=1)])
                coef = np.linalg.lstsq(x, y, rcond=None)[0]
                expected = 1 - ((y - x @ coef) ** 2).sum() / ((y - y.mean()) ** 2).sum()
                np.testing.assert_allclose(r2[h, j], expected, rtol=1e-10)


class TestInputChecks:
    @pytest.mark.parametrize(
        "selector", [NoSelection(), MinimumMigrationTime(), MinimumUtilization(), MaximumCorrelation()]
    )
    def test_hosts_must_be_a_bool_mask(self, selector: VmSelector) -> None:
        with pytest.raises(InputError, match="bool mask"):
            selector.select(table([0]), np.array([0]))

    def test_nan_inside_the_valid_history(self) -> None:
        vms = table([0, 0], history=[[0.1, 0.2], [0.3, 0.4]])
        vms.history[0, 1] = NAN
        vms.n_valid[0] = 2
        with pytest.raises(InputError, match="NaN or inf inside the valid part"):
            MaximumCorrelation().select(vms, mask(1))

    def test_ram_must_be_finite(self) -> None:
        with pytest.raises(InputError, match=r"vms\.ram_mb must hold finite numbers"):
            MinimumMigrationTime().select(table([0], ram=[NAN]), mask(1))

    @pytest.mark.parametrize("module", [mc, mmt, mu, none, rs])
    def test_public_names_are_sorted_and_exist(self, module: ModuleType) -> None:
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name), name

    def test_vm_host_out_of_range(self) -> None:
        with pytest.raises(InputError, match=r"vms.host must be in \[-1, 1\)"):
            MinimumMigrationTime().select(table([1]), mask(1))
