"""Fixtures shared by the test packages."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from neat.db import migrate
from neat.db.store import Store


@pytest.fixture(autouse=True)
def _collector_unfrozen() -> Iterator[None]:
    """`neat simulate` freezes the collector's objects, which in its own process live until exit;
    in the test process, give them back to the collector after each test."""
    yield
    gc.unfreeze()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A store on a migrated SQLite file of its own (tests/db has its own, on every backend)."""
    url = f"sqlite:///{tmp_path / 'neat.db'}"
    migrate.upgrade(url)
    with Store.from_url(url) as s:
        yield s
