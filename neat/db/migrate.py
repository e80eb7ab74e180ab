"""Alembic from Python: the one place that builds the migration configuration.

``neat db upgrade`` and the tests call these functions; ``alembic -c alembic.ini ...`` at the
repository root runs the same ``migrations/env.py``. Either way the schema changes only through the
scripts in ``migrations/versions``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine

from neat.constants import DEFAULT_DATABASE_URL
from neat.db.engine import make_engine
from neat.db.models import Base

__all__ = [
    "DEFAULT_DATABASE_URL",
    "missing_sqlite_file",
    "schema_problem",
    "MIGRATIONS_DIR",
    "MigrationError",
    "URL_ENV",
    "alembic_config",
    "check",
    "context_options",
    "current",
    "downgrade",
    "head",
    "resolve_url",
    "upgrade",
]

_NEAT_DIR = Path(__file__).resolve().parents[1]

#: The environment variable naming the database.
URL_ENV = "NEAT_DATABASE_URL"
#: ``migrations/`` at the root of the source tree, shipped in wheels as ``neat/migrations``.
MIGRATIONS_DIR = next(
    (folder for folder in (_NEAT_DIR / "migrations", _NEAT_DIR.parent / "migrations") if (folder / "env.py").is_file()),
    _NEAT_DIR.parent / "migrations",
)


class MigrationError(RuntimeError):
    """The migration scripts cannot be found or run."""


def resolve_url(url: str | None = None, *, fallback: str = DEFAULT_DATABASE_URL) -> str:
    """``url`` if given, else ``$NEAT_DATABASE_URL``, else ``fallback``."""
    return url or os.environ.get(URL_ENV) or fallback


def context_options(dialect_name: str) -> dict[str, Any]:
    """Options of ``context.configure`` shared by env.py and :func:`check`.

    SQLite alters tables by copying them (batch mode); types are compared by autogenerate.
    """
    return {"render_as_batch": dialect_name == "sqlite", "compare_type": True}


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for ``migrations/``, running on ``connection`` if given."""
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise MigrationError(
            f"the migration scripts are not at {MIGRATIONS_DIR}: reinstall neat (a wheel carries them in "
            "neat/migrations, a source checkout in migrations/)"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _transaction(target: str | URL | Engine | None) -> Iterator[Connection]:
    """A connection in a transaction on ``target`` (an engine, a URL or None: :func:`resolve_url`)."""
    if isinstance(target, Engine):
        engine = target
    else:
        engine = make_engine(target if isinstance(target, URL) else resolve_url(target))
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        if engine is not target:
            engine.dispose()


def upgrade(target: str | URL | Engine | None = None, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the newest)."""
    with _transaction(target) as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(target: str | URL | Engine | None, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base``: no tables; ``-1``: one step)."""
    with _transaction(target) as connection:
        command.downgrade(alembic_config(connection), revision)


def current(target: str | URL | Engine | None = None) -> str | None:
    """The database's revision, or ``None`` if it was never migrated."""
    with _transaction(target) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str | None:
    """The newest revision of the migration scripts."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def check(target: str | URL | Engine | None = None) -> list[Any]:
    """What autogenerate would change to make the database match the models (``[]``: nothing).

    The same comparison as ``alembic check``.
    """
    with _transaction(target) as connection:
        context = MigrationContext.configure(connection, opts=context_options(connection.dialect.name))
        return list(compare_metadata(context, Base.metadata))


def missing_sqlite_file(url: str | URL) -> bool:
    """A SQLite URL naming a file that does not exist (connecting would create it)."""
    from neat.db.engine import normalize_url

    parsed = normalize_url(url)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    return parsed.get_backend_name() == "sqlite" and not in_memory and not Path(database).exists()


def schema_problem(url: str | URL) -> str | None:
    """None if the database at ``url`` is migrated to head; else what is wrong and what to run.

    Never creates a SQLite file that does not exist.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from neat.db.engine import masked_url

    shown = masked_url(url)
    if missing_sqlite_file(url):
        return f"{shown}: no database file; create it with 'neat db upgrade'"
    try:
        revision = current(url)
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"{shown}: cannot connect ({detail})"
    newest = head()
    if revision is None:
        return f"{shown}: the database is not migrated; run 'neat db upgrade'"
    if revision != newest:
        return f"{shown}: the schema is at revision {revision}, this neat needs {newest}; run 'neat db upgrade'"
    return None
