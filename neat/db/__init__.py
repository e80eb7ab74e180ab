"""The neat database: schema (:mod:`neat.db.models`), migrations (:mod:`neat.db.migrate`,
``migrations/``), engines (:mod:`neat.db.engine`) and the repository API (:mod:`neat.db.store`,
taking and giving the records of :mod:`neat.db.records`).

Names are imported lazily, so ``import neat.cli.db`` (the ``neat db`` commands) does not load
SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neat.constants import DEFAULT_DATABASE_URL
    from neat.db.engine import make_engine
    from neat.db.migrate import URL_ENV
    from neat.db.records import (
        ActionRecord,
        ActionSpec,
        HostInfo,
        LeaseRecord,
        PlanRecord,
        PowerTransition,
        PruneResult,
        SampleWindow,
        VmInfo,
    )
    from neat.db.store import GLOBAL_MANAGER_LEASE, Store, StoreError

__all__ = [
    "ActionRecord",
    "ActionSpec",
    "DEFAULT_DATABASE_URL",
    "GLOBAL_MANAGER_LEASE",
    "HostInfo",
    "LeaseRecord",
    "PlanRecord",
    "PowerTransition",
    "PruneResult",
    "SampleWindow",
    "Store",
    "StoreError",
    "URL_ENV",
    "VmInfo",
    "make_engine",
]

_HOME = {
    "DEFAULT_DATABASE_URL": "neat.constants",
    "URL_ENV": "neat.db.migrate",
    "make_engine": "neat.db.engine",
    "GLOBAL_MANAGER_LEASE": "neat.db.store",
    "Store": "neat.db.store",
    "StoreError": "neat.db.store",
}


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module(_HOME.get(name, "neat.db.records")), name)
    raise AttributeError(f"module 'neat.db' has no attribute {name!r}")
