"""``PUT /system-config``: the ``oauth`` section's rules (system-config.dto.ts
SystemConfigOAuthSchema), each refused with Immich's 400 body and nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from immich_trio.sysconfig import is_url
from tests.http.conftest import MakeUser, UserCreds
from tests.http.test_system_config_api import Sql, defaults, put, stored

ISSUER = "Issuer URL must be an empty string or a valid URL"
END_SESSION = "endSessionEndpoint must be an empty string or a valid URL"
MOBILE = "Mobile redirect URI must be an empty string or a valid URL"


@pytest.fixture
async def admin(make_user: MakeUser) -> UserCreds:
    return await make_user("admin@example.com", is_admin=True)


def with_oauth(**changes: Any) -> dict[str, Any]:
    config = defaults()
    config["oauth"].update(changes)
    return config


def custom(path: list[str | int], message: str) -> dict[str, Any]:
    return {"code": "custom", "path": path, "message": message}


@pytest.mark.parametrize(
    ("changes", "issue"),
    [
        ({"issuerUrl": "accounts.google.com"}, custom(["oauth", "issuerUrl"], ISSUER)),
        ({"issuerUrl": "https://"}, custom(["oauth", "issuerUrl"], ISSUER)),
        ({"endSessionEndpoint": "/logout"}, custom(["oauth", "endSessionEndpoint"], END_SESSION)),
        (
            # a zod transform on the object: the issue sits at the object's path, message first
            {"mobileOverrideEnabled": True, "mobileRedirectUri": "not a url"},
            {"code": "custom", "message": MOBILE, "path": ["oauth"]},
        ),
        (
            {"timeout": 0},
            {"origin": "number", "code": "too_small", "minimum": 1, "inclusive": True,
             "path": ["oauth", "timeout"], "message": "Too small: expected number to be >=1"},
        ),
        (
            {"timeout": 2.5},
            {"expected": "int", "format": "safeint", "code": "invalid_type", "path": ["oauth", "timeout"],
             "message": "Invalid input: expected int, received number"},
        ),
        (
            {"tokenEndpointAuthMethod": "private_key_jwt"},
            {"code": "invalid_value", "values": ["client_secret_post", "client_secret_basic"],
             "path": ["oauth", "tokenEndpointAuthMethod"],
             "message": 'Invalid option: expected one of "client_secret_post"|"client_secret_basic"'},
        ),
        (
            {"defaultStorageQuota": -1},
            {"origin": "number", "code": "too_small", "minimum": 0, "inclusive": True,
             "path": ["oauth", "defaultStorageQuota"], "message": "Too small: expected number to be >=0"},
        ),
        (
            {"signingAlgorithm": 256},
            {"expected": "string", "code": "invalid_type", "path": ["oauth", "signingAlgorithm"],
             "message": "Invalid input: expected string, received number"},
        ),
        (
            {"enabled": "yes"},
            {"expected": "boolean", "code": "invalid_type", "path": ["oauth", "enabled"],
             "message": "Invalid input: expected boolean, received string"},
        ),
    ],
)  # fmt: skip
async def test_each_oauth_rule_is_refused_and_nothing_saved(
    client: Any, admin: UserCreds, sql: Sql, changes: dict[str, Any], issue: dict[str, Any]
) -> None:
    saved = with_oauth(buttonText="Sign in with Example")
    status, _ = await put(client, admin, saved)
    assert status == 200
    before = stored(sql)

    status, body = await put(client, admin, with_oauth(**changes))
    assert status == 400
    assert body == {"message": "Validation failed", "errors": [issue]}
    assert list(body["errors"][0]) == list(issue)  # zod's key order
    assert stored(sql) == before == {"oauth": {"buttonText": "Sign in with Example"}}
    response = await client.get("/api/system-config", headers=admin.headers)
    assert (await response.get_json())["oauth"]["buttonText"] == "Sign in with Example"


async def test_both_url_fields_are_reported_together(
    client: Any, admin: UserCreds, sql: Sql
) -> None:
    config = with_oauth(
        issuerUrl="example.com",
        endSessionEndpoint="nope",
        mobileOverrideEnabled=True,
        mobileRedirectUri="x y",
    )
    status, body = await put(client, admin, config)
    assert status == 400
    # the mobile check is a transform: zod skips it once the object has issues of its own
    assert body["errors"] == [
        custom(["oauth", "issuerUrl"], ISSUER),
        custom(["oauth", "endSessionEndpoint"], END_SESSION),
    ]
    assert stored(sql) is None


async def test_a_bad_mobile_uri_is_accepted_while_the_override_is_off(
    client: Any, admin: UserCreds, sql: Sql
) -> None:
    status, body = await put(
        client, admin, with_oauth(mobileOverrideEnabled=False, mobileRedirectUri="not a url")
    )
    assert status == 200
    assert body["oauth"]["mobileRedirectUri"] == "not a url"
    assert stored(sql) == {"oauth": {"mobileRedirectUri": "not a url"}}


async def test_a_valid_oauth_config_is_saved(client: Any, admin: UserCreds, sql: Sql) -> None:
    oauth = {
        "enabled": True,
        "autoRegister": False,
        "autoLaunch": True,
        "issuerUrl": "https://id.example.com/realms/home",
        "endSessionEndpoint": "https://id.example.com/logout",
        "clientId": "immich",
        "clientSecret": "s3cret",
        "tokenEndpointAuthMethod": "client_secret_basic",
        "timeout": 5000,
        "defaultStorageQuota": None,
        "signingAlgorithm": "ES256",
        "mobileOverrideEnabled": True,
        "mobileRedirectUri": "app.immich:///oauth-callback",
        "roleClaim": "immich_role",
    }
    status, body = await put(client, admin, with_oauth(**oauth))
    assert status == 200
    assert {key: body["oauth"][key] for key in oauth} == oauth
    response = await client.get("/api/system-config", headers=admin.headers)
    assert (await response.get_json())["oauth"] == body["oauth"]
    # defaults (and the null quota) are not stored; only what differs
    base = defaults()["oauth"]
    assert base["roleClaim"] == "immich_role" and base["defaultStorageQuota"] is None
    assert stored(sql) == {
        "oauth": {k: v for k, v in oauth.items() if k not in ("roleClaim", "defaultStorageQuota")}
    }

    status, body = await put(client, admin, with_oauth(defaultStorageQuota=20))
    assert status == 200
    assert body["oauth"]["defaultStorageQuota"] == 20


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("https://accounts.google.com", True),
        ("http://localhost:9000/application/o/immich/", True),
        ("https://[::1]:8443/x", True),
        ("app.immich:///oauth-callback", True),
        ("localhost:8080", True),  # WHATWG reads "localhost" as a scheme
        (" https://padded.example ", True),
        ("accounts.google.com", False),
        ("https://", False),
        ("http://bad host", False),
        ("http://example.com:99999", False),
        ("/relative", False),
        ("", False),
    ],
)
def test_url_check_follows_new_url(text: str, valid: bool) -> None:
    assert is_url(text) is valid
