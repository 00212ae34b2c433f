"""Asset uploads over HTTP/2 against the real app (issue 7, defect 8 on HTTP/2): a stalled
upload is reset and leaves no staging file, no row and no quota, while a fast upload on the
same connection is stored whole."""

from __future__ import annotations

import json
import os
from functools import partial

import pytest
import trio
from h2.errors import ErrorCodes
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from immich_trio.actors.uploader import Uploader
from immich_trio.http import hypercorn_patches
from immich_trio.http.app import create_app
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser, UserCreds
from tests.http.h2_client import H2Client, connect, h2_connection
from tests.http.test_upload import (
    BOUNDARY,
    Sql,
    asset_parts,
    media_files,
    multipart,
    staging,
    wait_until,
)

CAP = 20  # seconds: real clock, threads and the database


@pytest.fixture
async def h2_port(
    runtime: Runtime, uploader: Uploader, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> int:
    monkeypatch.setattr(hypercorn_patches, "BODY_RATE_WINDOW", 0.5)
    monkeypatch.setattr(hypercorn_patches, "MIN_BODY_RATE", 400)  # 200 bytes per window
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    binds = await nursery.start(partial(hypercorn_serve, create_app(runtime), config))
    return int(binds[0].rsplit(":", 1)[1])


async def start_upload(client: H2Client, user: UserCreds, body: bytes) -> int:
    return await client.request(
        "POST",
        "/api/assets",
        end=False,
        authorization=f"Bearer {user.token}",
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        content_length=str(len(body)),
    )


async def test_stalled_h2_upload_is_reset_and_leaves_nothing_beside_a_fast_one(
    h2_port: int, runtime: Runtime, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user()
    stalled_body = multipart(asset_parts(os.urandom(4 * 1024 * 1024), "stalled.mp4"))
    fast_data = os.urandom(300_000)
    fast_body = multipart(asset_parts(fast_data, "fast.jpg"))
    with trio.fail_after(CAP):
        async with h2_connection(await connect(h2_port)) as client:
            stalled = await start_upload(client, user, stalled_body)
            sent = 0
            # Above the minimum rate until the server has written a block (1 MiB) of the staging
            # file, then silence.
            while not any(p.stat().st_size > 0 for p in staging(runtime)):
                await client.send_body(stalled, stalled_body[sent : sent + 65536])
                sent += 65536
                await trio.sleep(0.02)
            assert sent < len(stalled_body)
            fast = await start_upload(client, user, fast_body)
            await client.send_body(fast, fast_body, end=True)
            created = await client.answer(fast)
            assert (created.status, created.reset) == (201, None)
            assert json.loads(created.body)["status"] == "created"
            assert (await client.answer(stalled)).reset == ErrorCodes.CANCEL
            await wait_until(lambda: staging(runtime) == [])
            assert client.goaway is None and not client.closed
    (stored,) = media_files(runtime)
    assert stored.read_bytes() == fast_data
    assert sql('SELECT "originalFileName" FROM asset') == [("fast.jpg",)]
    assert sql('SELECT "quotaUsageInBytes" FROM "user"') == [(len(fast_data),)]
