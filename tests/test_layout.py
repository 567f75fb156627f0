"""The package's layout: no import cycle among jaxsched's modules, no module over 420 lines.

A static scan (``ast``) of every ``import`` under ``jaxsched/``, so it sees the imports a test
run never executes. Importing ``a.b.c`` runs ``a/__init__``, ``a/b/__init__`` and ``a/b/c``: an
import's edges go to its target and to the target's packages, except the importer's own
packages (Python has started those before the importer runs); ``import jaxsched`` or ``from
jaxsched import name`` (not a submodule) names the package root itself, and counts.

Three graphs are checked, each a superset of the one before: the imports run when a module
loads (module level); those plus the imports inside functions, run on a call (a deferred
import breaks no load order, but a cycle through one still hides a lower layer's dependency on
a higher one); and those plus the imports under ``if TYPE_CHECKING:`` (never run, but the
modules still depend on each other's types).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "jaxsched"
MAX_LINES = 420

# Known cycles, each as the set of modules in it. The lead removes an entry once the fix is
# merged; the test fails while an entry is listed but no longer found, so none lingers.
EXPECTED_CYCLES: list[frozenset[str]] = []  # none: every cycle found fails the test


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, pathlib.Path()).name == "__init__.py"


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, tree: ast.AST) -> list[tuple[str, str]]:
    """(explicit target, where: "load", "call" or "typing") for every jaxsched import."""
    found: list[tuple[str, str]] = []
    package = name if _is_package(name) else name.rpartition(".")[0]

    def visit(node: ast.AST, where: str) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.body:
                visit(child, "typing")
            for child in node.orelse:
                visit(child, where)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            where = "typing" if where == "typing" else "call"
        if isinstance(node, ast.Import):
            found.extend((alias.name, where) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, where))
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(tree, "load")
    return [(t, f) for t, f in found if t == "jaxsched" or t.startswith("jaxsched.")]


def _edges(name: str, target: str) -> set[str]:
    """The modules an import of ``target`` from module ``name`` runs (see the docstring)."""
    own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    if _is_package(name):
        own.add(name)
    parts = target.split(".")
    chain = {".".join(parts[:i]) for i in range(1, len(parts))} - own
    return {m for m in chain | {target} if m in MODULES and m != name}


KINDS = ("load", "call", "typing")  # each graph includes the imports of those before it


def _graphs() -> dict[str, dict[str, set[str]]]:
    graphs: dict[str, dict[str, set[str]]] = {k: {m: set() for m in MODULES} for k in KINDS}
    for name, path in MODULES.items():
        for target, where in _imports(name, ast.parse(path.read_text(), str(path))):
            for kind in KINDS[KINDS.index(where):]:
                graphs[kind][name] |= _edges(name, target)
    return graphs


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def _path(graph: dict[str, set[str]], cycle: frozenset[str]) -> str:
    """One loop through a cycle's modules, for the failure message."""
    start = min(cycle)
    path, seen = [start], {start}
    while True:
        nxt = sorted(graph[path[-1]] & cycle)
        back = [m for m in nxt if m == start]
        if back and len(path) > 1:
            return " -> ".join([*path, start])
        fresh = [m for m in nxt if m not in seen]
        if not fresh:
            return " -> ".join([*path, nxt[0] if nxt else "?"])
        path.append(fresh[0])
        seen.add(fresh[0])


@pytest.mark.parametrize("kind", KINDS, ids=["module_level", "plus_in_functions",
                                              "plus_type_checking"])
def test_no_import_cycles(kind):
    graph = _graphs()[kind]
    found = _cycles(graph)
    unexpected = [c for c in found if c not in EXPECTED_CYCLES]
    assert not unexpected, "import cycles among jaxsched modules ({} imports):\n  {}".format(
        kind, "\n  ".join(_path(graph, c) for c in unexpected))
    if kind == KINDS[-1]:
        gone = [sorted(c) for c in EXPECTED_CYCLES if c not in found]
        assert not gone, (f"the known cycle(s) {gone} are fixed: delete them from "
                          f"EXPECTED_CYCLES in tests/test_layout.py")


def test_lower_layers_never_import_the_package_root():
    importers = sorted(m for m, targets in _graphs()["typing"].items() if "jaxsched" in targets
                       and not m.startswith("jaxsched.tools"))
    assert importers == [], f"modules below jaxsched.tools importing jaxsched: {importers}"


def test_the_scan_sees_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [frozenset({"a", "b", "c"})]
    assert _path(graph, frozenset({"a", "b", "c"})) == "a -> b -> c -> a"
    assert _edges("jaxsched.pytorch.interop", "jaxsched.deepspeed.adapters") == {
        "jaxsched.deepspeed", "jaxsched.deepspeed.adapters"}
    assert _edges("jaxsched.tools.cli", "jaxsched") == {"jaxsched"}


def test_module_sizes():
    sizes = {str(p.relative_to(PACKAGE.parent)): len(p.read_text().splitlines())
             for p in MODULES.values()}
    big = {p: n for p, n in sizes.items() if n > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split them): {big}"


def test_old_import_paths_still_work():
    """``training`` moved into ``loop/``, ``interop`` into ``pytorch/``: the old paths
    re-export the same objects."""
    from jaxsched import interop, training
    from jaxsched.loop import training as loop_training
    from jaxsched.pytorch import interop as pytorch_interop

    assert training.__all__ == loop_training.__all__
    for name in loop_training.__all__:
        assert getattr(training, name) is getattr(loop_training, name)
    assert interop.from_torch is pytorch_interop.from_torch
    from jaxsched.interop import from_torch
    from jaxsched.training import per_epoch, scheduled

    assert (from_torch, per_epoch, scheduled) == (
        pytorch_interop.from_torch, loop_training.per_epoch, loop_training.scheduled)
