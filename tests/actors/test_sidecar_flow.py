"""``SidecarWrite`` through the whole server: a description edited over the API lands in the
XMP sidecar beside the original (read back with exiftool), and survives the re-extraction."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import trio
from media_harness import LIMIT, Server, make_user, wait_for

from tests.actors.test_pipeline_flow import upload

NO_JOBS = "SELECT name, status FROM immich_trio.job"


def read_xmp(path: str) -> dict[str, Any]:
    out = subprocess.run(["exiftool", "-json", "-XMP:all", path], check=True, capture_output=True).stdout
    tags: dict[str, Any] = json.loads(out)[0]
    return tags


async def test_an_edited_description_is_written_to_the_sidecar(server: Server, test_assets: Path) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    photo = (test_assets / "formats/jpg/el_torcal_rocks.jpg").read_bytes()
    with trio.fail_after(LIMIT):
        asset_id = await upload(server, user, photo, "rocks.jpg")
        await wait_for(server, NO_JOBS, (), [])
    [(original,)] = await server.asql('SELECT "originalPath" FROM asset WHERE id = %s', (asset_id,))
    sidecar = f"{original}.xmp"
    assert not await trio.Path(sidecar).exists()

    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        r = await client.put(f"/api/assets/{asset_id}", headers=user.headers, json={"description": "Lake at dusk"})
        assert r.status_code == 200, r.text
        with trio.fail_after(LIMIT):
            await wait_for(server, NO_JOBS, (), [])  # SidecarWrite, then the re-extraction it queues
        r = await client.get(f"/api/assets/{asset_id}", headers=user.headers)

    xmp = await trio.to_thread.run_sync(read_xmp, sidecar)
    assert xmp["Description"] == "Lake at dusk"
    assert await server.asql(
        'SELECT type, path FROM asset_file WHERE "assetId" = %s AND type = \'sidecar\'', (asset_id,)
    ) == [("sidecar", sidecar)]
    assert r.json()["exifInfo"]["description"] == "Lake at dusk"
    assert await trio.Path(original).read_bytes() == photo  # the original is never written
