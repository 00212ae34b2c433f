"""Sidecar discovery through the whole server: ``PUT /api/jobs/sidecar`` queues
``SidecarQueueAll``, whose ``SidecarCheck``s record the XMP file found beside each original
(``photo.jpg.xmp`` or ``photo.xmp``) or forget a vanished one, and the metadata extraction
that follows reads it."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import httpx
import trio
from media_harness import LIMIT, Server, User, make_user, wait_for
from PIL import Image

from immich_trio.actors.metadata.sidecar_check import sidecar_candidates

NO_JOBS = "SELECT name, status, error FROM immich_trio.job"
SIDECARS = """
SELECT a."originalFileName", f.path FROM asset a
LEFT JOIN asset_file f ON f."assetId" = a.id AND f.type = 'sidecar'
ORDER BY a."originalFileName"
"""
EXIF = """
SELECT a."originalFileName", e.description, e.rating FROM asset a
LEFT JOIN asset_exif e ON e."assetId" = a.id ORDER BY a."originalFileName"
"""


def xmp(description: str, rating: int) -> str:
    return f"""<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x='adobe:ns:meta/'>
 <rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
  <rdf:Description rdf:about='' xmlns:xmp='http://ns.adobe.com/xap/1.0/'>
   <xmp:Rating>{rating}</xmp:Rating>
  </rdf:Description>
  <rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/'>
   <dc:description><rdf:Alt><rdf:li xml:lang='x-default'>{description}</rdf:li></rdf:Alt></dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end='w'?>
"""


def tiny_jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (shade, 40, 90)).save(out, "JPEG")
    return out.getvalue()


def add_asset(server: Server, owner: User, path: Path, shade: int) -> str:
    path.write_bytes(tiny_jpeg(shade))
    [(asset_id,)] = server.sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime")'
        " VALUES (%s, %s, 'IMAGE', %s, %s, %s, 'sha1', now(), now(), now()) RETURNING id::text",
        (str(uuid.uuid4()), owner.id, str(path), path.name, hashlib.sha1(path.read_bytes()).digest()),
    )
    return str(asset_id)


def test_candidates_are_the_recorded_one_then_immichs_two_names() -> None:
    assert sidecar_candidates("/p/IMG_1.jpg", None) == ["/p/IMG_1.jpg.xmp", "/p/IMG_1.xmp"]
    assert sidecar_candidates("/p/IMG_1.jpg", "/q/old.xmp") == ["/q/old.xmp", "/p/IMG_1.jpg.xmp", "/p/IMG_1.xmp"]
    assert sidecar_candidates("/p/IMG_1.jpg", "/p/IMG_1.xmp") == ["/p/IMG_1.xmp", "/p/IMG_1.jpg.xmp"]
    assert sidecar_candidates("/p/a.b.heic", None) == ["/p/a.b.heic.xmp", "/p/a.b.xmp"]
    assert sidecar_candidates("/p/noext", None) == ["/p/noext.xmp"]


async def start_sidecar_queue(server: Server, admin: User, *, force: bool) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        r = await client.put("/api/jobs/sidecar", json={"command": "start", "force": force}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["jobCounts"]["waiting"] + r.json()["jobCounts"]["active"] >= 1
    with trio.fail_after(LIMIT):
        await wait_for(server, NO_JOBS, (), [])


async def test_sidecar_discovery_records_found_sidecars_and_forgets_vanished_ones(
    server: Server, tmp_path: Path
) -> None:
    admin = await trio.to_thread.run_sync(lambda: make_user(server.db_url, "admin@example.com", is_admin=True))
    folder = tmp_path / "photos"
    folder.mkdir()
    await trio.to_thread.run_sync(add_asset, server, admin, folder / "photo.jpg", 10)
    await trio.to_thread.run_sync(add_asset, server, admin, folder / "other.jpg", 20)
    gone = await trio.to_thread.run_sync(add_asset, server, admin, folder / "gone.jpg", 30)
    (folder / "photo.jpg.xmp").write_text(xmp("Beside the full name", 4))
    (folder / "other.xmp").write_text(xmp("Beside the stem", 2))
    (folder / "photo.xmp").write_text(xmp("Second choice", 1))  # photo.jpg.xmp wins
    await server.asql(  # recorded once, its file deleted since
        "INSERT INTO asset_file (\"assetId\", type, path) VALUES (%s, 'sidecar', %s)",
        (gone, str(folder / "gone.jpg.xmp")),
    )

    await start_sidecar_queue(server, admin, force=False)
    assert await server.asql(SIDECARS) == [
        ("gone.jpg", str(folder / "gone.jpg.xmp")),  # had a sidecar row: not checked without force
        ("other.jpg", str(folder / "other.xmp")),
        ("photo.jpg", str(folder / "photo.jpg.xmp")),
    ]
    assert await server.asql(EXIF) == [
        ("gone.jpg", None, None),  # not checked, so not extracted either
        ("other.jpg", "Beside the stem", 2),
        ("photo.jpg", "Beside the full name", 4),
    ]

    (folder / "photo.jpg.xmp").unlink()
    await start_sidecar_queue(server, admin, force=True)
    assert await server.asql(SIDECARS) == [
        ("gone.jpg", None),  # vanished: forgotten
        ("other.jpg", str(folder / "other.xmp")),  # unchanged
        ("photo.jpg", str(folder / "photo.xmp")),  # the next candidate
    ]
    assert await server.asql(EXIF) == [
        ("gone.jpg", "", None),  # extracted from the original alone
        ("other.jpg", "Beside the stem", 2),
        ("photo.jpg", "Second choice", 1),
    ]
    assert (await server.asql('SELECT count(*) FROM asset_job_status WHERE "metadataExtractedAt" IS NOT NULL')) == [
        (3,)
    ]
