"""``neat db``: create and migrate the neat database.

Imports nothing heavy at module level, so registering the group costs the ``neat`` command nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["db"]

F = TypeVar("F", bound=Callable[..., Any])


def _url_options(func: F) -> F:
    func = click.option(
        "--config",
        "config_path",
        envvar="NEAT_CONFIG",
        type=click.Path(dir_okay=False),
        default=None,
        help="Service configuration (env NEAT_CONFIG): its [database] url is used when --url is not given.",
    )(func)
    return click.option(
        "--url",
        envvar="NEAT_DATABASE_URL",
        default=None,
        help="Database URL (env NEAT_DATABASE_URL): sqlite:///PATH, postgresql://USER@HOST/DB, "
        "mysql://USER@HOST/DB (MariaDB too); a bare path means a SQLite file. "
        "Default: the configuration's, else sqlite:///neat.db (a file in the current folder).",
    )(func)


def _resolve(url: str | None, config_path: str | None) -> str:
    """--url / $NEAT_DATABASE_URL, else the configuration's database URL, else the default file."""
    if url:
        return url
    if config_path:
        from neat.config import ConfigError, load_config

        try:
            return load_config(config_path).database_url
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    from neat.constants import DEFAULT_DATABASE_URL

    return DEFAULT_DATABASE_URL


def _shown(url: str) -> str:
    from neat.db.engine import masked_url

    return masked_url(url)


def _run(action: Callable[[], Any], url: str) -> Any:
    """Run a migration step; database errors become one clean line naming the database."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from neat.db.migrate import MigrationError

    try:
        return action()
    except (SQLAlchemyError, MigrationError, CommandError) as exc:
        detail = getattr(exc, "orig", None) or exc
        raise click.ClickException(f"{_shown(url)}: {str(detail).strip().splitlines()[0]}") from None


def _missing_sqlite_file(url: str) -> bool:
    """A SQLite URL naming a file that does not exist (connecting would create it)."""
    from pathlib import Path

    from neat.db.engine import normalize_url

    parsed = normalize_url(url)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    return parsed.get_backend_name() == "sqlite" and not in_memory and not Path(database).exists()


@click.group("db")
def db() -> None:
    """Create and migrate the neat database (SQLite by default, PostgreSQL or MariaDB by URL)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@_url_options
def upgrade_cmd(revision: str, url: str | None, config_path: str | None) -> None:
    """Migrate the database up to REVISION (default: head, the newest); creates it if new."""
    from neat.db import migrate

    url = _resolve(url, config_path)
    _run(lambda: migrate.upgrade(url, revision), url)
    click.echo(f"{_shown(url)}: at revision {_run(lambda: migrate.current(url), url) or 'base'}")


@db.command("downgrade")
@click.argument("revision")
@_url_options
def downgrade_cmd(revision: str, url: str | None, config_path: str | None) -> None:
    """Migrate the database down to REVISION (-1: one step; base: drop every table)."""
    from neat.db import migrate

    url = _resolve(url, config_path)
    _run(lambda: migrate.downgrade(url, revision), url)
    click.echo(f"{_shown(url)}: at revision {_run(lambda: migrate.current(url), url) or 'base'}")


@db.command("current")
@_url_options
def current_cmd(url: str | None, config_path: str | None) -> None:
    """Print the database's revision and whether it is the newest."""
    from neat.db import migrate

    url = _resolve(url, config_path)
    if _missing_sqlite_file(url):
        click.echo(f"{_shown(url)}: no database file (run 'neat db upgrade' to create it)")
        return
    revision = _run(lambda: migrate.current(url), url)
    newest = migrate.head()
    if revision is None:
        state = "not migrated: run 'neat db upgrade'"
    elif revision == newest:
        state = "head"
    else:
        state = f"behind head {newest}: run 'neat db upgrade'"
    click.echo(f"{_shown(url)}: {revision or 'base'} ({state})")
