"""Engines for the neat database: the drivers neat installs, and SQLite set up for several processes.

SQLite is the default (a file, no setup); PostgreSQL and MariaDB/MySQL are reached by URL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url

__all__ = ["SQLITE_BUSY_TIMEOUT_S", "WRITE_OPTION", "make_engine", "masked_url", "normalize_url"]

#: How long a SQLite connection waits for another writer before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Execution option marking writing transactions (SQLite begins them IMMEDIATE).
WRITE_OPTION = "neat_write"


def normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and pick the drivers neat installs: psycopg for PostgreSQL, PyMySQL for MySQL/MariaDB.

    A string without ``://`` is taken for a SQLite file path (``neat.db`` -> ``sqlite:///neat.db``).
    """
    if isinstance(url, str) and "://" not in url:
        url = f"sqlite:///{url}"
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in ("mysql", "mariadb"):
        parsed = parsed.set(drivername=f"{parsed.drivername}+pymysql")
    return parsed


#: Words that mark a URL query parameter as a secret (``?password=``, ``?sslpassword=``, ...).
SECRET_PARAMETER_WORDS = ("password", "passwd", "secret", "token", "passphrase")


def masked_url(url: str | URL) -> str:
    """``url`` as text for logs and messages: its password, and every query parameter that holds a
    secret (``?password=``, which drivers accept too), replaced by ``***``."""
    try:
        parsed = normalize_url(url)
    except Exception:
        return "<not a database URL>"
    query = {
        key: ("***" if any(word in key.lower() for word in SECRET_PARAMETER_WORDS) else value)
        for key, value in parsed.query.items()
    }
    return parsed.set(query=query).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take BEGIN away from the sqlite3 module (it would skip it before SELECTs) and emit our own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A writing transaction takes the write lock at BEGIN (IMMEDIATE): one that reads then writes
    # never fails half-way with "database is locked"; it waits (busy timeout) for the other writer.
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str | URL, **engine_kwargs: Any) -> Engine:
    """An engine for ``url`` (see :func:`normalize_url`), set up for neat.

    SQLite: foreign keys on, write-ahead log, transactions that take the write lock at BEGIN and
    wait up to ``SQLITE_BUSY_TIMEOUT_S`` for it. Servers: connections checked before use.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = dict(engine_kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(parsed, connect_args=connect_args, **engine_kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine_kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **engine_kwargs)
