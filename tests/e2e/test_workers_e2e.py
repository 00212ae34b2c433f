"""Immich's worker split: an ``api`` process and a ``microservices`` process on one database and
one media folder. The api process takes the upload in, the other process runs its jobs, the
api process's sockets hear of it, and a config change made through the api process reaches
the worker's cached config."""

from __future__ import annotations

import io
import json
import queue
import signal
import urllib.request
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.conftest import ServerProcess, call

ADMIN = {"email": "admin@example.com", "password": "admin-password", "name": "Admin"}
CAP = 60.0
"""Seconds any one step may take (two processes share a busy machine)."""


def _photo(seed: int, make: str) -> bytes:
    """A distinct JPEG with an EXIF ``Make`` that only metadata extraction can find."""
    import numpy as np

    pixels = np.random.default_rng(seed).integers(0, 255, (600, 800, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x010F] = make
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def _upload(api: str, token: str, name: str, data: bytes) -> tuple[int, Any]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n2024-05-01T10:00:00.000Z\r\n'.encode()
        for field in ("fileCreatedAt", "fileModifiedAt")
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="assetData"; filename="{name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(api + "/assets", data=b"".join(parts), method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=CAP) as response:
        return response.status, json.loads(response.read())


def _thumbnail_type(api: str, token: str, asset_id: str) -> str:
    request = urllib.request.Request(f"{api}/assets/{asset_id}/thumbnail?size=thumbnail")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=CAP) as response:
        response.read()
        return str(response.headers["Content-Type"])


def _thumb_names(media: Path, asset_id: str) -> list[str]:
    return sorted(p.name for p in (media / "thumbs").rglob(f"{asset_id}_*") if p.is_file())


def _next(events: queue.Queue[tuple[str, Any]], name: str) -> Any:
    while True:
        got, args = events.get(timeout=CAP)
        if got == name:
            return args


@pytest.fixture
def two_processes(server_factory: Any, db_url: str, tmp_path: Path) -> tuple[ServerProcess, ServerProcess]:
    media = tmp_path / "shared-media"
    # One media folder for both processes: uploads land through one, thumbnails through the other.
    api = server_factory({"DB_URL": db_url, "IMMICH_MEDIA_LOCATION": str(media), "IMMICH_WORKERS_INCLUDE": "api"})
    worker = server_factory(
        {"DB_URL": db_url, "IMMICH_MEDIA_LOCATION": str(media), "IMMICH_WORKERS_EXCLUDE": "api"}
    )
    worker.start_without_http()
    api.start()
    api.media = worker.media = media
    return api, worker


def test_api_and_microservices_processes_share_one_database(
    two_processes: tuple[ServerProcess, ServerProcess],
) -> None:
    socketio = pytest.importorskip("socketio")
    pytest.importorskip("websocket", reason="python-socketio's sync client needs websocket-client")
    api, worker = two_processes
    assert call(api.api, "POST", "/auth/admin-sign-up", ADMIN).status == 201
    login = call(api.api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]})
    token = login.body["accessToken"]
    session = {"Authorization": f"Bearer {token}"}

    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    client = socketio.Client(reconnection=False)
    for name in ("on_server_version", "on_upload_success", "on_config_update"):
        client.on(name, partial(lambda name, *args: events.put((name, list(args))), name))
    client.connect(
        api.url, socketio_path="/api/socket.io", transports=["websocket"], headers=session, wait_timeout=CAP
    )
    try:
        _next(events, "on_server_version")

        # Only the worker runs jobs: the upload's metadata and thumbnails come from it.
        status, body = _upload(api.api, token, "first.jpg", _photo(1, "TrioCam"))
        assert status == 201
        first = body["id"]
        [uploaded] = _next(events, "on_upload_success")
        assert uploaded["id"] == first
        info = call(api.api, "GET", f"/assets/{first}", headers=session).body
        assert info["exifInfo"]["make"] == "TrioCam"
        assert (info["exifInfo"]["exifImageWidth"], info["exifInfo"]["exifImageHeight"]) == (800, 600)
        assert _thumbnail_type(api.api, token, first) == "image/webp"  # Immich's default
        assert _thumb_names(api.media, first) == [f"{first}_preview.jpeg", f"{first}_thumbnail.webp"]

        # The worker has the config in hand; a change saved through the api process reaches it.
        config = call(api.api, "GET", "/system-config", headers=session).body
        config["image"]["thumbnail"]["format"] = "jpeg"
        assert call(api.api, "PUT", "/system-config", config, session).status == 200
        assert _next(events, "on_config_update") == []
        status, body = _upload(api.api, token, "second.jpg", _photo(2, "TrioCam"))
        assert status == 201
        second = body["id"]
        [uploaded] = _next(events, "on_upload_success")
        assert uploaded["id"] == second
        assert _thumbnail_type(api.api, token, second) == "image/jpeg"
        assert _thumb_names(api.media, second) == [f"{second}_preview.jpeg", f"{second}_thumbnail.jpeg"]
    finally:
        client.disconnect()

    # A process with no HTTP listener still stops cleanly on SIGTERM.
    assert worker.stop(signal.SIGTERM) == 0
    assert api.stop(signal.SIGTERM) == 0
