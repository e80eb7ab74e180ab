"""The integration tier's cloud: Keystone, Placement and Nova with three fake computes, on loopback.

The session fixture :func:`cloud` reuses a cloud that ``tests/integration/cloud/start.sh`` already
brought up (``status.sh`` says so), or installs the harness's Python environments (once, into
``$NEAT_CLOUD_DIR``, default ``~/.cache/neat-cloud``) and brings one up, then stops it at the end of
the session by the PIDs it recorded (``NEAT_CLOUD_KEEP=1`` leaves it running for the next session).
One test session at a time uses a cloud (a lock file in the cloud folder; a second one waits).
A failed install or bring-up fails the tests: this tier never skips. Deselect it with
``-m "not integration"``.

Tests boot servers through openstacksdk directly (test set-up, not product code) and read the
cloud through :class:`neat.openstack.NovaClient`. Every test starts and ends with no test server,
no test server group and every compute service enabled.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack.config
import openstack.connection
import openstack.exceptions
import pytest

from neat.openstack import NovaClient

HARNESS = Path(__file__).parent / "cloud"
CLOUD_NAME = "neat-integration"
#: Nova's GlanceFixture serves this image; with networks='none' no Neutron port is needed.
IMAGE_ID = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
#: Every server and server group a test makes is named with this prefix, and removed after it.
PREFIX = "neat-it-"
HOSTS = ("compute1", "compute2", "compute3")
BOOT_TIMEOUT_S = 120
SETTLE_TIMEOUT_S = 60
SESSION_LOCK_WAIT_S = 900

CLOUDS_YAML = """\
clouds:
  {name}:
    auth:
      auth_url: http://127.0.0.1:15000/v3
      username: admin
      password: secret
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
"""

#: openstacksdk 4.22 warns about itself: every proxied request calls its own deprecated
#: ``_extract_name(service_type=...)``, resources call their own deprecated ``_compute_attributes``,
#: and every connection reports InfluxDB support as deprecated though none is configured.
#: Not ours to fix; pyproject's filterwarnings=error must not fail on them.
SDK_SELF_WARNINGS = (
    "ignore:The 'service_type' parameter is unnecesary",
    "ignore:The _compute_attributes method is deprecated",
    "ignore:Support for InfluxDB",
)

_timings: dict[str, float] = {}
_bring_up_steps: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Ignore openstacksdk's warnings about itself in this tier (a mark outranks the ini filters)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            for spec in SDK_SELF_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@dataclass(frozen=True)
class Cloud:
    """Where the tests find the cloud."""

    name: str
    clouds_yaml: Path
    cloud_dir: Path
    started_here: bool


def _cloud_dir() -> Path:
    return Path(os.environ.get("NEAT_CLOUD_DIR") or Path.home() / ".cache" / "neat-cloud")


def _run(script: str, env: Mapping[str, str], timeout_s: float) -> float:
    """Run a harness script; fail the session (never skip) with its output if it fails."""
    start = time.monotonic()
    try:
        done = subprocess.run(
            ["bash", str(HARNESS / script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{script} did not finish in {timeout_s:.0f} s:\n{exc.stdout or ''}\n{exc.stderr or ''}")
    if done.returncode != 0:
        pytest.fail(f"{script} failed with exit status {done.returncode}:\n{done.stdout}\n{done.stderr}")
    _bring_up_steps.extend(line for line in done.stdout.splitlines() if line.startswith("[+"))
    return time.monotonic() - start


@contextmanager
def _session_lock(cloud_dir: Path, wait_s: float) -> Iterator[None]:
    """One test session at a time per cloud: the tests assume they alone change it.

    A second session (another engineer's, in the same machine) waits here, then reuses or brings
    up the cloud in its turn.
    """
    with open(cloud_dir / "session.lock", "w") as lock:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test session held {lock.name} for {wait_s:.0f} s")
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A running cloud (reused, or brought up here and stopped at the end) and a clouds.yaml."""
    cloud_dir = _cloud_dir()
    cloud_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NEAT_CLOUD_DIR": str(cloud_dir)}
    with _session_lock(cloud_dir, wait_s=SESSION_LOCK_WAIT_S):
        reuse = subprocess.run(["bash", str(HARNESS / "status.sh")], env=env, capture_output=True, check=False)
        started_here = reuse.returncode != 0
        if started_here:
            _timings["install_s"] = _run("install.sh", env, timeout_s=900)
            _timings["bring_up_s"] = _run("start.sh", env, timeout_s=600)
        clouds_yaml = tmp_path_factory.mktemp("openstack") / "clouds.yaml"
        clouds_yaml.write_text(CLOUDS_YAML.format(name=CLOUD_NAME))
        tests_started = time.monotonic()
        try:
            yield Cloud(CLOUD_NAME, clouds_yaml, cloud_dir, started_here)
        finally:
            _timings["tests_s"] = time.monotonic() - tests_started
            if started_here and os.environ.get("NEAT_CLOUD_KEEP") != "1":
                stopped = time.monotonic()
                subprocess.run(["bash", str(HARNESS / "stop.sh")], env=env, capture_output=True, check=False)
                _timings["stop_s"] = time.monotonic() - stopped


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line with the tier's costs, for the CI log."""
    if not _timings:
        return
    labels = {"install_s": "install", "bring_up_s": "bring-up", "tests_s": "tests", "stop_s": "stop"}
    parts = [f"{label} {_timings[key]:.0f} s" for key, label in labels.items() if key in _timings]
    where = "" if "bring_up_s" in _timings else " (reused a running cloud)"
    terminalreporter.write_line(f"integration cloud{where}: {', '.join(parts)}")
    for step in _bring_up_steps:  # start.sh's timeline: "[+12s] nova schemas and cells done"
        terminalreporter.write_line(f"  start.sh {step}")


@pytest.fixture(scope="session")
def sdk(cloud: Cloud) -> Iterator[openstack.connection.Connection]:
    """An admin openstacksdk connection, for test set-up only (boots, server groups, stops)."""
    with warnings.catch_warnings():  # openstacksdk 4.22 warns about InfluxDB on every connection
        warnings.filterwarnings("ignore", message="Support for InfluxDB")
        region = openstack.config.OpenStackConfig(config_files=[str(cloud.clouds_yaml)]).get_one(cloud=cloud.name)
        connection = openstack.connection.Connection(config=region)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def nova(cloud: Cloud) -> Iterator[NovaClient]:
    """The client under test."""
    with NovaClient.connect(cloud.name, config_file=cloud.clouds_yaml) as client:
        yield client


def _settle_and_clean(sdk: openstack.connection.Connection) -> None:
    """Delete the test servers and groups and enable every compute service.

    A server is deleted only once no task runs on it: deleting one mid-migration leaks its
    Placement allocation (real Nova behaviour), which would skew later capacity checks.
    """
    compute = sdk.compute
    servers = [s for s in compute.servers(details=True, all_projects=True) if (s.name or "").startswith(PREFIX)]
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    for server in servers:
        while time.monotonic() < deadline:
            try:
                if compute.get_server(server.id).task_state is None:
                    break
            except openstack.exceptions.NotFoundException:
                break
            time.sleep(0.5)
        compute.delete_server(server.id, ignore_missing=True)
    for server in servers:
        compute.wait_for_delete(server, interval=0.5, wait=SETTLE_TIMEOUT_S)
    for group in compute.server_groups(all_projects=True):
        if (group.name or "").startswith(PREFIX):
            compute.delete_server_group(group, ignore_missing=True)
    for service in compute.services(binary="nova-compute"):
        if service.status != "enabled":
            compute.enable_service(service)


@pytest.fixture(autouse=True)
def clean_cloud(sdk: openstack.connection.Connection) -> Iterator[None]:
    """No test server, no test group, every compute service enabled: before and after each test."""
    _settle_and_clean(sdk)
    yield
    _settle_and_clean(sdk)


class Booter:
    """Boots test servers on chosen hosts and waits until they are ACTIVE."""

    def __init__(self, sdk: openstack.connection.Connection, test_name: str) -> None:
        self._compute = sdk.compute
        self._stem = PREFIX + test_name.removeprefix("test_")[:30]
        self._count = 0

    def flavor_id(self, name: str) -> str:
        flavor = self._compute.find_flavor(name, ignore_missing=False)
        return str(flavor.id)

    def __call__(
        self,
        hosts: Sequence[str],
        *,
        flavor: str = "neat.small",
        group_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> list[str]:
        """One server per entry of ``hosts``, on that host; returns their ids in that order."""
        flavor_id = self.flavor_id(flavor)
        created = []
        for host in hosts:
            self._count += 1
            extra: dict[str, Any] = {}
            if group_id is not None:
                extra["scheduler_hints"] = {"group": group_id}
            if metadata:
                extra["metadata"] = dict(metadata)
            created.append(
                self._compute.create_server(
                    name=f"{self._stem}-{self._count}",
                    image_id=IMAGE_ID,
                    flavor_id=flavor_id,
                    networks="none",
                    host=host,
                    **extra,
                )
            )
        for server in created:
            self._compute.wait_for_server(
                server, status="ACTIVE", failures=["ERROR"], interval=0.5, wait=BOOT_TIMEOUT_S
            )
        return [str(server.id) for server in created]


@pytest.fixture
def boot(sdk: openstack.connection.Connection, request: pytest.FixtureRequest) -> Booter:
    """``boot(["compute1", "compute2"], flavor="neat.small")`` -> server ids, ACTIVE on those hosts."""
    return Booter(sdk, request.node.name)
