"""The storage template seen over HTTP: turning it on with a template Immich accepts, and
starting its migration job from the jobs page (accepted whether the template is on or off)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]


async def test_enable_the_template_then_start_its_migration(client: Any, make_user: MakeUser, sql: Sql) -> None:
    admin: UserCreds = await make_user("admin@example.com", is_admin=True)
    config = await (await client.get("/api/system-config", headers=admin.headers)).get_json()
    config["storageTemplate"] = {**config["storageTemplate"], "enabled": True, "template": "{{y}}/{{album}}/{{filename}}"}
    response = await client.put("/api/system-config", headers=admin.headers, json=config)
    assert response.status_code == 200
    assert (await response.get_json())["storageTemplate"]["enabled"] is True

    config["storageTemplate"]["template"] = "{{y}}/{{albumName}}/{{filename}}"
    response = await client.put("/api/system-config", headers=admin.headers, json=config)
    assert (response.status_code, await response.get_json()) == (400, {"message": "Invalid storage template"})

    response = await client.put(
        "/api/jobs/storageTemplateMigration", json={"command": "start"}, headers=admin.headers
    )
    assert response.status_code == 200
    assert (await response.get_json())["jobCounts"]["waiting"] == 1
    assert sql("SELECT queue, name FROM immich_trio.job") == [("storageTemplateMigration", "StorageTemplateMigration")]
