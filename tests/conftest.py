"""Fixtures shared by the test packages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from neat.db import migrate
from neat.db.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A store on a migrated SQLite file of its own (tests/db has its own, on every backend)."""
    url = f"sqlite:///{tmp_path / 'neat.db'}"
    migrate.upgrade(url)
    with Store.from_url(url) as s:
        yield s
