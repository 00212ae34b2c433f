"""A shared link's page (``/share/<key>``, ``/s/<slug>``) carries Immich's OpenGraph and Twitter
tags in the web app's ``index.html``: what a chat app shows when the link is pasted."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from immich_trio.http.app import create_app
from immich_trio.runtime import Runtime
from tests.http.test_album_list_json import _album
from tests.http.test_timeline import Sql, insert_asset

INDEX = "<!doctype html><html><head>\n<!-- metadata:tags -->\n<title>Immich</title></head></html>"
DAY = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.fixture
async def site(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Any]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text(INDEX)
    app = create_app(attrs.evolve(runtime, settings=attrs.evolve(runtime.settings, web_root=root)))
    async with app.test_app() as test_app:
        yield test_app.test_client()


def _link(sql: Sql, owner: str, **columns: Any) -> str:
    key = os.urandom(50)
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("%s" for _ in columns)
    sql(
        f'INSERT INTO shared_link ("userId", key, type{", " if columns else ""}{names}) VALUES (%s, %s, %s{", " if columns else ""}{marks})',
        (owner, key, "ALBUM" if "albumId" in columns else "INDIVIDUAL", *columns.values()),
    )
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def _tags(html: str) -> dict[str, str]:
    return dict(re.findall(r'<meta (?:name|property)="([^"]+)" content="([^"]*)" />', html))


async def test_album_and_individual_links_are_described(site: Any, make_user: Any, sql: Sql) -> None:
    me = await make_user()
    photos = [insert_asset(sql, me.id, local=DAY) for _ in range(3)]
    album = _album(sql, me.id, 'Summer "24" <trip>', DAY, cover=photos[1])
    for asset in photos:
        sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, asset))
    album_key = _link(sql, me.id, albumId=album)

    page = await site.get(f"/share/{album_key}", headers={"Host": "photos.example"})
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-store"
    tags = _tags(await page.get_data(as_text=True))
    assert tags == {
        "description": "3 shared photos & videos",
        "og:type": "website",
        "og:title": "Summer &quot;24&quot; &lt;trip&gt;",
        "og:description": "3 shared photos & videos",
        "og:image": f"http://photos.example/api/assets/{photos[1]}/thumbnail?key={album_key}",
        "twitter:card": "summary_large_image",
        "twitter:title": "Summer &quot;24&quot; &lt;trip&gt;",
        "twitter:description": "3 shared photos & videos",
        "twitter:image": f"http://photos.example/api/assets/{photos[1]}/thumbnail?key={album_key}",
    }

    sql("INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)",
        ('{"server": {"externalDomain": "https://immich.example"}}',))  # fmt: skip
    single_key = _link(sql, me.id, description="From the beach", slug="beach")
    first = sorted(photos)[0]
    [(link_id,)] = sql("SELECT id::text FROM shared_link WHERE slug = 'beach'")
    for asset in photos[:2]:
        sql('INSERT INTO shared_link_asset ("sharedLinkId", "assetId") VALUES (%s, %s)', (link_id, asset))
    for path in (f"/share/{single_key}", "/s/beach"):
        tags = _tags(await (await site.get(path)).get_data(as_text=True))
        assert (tags["og:title"], tags["og:description"]) == ("Public Share", "From the beach")
        assert tags["og:image"].startswith("https://immich.example/api/assets/")
        assert tags["og:image"].split("/")[5] in {first, *photos[:2]}

    empty_key = _link(sql, me.id)
    tags = _tags(await (await site.get(f"/share/{empty_key}")).get_data(as_text=True))
    assert tags["description"] == "0 shared photos & videos"
    assert tags["og:image"] == "https://immich.example/feature-panel.png"


async def test_links_that_show_nothing_get_the_plain_page(site: Any, make_user: Any, sql: Sql) -> None:
    me = await make_user()
    guarded = _link(sql, me.id, password="secret")
    expired = _link(sql, me.id, expiresAt=datetime.now(UTC) - timedelta(days=1))
    for path in (f"/share/{guarded}", f"/share/{expired}", "/share/not-a-key", "/s/nobody", "/share/"):
        page = await site.get(path)
        assert page.status_code == 200, path
        assert await page.get_data(as_text=True) == INDEX, path
        assert page.headers["Cache-Control"] == "no-cache"
