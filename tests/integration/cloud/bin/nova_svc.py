"""Run one real Nova service with Glance and Neutron replaced by Nova's own test fixtures.

Usage: nova_svc.py api PORT
       nova_svc.py conductor|scheduler|compute --config-file ... [--config-file ...]

This machine runs neither Glance nor Neutron, so before the service starts, this wrapper installs
``nova.tests.fixtures.GlanceFixture`` and ``NeutronFixture`` (shipped in Nova's wheel; they need
testtools, oslotest, wsgi-intercept and requests-mock). Everything else is real: Keystone auth,
Placement, RPC over RabbitMQ, MariaDB, scheduler, conductor, and the compute manager over the fake
virt driver. Boot with ``networks='none'`` and image ``155d900f-4e14-4e4c-a73d-069cbf4541e6``.

The fake hypervisor's size comes from FAKE_VCPUS, FAKE_MEMORY_MB and FAKE_DISK_GB.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "1")
BINARY = sys.argv.pop(1)

from nova import monkey_patch  # noqa: E402 - must run before the rest of Nova is imported

monkey_patch.patch(backend="threading")

import fixtures  # noqa: E402
import nova.conf  # noqa: E402
from nova.tests import fixtures as nova_fixtures  # noqa: E402
from nova.virt import fake  # noqa: E402

CONF = nova.conf.CONF


class FixtureHost:
    """The small slice of a TestCase that Nova's fixtures call on their owner."""

    def useFixture(self, fixture: Any) -> Any:
        fixture.setUp()
        return fixture

    def stub_out(self, old: str, new: Any) -> None:
        self.useFixture(fixtures.MonkeyPatch(old, new))

    def flags(self, **kw: Any) -> None:
        group = kw.pop("group", None)
        for key, value in kw.items():
            CONF.set_override(key, value, group)


def install_fixtures() -> None:
    host = FixtureHost()
    host.useFixture(nova_fixtures.GlanceFixture(host))
    host.useFixture(nova_fixtures.NeutronFixture(host))


def size_fake_hypervisor() -> None:
    for attribute, variable in (("vcpus", "FAKE_VCPUS"), ("memory_mb", "FAKE_MEMORY_MB"), ("local_gb", "FAKE_DISK_GB")):
        if os.environ.get(variable):
            setattr(fake.FakeDriver, attribute, int(os.environ[variable]))


def ping_conductor_often() -> None:
    """A compute pings the conductor at start with a 10 s timeout per try; in a bring-up where both
    start together, the first ping is lost to the conductor's own start-up, then 10 s are wasted.
    Ping every 2 s instead (30 tries before Nova's usual RPC timeout)."""
    from nova.conductor import api as conductor_api

    wait_until_ready = conductor_api.API.wait_until_ready

    def quick(self: Any, context: Any, early_timeout: int = 2, early_attempts: int = 30) -> Any:
        return wait_until_ready(self, context, early_timeout=early_timeout, early_attempts=early_attempts)

    conductor_api.API.wait_until_ready = quick


def main() -> None:
    install_fixtures()
    size_fake_hypervisor()
    if BINARY == "compute":
        ping_conductor_often()
    if BINARY == "api":
        port = int(sys.argv[1])
        sys.argv = ["nova-api"]
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from nova.wsgi import osapi_compute
        from wsgi_serve import serve

        serve(osapi_compute.application, port)
    else:
        sys.argv[0] = "nova-" + BINARY
        importlib.import_module("nova.cmd." + BINARY).main()


if __name__ == "__main__":
    main()
