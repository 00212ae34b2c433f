"""An upload with the storage template on, through the whole server: metadata, then the
template job moves the original into the library, then thumbnails, then the socket event."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import trio
from media_harness import LIMIT, Server, make_user, next_event, run_sql
from PIL import Image
from test_pipeline_flow import upload

TEMPLATE_ON = (
    "INSERT INTO system_metadata (key, value) VALUES ('system-config',"
    " '{\"storageTemplate\": {\"enabled\": true, \"template\": \"{{y}}/{{MM}}/{{filename}}\"}}')"
    " ON CONFLICT (key) DO UPDATE SET value = system_metadata.value || EXCLUDED.value"
)


@pytest.fixture
def template_on(db_url: str) -> None:
    run_sql(db_url, TEMPLATE_ON)


def tiny_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != ".immich")


async def test_upload_lands_in_the_library_before_its_thumbnails(template_on: None, server: Server) -> None:
    user = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    sub = server.hub.attach(user_id=user.id, session_id=None)
    with trio.fail_after(LIMIT):
        asset_id = await upload(server, user, tiny_jpeg(), "Holiday.JPEG")
        [dto] = await next_event(sub, "on_upload_success")
    assert dto["id"] == asset_id
    [(path, created)] = await server.asql('SELECT "originalPath", "fileCreatedAt" FROM asset WHERE id = %s', (asset_id,))
    media = Path(server.media)  # absolute: the settings of the test server
    expected = media / "library" / user.id / f"{created:%Y}" / f"{created:%m}" / "Holiday.jpg"
    assert path == str(expected)
    assert dto["originalPath"] == str(expected)
    library = await trio.to_thread.run_sync(files_in, media / "library")
    uploads = await trio.to_thread.run_sync(files_in, media / "upload")
    assert library == [str(expected.relative_to(media / "library"))]
    assert uploads == []  # moved, not copied
    thumbs = await server.asql('SELECT type FROM asset_file WHERE "assetId" = %s ORDER BY type', (asset_id,))
    assert thumbs == [("preview",), ("thumbnail",)]
