"""Prometheus metrics, served as Immich serves its own: only when the operator turns telemetry
on (``IMMICH_TELEMETRY_INCLUDE`` / ``IMMICH_TELEMETRY_EXCLUDE``), on a port of their own
(``IMMICH_API_METRICS_PORT``, default 8081, or ``IMMICH_MICROSERVICES_METRICS_PORT``, default 8082,
for a process without the ``api`` worker), never on the API port. The numbers come from the
supervision status tree; Immich's groups choose what is shown: ``host`` the tree of supervisors and
actors, ``repo`` the database pool, ``job`` the job queues (``api`` and ``io`` have no metric here yet).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from immich_trio.config import Settings
from immich_trio.http import hypercorn_patches  # noqa: F401  (connection limits, HTTP/1.1 and HTTP/2)

log = logging.getLogger("immich_trio.metrics")
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

_STATES = ("starting", "running", "backing_off", "stopped", "failed")
# (metric, help, how to read it from a node)
_GAUGES: tuple[tuple[str, str, Any], ...] = (
    ("immich_trio_restarts_total", "Restarts of the node by its supervisor", lambda n: n.get("restarts")),
    ("immich_trio_inbox_depth", "Messages waiting in the inbox", lambda n: (n.get("inbox") or {}).get("depth")),
    ("immich_trio_inbox_capacity", "Inbox capacity", lambda n: (n.get("inbox") or {}).get("capacity")),
    ("immich_trio_inbox_peak", "Highest inbox depth seen", lambda n: (n.get("inbox") or {}).get("peak")),
    ("immich_trio_messages_handled_total", "Messages handled", lambda n: n.get("handled")),
    ("immich_trio_messages_failed_total", "Messages whose handling failed", lambda n: n.get("failed")),
    ("immich_trio_in_flight", "Work in flight", lambda n: n.get("in_flight")),
)


_POOL_COUNTERS = frozenset({"connections_made", "connect_failures", "connections_discarded"})


def _walk(nodes: list[Mapping[str, Any]], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for node in nodes:
        path = f"{prefix}/{node['name']}" if prefix else str(node["name"])
        yield path, node
        yield from _walk(node.get("children") or [], path)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(tree: Mapping[str, Any], groups: frozenset[str] = frozenset({"host", "repo", "job"})) -> str:
    lines: list[str] = []
    if "host" in groups:
        _render_tree(tree, lines)
    if "repo" in groups:
        _render_pool(tree, lines)
    if "job" in groups:
        _render_queues(tree, lines)
    return "\n".join(lines) + "\n"


def _render_pool(tree: Mapping[str, Any], lines: list[str]) -> None:
    for key, value in (tree.get("database") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total = key in _POOL_COUNTERS
            metric = f"immich_trio_pool_{key}" + ("_total" if total else "")
            lines.append(f"# HELP {metric} Database pool: {key.replace('_', ' ')}")
            lines.append(f"# TYPE {metric} {'counter' if total else 'gauge'}")
            lines.append(f"{metric} {value}")


def _render_tree(tree: Mapping[str, Any], lines: list[str]) -> None:
    nodes = list(_walk(tree.get("supervisors") or [], ""))
    lines.append("# HELP immich_trio_state Current state of each supervised node (1 = in that state)")
    lines.append("# TYPE immich_trio_state gauge")
    for path, node in nodes:
        for state in _STATES:
            value = 1 if node.get("state") == state else 0
            lines.append(f'immich_trio_state{{node="{_label(path)}",state="{state}"}} {value}')
    for metric, help_text, read in _GAUGES:
        rows = [(path, read(node)) for path, node in nodes]
        rows = [(path, value) for path, value in rows if isinstance(value, (int, float))]
        if not rows:
            continue
        kind = "counter" if metric.endswith("_total") else "gauge"
        lines.append(f"# HELP {metric} {help_text}")
        lines.append(f"# TYPE {metric} {kind}")
        lines.extend(f'{metric}{{node="{_label(path)}"}} {value}' for path, value in rows)


def _render_queues(tree: Mapping[str, Any], lines: list[str]) -> None:
    queues = tree.get("queues") or {}
    if queues:
        lines.append("# HELP immich_trio_queue_jobs Jobs per queue and state")
        lines.append("# TYPE immich_trio_queue_jobs gauge")
        for queue, counts in queues.items():
            for state, value in counts.items():
                if isinstance(value, (int, float)):
                    lines.append(f'immich_trio_queue_jobs{{queue="{_label(queue)}",state="{state}"}} {value}')


Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


def make_app(status: Callable[[], Mapping[str, Any]], groups: frozenset[str]) -> Callable[..., Awaitable[None]]:
    """A bare ASGI app: ``GET /metrics`` and nothing else (404), as Immich's exporter answers."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        if scope["path"] == "/metrics" and scope["method"] in ("GET", "HEAD"):
            status_code, body, content_type = 200, render(status(), groups).encode(), CONTENT_TYPE
        else:
            status_code, body, content_type = 404, b"Not Found\n", b"text/plain; charset=utf-8"
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status_code, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return app


async def serve(
    settings: Settings,
    status: Callable[[], Mapping[str, Any]],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The metrics listener on ``IMMICH_HOST:<metrics port>`` until cancelled; started once listening."""
    config = HypercornConfig()
    config.bind = [f"{settings.host}:{settings.metrics_port}"]
    config.accesslog = None
    config.graceful_timeout = 1

    async def serve_until_cancelled(*, task_status: trio.TaskStatus[list[str]]) -> None:
        await hypercorn_serve(make_app(status, settings.telemetry), config, task_status=task_status)

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve_until_cancelled)
        log.info("metrics (%s) on %s", ", ".join(sorted(settings.telemetry)), ", ".join(binds))
        task_status.started()
