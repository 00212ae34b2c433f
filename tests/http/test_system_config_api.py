"""Tag "System config" (admin): defaults, partial storage, validation, effects elsewhere."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from immich_trio.http.system_config import STORAGE_TEMPLATE_OPTIONS
from immich_trio.runtime import Runtime
from immich_trio.sysconfig import check_cron
from tests.http.conftest import MakeUser, UserCreds

Sql = Callable[..., list[tuple[Any, ...]]]

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"
DEFAULTS_TEXT = (REFERENCE / "system-config-defaults.json").read_text()
DEFAULTS: dict[str, Any] = json.loads(DEFAULTS_TEXT)


def defaults() -> dict[str, Any]:
    return copy.deepcopy(DEFAULTS)


@pytest.fixture
async def admin(make_user: MakeUser) -> UserCreds:
    return await make_user("admin@example.com", is_admin=True)


def stored(sql: Sql) -> Any:
    rows = sql("SELECT value FROM system_metadata WHERE key = 'system-config'")
    return rows[0][0] if rows else None


async def put(client: Any, admin: UserCreds, config: dict[str, Any]) -> tuple[int, Any]:
    response = await client.put("/api/system-config", headers=admin.headers, json=config)
    return response.status_code, await response.get_json()


async def test_get_equals_defaults_exactly(client: Any, admin: UserCreds) -> None:
    for url in ("/api/system-config", "/api/system-config/defaults"):
        response = await client.get(url, headers=admin.headers)
        assert response.status_code == 200
        body = await response.get_data(as_text=True)
        # same keys, values and order as Immich's defaults
        assert json.loads(body, object_pairs_hook=list) == json.loads(
            DEFAULTS_TEXT, object_pairs_hook=list
        )


async def test_admin_only(client: Any, make_user: MakeUser) -> None:
    user = await make_user("user@example.com")
    for method, url in (
        ("GET", "/api/system-config"),
        ("GET", "/api/system-config/defaults"),
        ("GET", "/api/system-config/storage-template-options"),
        ("PUT", "/api/system-config"),
    ):
        response = await client.open(url, method=method, headers=user.headers, json=DEFAULTS)
        assert (response.status_code, await response.get_json()) == (403, {"message": "Forbidden"})
        anonymous = await client.open(url, method=method, json=DEFAULTS)
        assert anonymous.status_code == 401


async def test_put_round_trips_and_stores_only_changed_leaves(
    client: Any, admin: UserCreds, sql: Sql
) -> None:
    config = defaults()
    config["ffmpeg"]["crf"] = 30
    config["server"]["loginPageMessage"] = "Hello"
    config["oauth"]["defaultStorageQuota"] = 10
    config["job"]["thumbnailGeneration"]["concurrency"] = 8
    config["bogus"] = {"x": 1}  # unknown keys are stripped, as zod's non-strict objects do
    config["ffmpeg"]["bogus"] = True
    status, body = await put(client, admin, config)
    assert status == 200
    expected = defaults()
    expected["ffmpeg"]["crf"] = 30
    expected["server"]["loginPageMessage"] = "Hello"
    expected["oauth"]["defaultStorageQuota"] = 10
    expected["job"]["thumbnailGeneration"]["concurrency"] = 8
    assert body == expected
    assert list(body) == list(DEFAULTS)
    assert stored(sql) == {
        "ffmpeg": {"crf": 30},
        "server": {"loginPageMessage": "Hello"},
        "oauth": {"defaultStorageQuota": 10},
        "job": {"thumbnailGeneration": {"concurrency": 8}},
    }
    again = await client.get("/api/system-config", headers=admin.headers)
    assert await again.get_json() == expected

    # back to the defaults: nothing left to store; null and '' leaves are never stored
    status, body = await put(client, admin, defaults())
    assert (status, body) == (200, DEFAULTS)
    assert stored(sql) == {}
    # defaults are unaffected by the stored config
    assert (
        await (await client.get("/api/system-config/defaults", headers=admin.headers)).get_json()
        == DEFAULTS
    )


async def test_put_lists_replace(client: Any, admin: UserCreds, sql: Sql) -> None:
    config = defaults()
    config["machineLearning"]["urls"] = ["http://a:3003", "http://b:3003"]
    config["ffmpeg"]["realtime"]["resolutions"] = [720]
    status, body = await put(client, admin, config)
    assert status == 200
    assert body["machineLearning"]["urls"] == ["http://a:3003", "http://b:3003"]
    assert stored(sql) == {
        "machineLearning": {"urls": ["http://a:3003", "http://b:3003"]},
        "ffmpeg": {"realtime": {"resolutions": [720]}},
    }


async def test_effective_config_is_normalised(client: Any, admin: UserCreds) -> None:
    config = defaults()
    config["server"]["externalDomain"] = "https://photos.example.com/some/path?x=1"
    config["ffmpeg"]["targetVideoCodec"] = "hevc"
    config["ffmpeg"]["targetAudioCodec"] = "opus"
    status, body = await put(client, admin, config)
    assert status == 200
    assert body["server"]["externalDomain"] == "https://photos.example.com"
    assert body["ffmpeg"]["acceptedVideoCodecs"] == ["h264", "hevc"]
    assert body["ffmpeg"]["acceptedAudioCodecs"] == ["aac", "mp3", "opus"]


def _with(path: list[str], value: Any) -> dict[str, Any]:
    config = defaults()
    node = config
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return config


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "issue"),
    [
        (
            ["ffmpeg", "crf"],
            "23",
            {"expected": "number", "code": "invalid_type", "path": ["ffmpeg", "crf"],
             "message": "Invalid input: expected number, received string"},
        ),
        (
            ["ffmpeg", "crf"],
            52,
            {"origin": "number", "code": "too_big", "maximum": 51, "inclusive": True,
             "path": ["ffmpeg", "crf"], "message": "Too big: expected number to be <=51"},
        ),
        (
            ["ffmpeg", "bframes"],
            -2,
            {"origin": "number", "code": "too_small", "minimum": -1, "inclusive": True,
             "path": ["ffmpeg", "bframes"], "message": "Too small: expected number to be >=-1"},
        ),
        (
            ["image", "thumbnail", "quality"],
            80.5,
            {"expected": "int", "format": "safeint", "code": "invalid_type",
             "path": ["image", "thumbnail", "quality"],
             "message": "Invalid input: expected int, received number"},
        ),
        (
            ["machineLearning", "duplicateDetection", "maxDistance"],
            0.2,
            {"origin": "number", "code": "too_big", "maximum": 0.1, "inclusive": True,
             "path": ["machineLearning", "duplicateDetection", "maxDistance"],
             "message": "Too big: expected number to be <=0.1"},
        ),
        (
            ["logging", "level"],
            "loud",
            {"code": "invalid_value", "values": ["verbose", "debug", "log", "warn", "error", "fatal"],
             "path": ["logging", "level"],
             "message": 'Invalid option: expected one of "verbose"|"debug"|"log"|"warn"|"error"|"fatal"'},
        ),
        (
            ["ffmpeg", "transcode"],
            None,
            {"code": "invalid_value", "values": ["all", "optimal", "bitrate", "required", "disabled"],
             "path": ["ffmpeg", "transcode"],
             "message": 'Invalid option: expected one of "all"|"optimal"|"bitrate"|"required"|"disabled"'},
        ),
        (
            ["passwordLogin", "enabled"],
            "false",
            {"expected": "boolean", "code": "invalid_type", "path": ["passwordLogin", "enabled"],
             "message": "Invalid input: expected boolean, received string"},
        ),
        (
            ["trash"],
            _DELETE,
            {"expected": "object", "code": "invalid_type", "path": ["trash"],
             "message": "Invalid input: expected object, received undefined"},
        ),
        (
            ["user", "deleteDelay"],
            _DELETE,
            {"expected": "number", "code": "invalid_type", "path": ["user", "deleteDelay"],
             "message": "Invalid input: expected number, received undefined"},
        ),
        (
            ["machineLearning", "urls"],
            [],
            {"origin": "array", "code": "too_small", "minimum": 1, "inclusive": True,
             "path": ["machineLearning", "urls"], "message": "Too small: expected array to have >=1 items"},
        ),
        (
            ["ffmpeg", "acceptedVideoCodecs"],
            ["h264", "divx"],
            {"code": "invalid_value", "values": ["h264", "hevc", "vp9", "av1"],
             "path": ["ffmpeg", "acceptedVideoCodecs", 1],
             "message": 'Invalid option: expected one of "h264"|"hevc"|"vp9"|"av1"'},
        ),
        (
            ["notifications", "smtp", "transport", "port"],
            70000,
            {"origin": "number", "code": "too_big", "maximum": 65535, "inclusive": True,
             "path": ["notifications", "smtp", "transport", "port"],
             "message": "Too big: expected number to be <=65535"},
        ),
        (
            ["map", "darkStyle"],
            "not a url",
            {"code": "invalid_format", "format": "url", "path": ["map", "darkStyle"], "message": "Invalid URL"},
        ),
        (
            ["oauth", "defaultStorageQuota"],
            -1,
            {"origin": "number", "code": "too_small", "minimum": 0, "inclusive": True,
             "path": ["oauth", "defaultStorageQuota"], "message": "Too small: expected number to be >=0"},
        ),
    ],
)  # fmt: skip
async def test_put_validation(
    client: Any, admin: UserCreds, sql: Sql, path: list[str], value: Any, issue: dict[str, Any]
) -> None:
    status, body = await put(client, admin, _with(path, value))
    assert status == 400
    assert body == {"message": "Validation failed", "errors": [issue]}
    assert list(body["errors"][0]) == list(issue)  # zod's key order
    assert stored(sql) is None


async def test_put_rejects_bad_start_time_by_pattern(client: Any, admin: UserCreds) -> None:
    for start in ("25:00", "7:00", "12:60", ""):
        status, body = await put(client, admin, _with(["nightlyTasks", "startTime"], start))
        assert status == 400, start
        [issue] = body["errors"]
        assert issue["code"] == "invalid_format"
        assert issue["format"] == "regex"
        assert issue["path"] == ["nightlyTasks", "startTime"]
        assert issue["message"].startswith("Invalid string: must match pattern /")


async def test_put_reports_every_issue(client: Any, admin: UserCreds) -> None:
    config = defaults()
    config["ffmpeg"]["crf"] = 99
    config["trash"]["days"] = -1
    config["theme"]["customCss"] = 5
    status, body = await put(client, admin, config)
    assert status == 400
    assert [issue["path"] for issue in body["errors"]] == [
        ["ffmpeg", "crf"],
        ["theme", "customCss"],
        ["trash", "days"],
    ]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["backup", "database", "cronExpression"], "not a cron"),
        (["backup", "database", "cronExpression"], "61 * * * *"),
        (["library", "scan", "cronExpression"], "* * *"),
        (["integrityChecks", "missingFiles", "cronExpression"], "0 25 * * *"),
        (["machineLearning", "urls"], [""]),
        (["machineLearning", "urls"], ["http://ok:3003", "not a url"]),
        (["oauth", "issuerUrl"], "example.com"),
    ],
)
async def test_put_semantic_rules(
    client: Any, admin: UserCreds, sql: Sql, path: list[str], value: Any
) -> None:
    status, body = await put(client, admin, _with(path, value))
    assert status == 400
    assert body["message"] == "Validation failed"
    [issue] = body["errors"]
    assert issue["code"] == "custom"
    assert issue["path"][: len(path)] == path
    assert isinstance(issue["message"], str) and issue["message"]
    assert stored(sql) is None


@pytest.mark.parametrize(
    "template",
    [
        "{{foo}}",  # unknown variable: Handlebars strict mode throws
        "{{y}}/{{MM",  # unclosed mustache
        "{{#if album}}{{album}}",  # unclosed block
        "{{y}}/{{/if}}",  # stray block end
        "{{#each album}}{{this}}{{/each}}",  # not a helper a template may use
        "{{#if nothing}}x{{/if}}",
        "{{#if album}}{{nope}}{{else}}{{y}}{{/if}}",  # reached with the sample asset
        "{{#if album}}x{{/unless}}",  # closes another block
    ],
)
async def test_put_rejects_an_invalid_storage_template(
    client: Any, admin: UserCreds, sql: Sql, template: str
) -> None:
    """storage-template.service.ts onConfigValidate -> system-config.service.ts: 400."""
    status, body = await put(client, admin, _with(["storageTemplate", "template"], template))
    assert (status, body) == (400, {"message": "Invalid storage template"})
    assert stored(sql) is None


async def test_put_accepts_every_preset_and_every_variable(client: Any, admin: UserCreds) -> None:
    presets = [*STORAGE_TEMPLATE_OPTIONS["presetOptions"],
               "{{y}}{{M}}{{W}}{{d}}{{h}}{{m}}{{s}}{{filename}}{{ext}}{{filetype}}{{filetypefull}}"
               "{{assetId}}{{assetIdShort}}{{#unless album}}x{{else}}{{album}}{{/unless}}"
               "{{! a comment }}{{{make}}}-{{album-endDate-MMMM}}/{{filename}}",
               # strict mode checks names where the sample asset (in an album) goes only
               "{{#if album}}{{album}}{{else}}{{nope}}{{/if}}/{{filename}}"]  # fmt: skip
    for template in presets:
        status, body = await put(client, admin, _with(["storageTemplate", "template"], template))
        assert status == 200, (template, body)
        assert body["storageTemplate"]["template"] == template


async def test_disabled_job_cron_is_not_checked(client: Any, admin: UserCreds) -> None:
    config = defaults()
    config["library"]["scan"] = {"enabled": False, "cronExpression": "whenever"}
    status, body = await put(client, admin, config)
    assert status == 200
    assert body["library"]["scan"] == {"enabled": False, "cronExpression": "whenever"}


def test_check_cron() -> None:
    for good in (
        "0 02 * * *",
        "0 0 * * *",
        "*/15 * * * *",
        "0 0 1,15 * *",
        "0 9-17/2 * * mon-fri",
        "30 0 3 * * *",
        "0 0 1 jan *",
        "@daily",
    ):
        assert check_cron(good), good
    for bad in (
        "",
        "* * * *",
        "60 * * * *",
        "0 24 * * *",
        "0 0 0 * *",
        "*/0 * * * *",
        "a b c d e",
        "5-1 * * * *",
    ):
        assert not check_cron(bad), bad


async def test_ml_url_and_log_level_from_environment(
    client: Any, admin: UserCreds, runtime: Runtime
) -> None:
    runtime.settings = attrs.evolve(
        runtime.settings, machine_learning_url="http://ml.local:3003", log_level_from_env=True
    )
    body = await (await client.get("/api/system-config/defaults", headers=admin.headers)).get_json()
    assert body["machineLearning"]["urls"] == ["http://ml.local:3003"]
    config = await (await client.get("/api/system-config", headers=admin.headers)).get_json()
    assert config["machineLearning"]["urls"] == ["http://ml.local:3003"]

    config["logging"]["level"] = "debug"
    status, answer = await put(client, admin, config)
    assert (status, answer) == (
        400,
        {
            "message": "Logging cannot be changed while the environment variable IMMICH_LOG_LEVEL is set."
        },
    )
    config["logging"]["level"] = "log"
    assert (await put(client, admin, config))[0] == 200


async def test_password_login_can_be_disabled(
    client: Any, admin: UserCreds, make_user: MakeUser
) -> None:
    user = await make_user("user@example.com", password="secret-pw")
    credentials = {"email": user.email, "password": "secret-pw"}
    assert (await client.post("/api/auth/login", json=credentials)).status_code == 201
    status, _ = await put(client, admin, _with(["passwordLogin", "enabled"], False))
    assert status == 200
    refused = await client.post("/api/auth/login", json=credentials)
    assert (refused.status_code, await refused.get_json()) == (
        401,
        {"message": "Password login has been disabled"},
    )
    features = await (await client.get("/api/server/features")).get_json()
    assert features["passwordLogin"] is False


async def test_custom_css(client: Any, admin: UserCreds) -> None:
    empty = await client.get("/custom.css")
    assert empty.status_code == 200
    assert empty.content_type.startswith("text/css")
    assert await empty.get_data(as_text=True) == ""
    css = "body { background: hotpink; }"
    assert (await put(client, admin, _with(["theme", "customCss"], css)))[0] == 200
    served = await client.get("/custom.css")
    assert served.content_type.startswith("text/css")
    assert await served.get_data(as_text=True) == css


async def test_storage_template_options(client: Any, admin: UserCreds) -> None:
    response = await client.get(
        "/api/system-config/storage-template-options", headers=admin.headers
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert list(body) == [
        "dayOptions",
        "weekOptions",
        "monthOptions",
        "yearOptions",
        "hourOptions",
        "secondOptions",
        "minuteOptions",
        "presetOptions",
    ]
    assert body["dayOptions"] == ["d", "dd"]
    assert body["weekOptions"] == ["W", "WW"]
    assert body["monthOptions"] == ["M", "MM", "MMM", "MMMM"]
    assert body["yearOptions"] == ["y", "yy"]
    assert body["hourOptions"] == ["h", "hh", "H", "HH"]
    assert body["secondOptions"] == ["s", "ss", "SSS"]
    assert body["minuteOptions"] == ["m", "mm"]
    assert len(body["presetOptions"]) == 21
    assert body["presetOptions"][0] == DEFAULTS["storageTemplate"]["template"]
    assert all(p.endswith(("{{filename}}", "{{assetId}}")) for p in body["presetOptions"])
