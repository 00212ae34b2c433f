"""A video's probed streams: ``asset_video``, ``asset_audio`` and ``asset_keyframe`` (Immich
v3.1, migration 1777654048096-CreateAudioVideoTables), one row each per asset.

Written by metadata extraction in the same transaction as the ``asset_exif`` row
(``replace_streams``). Each extraction replaces all three: a table gets the new row, or loses
its old one when the new probe has none (a re-encoded original without audio keeps no stale
audio row; stale keyframes would cut HLS segments at the wrong places). Immich's own upsert
leaves an existing row as it was on re-extraction; replacing is the behaviour its columns
describe.

Reading the keyframes (the HLS segmenter): all times are in ticks of the video stream's time
base, ``1 / asset_video."timeBase"`` seconds; ``pts[i]`` is the i-th keyframe's pts,
``"accDuration"[i]`` the summed packet durations through that keyframe (inclusive),
``"ownDuration"[i]`` its own packet duration::

    SELECT k.pts, k."accDuration", k."ownDuration", k."totalDuration", k."packetCount",
           k."outputFrames", v."timeBase", v.index
    FROM asset_keyframe k JOIN asset_video v ON v."assetId" = k."assetId"
    WHERE k."assetId" = %s

(``keyframes_for_asset`` below runs it.) No row: the video was never probed, has no
keyframe, or a value did not fit the ``integer`` columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection, sql

Conn = AsyncConnection[Any]

VIDEO_COLUMNS = (
    "bitrate", "frameCount", "timeBase", "index", "profile", "level", "colorPrimaries",
    "colorTransfer", "colorMatrix", "dvProfile", "dvLevel", "dvBlSignalCompatibilityId",
    "codecName", "formatName", "formatLongName", "pixelFormat",
)  # fmt: skip
AUDIO_COLUMNS = ("bitrate", "index", "profile", "codecName")
KEYFRAME_COLUMNS = ("pts", "accDuration", "ownDuration", "totalDuration", "packetCount", "outputFrames")
TABLES: Mapping[str, tuple[str, ...]] = {
    "asset_video": VIDEO_COLUMNS,
    "asset_audio": AUDIO_COLUMNS,
    "asset_keyframe": KEYFRAME_COLUMNS,
}

KEYFRAMES_FOR_ASSET = """
SELECT k.pts, k."accDuration", k."ownDuration", k."totalDuration", k."packetCount",
       k."outputFrames", v."timeBase", v.index
FROM asset_keyframe k JOIN asset_video v ON v."assetId" = k."assetId"
WHERE k."assetId" = %s
"""


@attrs.frozen(kw_only=True)
class AssetKeyframes:
    pts: list[int]
    acc_duration: list[int]
    own_duration: list[int]
    total_duration: int
    packet_count: int
    output_frames: int
    time_base: int
    """Ticks per second of the video stream."""
    stream_index: int


def _upsert(table: str, columns: tuple[str, ...]) -> sql.Composed:
    names = ("assetId", *columns)
    return sql.SQL(
        'INSERT INTO {table} ({names}) VALUES ({values}) ON CONFLICT ("assetId") DO UPDATE SET {sets}'
    ).format(
        table=sql.Identifier(table),
        names=sql.SQL(", ").join(sql.Identifier(n) for n in names),
        values=sql.SQL(", ").join(sql.Placeholder(n) for n in names),
        sets=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in columns
        ),
    )


def _delete(table: str) -> sql.Composed:
    return sql.SQL('DELETE FROM {table} WHERE "assetId" = %s').format(table=sql.Identifier(table))


async def replace_streams(
    conn: Conn,
    asset_id: UUID | str,
    *,
    video: Mapping[str, Any] | None,
    audio: Mapping[str, Any] | None,
    keyframes: Mapping[str, Any] | None,
) -> None:
    """Each table gets the given row (column name → value) or loses the asset's row."""
    for table, row in (("asset_video", video), ("asset_audio", audio), ("asset_keyframe", keyframes)):
        if row is None:
            await conn.execute(_delete(table), (asset_id,))
            continue
        columns = TABLES[table]
        await conn.execute(_upsert(table, columns), {"assetId": asset_id, **{c: row[c] for c in columns}})


async def keyframes_for_asset(conn: Conn, asset_id: UUID | str) -> AssetKeyframes | None:
    cur = await conn.execute(KEYFRAMES_FOR_ASSET, (asset_id,))
    row: dict[str, Any] | None = await cur.fetchone()
    if row is None:
        return None
    return AssetKeyframes(
        pts=list(row["pts"]),
        acc_duration=list(row["accDuration"]),
        own_duration=list(row["ownDuration"]),
        total_duration=row["totalDuration"],
        packet_count=row["packetCount"],
        output_frames=row["outputFrames"],
        time_base=row["timeBase"],
        stream_index=row["index"],
    )
