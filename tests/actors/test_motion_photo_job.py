"""The metadata job of a motion photo, one step at a time: the video's file is written before
the job's transaction, and taken back when the still is gone by then."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio
from motion_samples import glob, is_file, micro_video, mp4, read_file
from test_metadata_actor import add_asset, commit, run_job, start

from immich_trio.sql.pool import Pool

Sql = Callable[..., list[tuple[Any, ...]]]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


async def test_video_written_for_a_still_deleted_meanwhile_is_removed(
    pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path, nursery: trio.Nursery
) -> None:
    actor = await start(nursery, pool, media)
    still = write(tmp_path / "still.jpg", micro_video(mp4()))
    asset_id, _ = add_asset(sql, media, owner, still, name="PXL.jpg")
    result = await run_job(actor, asset_id)
    assert result.status == "success"
    [written] = glob(media, "encoded-video/**/*-MP.mp4")  # on disk before the transaction
    sql("DELETE FROM asset WHERE id = %s", (asset_id,))
    await commit(pool, result)
    assert glob(media, "encoded-video/**/*-MP.mp4") == []
    assert sql("SELECT count(*) FROM asset") == [(0,)]
    assert not is_file(written)


async def test_the_job_answer_applies_the_link_in_its_transaction(
    pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path, nursery: trio.Nursery
) -> None:
    actor = await start(nursery, pool, media)
    clip = mp4()
    asset_id, _ = add_asset(sql, media, owner, write(tmp_path / "still.jpg", micro_video(clip)), name="PXL.jpg")
    result = await run_job(actor, asset_id)
    assert sql("SELECT count(*) FROM asset WHERE type = 'VIDEO'") == [(0,)]  # nothing before apply
    await commit(pool, result)
    [(video_id, path, name, visibility)] = sql(
        'SELECT v.id::text, v."originalPath", v."originalFileName", v.visibility::text'
        ' FROM asset s JOIN asset v ON v.id = s."livePhotoVideoId" WHERE s.id = %s',
        (asset_id,),
    )
    assert (name, visibility) == ("PXL.mp4", "hidden")
    assert read_file(path) == clip
    jobs = sql("SELECT name, data->>'id' FROM immich_trio.job WHERE data->>'id' = %s ORDER BY name", (video_id,))
    assert jobs == [("AssetEncodeVideo", video_id), ("AssetExtractMetadata", video_id)]
    [(used,)] = sql('SELECT "quotaUsageInBytes" FROM "user" WHERE id = %s', (owner,))
    assert used == len(clip)


async def test_two_stills_extracted_together_share_one_video_and_one_file(
    pool: Pool, media: Path, owner: str, sql: Sql, tmp_path: Path, nursery: trio.Nursery
) -> None:
    actor = await start(nursery, pool, media)
    clip = mp4(colour=(10, 200, 10))
    first, _ = add_asset(sql, media, owner, write(tmp_path / "a.jpg", micro_video(clip, colour=(1, 1, 1))), name="a.jpg")
    second, _ = add_asset(sql, media, owner, write(tmp_path / "b.jpg", micro_video(clip, colour=(250, 1, 1))), name="b.jpg")
    # Both jobs read and write their video before either transaction commits.
    first_result, second_result = await run_job(actor, first), await run_job(actor, second)
    assert len(glob(media, "encoded-video/**/*-MP.mp4")) == 2
    await commit(pool, first_result)
    await commit(pool, second_result)
    linked = sql('SELECT DISTINCT "livePhotoVideoId" FROM asset WHERE id = ANY(%s::uuid[])', ([first, second],))
    [(video_id,)] = linked
    [(path,)] = sql('SELECT "originalPath" FROM asset WHERE id = %s', (video_id,))
    assert glob(media, "encoded-video/**/*-MP.mp4") == [Path(path)]
    assert read_file(path) == clip
    [(used,)] = sql('SELECT "quotaUsageInBytes" FROM "user" WHERE id = %s', (owner,))
    assert used == len(clip)  # counted once
