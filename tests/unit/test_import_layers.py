"""The layers of the code base, read from the `import` statements (no module is imported).

Arrows point down only: schema -> resolvers -> projections -> domain. infra (the composition
root) may import anything; domain imports nothing of ours; projections import only domain;
resolvers do not import schema; schema imports neither domain, projections nor infra.

Not counted: imports under `if TYPE_CHECKING:` (they never run; `resolvers/ports.py` names
the ports for the checker that way) and imports inside a function body, which are listed
in FUNCTION_LEVEL (features add their `Client` fields through schema/client.py, not that
way). Module-level imports among schema/ and resolvers/ files form no circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "projections", "resolvers", "schema", "infra")
MAY_IMPORT: dict[str, set[str]] = {
    "domain": set(),
    "projections": {"domain"},
    "resolvers": {"domain", "projections"},
    "schema": {"resolvers"},
    "infra": set(PACKAGES),
}
ALLOWED: set[tuple[str, str]] = set()
"""(module, imported module) arrows allowed against the table above, each with a reason."""

FUNCTION_LEVEL: set[tuple[str, str]] = {
    # Invoice.quote: quotes build on billing's types, so billing reaches back lazily.
    ("schema.billing", "schema.quotes"),
}
"""Imports inside function bodies in schema/ and resolvers/ (each one a back-reference)."""


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and not _is_type_checking(node.test):
            yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            yield from _module_level(node.body)
            for handler in node.handlers:
                yield from _module_level(handler.body)


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def imports() -> dict[str, set[str]]:
    """Each of our modules and the modules of ours it imports at module level."""
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            module = module.removesuffix(".__init__")
            tree = ast.parse(path.read_text(), str(path))
            found: set[str] = set()
            for node in _module_level(tree.body):
                if isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names if _ours(alias.name))
                elif node.level == 0 and node.module and _ours(node.module):
                    found.add(node.module)
            graph[module] = found
    return graph


def _resolve(graph: dict[str, set[str]], name: str) -> str:
    """`from schema import x` names module schema.x when there is one."""
    while name not in graph and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def test_arrows_point_down() -> None:
    wrong = [
        (module, target)
        for module, targets in imports().items()
        for target in targets
        if module.split(".")[0] != target.split(".")[0]
        and target.split(".")[0] not in MAY_IMPORT[module.split(".")[0]]
        and (module, target) not in ALLOWED
    ]
    assert wrong == []


def _cycle(graph: dict[str, set[str]], members: set[str]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            target = _resolve(graph, target)
            if target not in members or target == module:
                continue
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(members):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_no_circles_among_schema_and_resolvers() -> None:
    graph = imports()
    members = {m for m in graph if m.split(".")[0] in ("schema", "resolvers")}
    assert _cycle(graph, members) is None


def _function_level(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    yield inner


def test_function_level_imports_are_the_listed_back_references() -> None:
    found: set[tuple[str, str]] = set()
    for package in ("schema", "resolvers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in _function_level(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom) and node.module and _ours(node.module):
                    found.add((module, node.module))
                elif isinstance(node, ast.Import):
                    found.update((module, a.name) for a in node.names if _ours(a.name))
    assert found == FUNCTION_LEVEL
