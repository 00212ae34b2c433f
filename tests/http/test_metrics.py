"""Defect 6: metrics are off unless telemetry is turned on, and then served on their own port
(Immich's ``IMMICH_TELEMETRY_INCLUDE`` / ``IMMICH_API_METRICS_PORT``), never on the API port."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
import trio

from immich_trio.config import ConfigError, Settings, load_settings
from immich_trio.http import metrics
from immich_trio.sql.pool import Pool
from immich_trio.supervision_tree import build_tree

TREE: dict[str, Any] = {
    "supervisors": [{"name": "immich-trio", "state": "running", "restarts": 0, "children": []}],
    "database": {"size": 2, "in_use": 1, "connections_made": 3, "last_error": None},
    "queues": {"thumbnailGeneration": {"waiting": 4}},
}


def test_telemetry_is_off_by_default_and_read_as_immich_reads_it() -> None:
    settings = load_settings({})
    assert settings.telemetry == frozenset()
    assert (settings.api_metrics_port, settings.microservices_metrics_port) == (8081, 8082)
    assert load_settings({"IMMICH_TELEMETRY_INCLUDE": "all"}).telemetry == {"host", "api", "io", "repo", "job"}
    assert load_settings(
        {"IMMICH_TELEMETRY_INCLUDE": "all", "IMMICH_TELEMETRY_EXCLUDE": "host, io"}
    ).telemetry == {"api", "repo", "job"}
    assert load_settings({"IMMICH_TELEMETRY_INCLUDE": "job,repo"}).telemetry == {"job", "repo"}
    with pytest.raises(ConfigError, match="IMMICH_TELEMETRY_INCLUDE"):
        load_settings({"IMMICH_TELEMETRY_INCLUDE": "everything"})
    worker_only = load_settings({"IMMICH_WORKERS_INCLUDE": "microservices", "IMMICH_MICROSERVICES_METRICS_PORT": "9000"})
    assert worker_only.metrics_port == 9000
    assert load_settings({"IMMICH_API_METRICS_PORT": "9001"}).metrics_port == 9001


def test_groups_choose_what_is_rendered() -> None:
    text = metrics.render(TREE, frozenset({"job"}))
    assert 'immich_trio_queue_jobs{queue="thumbnailGeneration",state="waiting"} 4' in text
    assert "immich_trio_state" not in text and "immich_trio_pool" not in text
    everything = metrics.render(TREE, frozenset({"host", "repo", "job"}))
    assert 'immich_trio_state{node="immich-trio",state="running"} 1' in everything
    assert "immich_trio_pool_in_use 1" in everything
    assert "immich_trio_pool_connections_made_total 3" in everything


def _tasks(settings: Settings) -> set[str]:
    root, _ = build_tree(settings, Pool("postgresql://nobody@127.0.0.1:1/none"), timers=False)
    return {child["name"] for child in root.snapshot().to_dict()["children"]}


def test_the_metrics_listener_exists_only_with_telemetry_on() -> None:
    assert "metrics" not in _tasks(Settings(db_url="postgresql://x@127.0.0.1/x"))
    assert "metrics" in _tasks(Settings(db_url="postgresql://x@127.0.0.1/x", telemetry=frozenset({"job"})))


async def test_metrics_are_not_served_on_the_api_port(client: Any) -> None:
    resp = await client.get("/metrics")
    assert resp.status_code == 404
    assert "immich_trio" not in (await resp.get_data(as_text=True))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_metrics_port_serves_metrics_and_nothing_else() -> None:
    settings = Settings(host="127.0.0.1", api_metrics_port=_free_port(), telemetry=frozenset({"host", "job"}))
    async with trio.open_nursery() as nursery:
        await nursery.start(metrics.serve, settings, lambda: TREE)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.metrics_port}", timeout=10) as http:
            resp = await http.get("/metrics")
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert 'immich_trio_queue_jobs{queue="thumbnailGeneration",state="waiting"} 4' in resp.text
            assert "immich_trio_pool" not in resp.text  # "repo" not turned on
            assert (await http.get("/api/server/ping")).status_code == 404
            assert (await http.post("/metrics")).status_code == 404
        nursery.cancel_scope.cancel()
