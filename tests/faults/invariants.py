"""What must hold after any fault, once the service has recovered (the fault tier asserts it)."""

from __future__ import annotations

from typing import Any

FINAL = {"succeeded", "failed", "cancelled"}


def assert_invariants(store: Any, cloud: Any) -> None:
    """Nothing left running; every action of an executed plan final; no VM on a sleeping host; no
    host disabled by neat while it still holds VMs."""
    for plan in store.plans(limit=None):
        if plan.claimed_by is None and plan.dry_run:
            assert all(a.status in FINAL | {"pending"} for a in plan.actions), plan
            continue
        open_actions = [(a.position, a.kind, a.status, a.error) for a in plan.actions if a.status not in FINAL]
        assert not open_actions, f"plan {plan.id} left open: {open_actions}"
    asleep = {h.name for h in store.hosts() if h.power_state in ("suspended", "off")}
    servers = list(cloud.servers())
    on_sleeping = [(s.id, s.host) for s in servers if s.host in asleep]
    assert not on_sleeping, f"VMs on sleeping hosts: {on_sleeping}"
    for host in {s.host for s in servers if s.host is not None}:
        info = cloud.host(host)
        if not info.enabled and (info.disabled_reason or "").startswith("neat"):
            raise AssertionError(f"{host} was disabled by neat but holds VMs")
