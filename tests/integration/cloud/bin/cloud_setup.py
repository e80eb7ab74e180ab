"""Bring-up steps that talk to the running services through openstacksdk (harness venv).

Usage: cloud_setup.py keystone            service users, services and endpoints (idempotent)
       cloud_setup.py wait HOST... --nova-conf FILE --pids DIR [--timeout S]
                                          until every named compute is up, mapped to the cell
                                          and reports an inventory to Placement (maps them with
                                          nova-manage rather than wait for the scheduler's
                                          periodic discovery); fails at once if a
                                          process recorded in DIR/NAME.pid has died
       cloud_setup.py flavors             the test flavors (idempotent)

Reads the cloud ``neat-cloud`` from OS_CLIENT_CONFIG_FILE.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import openstack

CLOUD = "neat-cloud"
KEYSTONE_URL = "http://127.0.0.1:15000/v3"
ENDPOINTS = (
    ("compute", "nova", "http://127.0.0.1:18774/v2.1"),
    ("placement", "placement", "http://127.0.0.1:18778"),
)
#: name, vcpus, ram_mb, disk_gb. neat.big (2048 MB) fits compute1/compute2, never compute3.
FLAVORS = (("neat.small", 1, 512, 1), ("neat.big", 1, 2048, 1))


def setup_keystone() -> None:
    identity = openstack.connect(cloud=CLOUD).identity
    project = identity.find_project("service") or identity.create_project(name="service", domain_id="default")
    roles = [identity.find_role("admin"), identity.find_role("service")]
    for name in ("nova", "placement"):
        user = identity.find_user(name) or identity.create_user(name=name, password="secret", domain_id="default")
        for role in roles:
            identity.assign_project_role_to_user(project, user, role)
    for service_type, name, url in ENDPOINTS:
        service = identity.find_service(name) or identity.create_service(name=name, type=service_type)
        have = {endpoint.interface for endpoint in identity.endpoints(service_id=service.id)}
        for interface in ("public", "internal", "admin"):
            if interface not in have:
                identity.create_endpoint(service_id=service.id, interface=interface, url=url, region_id="RegionOne")


def discover_hosts(nova_conf: str) -> None:
    nova_manage = os.path.join(os.path.dirname(sys.executable), "nova-manage")
    subprocess.run(
        [nova_manage, "--config-file", nova_conf, "cell_v2", "discover_hosts"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (field 22 of /proc/PID/stat), None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            stat = file.read()
    except OSError:
        return None
    return stat.rsplit(") ", 1)[1].split()[19]


def dead_services(pids_dir: str) -> list[str]:
    """Services whose recorded process (``PID START`` in DIR/NAME.pid, see pids.sh) is gone."""
    dead = []
    for name in sorted(os.listdir(pids_dir)):
        with open(os.path.join(pids_dir, name)) as file:
            pid, start = file.read().split()
        if process_start(int(pid)) != start:
            dead.append(name.removesuffix(".pid"))
    return dead


def log_tails(log_dir: str, name: str, lines: int = 40) -> str:
    """The last ``lines`` lines of service ``name``'s logs (its stdout and Nova's log file)."""
    tails = []
    for file_name in (f"{name}.out", f"nova-{name}.log"):
        path = os.path.join(log_dir, file_name)
        try:
            with open(path, errors="replace") as file:
                text = file.read().splitlines()[-lines:]
        except OSError as error:
            text = [f"({error.strerror})"]
        tails.append(f"--- last lines of run/log/{file_name}:\n" + "\n".join(text or ["(empty)"]))
    return "\n".join(tails)


def wait_computes(hosts: list[str], timeout_s: float, nova_conf: str, pids_dir: str) -> None:
    start = time.monotonic()
    last = "no answer yet"
    discovered_at = -1e9
    while time.monotonic() - start < timeout_s:
        dead = dead_services(pids_dir)
        if dead:
            log_dir = os.path.join(os.path.dirname(os.path.abspath(pids_dir)), "log")
            tails = "\n".join(log_tails(log_dir, name) for name in dead)
            sys.exit(f"cloud_setup.py: {', '.join(dead)} died during bring-up\n{tails}")
        try:
            conn = openstack.connect(cloud=CLOUD)
            up = {s.host for s in conn.compute.services(binary="nova-compute") if s.state == "up"}
            mapped = {h.name for h in conn.compute.hypervisors()}
            with_inventory = {
                rp.name
                for rp in conn.placement.resource_providers()
                if any(True for _ in conn.placement.resource_provider_inventories(rp))
            }
            missing = {h: [] for h in hosts}
            for host in hosts:
                for label, ready in (("service up", up), ("in the cell", mapped), ("inventory", with_inventory)):
                    if host not in ready:
                        missing[host].append(label)
            missing = {h: m for h, m in missing.items() if m}
            if not missing:
                print(f"computes ready after {time.monotonic() - start:.0f} s: {', '.join(hosts)}", flush=True)
                return
            last = "; ".join(f"{h}: no {', '.join(m)}" for h, m in sorted(missing.items()))
            unmapped = [h for h, m in missing.items() if m == ["in the cell"]]
            if unmapped and time.monotonic() - discovered_at > 5:
                discover_hosts(nova_conf)
                discovered_at = time.monotonic()
                continue
        except Exception as error:  # the API may not answer yet
            last = f"{type(error).__name__}: {error}"
        time.sleep(1)
    sys.exit(f"cloud_setup.py: computes not ready after {timeout_s:.0f} s ({last})")


def setup_flavors() -> None:
    compute = openstack.connect(cloud=CLOUD).compute
    for name, vcpus, ram_mb, disk_gb in FLAVORS:
        if compute.find_flavor(name) is None:
            compute.create_flavor(name=name, vcpus=vcpus, ram=ram_mb, disk=disk_gb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["keystone", "wait", "flavors"])
    parser.add_argument("hosts", nargs="*")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--nova-conf", default="")
    parser.add_argument("--pids", default="")
    args = parser.parse_args()
    if args.step == "keystone":
        setup_keystone()
    elif args.step == "wait":
        wait_computes(args.hosts, args.timeout, args.nova_conf, args.pids)
    else:
        setup_flavors()


if __name__ == "__main__":
    main()
