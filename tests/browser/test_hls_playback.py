"""Immich's web app plays a video over HLS from this server (real-time transcoding on): the
asset viewer's ``<hls-video>`` (hls.js) loads ``main.m3u8``, a media playlist, ``init.mp4`` and
segments, and the browser's media pipeline decodes them (picture size known, data buffered)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from immich_trio.sql.embedded import socket_dir_for, url_for
from tests.browser.conftest import Signed, set_realtime_transcoding, upload_through_api
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
    asset_id = upload_through_api(site, browser, admin, clip.read_bytes(), "clip.mp4", "video/mp4", "2023-05-01T12:00:00.000Z")
    insert_stream_rows(_sql(site), asset_id)
    set_realtime_transcoding(site, browser, admin, True)
    return asset_id


def test_the_asset_viewer_plays_the_video_over_hls(admin_page: Page, streamed_video: str) -> None:
    viewer = admin_page
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
