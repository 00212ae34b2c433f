"""``SidecarWrite`` on the metadata actor, the real exiftool and a real database: the user's
locked edits land in the XMP sidecar, and a re-extraction reads them back from it."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from immich_trio.actors.dispatcher import JobResult, RunJob
from immich_trio.actors.metadata.actor import MetadataActor
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool
from tests.actors.test_metadata_actor import LIMIT, NOW, Sql, add_asset, commit, run_job, start

EDITED = (
    "UPDATE asset_exif SET description = 'Lake at dusk', rating = 4, latitude = 46.5,"
    " longitude = 6.625, \"dateTimeOriginal\" = '2023-07-01T08:00:00Z', \"timeZone\" = 'UTC+2',"
    " tags = ARRAY['Travel/Italy', 'Family'], \"lockedProperties\" = ARRAY['description',"
    " 'rating', 'latitude', 'longitude', 'dateTimeOriginal', 'timeZone', 'tags']"
    ' WHERE "assetId" = %s'
)
FORGOTTEN = (
    "UPDATE asset_exif SET description = '', rating = NULL, latitude = NULL, longitude = NULL,"
    ' tags = NULL, "lockedProperties" = NULL WHERE "assetId" = %s'
)


async def write_sidecar(actor: MetadataActor, asset_id: str) -> JobResult:
    job = Job(
        id=2,
        queue="sidecar",
        name="SidecarWrite",
        data={"id": asset_id},
        attempt=1,
        max_attempts=3,
        created_at=NOW,
    )
    with trio.fail_after(LIMIT):
        result: JobResult = await actor.address.ask(lambda reply: RunJob(job=job, reply_to=reply))
    return result


def make_xmp(path: Path, *args: str) -> Path:
    subprocess.run(["exiftool", "-q", *args, str(path)], check=True)
    return path


def read_xmp(path: str) -> dict[str, Any]:
    out = subprocess.run(
        ["exiftool", "-json", "-GPSLatitude#", "-GPSLongitude#", "-XMP:all", path],
        check=True, capture_output=True,
    ).stdout
    tags: dict[str, Any] = json.loads(out)[0]
    return tags


async def test_locked_edits_are_written_and_read_back(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, test_assets: Path
) -> None:
    actor = await start(nursery, pool, media)
    asset_id, original = add_asset(sql, media, owner, test_assets / "formats/jpg/el_torcal_rocks.jpg")
    await commit(pool, await run_job(actor, asset_id))
    sql("DELETE FROM immich_trio.job")
    sql(EDITED, (asset_id,))

    result = await write_sidecar(actor, asset_id)
    assert result.status == "success", result.error
    await commit(pool, result)

    sidecar = f"{original}.xmp"  # Immich's name, next to the original, recorded as its sidecar
    assert sql('SELECT type, path FROM asset_file WHERE "assetId" = %s', (asset_id,)) == [
        ("sidecar", sidecar)
    ]
    assert sql("SELECT name, data FROM immich_trio.job") == [
        ("AssetExtractMetadata", {"id": asset_id, "source": "sidecar-write"})
    ]
    xmp = read_xmp(sidecar)
    assert xmp["Description"] == xmp["ImageDescription"] == "Lake at dusk"
    assert xmp["DateTimeOriginal"] == "2023:07:01 10:00:00.000+02:00"  # in the asset's zone
    assert (xmp["GPSLatitude"], xmp["GPSLongitude"], xmp["Rating"]) == (46.5, 6.625, 4)
    assert xmp["TagsList"] == ["Travel/Italy", "Family"]  # as stored

    # Forget the edits in the database: the re-extraction finds them in the sidecar.
    sql(FORGOTTEN, (asset_id,))
    sql('DELETE FROM tag_asset WHERE "assetId" = %s', (asset_id,))
    await commit(pool, await run_job(actor, asset_id, source="sidecar-write"))
    [row] = sql(
        'SELECT description, rating, latitude, longitude, "dateTimeOriginal", "timeZone", tags'
        ' FROM asset_exif WHERE "assetId" = %s',
        (asset_id,),
    )
    assert row[:4] == ("Lake at dusk", 4, 46.5, 6.625)
    # The zone comes from the position first, as exiftool-vendored infers it (Lausanne).
    assert row[4] == datetime(2023, 7, 1, 8, 0, tzinfo=UTC) and row[5] == "Europe/Zurich"
    assert sorted(row[6]) == ["Family", "Travel/Italy"]
    tags = sql(
        'SELECT t.value FROM tag_asset ta JOIN tag t ON t.id = ta."tagId" WHERE ta."assetId" = %s'
        " ORDER BY 1",
        (asset_id,),
    )
    assert tags == [("Family",), ("Travel/Italy",)]


async def test_existing_sidecar_is_updated_in_place_and_cleared_values_deleted(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, test_assets: Path,
    tmp_path: Path,
) -> None:
    actor = await start(nursery, pool, media)
    given = make_xmp(tmp_path / "given.xmp", "-Rating=2", "-XMP-dc:Title=Kept")
    asset_id, original = add_asset(
        sql, media, owner, test_assets / "formats/jpg/el_torcal_rocks.jpg", sidecar=given
    )
    [(sidecar,)] = sql('SELECT path FROM asset_file WHERE "assetId" = %s', (asset_id,))
    sql(
        "UPDATE asset_exif SET rating = NULL, tags = '{}',"
        " \"lockedProperties\" = ARRAY['rating', 'tags'] WHERE \"assetId\" = %s",
        (asset_id,),
    )

    result = await write_sidecar(actor, asset_id)
    assert result.status == "success", result.error
    await commit(pool, result)

    assert sql('SELECT path FROM asset_file WHERE "assetId" = %s', (asset_id,)) == [(sidecar,)]
    assert not await trio.Path(f"{original}.xmp").exists()
    xmp = read_xmp(sidecar)
    assert xmp["Title"] == "Kept" and "Rating" not in xmp and "TagsList" not in xmp


async def test_nothing_locked_is_skipped_and_gone_asset_too(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, test_assets: Path
) -> None:
    actor = await start(nursery, pool, media)
    asset_id, original = add_asset(sql, media, owner, test_assets / "formats/jpg/el_torcal_rocks.jpg")

    result = await write_sidecar(actor, asset_id)
    assert result.status == "skipped"
    await commit(pool, result)  # Immich's onDone re-extracts after a skipped write too
    assert not await trio.Path(f"{original}.xmp").exists()
    assert sql('SELECT count(*) FROM asset_file WHERE "assetId" = %s', (asset_id,)) == [(0,)]

    gone = await write_sidecar(actor, "00000000-0000-4000-8000-000000000000")
    assert gone.status == "skipped" and gone.apply is None
