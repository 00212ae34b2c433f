"""Metadata extraction turns a file's keywords into the owner's tags (``tag``, ``tag_closure``,
``tag_asset``), in Immich's precedence: ``TagsList``, else ``HierarchicalSubject`` (``|`` levels),
else ``Keywords``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import trio

from immich_trio.sql.pool import Pool
from tests.actors.test_metadata_actor import Sql, add_asset, commit, run_job, start


def _written(tmp_path: Path, source: Path, *args: str) -> Path:
    """A copy of ``source`` with these exiftool assignments written into it."""
    target = tmp_path / f"{len(list(tmp_path.iterdir()))}.jpg"
    shutil.copyfile(source, target)
    subprocess.run(["exiftool", "-q", "-overwrite_original", *args, str(target)], check=True)
    return target


def _asset_tags(sql: Sql, asset_id: str) -> list[str]:
    rows = sql(
        'SELECT t.value FROM tag_asset ta JOIN tag t ON t.id = ta."tagId" WHERE ta."assetId" = %s ORDER BY 1',
        (asset_id,),
    )
    return [value for (value,) in rows]


async def test_keywords_become_tags(
    nursery: trio.Nursery, pool: Pool, media: Path, owner: str, sql: Sql, test_assets: Path, tmp_path: Path
) -> None:
    actor = await start(nursery, pool, media)
    source = test_assets / "formats/jpg/el_torcal_rocks.jpg"
    hierarchical = _written(
        tmp_path, source, "-XMP-lr:HierarchicalSubject=Places|Spain|Málaga",
        "-XMP-lr:HierarchicalSubject=AC/DC", "-IPTC:Keywords=ignored",
    )
    keywords = _written(tmp_path, source, "-IPTC:Keywords=Rocks", "-IPTC:Keywords=Places/Spain")
    tags_list = _written(
        tmp_path, source, "-XMP-digiKam:TagsList=Trips/2024", "-XMP-lr:HierarchicalSubject=Not|This",
    )
    ids = []
    for path in (hierarchical, keywords, tags_list):
        asset_id, _ = add_asset(sql, media, owner, path)
        await commit(pool, await run_job(actor, asset_id))
        ids.append(asset_id)

    assert _asset_tags(sql, ids[0]) == ["AC|DC", "Places/Spain/Málaga"]
    assert _asset_tags(sql, ids[1]) == ["Places/Spain", "Rocks"]
    assert _asset_tags(sql, ids[2]) == ["Trips/2024"]
    values = [v for (v,) in sql('SELECT value FROM tag WHERE "userId" = %s ORDER BY 1', (owner,))]
    assert values == ["AC|DC", "Places", "Places/Spain", "Places/Spain/Málaga", "Rocks", "Trips", "Trips/2024"]
    # Each tag sits under its parent, with a closure row for every ancestor.
    assert sql(
        "SELECT count(*) FROM tag_closure c JOIN tag a ON a.id = c.id_ancestor"
        " JOIN tag d ON d.id = c.id_descendant WHERE d.value = 'Places/Spain/Málaga'"
    ) == [(3,)]
    assert sql(
        "SELECT p.value FROM tag t JOIN tag p ON p.id = t.\"parentId\" WHERE t.value = 'Places/Spain'"
    ) == [("Places",)]

    # Extracting again changes nothing; a list locked through the API wins over the file.
    await commit(pool, await run_job(actor, ids[1]))
    assert _asset_tags(sql, ids[1]) == ["Places/Spain", "Rocks"]
    sql(
        "UPDATE asset_exif SET tags = ARRAY['Mine'], \"lockedProperties\" = ARRAY['tags'] WHERE \"assetId\" = %s",
        (ids[1],),
    )
    await commit(pool, await run_job(actor, ids[1]))
    assert _asset_tags(sql, ids[1]) == ["Mine"]
