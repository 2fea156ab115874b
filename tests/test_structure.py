"""The library's shape: stages import each other in one direction, never in a circle, and the
command line is the only place that knows click."""
from __future__ import annotations

import ast

from conftest import ROOT

LIB = ROOT / "coding"


def internal_imports(path) -> tuple[set[str], list[tuple[int, str]]]:
    """(modules of the package imported at module level, imports of the package inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top, inner = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
            if node in tree.body:
                top.update(n.split(".")[0] for n in names)
            else:
                inner.extend((node.lineno, n) for n in names)
    return top, inner


def import_graph() -> dict[str, set[str]]:
    return {p.stem: internal_imports(p)[0] for p in sorted(LIB.glob("*.py")) if p.stem != "__init__"}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A list of modules that import each other in a circle, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_the_import_graph_has_no_circle():
    graph = import_graph()
    assert len(graph) >= 20 and graph["project"] >= {"codebook", "transcripts", "store", "tagcache"}
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_the_package_inside_a_function():
    """A function-level import of the package's own modules is how a circle hides."""
    inner = {p.name: internal_imports(p)[1] for p in LIB.glob("*.py")}
    assert {name: found for name, found in inner.items() if found} == {}


def test_stages_do_not_reach_up_and_the_library_never_imports_click():
    graph = import_graph()
    # the early stages know nothing of the project, the tables or the outputs
    for early in ("transcripts", "codebook", "rules", "settings", "nlp", "tagger", "learn", "store"):
        assert not graph[early] & {"project", "aggregate", "network", "export", "publish", "pipeline", "review", "qdpx"}, early
    for p in LIB.glob("*.py"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        mods |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
        assert not {m for m in mods if m.split(".")[0] == "click"}, p.name
