"""Layering rules that read the source: one event path, and layers that point down only."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "immich_trio"
SOCKET_LAYER = PACKAGE / "http" / "socketio"
HUB_METHODS = frozenset({"emit_to_user", "emit_to_session", "broadcast", "disconnect_session", "attach"})


def _modules(folder: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(folder.rglob("*.py")):
        yield path, ast.parse(path.read_text("utf-8"), str(path))


def _imported(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def hub_uses(tree: ast.Module) -> list[str]:
    """What in a module touches the notifier hub: an import of it, ``.hub``, a hub method."""
    found = [f"import {name}" for name in _imported(tree) if name.startswith("immich_trio.actors.notifier")]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (node.attr == "hub" or node.attr in HUB_METHODS):
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def test_only_the_socket_layer_touches_the_hub() -> None:
    # Handlers publish through sql/events inside their transaction, so an event reaches the
    # sockets of every process and only once the change commits.
    offenders = {
        str(path.relative_to(PACKAGE)): uses
        for path, tree in _modules(PACKAGE / "http")
        if not path.is_relative_to(SOCKET_LAYER) and (uses := hub_uses(tree))
    }
    assert offenders == {}


def test_the_hub_check_sees_a_handler_that_emits() -> None:
    handler = ast.parse(
        "async def h(ctx):\n    ctx.runtime.hub.emit_to_user('u', 'on_asset_update')\n"
    )
    assert sorted(hub_uses(handler)) == ["line 2: .emit_to_user", "line 2: .hub"]


def test_lower_layers_never_import_http() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): name
        for layer in ("actors", "sql", "storage", "reactor", "jobs")
        for path, tree in _modules(PACKAGE / layer)
        for name in _imported(tree)
        if name.startswith("immich_trio.http")
    }
    assert offenders == {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _load_time_imports(tree: ast.Module, known: set[str]) -> set[str]:
    """Modules imported when the module loads (not under ``TYPE_CHECKING``, not in functions)."""
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in known else node.module)
    return {name for name in out if name in known}


def import_cycles() -> list[list[str]]:
    modules = {_module_name(path): tree for path, tree in _modules(PACKAGE)}
    graph = {name: _load_time_imports(tree, set(modules)) for name, tree in modules.items()}
    # A package's own __init__ importing its submodules is how packages work, not a cycle.
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return cycles


def test_no_import_cycle() -> None:
    assert import_cycles() == []
