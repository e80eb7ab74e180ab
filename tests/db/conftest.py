"""One storage contract suite, every backend: SQLite (a temporary file), PostgreSQL and MariaDB.

Each backend gets a fresh database for the test session (``neat_test_<random>`` on the servers,
dropped at the end), migrated to head through :mod:`neat.db.migrate`; every test starts from empty
tables. The servers are those CI runs (see .ci/setup.d/20-databases.sh); override them with
``NEAT_TEST_POSTGRESQL_URL`` / ``NEAT_TEST_MYSQL_URL`` (a URL whose database the tests may connect
to in order to create and drop their own). Server tests are marked ``db``: an unreachable server
fails them with a message; ``-m "not db"`` leaves them out on a machine without servers.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import URL, delete
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from neat.db import migrate
from neat.db.engine import make_engine, normalize_url
from neat.db.models import Base
from neat.db.store import Store

SERVERS = {
    "postgresql": os.environ.get("NEAT_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("NEAT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}
START_HINT = {
    "postgresql": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "mysql": "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
}
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.db),
    pytest.param("mysql", id="mysql", marks=pytest.mark.db),
]


def as_text(url: URL) -> str:
    """A URL as a string with its password (``str(url)`` would mask it)."""
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database on ``backend``; dropped (or left in ``folder``) afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'neat-{secrets.token_hex(4)}.db'}"
        return
    server = normalize_url(SERVERS[backend])
    admin = make_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"neat_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except OperationalError as exc:
        pytest.fail(
            f"{backend} server at {server.render_as_string(hide_password=True)} is unreachable: "
            f"{str(exc.orig).strip()}\nStart it with: {START_HINT[backend]}  "
            f"(or point NEAT_TEST_{backend.upper()}_URL elsewhere; -m 'not db' skips the server tests)",
            pytrace=False,
        )
    try:
        yield as_text(server.set(database=name))
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: ``sqlite``, ``postgresql`` or ``mysql`` (MariaDB)."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A session database on ``backend``, migrated to head."""
    with fresh_database(backend, tmp_path_factory.mktemp("db")) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def session_store(database_url: str) -> Iterator[Store]:
    store = Store.from_url(database_url)
    yield store
    store.close()


@pytest.fixture
def store(session_store: Store) -> Store:
    """A store on empty tables."""
    with session_store.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))
    return session_store


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test, never migrated."""
    with fresh_database(backend, tmp_path) as url:
        yield url
