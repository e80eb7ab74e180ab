"""A real data center by name: its hosts with their types, its VMs with their types and first hosts.

A scenario built from a cloud's history (``neat export``) names every host and VM, so that the
replay starts from the cloud's own placement and its limits (``exclude_hosts``, ``exclude_vms``)
name the real hosts and VMs. In a scenario file it is two tables::

    [hosts]                         # host name = its type (a [[host_types]] name), in the simulator's order
    "compute-1" = "G5"
    "compute-2" = "G5"
    [vms]                           # VM name (the traces' vm) = its type and its host at the first step
    "6f1c3d2a-5b7e-4c1a-9d3f-0e2b4a6c8d10" = { type = "m1.small", host = "compute-1" }

:func:`read_inventory` reads them (errors name the file, the line, the key and the value);
:func:`inventory_toml` writes them.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from neat.tables import TableError, TableReader

IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class Inventory:
    """Named hosts, and optionally named VMs placed on them.

    Attributes
    ----------
    host_names : tuple of n_hosts names, in the simulator's host order (an export's: by name, the
        global manager's order)
    host_types : tuple of n_hosts ints, each host's index into the scenario's host types
    vm_names : tuple of n_vms names (the traces' ``vm``); empty when the VMs are not named (they
        are then typed by the scenario's ``vm_assignment`` and placed by the policy at creation)
    vm_types : tuple of n_vms ints, each VM's index into the scenario's VM types
    vm_hosts : tuple of n_vms ints, each VM's host (an index into ``host_names``) at the first step
    """

    host_names: tuple[str, ...]
    host_types: tuple[int, ...]
    vm_names: tuple[str, ...] = ()
    vm_types: tuple[int, ...] = ()
    vm_hosts: tuple[int, ...] = ()

    @property
    def names_vms(self) -> bool:
        return bool(self.vm_names)

    def vm_rows(self, names: Sequence[str]) -> tuple[IntArray, list[str]]:
        """Each named trace VM's row in :attr:`vm_names`, shape (len(names),), -1 where it has none;
        and the names it has no row for. VMs named here but absent from the traces take no part."""
        index = {name: i for i, name in enumerate(self.vm_names)}
        rows = np.array([index.get(name, -1) for name in names], dtype=np.intp)
        return rows, [names[int(i)] for i in np.flatnonzero(rows < 0)]


def read_inventory(
    hosts: Any,
    vms: Any,
    host_type_names: Sequence[str],
    vm_type_names: Sequence[str],
    *,
    file: str,
    text: str = "",
) -> Inventory:
    """The ``[hosts]`` table (host name = host type name) and the ``[vms]`` table (VM name =
    ``{ type, host }``, or None when the file has none) of a scenario file.

    ``text`` is the file's text, so that errors name the line of the offending key.

    Raises
    ------
    TableError
        A table that is not a table of names, a type or a host that does not exist, a type name
        used twice; the message names the file, the line, the key and the value, and guesses.
    """
    if not isinstance(hosts, Mapping) or not hosts:
        raise TableError(f"{file}: [hosts] must be a table of host name = host type name; got {hosts!r}")
    host_type_index = _unique(host_type_names, "host_types", file)
    types = []
    for name, value in hosts.items():
        if not isinstance(value, str) or value not in host_type_index:
            raise TableError(
                f"{_place(file, text, 'hosts', name)}: [hosts] {name!r} = {value!r}: expected the name of a "
                f"[[host_types]] table{_guess(value, host_type_index)}"
            )
        types.append(host_type_index[value])
    inventory = Inventory(tuple(hosts), tuple(types))
    if vms is None:
        return inventory
    if not isinstance(vms, Mapping) or not vms:
        raise TableError(f"{file}: [vms] must be a table of VM name = {{ type = ..., host = ... }}; got {vms!r}")
    vm_type_index = _unique(vm_type_names, "vm_types", file)
    host_index = {name: i for i, name in enumerate(inventory.host_names)}
    vm_types, vm_hosts = [], []
    for name, value in vms.items():
        where = f"{_place(file, text, 'vms', name)}: [vms] {name!r}"
        if not isinstance(value, Mapping):
            raise TableError(f'{where} must be {{ type = "VM type", host = "host name" }}; got {value!r}')
        entry = TableReader(value, where=where, known=("type", "host"), joiner=".")
        vm_type, host = entry.text("type"), entry.text("host")
        if vm_type not in vm_type_index:
            raise TableError(
                f"{where}.type {vm_type!r} is not the name of a [[vm_types]] table{_guess(vm_type, vm_type_index)}"
            )
        if host not in host_index:
            raise TableError(f"{where}.host {host!r} is not a host of [hosts]{_guess(host, host_index)}")
        vm_types.append(vm_type_index[vm_type])
        vm_hosts.append(host_index[host])
    return replace(inventory, vm_names=tuple(vms), vm_types=tuple(vm_types), vm_hosts=tuple(vm_hosts))


def inventory_toml(inventory: Inventory, host_type_names: Sequence[str], vm_type_names: Sequence[str]) -> str:
    """The ``[hosts]`` and (if it names VMs) ``[vms]`` tables of a scenario file."""
    lines = ["[hosts]                  # host name = its type, in the simulator's order"]
    lines += [
        f"{_string(name)} = {_string(host_type_names[k])}"
        for name, k in zip(inventory.host_names, inventory.host_types, strict=True)
    ]
    if inventory.names_vms:
        lines += ["", "[vms]                    # VM name = its type and its host at the first step"]
        lines += [
            f"{_string(name)} = {{ type = {_string(vm_type_names[k])}, host = {_string(inventory.host_names[h])} }}"
            for name, k, h in zip(inventory.vm_names, inventory.vm_types, inventory.vm_hosts, strict=True)
        ]
    return "\n".join(lines) + "\n"


def _string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _unique(names: Sequence[str], key: str, file: str) -> dict[str, int]:
    """Each name's index; the names must be unique, as [hosts] and [vms] refer to types by name."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise TableError(
                f"{file}: {key}[{i}].name {name!r} is also {key}[{seen[name]}]'s; [hosts] and [vms] refer to "
                f"types by name, so the names must be unique"
            )
        seen[name] = i
    return seen


def _guess(value: object, known: Mapping[str, int]) -> str:
    close = difflib.get_close_matches(str(value), list(known), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    shown = ", ".join(repr(k) for k in list(known)[:5])
    return f"; known: {shown}{' ...' if len(known) > 5 else ''}"


def _place(file: str, text: str, table: str, key: str) -> str:
    """``FILE, line N`` where ``key`` is written in ``[table]`` of the file's ``text`` (``FILE`` if not found)."""
    inside = False
    spelled = {key, _string(key), f"'{key}'"}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped.split("#", 1)[0].strip() == f"[{table}]"
        elif inside and stripped.split("=", 1)[0].strip() in spelled:
            return f"{file}, line {number}"
    return file


__all__ = ["Inventory", "inventory_toml", "read_inventory"]
