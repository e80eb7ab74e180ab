"""The local manager's database sink: one collection round, one transaction."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from neat.config import ServiceConfig
from neat.db.store import Store
from neat.local_manager.loop import HostSample, VmSample

log = logging.getLogger(__name__)


class StoreSink:
    """Writes a host's sample and its VMs' samples with :meth:`neat.db.store.Store.record_samples`.

    Hosts and VMs the inventory does not know yet (the global manager syncs it from Nova) are
    skipped rather than failing the whole round; :meth:`write` returns them (the local manager
    logs them once, when they change).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def write(self, host: HostSample, vms: Sequence[VmSample]) -> list[str]:
        return self.store.record_samples(
            host.timestamp,
            hosts={host.host: host.utilization},
            vms={v.uuid: v.utilization for v in vms},
            on_unknown="skip",
        )


def make_sink(config: ServiceConfig) -> StoreSink:
    """The sink for ``neat local-manager``: the configured database."""
    return StoreSink(Store.from_url(config.database_url))
