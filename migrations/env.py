"""Alembic environment of the neat database.

Two ways in:

- ``neat db upgrade`` (and the tests) call :mod:`neat.db.migrate`, which hands over an open
  connection in ``config.attributes["connection"]``;
- ``alembic -c alembic.ini upgrade head`` at the repository root: the URL is ``-x url=...``, else
  ``$NEAT_DATABASE_URL``, else ``sqlalchemy.url`` of alembic.ini.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from neat.db.engine import make_engine, normalize_url
from neat.db.migrate import DEFAULT_DATABASE_URL, context_options, resolve_url
from neat.db.models import Base

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    given = context.get_x_argument(as_dictionary=True).get("url")
    return resolve_url(given, fallback=config.get_main_option("sqlalchemy.url") or DEFAULT_DATABASE_URL)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata, **context_options(connection.dialect.name)
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Write the SQL instead of running it (``alembic upgrade head --sql``)."""
    url = normalize_url(_url())
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **context_options(url.get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
