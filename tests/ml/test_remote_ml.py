"""The remote path: Immich's ``/predict`` protocol against a small server in the test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
from fake_ml import free_port, serve_app
from quart import request
from quart_trio import QuartTrio

from immich_trio.ml.local import LocalClip
from immich_trio.ml.remote import RemoteML
from immich_trio.ml.service import ClipService, ClipUnavailable, uses_remote

LIMIT = 30


def _ml_app(seen: list[dict[str, Any]]) -> QuartTrio:
    app = QuartTrio("fake-ml")

    @app.post("/predict")
    async def predict() -> Any:
        form = await request.form
        files = await request.files
        entries = json.loads(form["entries"])
        image = files.get("image")
        seen.append({"entries": entries, "text": form.get("text"), "image": image.read() if image else None})
        if "visual" in entries["clip"]:
            return {"clip": "[1.0,0.0,0.5]", "imageHeight": 10, "imageWidth": 20}
        return {"clip": "[0.25,0.5,0.75]"}

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    return app


def _config(urls: list[str], *, checks: bool = True) -> dict[str, Any]:
    return {
        "machineLearning": {
            "enabled": True,
            "urls": urls,
            "availabilityChecks": {"enabled": checks, "timeout": 2000, "interval": 30000},
            "clip": {"enabled": True, "modelName": "ViT-B-32__openai"},
        }
    }


async def test_fail_over_to_the_second_url(tmp_path: Path, nursery: trio.Nursery) -> None:
    seen: list[dict[str, Any]] = []
    port = free_port()
    await nursery.start(serve_app, _ml_app(seen), port)
    down, up = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{port}"
    config = _config([down, up])
    assert uses_remote(config)
    service = ClipService(LocalClip(tmp_path))
    image = tmp_path / "preview.jpeg"
    image.write_bytes(b"jpeg bytes")
    with trio.fail_after(LIMIT):
        text = await service.encode_text(config, "a red car", "en")
        assert text == "[0.25,0.5,0.75]"
        assert seen[-1]["entries"] == {
            "clip": {"textual": {"modelName": "ViT-B-32__openai", "options": {"language": "en"}}}
        }
        assert seen[-1]["text"] == "a red car"
        assert service.remote.healthy == {down: False, up: True}
        # now the healthy one goes first: the down URL is not tried again
        assert await service.encode_image(config, image) == "[1.0,0.0,0.5]"
        assert seen[-1]["entries"] == {"clip": {"visual": {"modelName": "ViT-B-32__openai"}}}
        assert seen[-1]["image"] == b"jpeg bytes"
        assert len(seen) == 2


async def test_all_urls_down_is_a_clear_error(tmp_path: Path) -> None:
    config = _config([f"http://127.0.0.1:{free_port()}"], checks=False)
    service = ClipService(LocalClip(tmp_path))
    with trio.fail_after(LIMIT), pytest.raises(ClipUnavailable, match="failed for all URLs"):
        await service.encode_text(config, "red")


async def test_availability_checks_mark_urls(tmp_path: Path, nursery: trio.Nursery) -> None:
    port = free_port()
    await nursery.start(serve_app, _ml_app([]), port)
    down, up = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{port}"
    remote = RemoteML()
    with trio.fail_after(LIMIT):
        await remote.check(up, 2.0)
        await remote.check(down, 2.0)
    assert remote.healthy == {up: True, down: False}


def test_default_url_means_in_process() -> None:
    assert not uses_remote(_config(["http://immich-machine-learning:3003"]))
    assert not uses_remote(_config([]))
