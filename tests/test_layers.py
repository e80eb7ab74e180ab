"""The package layering: nothing below imports from above, and no import cycles.

Layers, bottom up (a module imports only from its own package and from lower layers; the
simulator and the service never import each other)::

    algorithms                                pure numpy plug-ins (imports nothing of neat)
    neat (constants, tables)                  domain constants, TOML table checks
    neat.decision neat.inventory              decide, plan, limits, policies, modes, round kernels;
                                              a real data center's hosts and VMs by name
    neat.execution neat.traces neat.scenario neat.db neat.openstack neat.power
    neat.simulation neat.config
    neat.local_manager neat.service neat.report neat.export
    neat.cli                                  the command line (one package)
    neat.__main__                             ``python -m neat``
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    ["algorithms"],
    ["neat", "neat.constants", "neat.tables"],
    ["neat.decision", "neat.inventory"],
    ["neat.execution", "neat.traces", "neat.scenario", "neat.db", "neat.openstack", "neat.power"],
    ["neat.simulation", "neat.config"],
    ["neat.local_manager", "neat.service", "neat.report", "neat.export"],
    ["neat.cli"],
    ["neat.__main__"],
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def modules() -> dict[str, Path]:
    found = {}
    for package in ("algorithms", "neat"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def unit_of(module: str) -> str:
    """The layering unit a module belongs to: the longest listed prefix."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in RANK:
            return prefix
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def imports(path: Path, *, runtime_only: bool) -> set[str]:
    """Modules of this project that ``path`` imports (``runtime_only``: at import time, outside
    functions and ``if TYPE_CHECKING`` blocks)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                if not runtime_only:
                    visit(child, top)
                continue
            inner = top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import) and (top or not runtime_only):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0 and (top or not runtime_only):
                found.add(child.module)
                found.update(f"{child.module}.{a.name}" for a in child.names)
            visit(child, inner)

    visit(tree, True)
    known = modules()
    return {m for m in found if m in known and m.split(".")[0] in ("algorithms", "neat")}


ALL = sorted(modules())


@pytest.mark.parametrize("module", ALL)
def test_nothing_imports_from_above(module: str) -> None:
    unit = unit_of(module)
    for target in imports(modules()[module], runtime_only=False):
        other = unit_of(target)
        if other == unit or target.startswith(unit + "."):
            continue
        assert RANK[other] < RANK[unit], f"{module} ({unit}) imports {target} ({other}), which is not below it"


def test_the_simulator_and_the_service_never_import_each_other() -> None:
    for module, path in modules().items():
        for target in imports(path, runtime_only=False):
            pair = {unit_of(module), unit_of(target)}
            assert pair != {"neat.simulation", "neat.service"}, f"{module} imports {target}"


def test_algorithms_imports_nothing_of_neat() -> None:
    for module, path in modules().items():
        if module.startswith("algorithms"):
            assert not any(t.startswith("neat") for t in imports(path, runtime_only=False)), module


def test_no_import_cycles() -> None:
    graph = {m: {t for t in imports(p, runtime_only=True) if t != m} for m, p in modules().items()}
    # an import of a package's name inside it is an import of its __init__ (always loaded first)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if node.startswith(nxt + "."):
                continue  # a module importing its own package
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
