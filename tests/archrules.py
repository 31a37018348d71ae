"""The import rules of docs/architecture.md, checked on source trees by walking their ASTs.

Used by ``tests/unit/test_architecture.py`` on this repository and on synthetic trees (which prove that
the check fails when a rule is broken). Every import counts, also one inside a function or under
``TYPE_CHECKING``: a dependency is a dependency wherever the statement sits.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

#: Layers from the bottom up: a module may import modules of its own layer or of lower layers only.
#: Longest prefix wins (``pipelines.stages.bias`` is in ``pipelines.stages``, ``pipelines.runner`` in
#: ``pipelines``).
LAYERS: tuple[tuple[str, float], ...] = (
    ("schemas", 0),
    ("storage", 1),
    ("pipelines.text", 2),
    ("pipelines.readers", 3),
    ("pipelines.stages", 4),
    ("pipelines", 5),
    ("quality", 6),
    ("train", 6.5),  # only jobs may import the trainer
    ("jobs", 7),
)
#: Packages whose modules may import only the packages listed (besides third-party libraries).
ONLY_IMPORTS: dict[str, frozenset[str]] = {"train": frozenset({"schemas", "storage", "train"})}
PACKAGES = ("schemas", "storage", "pipelines", "quality", "train", "jobs")
#: A function-level import of our own modules must say why it is deferred on its line or the line above.
DEFERRED_MARK = "deferred:"


@dataclass(frozen=True)
class Edge:
    importer: str  # module name
    imported: str  # module name (resolved to the nearest module of the tree)
    path: str  # importer's file, relative to the tree root
    line: int
    in_function: bool
    reasoned: bool  # a "deferred:" comment sits on the line or the one above


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """``{module name: file}`` for every module of ``packages`` under ``root``."""
    out: dict[str, Path] = {}
    for pkg in packages:
        base = root / pkg
        if base.is_dir():
            for path in sorted(base.rglob("*.py")):
                out[module_name(root, path)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> Optional[str]:
    """The nearest module of the tree that ``name`` (a module or an attribute of one) belongs to."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _targets(node: ast.AST, importer: str, is_package: bool, modules: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        assert isinstance(node, ast.ImportFrom)
        base = node.module or ""
        if node.level:
            pkg = importer if is_package else importer.rpartition(".")[0]
            for _ in range(node.level - 1):
                pkg = pkg.rpartition(".")[0]
            base = f"{pkg}.{base}" if base else pkg
        names = [f"{base}.{alias.name}" for alias in node.names]
    out = []
    for name in names:
        resolved = _resolve(name, modules)
        if resolved is not None and resolved not in out:
            out.append(resolved)
    return out


def edges(root: Path, modules: dict[str, Path]) -> list[Edge]:
    """Every import of one of the tree's modules by another, with its file and line."""
    out: list[Edge] = []
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = ast.parse(source, filename=str(path))
        in_function: set[int] = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(fn):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        in_function.add(id(inner))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            around = " ".join(lines[max(0, node.lineno - 2): node.lineno])
            for target in _targets(node, name, path.name == "__init__.py", modules):
                if target == name:
                    continue
                out.append(Edge(name, target, str(path.relative_to(root)), node.lineno,
                                id(node) in in_function, DEFERRED_MARK in around))
    return out


def layer_of(module: str) -> tuple[str, float]:
    best = ("", -1.0)
    for prefix, rank in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best[0]):
            best = (prefix, rank)
    if best[1] < 0:
        raise ValueError(f"module {module} is in no layer of LAYERS")
    return best


def forbidden_imports(all_edges: list[Edge]) -> list[str]:
    """One message per import that points upward or outside a package's allowed set."""
    problems = []
    for e in all_edges:
        (src_layer, src_rank), (dst_layer, dst_rank) = layer_of(e.importer), layer_of(e.imported)
        top = e.importer.split(".")[0]
        if top in ONLY_IMPORTS and e.imported.split(".")[0] not in ONLY_IMPORTS[top]:
            allowed = ", ".join(sorted(ONLY_IMPORTS[top]))
            problems.append(f"{e.path}:{e.line}: {e.importer} imports {e.imported}; {top}/ may import only {allowed}")
        elif dst_rank > src_rank:
            problems.append(f"{e.path}:{e.line}: {e.importer} imports {e.imported}, but layer {dst_layer} is above "
                            f"{src_layer} (imports point downward only; see docs/architecture.md)")
    return problems


def cycles(all_edges: list[Edge]) -> list[str]:
    """One message per import cycle (strongly connected component), naming each import in it."""
    graph: dict[str, list[Edge]] = {}
    for e in all_edges:
        graph.setdefault(e.importer, []).append(e)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm; the trees are small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for e in graph.get(v, []):
            w = e.imported
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    out = []
    for comp in components:
        members = set(comp)
        inside = [f"{e.path}:{e.line} ({e.importer} -> {e.imported})"
                  for e in all_edges if e.importer in members and e.imported in members]
        out.append("import cycle among " + ", ".join(comp) + ": " + "; ".join(inside))
    return out


def unexplained_function_imports(all_edges: list[Edge]) -> list[str]:
    """Function-level imports of our own modules without a ``# deferred: why`` comment."""
    return [f"{e.path}:{e.line}: {e.importer} imports {e.imported} inside a function; move it to the top "
            f"(or say why it must wait with a '# {DEFERRED_MARK} ...' comment)"
            for e in all_edges if e.in_function and not e.reasoned]


def check_tree(root: Path, packages: Iterable[str] = PACKAGES) -> list[str]:
    """All problems of the tree under ``root``: forbidden imports, cycles, unexplained deferred imports."""
    modules = discover(root, packages)
    all_edges = edges(root, modules)
    return forbidden_imports(all_edges) + cycles(all_edges) + unexplained_function_imports(all_edges)
