"""NovaClient against a real Keystone + Placement + Nova with three fake computes.

The computes (tests/integration/cloud/etc/computes) and nova.conf's ratios make every capacity
below hand-checkable: capacity = (total - reserved) * allocation ratio, with cpu ratio 4.0, ram
ratio 1.0 and 512 MB reserved per host.

- compute1, compute2: 8 vCPUs -> 32 schedulable; 16384 MB -> 15872 MB; 200 GB disk.
- compute3: 2 vCPUs -> 8 schedulable; 2048 MB -> 1536 MB; 50 GB disk.

Flavors: ``neat.small`` (1 vCPU, 512 MB, 1 GB) fits everywhere; ``neat.big`` (1 vCPU, 2048 MB,
1 GB) fits compute1 and compute2, never compute3 (2048 > 1536).
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openstack.connection
import pytest

from neat.openstack import (
    CloudConfigError,
    CloudUnreachable,
    ComputeHost,
    Conflict,
    Migration,
    MigrationTimeout,
    NotFound,
    NovaClient,
    NoValidHost,
    OpenStackError,
    Server,
)

from .conftest import CLOUDS_YAML, HOSTS, Booter, Cloud

pytestmark = pytest.mark.integration

MIGRATION_TIMEOUT_S = 120.0
POLL_S = 0.5
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


def by_name(hosts: tuple[ComputeHost, ...]) -> dict[str, ComputeHost]:
    return {h.name: h for h in hosts}


def eventually_usage(nova: NovaClient, host: str, vcpus_used: int, memory_mb_used: int) -> ComputeHost:
    """Placement usage after a migration: allocations move as the migration ends; allow 10 s."""
    deadline = time.monotonic() + 10
    while True:
        found = nova.host(host)
        if (found.vcpus_used, found.memory_mb_used) == (vcpus_used, memory_mb_used) or time.monotonic() > deadline:
            return found
        time.sleep(POLL_S)


# -- hosts -----------------------------------------------------------------------------------------
def test_hosts_lists_the_computes_with_their_placement_capacity(nova: NovaClient) -> None:
    hosts = nova.hosts()

    assert [h.name for h in hosts] == list(HOSTS)
    assert all(h.service_status == "enabled" and h.service_state == "up" and h.usable for h in hosts)
    assert all(h.disabled_reason is None and h.resource_provider_id for h in hosts)
    small, big = by_name(hosts)["compute3"], by_name(hosts)["compute1"]
    assert (small.vcpus, small.memory_mb, small.memory_mb_reserved, small.disk_gb) == (2, 2048, 512, 50)
    assert (small.cpu_allocation_ratio, small.ram_allocation_ratio) == (4.0, 1.0)
    assert (small.vcpus_capacity, small.memory_mb_capacity) == (8.0, 1536.0)  # 2 * 4.0; (2048 - 512) * 1.0
    assert (big.vcpus, big.memory_mb, big.vcpus_capacity, big.memory_mb_capacity) == (8, 16384, 32.0, 15872.0)
    assert all((h.vcpus_used, h.memory_mb_used, h.disk_gb_used) == (0, 0, 0) for h in hosts)
    assert nova.host("compute2") == by_name(hosts)["compute2"]


def test_hosts_count_what_booted_servers_use(nova: NovaClient, boot: Booter) -> None:
    boot(["compute3", "compute3", "compute1"])

    hosts = by_name(nova.hosts())

    # two neat.small on compute3: 2 vCPUs, 1024 MB, 2 GB; 1536 - 1024 = 512 MB left
    assert (hosts["compute3"].vcpus_used, hosts["compute3"].memory_mb_used, hosts["compute3"].disk_gb_used) == (
        2,
        1024,
        2,
    )
    assert hosts["compute3"].memory_mb_free == 512.0
    assert (hosts["compute1"].vcpus_used, hosts["compute1"].memory_mb_used) == (1, 512)
    assert (hosts["compute2"].vcpus_used, hosts["compute2"].memory_mb_used) == (0, 0)


# -- servers ---------------------------------------------------------------------------------------
def test_servers_are_listed_per_host_as_frozen_records(nova: NovaClient, boot: Booter) -> None:
    first, second = boot(["compute1", "compute1"], metadata={"role": "web"})
    (third,) = boot(["compute2"], flavor="neat.big")

    on_compute1 = nova.servers(host="compute1")
    everywhere = {s.id: s for s in nova.servers()}

    assert {s.id for s in on_compute1} == {first, second}
    assert {first, second, third} <= set(everywhere)
    assert nova.servers(host="compute3") == ()
    web = everywhere[first]
    assert (web.host, web.hypervisor_hostname, web.status, web.task_state, web.vm_state) == (
        "compute1",
        "compute1",
        "ACTIVE",
        None,
        "active",
    )
    assert (web.flavor_name, web.vcpus, web.ram_mb, web.disk_gb) == ("neat.small", 1, 512, 1)
    assert dict(web.metadata) == {"role": "web"} and web.server_groups == () and not web.busy
    big = everywhere[third]
    assert (big.host, big.flavor_name, big.ram_mb) == ("compute2", "neat.big", 2048)
    assert nova.server(first) == web
    with pytest.raises(dataclasses.FrozenInstanceError):
        web.host = "compute2"  # type: ignore[misc]
    with pytest.raises(TypeError):
        web.metadata["role"] = "db"  # type: ignore[index]


def test_an_unknown_server_is_not_found(nova: NovaClient) -> None:
    with pytest.raises(NotFound, match=UNKNOWN_ID) as caught:
        nova.server(UNKNOWN_ID)
    assert caught.value.status_code == 404
    with pytest.raises(NotFound):
        nova.live_migrate(UNKNOWN_ID, "compute1")


# -- live migration --------------------------------------------------------------------------------
def test_live_migration_to_a_named_host_completes_and_moves_the_server(nova: NovaClient, boot: Booter) -> None:
    (server_id,) = boot(["compute1"])
    assert nova.migration(server_id) is None

    nova.live_migrate(server_id, "compute2")
    done = nova.wait_migration(server_id, timeout_s=MIGRATION_TIMEOUT_S, poll_s=POLL_S)

    assert isinstance(done, Migration)
    assert (done.status, done.source, done.dest, done.server_id) == ("completed", "compute1", "compute2", server_id)
    assert done.terminal and done.succeeded and done.migration_type == "live-migration"
    assert (done.source_node, done.dest_node) == ("compute1", "compute2")
    assert done.created_at is not None and done.created_at.tzinfo is not None
    moved = nova.server(server_id)
    assert (moved.host, moved.status, moved.task_state) == ("compute2", "ACTIVE", None)
    assert nova.migration(server_id) == done
    assert nova.servers(host="compute1") == ()
    assert [s.id for s in nova.servers(host="compute2")] == [server_id]
    # the scheduler's allocation moved with it
    assert (eventually_usage(nova, "compute2", 1, 512).memory_mb_used, nova.host("compute1").memory_mb_used) == (
        512,
        0,
    )
    # a second migration back gets a newer record; waiting past it times out (nothing newer)
    nova.live_migrate(server_id, "compute1")
    back = nova.wait_migration(server_id, MIGRATION_TIMEOUT_S, POLL_S, newer_than=done.id)
    assert (back.status, back.source, back.dest) == ("completed", "compute2", "compute1") and back.id > done.id
    assert [m.id for m in nova.migrations(server_id)] == [done.id, back.id]
    with pytest.raises(MigrationTimeout, match="no live migration recorded"):
        nova.wait_migration(server_id, timeout_s=1.0, poll_s=0.2, newer_than=back.id)


def test_concurrent_migrations_off_one_host_all_complete(nova: NovaClient, boot: Booter) -> None:
    """Several migrations in flight at once through one client (the executor starts up to
    max_concurrent_migrations before it waits; here from threads, which the client must also bear).
    Nova runs one live migration per source compute at a time (max_concurrent_live_migrations = 1),
    so the others queue first."""
    servers = boot(["compute1", "compute1", "compute1"])

    def migrate(server_id: str) -> Migration:
        nova.live_migrate(server_id, "compute2")
        return nova.wait_migration(server_id, MIGRATION_TIMEOUT_S, POLL_S)

    with ThreadPoolExecutor(max_workers=3) as pool:
        done = list(pool.map(migrate, servers))

    assert [(m.server_id, m.status, m.dest) for m in done] == [(s, "completed", "compute2") for s in servers]
    assert {s.id for s in nova.servers(host="compute2")} == set(servers)
    assert eventually_usage(nova, "compute1", 0, 0).memory_mb_used == 0


def test_migration_to_a_disabled_host_is_rejected_and_the_server_stays(nova: NovaClient, boot: Booter) -> None:
    (server_id,) = boot(["compute1"])
    nova.disable_service("compute2", "neat-it: maintenance")

    with pytest.raises(NoValidHost, match="No valid host") as caught:
        nova.live_migrate(server_id, "compute2")

    assert caught.value.status_code == 400 and "compute2" in str(caught.value)
    stayed = nova.server(server_id)
    assert (stayed.host, stayed.status, stayed.task_state) == ("compute1", "ACTIVE", None)
    rejected = nova.migration(server_id)
    assert rejected is not None and rejected.status == "error"  # Nova records the refused attempt
    # enabled again, the same target is accepted
    nova.enable_service("compute2")
    nova.live_migrate(server_id, "compute2")
    done = nova.wait_migration(server_id, MIGRATION_TIMEOUT_S, POLL_S, newer_than=rejected.id)
    assert done.status == "completed" and nova.server(server_id).host == "compute2"


def test_migration_to_a_host_too_small_is_rejected_and_the_server_stays(nova: NovaClient, boot: Booter) -> None:
    (server_id,) = boot(["compute1"], flavor="neat.big")  # 2048 MB > compute3's 1536 MB

    with pytest.raises(NoValidHost) as caught:
        nova.live_migrate(server_id, "compute3")

    assert isinstance(caught.value, OpenStackError) and caught.value.status_code == 400
    assert nova.server(server_id).host == "compute1"
    assert nova.host("compute3").memory_mb_used == 0


def test_migration_to_an_unknown_host_is_rejected(nova: NovaClient, boot: Booter) -> None:
    (server_id,) = boot(["compute1"])

    with pytest.raises(NoValidHost, match="compute9"):
        nova.live_migrate(server_id, "compute9")
    with pytest.raises(ValueError, match=r"'host' parameter of NovaClient\.live_migrate"):
        nova.live_migrate(server_id, "")
    assert nova.server(server_id).host == "compute1"


def test_migration_of_a_stopped_server_is_a_conflict(
    nova: NovaClient, boot: Booter, sdk: openstack.connection.Connection
) -> None:
    (server_id,) = boot(["compute1"])
    sdk.compute.stop_server(server_id)
    sdk.compute.wait_for_server(sdk.compute.get_server(server_id), status="SHUTOFF", interval=0.5, wait=60)

    with pytest.raises(Conflict, match="vm_state stopped") as caught:
        nova.live_migrate(server_id, "compute2")

    assert caught.value.status_code == 409 and caught.value.request_id
    assert nova.server(server_id).host == "compute1"


def test_anti_affinity_groups_are_read_and_enforced_by_the_scheduler(
    nova: NovaClient, boot: Booter, sdk: openstack.connection.Connection
) -> None:
    group = sdk.compute.create_server_group(name="neat-it-spread", policy="anti-affinity")
    first, second = boot(["compute1", "compute2"], group_id=group.id)

    (found,) = [g for g in nova.server_groups() if g.id == group.id]
    assert (found.name, found.policy, found.anti_affinity) == ("neat-it-spread", "anti-affinity", True)
    assert set(found.members) == {first, second}
    assert {s.id: s.server_groups for s in nova.servers() if s.id in (first, second)} == {
        first: (group.id,),
        second: (group.id,),
    }
    assert nova.server(first).server_groups == (group.id,)
    # the other member's host is refused, a third host is fine
    with pytest.raises(NoValidHost):
        nova.live_migrate(first, "compute2")
    nova.live_migrate(first, "compute3")
    assert nova.wait_migration(first, MIGRATION_TIMEOUT_S, POLL_S).status == "completed"
    assert nova.server(first).host == "compute3"


def test_wait_migration_rejects_bad_timeouts(nova: NovaClient) -> None:
    with pytest.raises(ValueError, match=r"'timeout_s' parameter .* in \(0, inf\). Got 0 instead"):
        nova.wait_migration(UNKNOWN_ID, timeout_s=0)
    with pytest.raises(ValueError, match="'poll_s' parameter"):
        nova.wait_migration(UNKNOWN_ID, poll_s=-1.0)


# -- compute services ------------------------------------------------------------------------------
def test_disable_and_enable_a_service_with_a_reason_and_read_it_back(nova: NovaClient) -> None:
    reason = "neat-it: host emptied by consolidation"

    disabled = nova.disable_service("compute2", reason)

    assert (disabled.host, disabled.status, disabled.disabled_reason, disabled.enabled) == (
        "compute2",
        "disabled",
        reason,
        False,
    )
    host = nova.host("compute2")
    assert (host.service_status, host.disabled_reason, host.usable) == ("disabled", reason, False)
    assert dataclasses.replace(nova.service("compute2"), updated_at=None) == dataclasses.replace(
        disabled, updated_at=None
    )
    assert {s.host: s.status for s in nova.services()} == {
        "compute1": "enabled",
        "compute2": "disabled",
        "compute3": "enabled",
    }

    enabled = nova.enable_service("compute2")

    assert (enabled.status, enabled.disabled_reason, enabled.up) == ("enabled", None, True)
    assert nova.host("compute2").usable


def test_services_of_unknown_hosts_and_bad_reasons(nova: NovaClient) -> None:
    with pytest.raises(NotFound, match=r"no nova-compute service on host 'compute9'; .*'compute1'"):
        nova.disable_service("compute9", "neat-it")
    with pytest.raises(NotFound):
        nova.host("compute9")
    with pytest.raises(ValueError, match=r"'reason' parameter of NovaClient\.disable_service"):
        nova.disable_service("compute1", "  ")
    with pytest.raises(ValueError, match="at most 255 characters"):
        nova.disable_service("compute1", "x" * 256)
    assert nova.service("compute1").enabled


# -- connecting ------------------------------------------------------------------------------------
def test_an_unknown_cloud_name_is_a_config_error(cloud: Cloud) -> None:
    with pytest.raises(CloudConfigError, match="no-such-cloud"):
        NovaClient.connect("no-such-cloud", config_file=cloud.clouds_yaml)


def test_a_cloud_that_does_not_answer_is_unreachable(tmp_path: Path) -> None:
    clouds_yaml = tmp_path / "clouds.yaml"
    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    clouds_yaml.write_text(CLOUDS_YAML.format(name="nowhere").replace("127.0.0.1:15000", "127.0.0.1:9"))

    client = NovaClient.connect("nowhere", config_file=clouds_yaml, api_timeout_s=5)
    with client, pytest.raises(CloudUnreachable, match="listing compute services"):
        client.hosts()


def test_records_compare_by_value(nova: NovaClient, boot: Booter) -> None:
    (server_id,) = boot(["compute3"])

    once, again = nova.server(server_id), nova.server(server_id)

    assert isinstance(once, Server) and once == again and hash(once) == hash(again)
    assert len({once, again}) == 1
