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

#: Layer of each module, bottom (0) to top, in the order of the book's pipeline; a module may import
#: modules of its layer or below. Only the direction is tested, not that a module sits as low as it
#: could: a layer says where a module belongs, and what it may therefore never import.
LAYERS: dict[str, int] = {
    # foundations: errors, settings, files, the TensorFlow switch (no TensorFlow import at module level)
    "helpers": 0, "helpers.errors": 0, "helpers.config": 0, "helpers.files": 0, "helpers.backend": 0,
    # sound in
    "helpers.audio": 1, "helpers.signals": 1, "helpers.synth": 1,
    # data sources
    "helpers.datasets": 2,
    # features (the per-track runner and every extractor on it)
    "helpers.mfcc": 3, "helpers.features": 3, "helpers.descriptors": 3, "helpers.augment": 3,
    "helpers.musicnn": 3, "helpers.embeddings": 3, "helpers.cluster": 3,
    # splits and what scores and shows a result (no model code)
    "helpers.splits": 4, "helpers.metrics": 4, "helpers.results": 4, "helpers.stats": 4, "helpers.plots": 4,
    # the prediction path: bundles and forward passes without TensorFlow, below every training module
    "helpers.bundle": 5, "helpers.engine": 5, "helpers.predict": 5,
    # chapter 1's table, then models, training, evaluation
    "helpers.tabular": 6,
    "helpers.models": 7,
    "helpers.training": 8, "helpers.training_speed": 8, "helpers.multiworker": 8,
    "helpers.evaluation": 9,
    # benchmarks and command lines on top
    "helpers.bench": 10,
}

#: What the prediction path (genre-predict) must never reach, directly or through another module.
TRAINING_CODE = ("helpers.models", "helpers.training", "helpers.training_speed", "helpers.multiworker",
                 "helpers.evaluation", "helpers.tabular", "helpers.bench")


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


def test_the_prediction_path_cannot_reach_training_code():
    """genre-predict runs in the base install: nothing it imports may lead to models or training."""
    graph = {module_name(p): helper_imports(p) for p in FILES}
    for start in ("helpers.predict", "helpers.engine", "helpers.bundle"):
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            for child in graph.get(node, ()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        reached = sorted(m for m in seen if any(m == t or m.startswith(t + ".") for t in TRAINING_CODE))
        assert not reached, f"{start} reaches training code: {reached}"


def contributing_picture() -> dict[str, int]:
    """Module → floor as CONTRIBUTING.md's layer picture draws it (the name column of each floor)."""
    text = (PACKAGE.parent / "CONTRIBUTING.md").read_text(encoding="utf-8")
    lines = text.split("```", 2)[1].splitlines()
    border = next(line for line in lines if " 10 │" in line).index("│")
    floors, floor = {}, None
    for line in lines:
        if len(line) <= border or line[border] != "│":
            continue
        number = line[:border].split()[-1:] if line[:border].strip() else []
        if number and number[0].isdigit():
            floor = int(number[0])
        for name in line[border + 2:border + 20].replace("·", " ").split():
            floors[f"helpers.{name.rstrip('/')}"] = floor
    return floors


def test_contributing_draws_the_same_layers_as_this_test():
    """One written layering: the picture in CONTRIBUTING.md names every module on the floor given here."""
    drawn = contributing_picture()
    written = {module: layer for module, layer in LAYERS.items() if module != "helpers"}
    assert drawn == written
