"""Rows of the HLS streaming routes (Assets tag): the four answer ``asset.view`` refusals as
the other asset routes do; an allowed caller gets past the access check to the route's own answer
(streaming is off in the world's config, its video has no stream rows and no session)."""

from __future__ import annotations

from tests.http.access.vocabulary import (
    FILE_REFUSED,
    Outcome,
    Row,
    asset_read,
    file_route,
    ok,
    refused,
    video,
)

NOT_ENABLED = refused(400, "Real-time transcoding is not enabled")
NO_SESSION_STREAM = refused(404, "Asset not found or metadata not yet ready for streaming")


def _allowed_get(outcome: Outcome) -> dict[str, Outcome]:
    """``asset.view`` with links, each allowed caller getting ``outcome``."""
    return {actor: (outcome if o == ok() else o) for actor, o in asset_read("asset.view", links=True).items()}


STREAM_ROWS: tuple[Row, ...] = (
    Row(op="getMainPlaylist", target=video,
        request=lambda w, t: ("GET", f"/api/assets/{t}/video/stream/main.m3u8", None),
        expect=_allowed_get(NOT_ENABLED)),
    Row(op="getMediaPlaylist", target=video,
        request=lambda w, t: ("GET", f"/api/assets/{t}/video/stream/{t}/2/playlist.m3u8", None),
        expect=_allowed_get(NO_SESSION_STREAM)),
    # A file route: the refusal and the missing session are the same bare 404 (the allowed
    # callers' segments are played in tests/http/test_video_stream.py).
    Row(op="getSegment", target=video,
        request=lambda w, t: ("GET", f"/api/assets/{t}/video/stream/{t}/2/seg_0.m4s", None),
        expect=file_route(_allowed_get(FILE_REFUSED))),
    Row(op="endSession", target=video,
        request=lambda w, t: ("DELETE", f"/api/assets/{t}/video/stream/{t}", None),
        expect=_allowed_get(ok(204))),
)  # fmt: skip
