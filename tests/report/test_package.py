"""The package surface: a sorted ``__all__`` whose names all resolve, and a light command import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import neat.report


def test_all_is_sorted_and_resolves() -> None:
    assert neat.report.__all__ == sorted(neat.report.__all__)
    for name in neat.report.__all__:
        assert getattr(neat.report, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        neat.report.nope  # noqa: B018


def test_importing_the_command_pulls_in_no_plotting() -> None:
    """``neat --help`` imports the command; matplotlib and pandas wait until a report is made."""
    code = "import sys, neat.cli.report; print('matplotlib' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
