"""``POST /api/assets/jobs`` through the whole server: the queued job runs on the dispatcher
and its workers, and what a client reads afterwards comes from the file as it is now."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import trio
from media_harness import LIMIT, Server, User, make_user, wait_for
from PIL import Image

from tests.actors.test_pipeline_flow import upload

NO_JOBS = "SELECT name, status FROM immich_trio.job"
RED, BLUE, GREEN = (220, 20, 20), (20, 20, 220), (20, 200, 20)


def quadrant_jpeg(main: tuple[int, int, int], corner: tuple[int, int, int]) -> bytes:
    """2000x1500 of ``main`` with a ``corner`` top-left quadrant."""
    image = Image.new("RGB", (2000, 1500), main)
    image.paste(Image.new("RGB", (1000, 750), corner), (0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def near(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(int(a) - b) < 40 for a, b in zip(pixel[:3], colour, strict=True))


def load(path: str) -> Image.Image:
    image = Image.open(io.BytesIO(Path(path).read_bytes()))
    image.load()
    return image


async def run_asset_job(server: Server, user: User, asset_id: str, name: str) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        r = await client.post("/api/assets/jobs", headers=user.headers, json={"assetIds": [asset_id], "name": name})
    assert r.status_code == 204, r.text
    await wait_for(server, NO_JOBS, (), [])


async def get_asset(server: Server, user: User, asset_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        r = await client.get(f"/api/assets/{asset_id}", headers=user.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def contents(paths: dict[str, str]) -> dict[str, bytes]:
    return {kind: Path(path).read_bytes() for kind, path in paths.items()}


def files_of(server: Server, asset_id: str, *, edited: bool) -> dict[str, str]:
    rows = server.sql(
        'SELECT type, path FROM asset_file WHERE "assetId" = %s AND "isEdited" = %s', (asset_id, edited)
    )
    return {str(kind): str(path) for kind, path in rows}


async def uploaded(server: Server, user: User, data: bytes, name: str) -> tuple[str, Path]:
    with trio.fail_after(LIMIT):
        asset_id = await upload(server, user, data, name)
        await wait_for(server, NO_JOBS, (), [])
    [(original,)] = await server.asql('SELECT "originalPath" FROM asset WHERE id = %s', (asset_id,))
    return asset_id, Path(original)


async def test_refresh_metadata_reads_the_file_again(server: Server, test_assets: Path) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    photo = (test_assets / "formats/jpg/el_torcal_rocks.jpg").read_bytes()
    asset_id, original = await uploaded(server, user, photo, "rocks.jpg")
    before = await get_asset(server, user, asset_id)
    assert before["exifInfo"]["description"] != "Rocks at noon"

    await trio.to_thread.run_sync(
        subprocess.run,
        ["exiftool", "-q", "-overwrite_original", "-ImageDescription=Rocks at noon",
         "-XMP-dc:Description=Rocks at noon", str(original)],
    )
    with trio.fail_after(LIMIT):
        await run_asset_job(server, user, asset_id, "refresh-metadata")

    after = await get_asset(server, user, asset_id)
    assert after["exifInfo"]["description"] == "Rocks at noon"
    assert after["exifInfo"]["make"] == before["exifInfo"]["make"]  # the rest is still read


async def test_regenerate_thumbnail_renders_the_replaced_original(server: Server) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    asset_id, original = await uploaded(server, user, quadrant_jpeg(BLUE, RED), "quad.jpg")
    first = files_of(server, asset_id, edited=False)
    assert set(first) == {"preview", "thumbnail"}
    old_bytes = contents(first)
    assert near(load(first["thumbnail"]).convert("RGB").getpixel((10, 10)), RED)

    original.write_bytes(quadrant_jpeg(GREEN, BLUE))  # the file changed behind the server's back
    with trio.fail_after(LIMIT):
        await run_asset_job(server, user, asset_id, "regenerate-thumbnail")

    again = files_of(server, asset_id, edited=False)
    assert again == first  # same paths, rewritten in place
    new_bytes = contents(again)
    for kind in again:
        assert new_bytes[kind] != old_bytes[kind], kind
    preview, thumbnail = load(again["preview"]), load(again["thumbnail"])
    assert preview.format == "JPEG" and preview.size == (1920, 1440)  # Immich's 1440 preview
    assert thumbnail.format == "WEBP" and thumbnail.size == (333, 250)  # and 250 thumbnail
    for image in (preview.convert("RGB"), thumbnail.convert("RGB")):
        w, h = image.size
        assert near(image.getpixel((w // 4, h // 4)), BLUE)
        assert near(image.getpixel((w * 3 // 4, h * 3 // 4)), GREEN)


async def test_regenerate_thumbnail_renders_the_edited_files_too(server: Server) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    asset_id, original = await uploaded(server, user, quadrant_jpeg(BLUE, RED), "quad.jpg")
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        r = await client.put(
            f"/api/assets/{asset_id}/edits", headers=user.headers,
            json={"edits": [{"action": "rotate", "parameters": {"angle": 90}}]},
        )
    assert r.status_code == 200, r.text
    with trio.fail_after(LIMIT):
        await wait_for(server, NO_JOBS, (), [])
    edited = files_of(server, asset_id, edited=True)
    assert set(edited) == {"preview", "thumbnail", "fullsize"}
    assert all("_edited" in path for path in edited.values())
    before = {kind: os.stat(path).st_mtime_ns for kind, path in edited.items()}

    original.write_bytes(quadrant_jpeg(GREEN, BLUE))
    with trio.fail_after(LIMIT):
        await run_asset_job(server, user, asset_id, "regenerate-thumbnail")

    assert files_of(server, asset_id, edited=True) == edited
    for kind, path in edited.items():
        assert os.stat(path).st_mtime_ns != before[kind], kind
        image = load(path)
        assert image.format == ("WEBP" if kind == "thumbnail" else "JPEG"), kind
        rgb = image.convert("RGB")
        w, h = rgb.size
        assert h > w, kind  # still turned a quarter clockwise: portrait
        assert near(rgb.getpixel((w * 3 // 4, h // 4)), BLUE), kind  # the corner went top right
        assert near(rgb.getpixel((w // 4, h * 3 // 4)), GREEN), kind
    thumb = load(edited["thumbnail"])
    assert thumb.size == (250, 333)
    # The unedited ones are rendered from the new file as well, and the asset stays portrait.
    unedited = load(files_of(server, asset_id, edited=False)["thumbnail"]).convert("RGB")
    assert unedited.size == (333, 250) and near(unedited.getpixel((10, 10)), BLUE)
    body = await get_asset(server, user, asset_id)
    assert (body["width"], body["height"]) == (1500, 2000) and body["isEdited"] is True
