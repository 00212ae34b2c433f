"""Every request Immich v3.1.0 answered on the fixture installation, replayed on this server
(the same database adopted, the media folder moved and its prefix mapped): same status, same
body field by field, except the differences listed with their reason."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from quart_trio.testing import TrioClient

from immich_trio.config import Settings
from immich_trio.http.app import create_app
from immich_trio.runtime import Runtime
from immich_trio.sql.driver import connect
from immich_trio.sql.media_location import change_media_location
from immich_trio.sql.pool import open_pool
from tests.adoption.compare import differences
from tests.adoption.conftest import FIXTURE, query

EXPECTED = sorted((FIXTURE / "expected").glob("*.json"))

# (file-name pattern, field-path pattern, reason). A field matching both may differ.
EXPECTED_DIFFERENCES: list[tuple[str, str, str]] = [
    (
        r"server-about",
        r"\.(version|versionUrl|build.*|source.*|repository.*|nodejs|ffmpeg|imagemagick|libvips|exiftool)$",
        "versions of the software serving the request (Immich's Node, ffmpeg, libvips... vs ours)",
    ),
    (
        r"sessions",
        r"\.(current|updatedAt)$",
        "the session making the request is touched by the request itself",
    ),
    (
        r"assets-[0-9a-f-]+$|shared-links$|stacks-|memories$|search-cities$",
        r"(^|\]|assets\[\d+\])\.updatedAt$",
        "the media prefix mapping (like immich-admin change-media-location) rewrote every asset row;"
        " Immich's updated_at trigger stamped it",
    ),
    (
        r"albums",
        r"lastModifiedAssetTimestamp$",
        "the newest asset updatedAt: stamped by the prefix mapping too",
    ),
    (
        r".",
        r"originalPath$",
        "the media folder moved: /data (Immich's container) mapped to the test's folder",
    ),
    (
        r"server-features$",
        r"\.(duplicateDetection|facialRecognition|ocr|smartSearch)$",
        "Immich ran with machine learning off by its environment (IMMICH_MACHINE_LEARNING_ENABLED=false);"
        " the stored system config does not say so, and we have no such setting",
    ),
    (
        r"system-config$",
        r"\.machineLearning\.enabled$",
        "the same: Immich's environment, not its stored config",
    ),
]

# What we know differs and is not fixed yet (a failure of the comparison, listed for the note).
KNOWN_GAPS: list[tuple[str, str, str]] = []


def _allowed(name: str, field: str) -> str | None:
    for file_re, field_re, reason in EXPECTED_DIFFERENCES + KNOWN_GAPS:
        if re.search(file_re, name) and re.search(field_re, field):
            return reason
    return None


@pytest.fixture
async def client(adopted_url: str, tmp_path: Path) -> AsyncIterator[TrioClient]:
    media = tmp_path / "media"
    await trio.to_thread.run_sync(shutil.copytree, FIXTURE / "media", media)
    conn = await connect(adopted_url, autocommit=True)
    try:
        await change_media_location(conn, "/data", str(media))
    finally:
        await conn.close()
    async with open_pool(adopted_url) as pool:
        runtime = Runtime(settings=Settings(media_location=media, db_url=adopted_url), pool=pool)
        app = create_app(runtime)
        async with app.test_app() as test_app:
            yield test_app.test_client()


def _headers(actor: str, accounts: dict[str, Any]) -> dict[str, str]:
    if actor.startswith("key:"):
        return {}  # the shared link's key is in the query
    return {"Authorization": f"Bearer {accounts[actor]['accessToken']}"}


async def _replay(client: TrioClient, accounts: dict[str, Any]) -> list[str]:
    report: list[str] = []
    for file in EXPECTED:
        recorded = json.loads(file.read_text())
        request = recorded["request"]
        response = await client.open(
            request["path"], method=request["method"], headers=_headers(request["as"], accounts)
        )
        name = file.stem
        if response.status_code != recorded["status"]:
            if _allowed(name, "status") is None:
                report.append(
                    f"{name}: status {response.status_code} vs Immich's {recorded['status']}"
                )
            continue
        body = await response.get_data(as_text=True)
        ours = json.loads(body) if body else None
        for field, mine, theirs in differences(ours, recorded["body"]):
            if _allowed(name, field) is None:
                report.append(f"{name}: {field}: ours {mine!r} vs Immich's {theirs!r}")
    return report


async def test_answers_equal_immichs(client: TrioClient, accounts: dict[str, Any]) -> None:
    assert len(EXPECTED) == 65
    with trio.fail_after(300):
        report = await _replay(client, accounts)
    assert report == []


async def test_passwords_keys_and_thumbnails_carry_over(
    client: TrioClient, accounts: dict[str, Any]
) -> None:
    admin, ana = accounts["admin"], accounts["ana"]
    with trio.fail_after(120):
        login = await client.post(
            "/api/auth/login", json={"email": admin["email"], "password": admin["password"]}
        )
        assert login.status_code == 201, await login.get_data(as_text=True)
        assert (await login.get_json())["userId"] == admin["id"]
        me = await client.get("/api/users/me", headers={"x-api-key": admin["apiKey"]})
        assert me.status_code == 200 and (await me.get_json())["id"] == admin["id"]
        read_only = await client.get("/api/users/me", headers={"x-api-key": ana["apiKeyRead"]})
        assert read_only.status_code in (200, 403)
        asset = "4f38a185-1264-4e90-a9a2-e249f2cde783"
        for size, suffix in (("thumbnail", "thumbnail.webp"), ("preview", "preview.jpeg")):
            answer = await client.get(
                f"/api/assets/{asset}/thumbnail?size={size}", headers=_headers("admin", accounts)
            )
            assert answer.status_code == 200, size
            stored = FIXTURE / "media" / "thumbs" / admin["id"] / "4f" / "38" / f"{asset}_{suffix}"
            assert await answer.get_data() == stored.read_bytes()  # served as Immich made it


# What a newer Immich may leave in a database of the same schema version: columns added
# (nullable, as Immich adds them), and rows with keys or kinds this server has never seen
# (not asset_metadata: GET /assets/{id}/metadata lists every key, Immich's answer would change too).
UNSEEN = [
    'ALTER TABLE asset ADD COLUMN "futureFlag" boolean',
    'ALTER TABLE "user" ADD COLUMN "futureSetting" text',
    'ALTER TABLE album ADD COLUMN "futureNote" text',
    'ALTER TABLE asset_exif ADD COLUMN "futureLens" jsonb',
    """INSERT INTO user_metadata ("userId", key, value)
       SELECT id, 'future-key', '{"x": 1}' FROM "user" """,
    """INSERT INTO system_metadata (key, value) VALUES ('future-key', '{"x": 1}')""",
    """INSERT INTO asset_file ("assetId", type, path)
       SELECT id, 'future_kind', '/nowhere/future.bin' FROM asset""",
]


async def test_rows_and_columns_never_seen_change_no_answer(
    client: TrioClient, accounts: dict[str, Any], adopted_url: str
) -> None:
    for statement in UNSEEN:
        query(adopted_url, statement)
    with trio.fail_after(300):
        report = await _replay(client, accounts)
    assert report == []
