"""The architecture holds: mlops' modules form layers that import only downward, with no import
circle at all (imports under ``TYPE_CHECKING`` and inside functions count too), few modules at the
top, and each upward import a plugin contract needs is declared with a comment saying why."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "packages" / "mlops-core" / "src"
LAYERS = [
    # lowest first: a module may import from its own layer and the layers before it
    ["mlops.errors", "mlops._version", "mlops.utils", "mlops.trust"],
    ["mlops.store"],
    ["mlops.metadata"],
    ["mlops.versions"],
    ["mlops.dataset"],
    ["mlops.model"],
    ["mlops.envs"],
    ["mlops.plugins", "mlops.plugin"],
    ["mlops.serving"],  # predicting with a model and its dataset's processor; serving; export
    ["mlops.cli", "mlops.catalog", "mlops.__main__"],
    # the public façade and the thin re-exports of the original layout
    ["mlops", "mlops.hookspecs", "mlops.registry", "mlops.maintenance", "mlops.removal", "mlops.transfer",
     "mlops.compare"],
]  # fmt: skip
UPWARD_MARK = "# plugin contract:"
"""The comment an upward import carries, on its line or the line above, saying why it is needed."""


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "mlops").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """Every mlops module ``name`` imports, anywhere in the file, with the line of the import."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:  # `from pkg import submodule` depends on the submodule only
                sub = f"{module}.{alias.name}"
                targets.append(sub if sub in MODULES else module)
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.append((target, node.lineno))
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    best = (-1, -1)
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                best = max(best, (len(prefix), index))
    assert best[1] >= 0, f"{module} belongs to no layer: add it to a layer folder"
    return best[1]


def test_every_module_sits_in_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_no_import_circle() -> None:
    graph = {name: {target for target, _ in deps} for name, deps in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert circles == []


def test_imports_run_downward_or_say_why() -> None:
    undeclared = []
    for name, deps in GRAPH.items():
        lines = MODULES[name].read_text().splitlines()
        for target, line in deps:
            if _layer(target) > _layer(name):
                context = " ".join(lines[max(line - 2, 0) : line])
                if UPWARD_MARK not in context:
                    undeclared.append(f"{name}:{line} imports {target}")
    assert undeclared == []


def test_few_modules_at_the_top() -> None:
    top = sorted(p.name for p in (SRC / "mlops").glob("*.py"))
    assert len(top) <= 12, top


@pytest.mark.parametrize(
    "contract", ["mlops.store.base", "mlops.model.serializer", "mlops.dataset.data_processor", "mlops.dataset.adapters"]
)
def test_contracts_sit_below_their_implementations(contract: str) -> None:
    """A contract imports nothing from the modules that implement or use it: only lower layers."""
    for target, line in GRAPH[contract]:
        assert _layer(target) <= _layer(contract), f"{contract}:{line} imports {target}"


def test_hookspecs_import_only_pluggy_and_contracts() -> None:
    allowed = {"mlops.store.base", "mlops.model.serializer", "mlops.dataset.data_processor", "mlops.dataset.adapters"}
    assert {target for target, _ in GRAPH["mlops.plugins.hookspecs"]} <= allowed
