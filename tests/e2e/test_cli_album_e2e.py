"""``immich upload --album`` and ``--album-name`` with the published @immich/cli.

The CLI lists the albums, creates the missing ones and adds the uploaded assets to them
(``GET /albums``, ``POST /albums``, ``PUT /albums/{id}/assets``); a second run adds nothing twice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.conftest import ServerProcess, call
from tests.e2e.test_cli_upload_e2e import ADMIN, immich_cli_command


def _cli(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([*immich_cli_command(), *args], capture_output=True, text=True, env=env,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _json_output(out: str) -> Any:
    """The JSON document ``--json-output`` prints (the album lines follow it)."""
    document, _ = json.JSONDecoder().raw_decode(out[out.index("{"):])
    return document


def _albums(api: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {a["albumName"]: a for a in call(api, "GET", "/albums", headers=headers).body}


def test_cli_creates_and_fills_albums(server: ServerProcess, test_assets: Path, tmp_path: Path) -> None:
    api = server.api
    assert call(api, "POST", "/auth/admin-sign-up", ADMIN).status == 201
    token = call(api, "POST", "/auth/login", {"email": ADMIN["email"], "password": ADMIN["password"]}).body[
        "accessToken"
    ]
    session = {"Authorization": f"Bearer {token}"}
    key = call(api, "POST", "/api-keys", {"name": "cli", "permissions": ["all"]}, session).body["secret"]
    photos = tmp_path / "photos"
    for folder in ("nature", "text"):
        shutil.copytree(test_assets / "albums" / folder, photos / folder)
    counts = {folder: len(list((photos / folder).glob("*.jpg"))) for folder in ("nature", "text")}
    env = {**os.environ, "IMMICH_CONFIG_DIR": str(tmp_path / "cli-config")}
    _cli(["login", api, key], env)

    out = _cli(["upload", "--recursive", "--album", "--json-output", "--no-progress", str(photos)], env)
    report = _json_output(out)
    assert len(report["newFiles"]) == sum(counts.values()), report
    assert "Successfully created 2 new albums" in out
    assert f"Successfully updated {sum(counts.values())} assets" in out
    albums = _albums(api, session)
    assert {name: a["assetCount"] for name, a in albums.items()} == counts

    # A second run finds duplicates and adds nothing twice.
    out = _cli(["upload", "--recursive", "--album", "--json-output", "--no-progress", str(photos)], env)
    report = _json_output(out)
    assert report["newFiles"] == [] and len(report["duplicates"]) == sum(counts.values()), report
    assert {name: a["assetCount"] for name, a in _albums(api, session).items()} == counts

    # --album-name puts everything into one album, created once.
    _cli(["upload", "--recursive", "--album-name", "Everything", "--no-progress", str(photos)], env)
    albums = _albums(api, session)
    assert albums["Everything"]["assetCount"] == sum(counts.values())
    assert len(albums) == 3
    everything = call(api, "GET", f"/albums/{albums['Everything']['id']}", headers=session).body
    assert everything["albumName"] == "Everything" and everything["assetCount"] == sum(counts.values())
