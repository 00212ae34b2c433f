"""Immich's web app plays a video over HLS from this server (real-time transcoding on): the
asset viewer's ``<hls-video>`` (hls.js) loads ``main.m3u8``, a media playlist, ``init.mp4`` and
segments, and the browser's media pipeline decodes them (picture size known, data buffered)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from immich_trio.sql.embedded import socket_dir_for, url_for
from tests.browser.conftest import Signed, open_page
from tests.e2e.conftest import ServerProcess
from tests.http.hls_media import insert_stream_rows, make_clip

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

PLAYING = """() => {
    const v = document.querySelector('hls-video');
    return !!v && v.videoWidth > 0 && v.buffered.length > 0 && v.buffered.end(0) > 1;
}"""


def _sql(site: ServerProcess) -> Callable[..., list[tuple[Any, ...]]]:
    url = url_for(socket_dir_for((site.media / "postgres").absolute()), "immich")

    def run(query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(url, autocommit=True) as conn:
            cur = conn.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    return run


@pytest.fixture(scope="module")
def streamed_video(
    site: ServerProcess, browser: Browser, admin: Signed, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A 4 s H.264 + AAC clip uploaded through the API, its stream rows stored, and real-time
    transcoding turned on in the system config; the asset's id."""
    clip = tmp_path_factory.mktemp("hls") / "clip.mp4"
    make_clip(clip, seconds=4, width=320, height=240, audio=True)
    context = browser.new_context(base_url=site.url, storage_state=admin.storage_state)
    try:
        form = {
            "assetData": {"name": "clip.mp4", "mimeType": "video/mp4", "buffer": clip.read_bytes()},
            "deviceAssetId": "browser-hls-1",
            "deviceId": "browser",
            "fileCreatedAt": "2023-05-01T12:00:00.000Z",
            "fileModifiedAt": "2023-05-01T12:00:00.000Z",
        }
        response = context.request.post("/api/assets", multipart=form)
        assert response.status == 201, response.text()
        asset_id: str = response.json()["id"]
        insert_stream_rows(_sql(site), asset_id)
        config = context.request.get("/api/system-config").json()
        config["ffmpeg"]["realtime"]["enabled"] = True
        saved = context.request.put("/api/system-config", data=config)
        assert saved.status == 200, saved.text()
    finally:
        context.close()
    return asset_id


@pytest.fixture
def viewer(
    site: ServerProcess,
    browser: Browser,
    admin: Signed,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    yield from open_page(site, browser, admin, tmp_path, request)


def test_the_asset_viewer_plays_the_video_over_hls(viewer: Page, streamed_video: str) -> None:
    answers: list[tuple[int, str]] = []
    viewer.on(
        "response",
        lambda r: (
            answers.append((r.status, r.url.split("/video/stream/")[-1].split("?")[0]))
            if "/video/stream/" in r.url
            else None
        ),
    )
    viewer.goto(f"/photos/{streamed_video}")
    viewer.wait_for_function(PLAYING, timeout=60_000)
    size = viewer.evaluate(
        "() => { const v = document.querySelector('hls-video'); return [v.videoWidth, v.videoHeight]; }"
    )
    assert size == [320, 240]
    names = [name.split("/")[-1] for status, name in answers if status == 200]
    assert "main.m3u8" in names and "playlist.m3u8" in names and "init.mp4" in names
    assert "seg_0.m4s" in names
    assert [a for a in answers if a[0] >= 400] == []
