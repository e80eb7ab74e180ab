"""The OpenStack boundary: the only package of neat that talks to the cloud.

:class:`NovaClient` (in :mod:`neat.openstack.client`, the only module importing openstacksdk)
returns frozen records (:mod:`neat.openstack.records`) and raises neat errors
(:mod:`neat.openstack.errors`). Importing this package does not import openstacksdk: the client is
loaded on first use, so the simulator and reports never pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neat.openstack.errors import (
    AuthError,
    BadRequest,
    CloudConfigError,
    CloudUnreachable,
    Conflict,
    MigrationTimeout,
    NotFound,
    NoValidHost,
    OpenStackError,
)
from neat.openstack.records import (
    TERMINAL_MIGRATION_STATUSES,
    ComputeHost,
    ComputeService,
    Migration,
    Server,
    ServerGroup,
    ServiceState,
    ServiceStatus,
)

if TYPE_CHECKING:
    from neat.openstack.client import NovaClient


def __getattr__(name: str) -> Any:
    if name == "NovaClient":
        from neat.openstack.client import NovaClient

        return NovaClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "TERMINAL_MIGRATION_STATUSES",
    "AuthError",
    "BadRequest",
    "CloudConfigError",
    "CloudUnreachable",
    "ComputeHost",
    "ComputeService",
    "Conflict",
    "Migration",
    "MigrationTimeout",
    "NoValidHost",
    "NotFound",
    "NovaClient",
    "OpenStackError",
    "Server",
    "ServerGroup",
    "ServiceState",
    "ServiceStatus",
]
