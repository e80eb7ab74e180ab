"""Host utilization from VM histories: reference vector 20 and the batched per-host sums."""

from __future__ import annotations

import numpy as np
import pytest

from algorithms import utilization
from algorithms._validation import InputError
from algorithms.utilization import host_history_from_vms, host_utilization

NAN = np.nan


def read_only(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


class TestHostUtilization:
    def test_reference_vector_20(self) -> None:
        """VMs left-padded to 4 steps: [0, 100, 200, 300] + [300, 100, 300, 200] + [0, 100, 100, 700]
        = [300, 300, 600, 1200]; hypervisor [0, 300, 0, 300] gives [300, 600, 600, 1500]; / 3000."""
        result = host_utilization([[100, 200, 300], [300, 100, 300, 200], [100, 100, 700]], [300, 0, 300], 3000)
        np.testing.assert_allclose(result, [0.1, 0.2, 0.2, 0.5])
        assert result.dtype == np.float64

    def test_two_dimensional_input_is_already_aligned_and_nan_is_padding(self) -> None:
        vms = np.array([[NAN, 100, 200, 300], [300, 100, 300, 200], [NAN, 100, 100, 700]])
        read_only(vms)
        np.testing.assert_allclose(host_utilization(vms, [300, 0, 300], 3000), [0.1, 0.2, 0.2, 0.5])

    def test_longer_hypervisor_series_is_cut_to_the_newest_values(self) -> None:
        """VM [100, 200]; hypervisor [1000, 300, 0] -> its newest two [300, 0]; (400, 200) / 1000."""
        np.testing.assert_allclose(host_utilization([[100, 200]], [1000, 300, 0], 1000), [0.4, 0.2])

    def test_host_without_vms_is_its_hypervisor_alone(self) -> None:
        np.testing.assert_allclose(host_utilization([], [300, 0, 600], 3000), [0.1, 0.0, 0.2])

    @pytest.mark.parametrize("capacity", [0.0, -1.0, np.inf])
    def test_capacity_must_be_positive(self, capacity: float) -> None:
        with pytest.raises(InputError, match="capacity_mhz"):
            host_utilization([[1.0]], [0.0], capacity)

    def test_negative_mhz_is_rejected(self) -> None:
        with pytest.raises(InputError, match="VM histories"):
            host_utilization([[1.0, -5.0]], [0.0], 100)


class TestHostHistoryFromVms:
    def test_hand_worked_batch(self) -> None:
        """Host 0 runs VM 0 ([., .1, .2] of 1000 MIPS = [0, 100, 200]) and VM 1 ([.3, .3, .3] of
        2000 = [600, 600, 600]): [600, 700, 800] / 4000 = [.15, .175, .2], 3 valid. Host 1 has no
        VM. Host 2 runs VM 2 ([., ., .5] of 1000): 500 / 1000, 1 valid. VM 3 is on no host."""
        vm_host = np.array([0, 0, 2, -1])
        history = np.array([[NAN, 0.1, 0.2], [0.3, 0.3, 0.3], [NAN, NAN, 0.5], [0.9, 0.9, 0.9]])
        n_valid = np.array([2, 3, 1, 3])
        vm_cap = np.array([1000.0, 2000.0, 1000.0, 1000.0])
        host_cap = np.array([4000.0, 1000.0, 1000.0])
        read_only(vm_host, history, n_valid, vm_cap, host_cap)
        result, host_n_valid = host_history_from_vms(vm_host, history, n_valid, vm_cap, host_cap, n_hosts=3)
        np.testing.assert_allclose(result, [[0.15, 0.175, 0.2], [NAN, NAN, NAN], [NAN, NAN, 0.5]])
        np.testing.assert_array_equal(host_n_valid, [3, 0, 1])
        assert host_n_valid.dtype == np.intp

    def test_agrees_with_host_utilization(self) -> None:
        """Vector 20's VMs as fractions of 1000-MIPS VMs on one 3000-MIPS host, no hypervisor share."""
        history = np.array([[NAN, 0.1, 0.2, 0.3], [0.3, 0.1, 0.3, 0.2], [NAN, 0.1, 0.1, 0.7]])
        result, n_valid = host_history_from_vms(
            np.zeros(3, dtype=np.intp), history, np.array([3, 4, 3]), np.full(3, 1000.0), np.array([3000.0]), n_hosts=1
        )
        expected = host_utilization(np.nan_to_num(history) * 1000, [], 3000)
        np.testing.assert_allclose(result[0], expected)
        assert n_valid.tolist() == [4]

    def test_no_vms(self) -> None:
        result, n_valid = host_history_from_vms(
            np.zeros(0, dtype=np.intp), np.zeros((0, 2)), np.zeros(0, dtype=np.intp), np.zeros(0), np.ones(2), n_hosts=2
        )
        assert result.shape == (2, 2)
        assert np.isnan(result).all()
        assert n_valid.tolist() == [0, 0]

    def test_host_index_out_of_range(self) -> None:
        with pytest.raises(InputError, match=r"vm_host must be in \[-1, 1\)"):
            host_history_from_vms(np.array([1]), np.ones((1, 1)), np.array([1]), np.ones(1), np.ones(1), n_hosts=1)


def test_public_names_are_sorted_and_exist() -> None:
    assert utilization.__all__ == sorted(utilization.__all__)
    assert all(hasattr(utilization, name) for name in utilization.__all__)
