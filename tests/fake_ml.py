"""A stand-in for Immich's machine-learning service in tests: a Quart-Trio app served by
Hypercorn on a free local port, and the usual ``/predict`` that records what it was sent."""

from __future__ import annotations

import json
import socket
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from quart import request
from quart_trio import QuartTrio


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def predict_app(seen: list[dict[str, Any]], answer: Any) -> QuartTrio:
    """``POST /predict`` answering ``answer``; each request's entries and image bytes go to ``seen``."""
    app = QuartTrio("fake-ml")

    @app.post("/predict")
    async def predict() -> Any:
        form = await request.form
        files = await request.files
        seen.append({"entries": json.loads(form["entries"]), "image": files["image"].read()})
        return answer

    return app


async def serve_app(app: QuartTrio, port: int, *, task_status: trio.TaskStatus[None]) -> None:
    """Serve ``app`` on ``127.0.0.1:port`` until cancelled; started once it listens."""
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None

    async def run(*, task_status: trio.TaskStatus[Any]) -> None:
        await serve(app, config, task_status=task_status)

    async with trio.open_nursery() as nursery:
        await nursery.start(run)
        task_status.started()
