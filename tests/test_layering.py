"""trtmatte's subpackages form layers: no import cycle between them, nothing imports the CLI, and
the ONNX contract stays importable without torch.

Every trtmatte/**/*.py is parsed (not imported) and every import it makes is collected, including
imports inside functions (the lazy ones: a dependency still, only deferred): ``import trtmatte.x``,
``from trtmatte.x import y`` and relative ``from .x``/``from ..x import y``, resolved against the
importing module's package. Each module maps to its layer: the first component under trtmatte/
(``models``, ``export``, ``runtime``, ... or a top-level module: ``errors``, ``fileio``, ``_lazy``).

The root package, trtmatte/__init__.py, is the layer ``trtmatte``, counted like any other, its
PEP 562 ``__getattr__`` re-export of ``trtmatte.Matter`` included: so no subpackage may import from
the root (``__version__`` lives in trtmatte/_version.py for that reason).
trtmatte/__main__.py is the ``python -m trtmatte`` entry point, the one place that may import cli.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "trtmatte"
ROOT = "trtmatte"
ENTRY_POINT = "__main__"
TORCH_FREE = "contract"
NOT_FOR_CONTRACT = {"models", "export", "quantize", "engine", "runtime", "cli"}


def modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def imports(mods: dict[str, tuple[Path, bool]]) -> list[tuple[str, str, str]]:
    """(importing module, imported trtmatte module, "file:line") for every import of trtmatte code,
    plus (module, "torch", where) for imports of torch itself."""
    found = []
    for module, (path, is_package) in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        package = module if is_package else module.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    assert base, f"{path}:{node.lineno}: relative import beyond the top of trtmatte"
                    name = ".".join(base + ([node.module] if node.module else []))
                else:
                    name = node.module or ""
                # `from trtmatte import models` imports the subpackage; `from .x import y` imports x
                targets = [f"{name}.{alias.name}" if f"{name}.{alias.name}" in mods else name for alias in node.names]
            else:
                continue
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            for target in dict.fromkeys(targets):  # `from .x import a, b`: one import of x
                if target == ROOT or target.startswith(ROOT + "."):
                    found.append((module, target, where))
                elif target.split(".")[0] in ("torch", "torchvision"):
                    found.append((module, "torch", where))
    return found


@pytest.fixture(scope="module")
def edges() -> dict[tuple[str, str], list[str]]:
    """(importing layer, imported layer) -> where, self-edges left out; torch appears as a layer."""
    mods = modules()
    assert len(mods) > 50 and "trtmatte.contract.names" in mods, f"trtmatte's sources not found under {PACKAGE}"
    graph: dict[tuple[str, str], list[str]] = {}
    for module, target, where in imports(mods):
        src, dst = layer(module), (target if target == "torch" else layer(target))
        if src != dst:
            graph.setdefault((src, dst), []).append(f"{module} -> {target} ({where})")
    return graph


def find_cycle(graph: dict[tuple[str, str], list[str]]) -> list[str] | None:
    """A cycle as [a, b, ..., a], or None (depth-first search, deterministic order)."""
    succ: dict[str, list[str]] = {}
    for src, dst in sorted(graph):
        succ.setdefault(src, []).append(dst)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in succ.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(succ):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): []}) == ["a", "b", "c", "a"]
    assert find_cycle({("a", "b"): [], ("a", "c"): [], ("b", "c"): []}) is None


def test_no_import_cycle_between_subpackages(edges):
    graph = {k: v for k, v in edges.items() if k[1] != "torch"}
    cycle = find_cycle(graph)
    if cycle:
        steps = "\n".join(f"  {a} -> {b}: " + "; ".join(graph[a, b][:3]) for a, b in zip(cycle, cycle[1:]))
        pytest.fail(f"import cycle between trtmatte's subpackages: {' -> '.join(cycle)}\n{steps}")


def test_only_the_entry_point_imports_cli(edges):
    importers = {src: where for (src, dst), where in edges.items() if dst == "cli" and src != ENTRY_POINT}
    assert not importers, f"cli is the top layer; imported by: {importers}"


def test_runtime_never_imports_jobs(edges):
    """Jobs (files, folders, videos) are built on the runtime, never the other way: the video job is
    ``trtmatte.jobs.matte_video(matter, ...)``, not a Matter method that would climb a layer."""
    bad = {dst: where for (src, dst), where in edges.items() if src == "runtime" and dst == "jobs"}
    assert not bad, f"runtime imports jobs: {bad}"


def test_contract_imports_no_torch_layers(edges):
    bad = {dst: where for (src, dst), where in edges.items() if src == TORCH_FREE and dst in NOT_FOR_CONTRACT}
    assert not bad, f"{TORCH_FREE} must stay importable without torch, but imports: {bad}"


def test_contract_and_what_it_imports_never_import_torch(edges):
    reach, todo = set(), [TORCH_FREE]
    while todo:
        node = todo.pop()
        if node not in reach:
            reach.add(node)
            todo += [dst for (src, dst) in edges if src == node and dst != "torch"]
    torch_imports = {src: where for (src, dst), where in edges.items() if dst == "torch" and src in reach}
    assert not torch_imports, f"{TORCH_FREE} (with {sorted(reach - {TORCH_FREE})}) imports torch: {torch_imports}"


def test_no_import_cycle_between_modules():
    """No circle of imports between any two modules anywhere in trtmatte/, inside a subpackage too
    (e.g. contract/graphio <-> contract/metadata). Imports inside functions count, as above: a lazy
    import is still a dependency, and none of trtmatte's lazy imports needs a circle (they defer
    heavy or GPU stacks, never break a cycle), so each circle found is a design error to fix, not
    to allow-list. An edge goes to the module named in the import, not to the packages Python runs
    on the way (``from .session import X`` in runtime/matter.py is matter -> session, not also
    matter -> runtime/__init__): a package's __init__ re-exporting its modules is no circle."""
    mods = modules()
    graph: dict[tuple[str, str], list[str]] = {}
    for module, target, where in imports(mods):
        if target != "torch" and target != module:
            graph.setdefault((module, target), []).append(where)
    cycle = find_cycle(graph)
    if cycle:
        steps = "\n".join(f"  {a} -> {b}: " + "; ".join(graph[a, b][:3]) for a, b in zip(cycle, cycle[1:]))
        pytest.fail(f"import cycle between trtmatte's modules: {' -> '.join(cycle)}\n{steps}")
