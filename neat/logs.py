"""The service's logs: one line per event, ``key=value`` (or JSON), with the cycle and plan they belong to.

``neat --log-level info --log-file /var/log/neat/global-manager.log global-manager`` sets them up
through :func:`setup_logging`. The global manager binds the cycle and the plan being executed with
:func:`bound`; every line logged meanwhile, by any module, carries them::

    ts=2026-12-06T02:40:00.123Z level=info logger=neat.service cycle=42 plan=117 msg="plan stored: 3 actions"
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["LEVELS", "LogfmtFormatter", "JsonFormatter", "bound", "setup_logging"]

LEVELS = ("debug", "info", "warning", "error")
#: What every line may carry, bound by the code that runs a cycle or a plan.
_CONTEXT: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("neat_log_context", default={})  # noqa: B039
#: Libraries that would drown the service's own lines at INFO.
_QUIET = ("apscheduler", "openstack", "keystoneauth", "urllib3", "stevedore", "alembic")


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (e.g. ``cycle=42``, ``plan=117``) to every line logged inside the block, in this thread."""
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.neat_context = _CONTEXT.get()
        return True


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": _timestamp(record),
        "level": record.levelname.lower(),
        "logger": record.name,
        **getattr(record, "neat_context", {}),
        "msg": record.getMessage(),
    }
    if record.exc_info:
        fields["error"] = logging.Formatter().formatException(record.exc_info)
    return fields


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' ="\n\t'):
        return text
    return json.dumps(text)  # quoted, with newlines and quotes escaped: still one line


class LogfmtFormatter(logging.Formatter):
    """One ``key=value`` line per record; values with spaces are quoted, newlines escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str)


def setup_logging(level: str = "info", file: Path | None = None, fmt: str = "logfmt") -> None:
    """Send the root logger's records at ``level`` and above to ``file`` (appended; reopened when
    logrotate moves it) or standard error, one line each, in ``fmt`` (``logfmt`` or ``json``)."""
    if level not in LEVELS:
        raise ValueError(f"The log level must be one of {', '.join(LEVELS)}. Got {level!r} instead.")
    handler: logging.Handler
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.WatchedFileHandler(file, encoding="utf-8")
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "neat_handler", False):
            root.removeHandler(old)
            old.close()
    setattr(handler, "neat_handler", True)  # noqa: B010 (marks the handler this module owns)
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet = logging.DEBUG if level == "debug" else logging.WARNING
    for name in _QUIET:
        logging.getLogger(name).setLevel(quiet)
