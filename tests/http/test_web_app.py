"""``IMMICH_WEB_ROOT``: the built web app served at ``/`` beside the API, as Immich serves it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from immich_trio.config import ConfigError, load_settings
from immich_trio.http.app import create_app
from immich_trio.runtime import Runtime

INDEX = b"<!doctype html><title>app</title>"
SCRIPT = b"console.log(1)"


@pytest.fixture
def web_root(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    (root / "_app" / "immutable" / "chunks").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "_app" / "immutable" / "chunks" / "a1b2.js").write_bytes(SCRIPT)
    (root / "favicon.png").write_bytes(b"\x89PNG")
    (tmp_path / "secret.txt").write_text("outside the root")
    return root


@pytest.fixture
async def web_client(runtime: Runtime, web_root: Path) -> AsyncIterator[Any]:
    with_web = attrs.evolve(runtime, settings=attrs.evolve(runtime.settings, web_root=web_root))
    app = create_app(with_web)
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def test_files_and_spa_fallback(web_client: Any) -> None:
    script = await web_client.get("/_app/immutable/chunks/a1b2.js")
    assert script.status_code == 200
    assert await script.get_data() == SCRIPT
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"

    icon = await web_client.get("/favicon.png")
    assert (icon.status_code, icon.headers["Content-Type"]) == (200, "image/png")
    assert icon.headers["Cache-Control"] == "no-cache"

    for path in ("/", "/photos", "/albums/0b0c0d0e-0000-4000-8000-000000000000", "/_app/missing.js"):
        page = await web_client.get(path)
        assert page.status_code == 200, path
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert page.headers["Cache-Control"] == "no-cache"
        assert await page.get_data() == INDEX

    etag = script.headers["ETag"]
    again = await web_client.get("/_app/immutable/chunks/a1b2.js", headers={"If-None-Match": etag})
    assert again.status_code == 304


async def test_api_routes_come_first(web_client: Any, client: Any) -> None:
    ping = await web_client.get("/api/server/ping")
    assert (ping.status_code, await ping.get_json()) == (200, {"res": "pong"})
    well_known = await web_client.get("/.well-known/immich")
    assert await well_known.get_json() == {"api": {"endpoint": "/api"}}
    missing = await web_client.get("/api/no-such-route")
    assert missing.status_code == 404
    without_web = await client.get("/api/no-such-route")
    assert await missing.get_json() == await without_web.get_json()


async def test_nothing_outside_the_root(web_client: Any) -> None:
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/_app/../../secret.txt"):
        page = await web_client.get(path)
        assert await page.get_data() != b"outside the root", path


async def test_off_by_default(client: Any) -> None:
    page = await client.get("/photos")
    assert page.status_code == 404


def test_setting(web_root: Path, tmp_path: Path) -> None:
    assert load_settings({}).web_root is None
    assert load_settings({"IMMICH_WEB_ROOT": str(web_root)}).web_root == web_root.resolve()
    with pytest.raises(ConfigError, match="IMMICH_WEB_ROOT"):
        load_settings({"IMMICH_WEB_ROOT": str(tmp_path / "nowhere")})
