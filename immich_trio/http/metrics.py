"""The supervision status tree in Prometheus' text exposition format."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

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


def _walk(nodes: list[Mapping[str, Any]], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for node in nodes:
        path = f"{prefix}/{node['name']}" if prefix else str(node["name"])
        yield path, node
        yield from _walk(node.get("children") or [], path)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(tree: Mapping[str, Any]) -> str:
    nodes = list(_walk(tree.get("supervisors") or [], ""))
    lines: list[str] = []
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
    queues = tree.get("queues") or {}
    if queues:
        lines.append("# HELP immich_trio_queue_jobs Jobs per queue and state")
        lines.append("# TYPE immich_trio_queue_jobs gauge")
        for queue, counts in queues.items():
            for state, value in counts.items():
                if isinstance(value, (int, float)):
                    lines.append(f'immich_trio_queue_jobs{{queue="{_label(queue)}",state="{state}"}} {value}')
    return "\n".join(lines) + "\n"
