"""The README's steps for the embedded PostgreSQL, as a user runs them: ``immich-trio adopt-dump``
restores Immich's dump into the embedded database of the media folder, ``immich-trio
change-media-location --from /data`` maps Immich's container prefix, ``immich-trio serve`` starts
on them: the fixture's accounts sign in and see their library as Immich showed it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.adoption.conftest import DUMP, FIXTURE
from tests.e2e.conftest import call, new_server

pytestmark = pytest.mark.e2e


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "immich_trio", *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _recorded(name: str) -> Any:
    return json.loads((FIXTURE / "expected" / f"{name}.json").read_text())["body"]


def test_adopt_dump_then_serve_on_the_embedded_database(accounts: dict[str, Any], tmp_path: Path) -> None:
    server = new_server(tmp_path)
    shutil.copytree(FIXTURE / "media", server.media)
    env = server.env
    _cli(env, "adopt-dump", str(DUMP))
    _cli(env, "change-media-location", "--from", "/data")
    server.start()
    try:
        admin = accounts["admin"]
        login = call(server.api, "POST", "/auth/login", {"email": admin["email"], "password": admin["password"]})
        assert login.status == 201, login.body
        me = {"Authorization": f"Bearer {login.body['accessToken']}"}
        albums = call(server.api, "GET", "/albums", headers=me)
        assert albums.status == 200
        assert sorted(a["albumName"] for a in albums.body) == sorted(a["albumName"] for a in _recorded("015-admin-albums"))
        stats = call(server.api, "GET", "/assets/statistics", headers={"x-api-key": admin["apiKey"]})
        assert stats.body == _recorded("011-admin-assets-statistics")
        # an original Immich stored under /data is served from the mapped folder
        asset = "4f38a185-1264-4e90-a9a2-e249f2cde783"
        original = call(server.api, "GET", f"/assets/{asset}/original", headers=me)
        assert original.status == 200 and len(original.body) > 1000
    finally:
        server.stop()
