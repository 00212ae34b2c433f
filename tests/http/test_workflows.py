"""The Workflows and Plugins tags: the core plugin as written at start (its methods, schemas and
templates), a user's workflows (create, read, share form, search, update, delete) and Immich's
answers to bad steps and to other users' ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from immich_trio.plugins.core import METHODS
from immich_trio.plugins.manifest import core_manifest
from immich_trio.runtime import Runtime
from immich_trio.sql import plugins as plugins_sql
from tests.http.conftest import MakeUser

Sql = Callable[..., list[tuple[Any, ...]]]

CORE = "immich-plugin-core"
MISSING_ID = "00000000-0000-4000-8000-000000000000"
CORE_METHODS = [
    "assetAddToAlbums", "assetArchive", "assetDateFilter", "assetExifFilter", "assetFavorite", "assetFileFilter",
    "assetLocationFilter", "assetLock", "assetMissingTimeZoneFilter", "assetTypeFilter", "assetVisibility", "webhook",
]
FILTERS = {"assetDateFilter", "assetExifFilter", "assetFileFilter", "assetLocationFilter",
           "assetMissingTimeZoneFilter", "assetTypeFilter"}
SCREENSHOTS = {
    "trigger": "AssetCreate",
    "name": "Screenshots",
    "description": "Archive screenshots",
    "steps": [
        {"method": f"{CORE}#assetFileFilter", "config": {"pattern": "screenshot"}},
        {"method": f"{CORE}@2.0.1#assetArchive", "config": None, "enabled": False},
    ],
}


@pytest.fixture
async def core(runtime: Runtime) -> None:
    """The core plugin, as the server writes it when it starts."""
    async with runtime.pool.connection() as conn:
        assert await plugins_sql.import_manifest(conn, core_manifest())


async def _json(response: Any) -> Any:
    return await response.get_json()


async def test_the_core_plugin_lists_every_method_with_its_schema(client: Any, make_user: MakeUser, core: None) -> None:
    user = await make_user("alex@example.com")
    response = await client.get("/api/plugins", headers=user.headers)
    assert response.status_code == 200
    [plugin] = await _json(response)
    assert (plugin["name"], plugin["version"], plugin["title"], plugin["author"]) == (
        CORE, "2.0.1", "Immich Core Plugin", "Immich Team"
    )
    assert [m["name"] for m in plugin["methods"]] == CORE_METHODS == sorted(METHODS)
    by_name = {m["name"]: m for m in plugin["methods"]}
    assert by_name["assetFileFilter"] == {
        "key": f"{CORE}#assetFileFilter", "name": "assetFileFilter", "title": "Filter by filename",
        "description": "Filter assets by filename pattern using text matching or regular expressions",
        "types": ["AssetV1"], "uiHints": ["Filter"], "hostFunctions": False,
        "schema": by_name["assetFileFilter"]["schema"],
    }
    assert by_name["assetFileFilter"]["schema"]["required"] == ["pattern"]
    assert {n for n, m in by_name.items() if m["uiHints"] == ["Filter"]} == FILTERS
    assert by_name["assetAddToAlbums"]["hostFunctions"] is True
    assert by_name["assetAddToAlbums"]["schema"]["properties"]["albumIds"]["uiHint"] == {"type": "AlbumId"}

    response = await client.get(f"/api/plugins/{plugin['id']}", headers=user.headers)
    assert (response.status_code, await _json(response)) == (200, plugin)
    response = await client.get(f"/api/plugins/{MISSING_ID}", headers=user.headers)
    assert (response.status_code, await _json(response)) == (400, {"message": "Plugin not found"})
    response = await client.get(f"/api/plugins?name={CORE}&enabled=true", headers=user.headers)
    assert [p["id"] for p in await _json(response)] == [plugin["id"]]
    response = await client.get("/api/plugins?name=other", headers=user.headers)
    assert await _json(response) == []


async def test_methods_search_by_name_trigger_type_and_plugin(client: Any, make_user: MakeUser, core: None) -> None:
    user = await make_user("alex@example.com")
    response = await client.get("/api/plugins/methods?trigger=AssetCreate&type=AssetV1", headers=user.headers)
    assert response.status_code == 200
    assert [m["key"] for m in await _json(response)] == [f"{CORE}#{name}" for name in CORE_METHODS]
    response = await client.get(f"/api/plugins/methods?name=assetArchive&pluginName={CORE}", headers=user.headers)
    [archive] = await _json(response)
    assert archive["key"] == f"{CORE}#assetArchive" and archive["title"] == "Archive asset"
    response = await client.get("/api/plugins/methods?pluginVersion=9.9.9", headers=user.headers)
    assert await _json(response) == []
    response = await client.get("/api/plugins/methods?trigger=PersonRecognized", headers=user.headers)
    assert response.status_code == 400 and (await _json(response))["message"] == "Validation failed"


async def test_templates_come_from_the_manifest(client: Any, make_user: MakeUser, core: None) -> None:
    user = await make_user("alex@example.com")
    response = await client.get("/api/plugins/templates", headers=user.headers)
    assert response.status_code == 200
    templates = await _json(response)
    assert [t["key"] for t in templates] == [f"{CORE}#archive-screenshots", f"{CORE}#favorite-videos"]
    first = templates[0]
    assert (first["trigger"], first["uiHints"], first["title"]) == ("AssetCreate", [], "Archive screenshots to album")
    assert [s["method"] for s in first["steps"]] == [
        f"{CORE}#assetFileFilter", f"{CORE}#assetAddToAlbums", f"{CORE}#assetArchive"
    ]
    assert first["steps"][0]["config"] == {"pattern": "screenshot", "matchType": "contains", "caseSensitive": False}


async def test_the_import_is_skipped_when_unchanged_and_follows_a_new_manifest(runtime: Runtime, sql: Sql) -> None:
    manifest = core_manifest()
    async with runtime.pool.connection() as conn:
        assert await plugins_sql.import_manifest(conn, manifest)
        assert not await plugins_sql.import_manifest(conn, manifest)
    [(user,)] = sql("INSERT INTO \"user\" (email, name) VALUES ('a@example.com', 'A') RETURNING id")
    sql("INSERT INTO workflow (\"ownerId\", trigger) VALUES (%s, 'AssetCreate')", (user,))
    sql("INSERT INTO workflow_step (\"workflowId\", \"pluginMethodId\", \"order\")"
        " SELECT w.id, m.id, 0 FROM workflow w, plugin_method m WHERE m.name = 'assetLock'")
    async with runtime.pool.connection() as conn:
        newer = attrs.evolve(manifest, version="2.0.2", methods=manifest.methods[:2], sha256=b"other")
        assert await plugins_sql.import_manifest(conn, newer)
    assert sql("SELECT name, version FROM plugin") == [(CORE, "2.0.2")]
    # methods gone from the manifest go, unless a user's step still names one
    assert sorted(n for (n,) in sql("SELECT name FROM plugin_method")) == [
        "assetFileFilter", "assetLock", "assetTypeFilter"
    ]
    assert sql("SELECT count(*) FROM workflow_step") == [(1,)]


async def test_triggers(client: Any, make_user: MakeUser) -> None:
    user = await make_user("alex@example.com")
    response = await client.get("/api/workflows/triggers", headers=user.headers)
    assert (response.status_code, await _json(response)) == (200, [
        {"trigger": "AssetCreate", "types": ["AssetV1"]},
        {"trigger": "AssetMetadataExtraction", "types": ["AssetV1"]},
    ])


async def test_create_read_share_search_update_delete(client: Any, make_user: MakeUser, core: None, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    response = await client.post("/api/workflows", headers=alex.headers, json=SCREENSHOTS)
    assert response.status_code == 201
    created = await _json(response)
    workflow = created["id"]
    assert list(created) == ["createdAt", "description", "enabled", "id", "name", "steps", "trigger", "updatedAt"]
    assert (created["name"], created["description"], created["enabled"], created["trigger"]) == (
        "Screenshots", "Archive screenshots", True, "AssetCreate"
    )
    assert created["steps"] == [
        {"method": f"{CORE}#assetFileFilter", "config": {"pattern": "screenshot"}, "enabled": True},
        {"method": f"{CORE}#assetArchive", "config": None, "enabled": False},
    ]
    assert sql('SELECT "ownerId"::text FROM workflow') == [(alex.id,)]
    assert sql('SELECT "order" FROM workflow_step ORDER BY "order"') == [(0,), (1,)]

    response = await client.get(f"/api/workflows/{workflow}", headers=alex.headers)
    assert (response.status_code, await _json(response)) == (200, created)
    response = await client.get(f"/api/workflows/{workflow}/share", headers=alex.headers)
    assert (response.status_code, await _json(response)) == (200, {
        "trigger": "AssetCreate", "name": "Screenshots", "description": "Archive screenshots",
        "steps": [
            {"method": f"{CORE}#assetFileFilter", "config": {"pattern": "screenshot"}},
            {"method": f"{CORE}#assetArchive", "config": None, "enabled": False},
        ],
    })

    for query, found in (("", [workflow]), ("?trigger=AssetCreate", [workflow]), ("?enabled=true", [workflow]),
                         ("?name=Screenshots", [workflow]), ("?trigger=AssetMetadataExtraction", []),
                         ("?name=Other", []), (f"?id={MISSING_ID}", [])):
        response = await client.get(f"/api/workflows{query}", headers=alex.headers)
        assert (response.status_code, [w["id"] for w in await _json(response)]) == (200, found), query

    # fields alone keep the steps; steps given replace them
    response = await client.put(f"/api/workflows/{workflow}", headers=alex.headers,
                                json={"name": None, "enabled": False, "trigger": "AssetMetadataExtraction"})
    updated = await _json(response)
    assert response.status_code == 200
    assert (updated["name"], updated["enabled"], updated["trigger"]) == (None, False, "AssetMetadataExtraction")
    assert updated["steps"] == created["steps"] and updated["createdAt"] == created["createdAt"]
    response = await client.put(f"/api/workflows/{workflow}", headers=alex.headers,
                                json={"steps": [{"method": f"{CORE}#assetFavorite", "config": {"inverse": True}}]})
    assert (await _json(response))["steps"] == [
        {"method": f"{CORE}#assetFavorite", "config": {"inverse": True}, "enabled": True}
    ]
    assert sql("SELECT count(*) FROM workflow_step") == [(1,)]
    # Immich's undocumented PATCH twin
    response = await client.patch(f"/api/workflows/{workflow}", headers=alex.headers, json={"steps": []})
    assert (response.status_code, (await _json(response))["steps"]) == (200, [])

    response = await client.delete(f"/api/workflows/{workflow}", headers=alex.headers)
    assert response.status_code == 204
    assert sql("SELECT count(*) FROM workflow") == [(0,)]
    response = await client.get(f"/api/workflows/{workflow}", headers=alex.headers)
    assert (response.status_code, await _json(response)) == (400, {"message": "Not found or no workflow.read access"})


async def test_a_workflow_without_steps_and_defaults(client: Any, make_user: MakeUser) -> None:
    alex = await make_user("alex@example.com")
    response = await client.post("/api/workflows", headers=alex.headers, json={"trigger": "AssetMetadataExtraction"})
    body = await _json(response)
    assert response.status_code == 201
    assert (body["name"], body["description"], body["enabled"], body["steps"]) == (None, None, True, [])


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"method": f"{CORE}#nothing", "config": None}, f"Unknown method {CORE}#nothing"),
        ({"method": "other-plugin#assetArchive", "config": None}, "Unknown method other-plugin#assetArchive"),
        ({"method": "assetArchive", "config": None}, "Unknown method assetArchive"),
        ({"method": f"{CORE}#asset Archive", "config": None}, f"Unknown method {CORE}#asset Archive"),
    ],
)
async def test_unknown_methods_are_refused_and_nothing_is_written(
    client: Any, make_user: MakeUser, core: None, sql: Sql, step: dict[str, Any], message: str
) -> None:
    alex = await make_user("alex@example.com")
    good = {"method": f"{CORE}#assetArchive", "config": None}
    response = await client.post("/api/workflows", headers=alex.headers,
                                 json={"trigger": "AssetCreate", "steps": [good, step]})
    assert (response.status_code, await _json(response)) == (400, {"message": message})
    assert sql("SELECT count(*) FROM workflow") == [(0,)]

    response = await client.post("/api/workflows", headers=alex.headers, json={"trigger": "AssetCreate", "steps": [good]})
    workflow = (await _json(response))["id"]
    response = await client.put(f"/api/workflows/{workflow}", headers=alex.headers, json={"name": "x", "steps": [step]})
    assert (response.status_code, await _json(response)) == (400, {"message": message})
    assert sql("SELECT name FROM workflow") == [(None,)]
    assert sql("SELECT count(*) FROM workflow_step") == [(1,)]


async def test_a_method_of_other_types_is_incompatible_with_the_trigger(
    client: Any, make_user: MakeUser, core: None, sql: Sql
) -> None:
    sql("INSERT INTO plugin_method (\"pluginId\", name, title, description, types)"
        " SELECT id, 'personOnly', 'Person', 'Person', '{AssetPersonV1}' FROM plugin")
    alex = await make_user("alex@example.com")
    response = await client.post("/api/workflows", headers=alex.headers,
                                 json={"trigger": "AssetCreate", "steps": [{"method": f"{CORE}#personOnly", "config": {}}]})
    assert (response.status_code, await _json(response)) == (
        400, {"message": f'Method "{CORE}#personOnly" is incompatible with workflow trigger: "AssetCreate"'}
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"trigger": "PersonRecognized"}, {"trigger": "AssetCreate", "steps": [{"method": f"{CORE}#assetArchive"}]},
     {"trigger": "AssetCreate", "steps": [{"config": None}]}, {"trigger": "AssetCreate", "enabled": "yes"}],
)
async def test_bad_bodies_fail_validation(client: Any, make_user: MakeUser, sql: Sql, body: dict[str, Any]) -> None:
    alex = await make_user("alex@example.com")
    response = await client.post("/api/workflows", headers=alex.headers, json=body)
    assert response.status_code == 400 and (await _json(response))["message"] == "Validation failed"
    assert sql("SELECT count(*) FROM workflow") == [(0,)]


async def test_another_users_workflow_is_out_of_reach(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    sam = await make_user("sam@example.com")
    response = await client.post("/api/workflows", headers=alex.headers, json={"trigger": "AssetCreate", "name": "mine"})
    workflow = (await _json(response))["id"]
    for method, path, body, permission in (
        ("GET", f"/api/workflows/{workflow}", None, "workflow.read"),
        ("GET", f"/api/workflows/{workflow}/share", None, "workflow.read"),
        ("PUT", f"/api/workflows/{workflow}", {"name": "theirs"}, "workflow.update"),
        ("DELETE", f"/api/workflows/{workflow}", None, "workflow.delete"),
    ):
        response = await client.open(path, method=method, headers=sam.headers, json=body)
        assert (response.status_code, await _json(response)) == (
            400, {"message": f"Not found or no {permission} access"}
        ), (method, path)
    response = await client.get("/api/workflows", headers=sam.headers)
    assert await _json(response) == []
    assert sql("SELECT name FROM workflow") == [("mine",)]
