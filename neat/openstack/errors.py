"""What can go wrong talking to OpenStack, as neat exceptions (no openstacksdk type leaks out).

Every error raised by :class:`neat.openstack.client.NovaClient` is an :class:`OpenStackError`;
the HTTP status and Nova's request id, when there was a response, are kept on it for the logs.
"""

from __future__ import annotations


class OpenStackError(Exception):
    """A call to the cloud failed. ``status_code`` is the HTTP status, None without a response."""

    def __init__(self, message: str, *, status_code: int | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id


class CloudConfigError(OpenStackError):
    """The named cloud is missing from clouds.yaml, or its entry is unusable."""


class CloudUnreachable(OpenStackError):
    """No answer from Keystone or from a service endpoint (connection refused, timeout)."""


class AuthError(OpenStackError):
    """Keystone refused the credentials (HTTP 401), or the user may not do this (HTTP 403)."""


class BadRequest(OpenStackError):
    """Nova refused the request as invalid (HTTP 400)."""


class NoValidHost(BadRequest):
    """The scheduler rejected the requested target of a live migration (HTTP 400).

    Nova answers 400 when the named host fails the scheduler's filters (disabled, down, too small,
    against an anti-affinity group, the server's own host) or does not exist; the server stays
    where it is. Retrying the same target will not help until the cloud changes.
    """


class NotFound(OpenStackError):
    """No such server, compute host or migration (HTTP 404, or absent from a listing)."""


class Conflict(OpenStackError):
    """The server's state forbids the operation now (HTTP 409): it is migrating, stopped, ...

    Worth a retry later.
    """


class MigrationTimeout(OpenStackError, TimeoutError):
    """A live migration did not reach a terminal status in time; it may still be running."""


__all__ = [
    "AuthError",
    "BadRequest",
    "CloudConfigError",
    "CloudUnreachable",
    "Conflict",
    "MigrationTimeout",
    "NoValidHost",
    "NotFound",
    "OpenStackError",
]
