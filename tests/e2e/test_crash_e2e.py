"""Kill the server in the middle of uploads and processing; nothing acknowledged may be lost.

After a restart: every upload that got a 201 is there with its file, no file under upload/
lacks a row, no row lacks its file, and every job finishes (thumbnails for every asset).
"""

from __future__ import annotations

import io
import signal
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg
from PIL import Image

from immich_trio.sql.embedded import socket_dir_for, url_for
from tests.e2e.conftest import ServerProcess, call, wait_jobs_idle

ADMIN = {"email": "admin@example.com", "password": "admin-password", "name": "Admin"}
UPLOADS = 60
WORKERS = 4


def _jpeg(seed: int, size: tuple[int, int]) -> bytes:
    """A distinct, real JPEG (noise, so it does not compress away)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def _upload(api: str, key: str, name: str, data: bytes) -> tuple[int, Any]:
    boundary = uuid.uuid4().hex
    parts = []
    for field, value in (
        ("fileCreatedAt", "2024-05-01T10:00:00.000Z"),
        ("fileModifiedAt", "2024-05-01T10:00:00.000Z"),
    ):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="assetData"; filename="{name}"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(api + "/assets", data=b"".join(parts), method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    request.add_header("x-api-key", key)
    import json

    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def test_kill_during_uploads_loses_nothing(server: ServerProcess) -> None:
    api = server.api
    assert call(api, "POST", "/auth/admin-sign-up", ADMIN).status == 201
    token = call(api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]}).body[
        "accessToken"
    ]
    session = {"Authorization": f"Bearer {token}"}
    key = call(api, "POST", "/api-keys", {"name": "k", "permissions": ["all"]}, session).body["secret"]

    files = [(f"crash-{i:03d}.jpg", _jpeg(i, (1600 + i * 7, 1200))) for i in range(UPLOADS)]
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    next_index = iter(range(UPLOADS))

    def worker() -> None:
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            name, data = files[i]
            try:
                status, body = _upload(api, key, name, data)
            except OSError:
                continue  # the server died under this request: not acknowledged
            if status == 201:
                with lock:
                    acknowledged[name] = body["id"]

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with lock:
            if len(acknowledged) >= UPLOADS // 3:
                break
        time.sleep(0.01)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL)  # a crash: the embedded PostgreSQL is left behind
    server.proc.wait(10)
    server.proc = None
    for t in threads:
        t.join(60)
    with lock:
        acked = dict(acknowledged)
    assert 0 < len(acked) < UPLOADS, "the kill must land in the middle of the uploads"

    server.start()
    # Every acknowledged upload is there.
    for name, asset_id in acked.items():
        asset = call(api, "GET", f"/assets/{asset_id}", headers=session)
        assert asset.status == 200, (name, asset.body)
        assert asset.body["originalFileName"] == name

    # Every job finishes.
    jobs = wait_jobs_idle(api, session)
    assert sum(q["jobCounts"]["failed"] for q in jobs.values()) == 0, jobs

    # No orphan row, no orphan file.
    url = url_for(socket_dir_for((server.media / "postgres").absolute()), "immich")
    with psycopg.connect(url) as conn:
        rows = conn.execute('SELECT id::text, "originalPath" FROM asset').fetchall()
        files_rows = conn.execute("SELECT path FROM asset_file").fetchall()
        thumbs = conn.execute(
            "SELECT count(DISTINCT \"assetId\") FROM asset_file WHERE type IN ('preview', 'thumbnail')"
        ).fetchone()
    paths = {Path(p) for _, p in rows}
    assert {i for i, _ in rows} >= set(acked.values())
    for path in paths:
        assert path.is_file(), f"row without its file: {path}"
    on_disk = {p for p in (server.media / "upload").rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert on_disk == paths, f"orphans: {sorted(on_disk - paths)[:5]}"
    assert not any((server.media / "upload" / ".tmp").glob("*")), "temp files left behind"
    for (path,) in files_rows:
        assert Path(path).is_file(), path
    assert thumbs is not None and thumbs[0] == len(rows)
