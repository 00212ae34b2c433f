"""The Download tag: ``getDownloadInfo`` (how to split into archives) and ``downloadArchive``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from quart import Response

from immich_trio.http.access import require_access
from immich_trio.http.context import Ctx
from immich_trio.http.dto import OMIT
from immich_trio.http.dto.generated import (
    DownloadArchiveDto,
    DownloadArchiveInfo,
    DownloadInfoDto,
    DownloadResponseDto,
)
from immich_trio.http.dto.users import merge_preferences
from immich_trio.http.errors import BadRequest
from immich_trio.http.registry import operation
from immich_trio.sql import download as q
from immich_trio.sql import users as users_q
from immich_trio.storage.zip_archive import ArchiveEntry, open_archive, unique_names

DEFAULT_ARCHIVE_SIZE = 4 * 1024**3  # Immich's fallback when the request names none


class _Splitter:
    """Immich's accounting: an archive closes as soon as its size passes the target."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.archives: list[DownloadArchiveInfo] = []
        self._ids: list[Any] = []
        self._size = 0

    def add(self, row: Mapping[str, Any]) -> None:
        self._ids.append(row["id"])
        self._size += int(row["size"] or 0)
        if self._size > self.target:
            self._close()

    def _close(self) -> None:
        self.archives.append(DownloadArchiveInfo(asset_ids=self._ids, size=self._size))
        self._ids, self._size = [], 0

    def finish(self) -> DownloadResponseDto:
        if self._ids:
            self._close()
        return DownloadResponseDto(archives=self.archives, total_size=sum(a.size for a in self.archives))


def _is_embedded_video(path: str, media: str) -> bool:
    """StorageCore.isAndroidMotionPath: a video Immich extracted from a motion photo."""
    return path.startswith(media)


@operation("getDownloadInfo")
async def get_download_info(ctx: Ctx) -> DownloadResponseDto:
    dto = await ctx.body(DownloadInfoDto)
    async with ctx.db() as conn:
        rows: Iterable[Mapping[str, Any]]
        if dto.asset_ids is not OMIT:
            await require_access(ctx, conn, "asset.download", dto.asset_ids)
            rows = await q.sized_by_ids(conn, dto.asset_ids)
        elif dto.album_id is not OMIT:
            await require_access(ctx, conn, "album.download", [dto.album_id])
            rows = await q.sized_by_album(conn, dto.album_id)
        elif dto.user_id is not OMIT:
            await require_access(ctx, conn, "timeline.download", [dto.user_id])
            rows = await q.sized_by_owner(conn, dto.user_id)
        else:
            raise BadRequest("assetIds, albumId, or userId is required")
        prefs = merge_preferences(await users_q.get_metadata(conn, ctx.user.id, "preferences"))
        splitter = _Splitter(dto.archive_size if dto.archive_size is not OMIT else DEFAULT_ARCHIVE_SIZE)
        motion_ids: dict[Any, None] = {}
        for row in rows:
            if row["livePhotoVideoId"]:
                motion_ids[row["livePhotoVideoId"]] = None
            splitter.add(row)
        if motion_ids:
            embedded_root = str(ctx.runtime.settings.media_location / "encoded-video")
            include_embedded = bool(prefs["download"]["includeEmbeddedVideos"])
            for motion in await q.sized_by_ids(conn, list(motion_ids)):
                if _is_embedded_video(motion["originalPath"], embedded_root) and not include_embedded:
                    continue
                splitter.add(motion)
    return splitter.finish()


@operation("downloadArchive")
async def download_archive(ctx: Ctx) -> Response:
    dto = await ctx.body(DownloadArchiveDto)
    edited = dto.edited is True
    async with ctx.db() as conn:
        await require_access(ctx, conn, "asset.download", dto.asset_ids)
        rows = {row["id"]: row for row in await q.for_originals(conn, dto.asset_ids)}
    wanted = [rows[i] for i in dto.asset_ids if i in rows]
    names = unique_names([row["originalFileName"] for row in wanted])
    entries = [
        ArchiveEntry(path=(row["editedPath"] if edited and row["editedPath"] else row["originalPath"]), name=name)
        for row, name in zip(wanted, names, strict=True)
    ]
    archive = await open_archive(entries)
    response = Response(archive.chunks(), status=200, content_type="application/octet-stream")
    response.headers["Content-Length"] = str(archive.size)
    return response
