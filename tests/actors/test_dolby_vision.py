"""Dolby Vision configuration records (``dvProfile``, ``dvLevel``, ``dvBlSignalCompatibilityId``
of ``asset_video``) read from an MP4's sample entry, as FFmpeg's MOV demuxer reads them for
Immich's ffprobe. The clips are made here with PyAV; the record is put into the video track's
sample entry as an iPhone's HDR recording carries it (``dvvC``, profile 8.4 here)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import trio

from immich_trio.actors.metadata import stream_probe
from immich_trio.actors.metadata.dolby_vision import DoviRecord, parse_dovi_record, read_dovi_record
from immich_trio.sql.pool import Pool
from tests.actors import test_metadata_actor as harness
from tests.actors.video_samples import make_video

Sql = Callable[..., list[tuple[Any, ...]]]

#: profile 8, level 7, RPU and BL present, no EL, compatibility id 4 (HLG), as an iPhone writes.
PROFILE_8_4 = bytes([1, 0, 0x10, 0x3D, 0x40]) + bytes(19)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _children(data: bytes | bytearray, start: int, end: int) -> list[tuple[int, int, bytes]]:
    """(offset, size, type) of the boxes in data[start:end] (32-bit sizes only: PyAV's clips)."""
    found = []
    offset = start
    while offset < end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        found.append((offset, size, kind))
        offset += size
    return found


def add_dovi_box(path: Path, payload: bytes, kind: bytes = b"dvvC") -> None:
    """Append a DOVI box to the first sample entry of the first track, growing every box
    around it. The clips keep ``moov`` after ``mdat``, so no chunk offset moves."""
    data = bytearray(path.read_bytes())
    ancestors: list[int] = []
    start, end = 0, len(data)
    for wanted, skip in (
        (b"moov", 0),
        (b"trak", 0),
        (b"mdia", 0),
        (b"minf", 0),
        (b"stbl", 0),
        (b"stsd", 8),
    ):
        offset, size, _ = next(box for box in _children(data, start, end) if box[2] == wanted)
        ancestors.append(offset)
        start, end = offset + 8 + skip, offset + size
    entry_offset, entry_size, _ = _children(data, start, end)[0]
    ancestors.append(entry_offset)
    box = _box(kind, payload)
    insert_at = entry_offset + entry_size
    assert ancestors[0] > data.find(b"mdat")  # moov is after mdat
    data[insert_at:insert_at] = box
    for offset in ancestors:
        (size,) = struct.unpack_from(">I", data, offset)
        struct.pack_into(">I", data, offset, size + len(box))
    path.write_bytes(bytes(data))


def test_the_record_fields_are_read_as_ffmpeg_lays_them_out() -> None:
    assert parse_dovi_record(PROFILE_8_4) == DoviRecord(
        profile=8, level=7, bl_signal_compatibility_id=4
    )
    # profile 5 level 9, compatibility 0 (no backward-compatible base layer)
    assert parse_dovi_record(bytes([1, 0, (5 << 1), (9 << 3) | 0b101, 0x00])) == DoviRecord(
        profile=5, level=9, bl_signal_compatibility_id=0
    )
    assert parse_dovi_record(b"\x01\x00\x10") is None


def test_a_dolby_vision_clip_probes_with_its_record_and_still_plays(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "dv.mp4", frames=6, audio=True)
    assert stream_probe.probe_streams(str(clip)).video_row()["dvProfile"] is None  # type: ignore[index]
    add_dovi_box(clip, PROFILE_8_4)

    row = stream_probe.probe_streams(str(clip)).video_row()
    assert row is not None
    assert (row["dvProfile"], row["dvLevel"], row["dvBlSignalCompatibilityId"]) == (8, 7, 4)
    assert read_dovi_record(str(clip), 1) is None  # the audio track has none
    with av.open(str(clip)) as container:  # FFmpeg still reads the grown file
        assert sum(1 for _ in container.decode(video=0)) == 6


def test_damaged_or_other_containers_have_no_record(tmp_path: Path) -> None:
    webm = make_video(tmp_path / "clip.webm", frames=3, codec="libvpx-vp9")
    assert read_dovi_record(str(webm), 0) is None
    clip = make_video(tmp_path / "cut.mp4", frames=3)
    add_dovi_box(clip, PROFILE_8_4)
    data = clip.read_bytes()
    moov = data.rfind(b"moov") - 4
    (tmp_path / "cut.mp4").write_bytes(data[: moov + 40])  # the index cut short
    assert read_dovi_record(str(clip), 0) is None
    (tmp_path / "short.mp4").write_bytes(b"\x00\x00")
    assert read_dovi_record(str(tmp_path / "short.mp4"), 0) is None
    assert read_dovi_record(str(tmp_path / "missing.mp4"), 0) is None


async def test_extraction_writes_the_record_into_asset_video(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path
) -> None:
    clip = make_video(tmp_path / "IMG_0001.mp4", frames=6)
    add_dovi_box(clip, PROFILE_8_4, kind=b"dvcC")
    actor = await harness.start(nursery, pool, media)
    asset_id, _ = harness.add_asset(sql, media, owner, clip, name=clip.name, kind="VIDEO")
    result = await harness.run_job(actor, asset_id)
    assert result.status == "success", result.error
    await harness.commit(pool, result)
    assert sql(
        'SELECT "dvProfile", "dvLevel", "dvBlSignalCompatibilityId" FROM asset_video WHERE "assetId" = %s',
        (asset_id,),
    ) == [(8, 7, 4)]
