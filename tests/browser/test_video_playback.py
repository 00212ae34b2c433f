"""Immich's web app plays a transcoded HEVC video from this server: a phone's HEVC clip is
uploaded, the transcoder writes its H.264 MP4 (Immich's default policy requires it: HEVC is not
an accepted codec), and the asset viewer's ``<video>`` plays ``/video/playback``, which serves
the encoded file; the browser decodes it (picture size known, time advancing)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import av
import pytest

from tests.actors.video_samples import make_video
from tests.browser.conftest import Signed, set_realtime_transcoding, upload_through_api
from tests.browser.test_hls_playback import _sql
from tests.e2e.conftest import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

PLAYING = """() => {
    const v = [...document.querySelectorAll('video')].find((e) => e.videoWidth > 0);
    return !!v && v.readyState >= 2 && v.currentTime > 0.2;
}"""


@pytest.fixture(scope="module")
def transcoded_video(
    site: ServerProcess, browser: Browser, admin: Signed, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A 3 s HEVC clip uploaded through the API, real-time transcoding off, its encoded MP4 on disk."""
    folder = tmp_path_factory.mktemp("playback")
    clip = make_video(folder / "phone.mp4", codec="libx265", width=320, height=240, fps=24, frames=72, gop=24)
    set_realtime_transcoding(site, browser, admin, False)
    asset_id = upload_through_api(site, browser, admin, clip.read_bytes(), "phone.mp4", "video/mp4", "2023-06-01T12:00:00.000Z")
    sql = _sql(site)
    deadline = time.monotonic() + 180
    while not sql("SELECT 1 FROM asset_file WHERE \"assetId\" = %s AND type = 'encoded_video'", (asset_id,)):
        assert time.monotonic() < deadline, "the video was never transcoded"
        time.sleep(0.5)
    return asset_id


def test_the_asset_viewer_plays_the_transcoded_hevc_video(admin_page: Page, transcoded_video: str, tmp_path: Path) -> None:
    viewer = admin_page
    served: list[tuple[int, str]] = []
    viewer.on(
        "response",
        lambda r: served.append((r.status, r.url)) if "/video/playback" in r.url else None,
    )
    viewer.goto(f"/photos/{transcoded_video}")
    viewer.wait_for_function(PLAYING, timeout=60_000)
    size = viewer.evaluate(
        "() => { const v = [...document.querySelectorAll('video')].find((e) => e.videoWidth > 0);"
        " return [v.videoWidth, v.videoHeight]; }"
    )
    assert size == [320, 240]
    assert served and all(status in (200, 206) for status, _ in served), served
    # What the browser was given is the H.264 encode, not the HEVC original.
    answer = viewer.context.request.get(served[0][1])
    assert answer.status == 200
    copy = tmp_path / "served.mp4"
    copy.write_bytes(answer.body())
    with av.open(str(copy)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
