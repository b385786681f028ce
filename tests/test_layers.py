"""One pipeline, one direction of imports: a lower layer of ``helpers`` never imports a higher one.

The layers follow the book's pipeline (CONTRIBUTING.md shows the picture). Imports inside
functions count too: a function-local import of a higher module is a hidden cycle. A new module
must be given its layer here, so that its place in the pipeline is a decision, not an accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "helpers"

#: Layer of each module, bottom (0) to top; a module may import modules of its layer or below.
LAYERS: dict[str, int] = {
    "helpers": 0, "helpers.errors": 0, "helpers.config": 0, "helpers.files": 0,
    "helpers.audio": 1, "helpers.signals": 1, "helpers.synth": 1,
    "helpers.datasets": 2,
    "helpers.mfcc": 3, "helpers.features": 3, "helpers.descriptors": 3, "helpers.augment": 3,
    "helpers.musicnn": 3, "helpers.embeddings": 3,
    "helpers.splits": 4, "helpers.metrics": 4, "helpers.results": 4, "helpers.stats": 4,
    "helpers.tabular": 5,
    "helpers.backend": 6,
    "helpers.models": 7,
    "helpers.training": 8,
    "helpers.evaluation": 9,
    "helpers.plots": 10, "helpers.bundle": 10,
    "helpers.engine": 11,
    "helpers.predict": 12,
    "helpers.bench": 13,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    """The layer of ``module`` or of the nearest package above it that has one."""
    while module:
        if module in LAYERS:
            return LAYERS[module]
        module = module.rpartition(".")[0]
    return None


def helper_imports(path: Path) -> set[str]:
    """Every ``helpers...`` module that the file imports, at module level or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {m for m in found if m in modules and m != name}


FILES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=[module_name(p) for p in FILES])
def test_module_has_a_layer(path):
    assert layer_of(module_name(path)) is not None, (
        f"{module_name(path)} has no layer: add it to LAYERS in tests/test_layers.py")


@pytest.mark.parametrize("path", FILES, ids=[module_name(p) for p in FILES])
def test_no_import_of_a_higher_layer(path):
    name = module_name(path)
    if name == "helpers":  # the package's __init__ re-exports from config only
        upward = [m for m in helper_imports(path) if layer_of(m) != 0]
    else:
        upward = [m for m in sorted(helper_imports(path)) if (layer_of(m) or 0) > (layer_of(name) or 0)]
    assert not upward, f"{name} (layer {layer_of(name)}) imports higher layers: {upward}"


def test_no_import_cycles():
    graph = {module_name(p): helper_imports(p) for p in FILES}

    def reachable(start):
        seen, todo = set(), list(graph.get(start, ()))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, ()))
        return seen

    cyclic = sorted(m for m in graph if m in reachable(m))
    assert not cyclic, f"modules of helpers on an import cycle: {cyclic}"
