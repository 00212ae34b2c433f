"""OAuth login end to end against a real OpenID Connect provider (``oidc-provider-mock``, run in a
thread of the test process): authorize, the provider's login form, the callback, link/unlink,
auto-registration with claims, the mobile redirect, back-channel logout, admin unlink-all.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import oidc_provider_mock
import pytest
import trio
import werkzeug.serving
from joserfc import jwt
from joserfc.jwk import OctKey
from oidc_provider_mock import run_server_in_thread
from PIL import Image

from immich_trio import crypto
from tests.http.conftest import MakeUser

Sql = Callable[..., list[tuple[Any, ...]]]

REDIRECT = "http://immich.test/auth/login"
CLIENT_ID = "immich-test"
COOKIE_TAIL = r"; Max-Age=34560000; Path=/; Expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT"
SPENT = [
    "immich_oauth_state=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "immich_oauth_code_verifier=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
]


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """A real OIDC provider on a free port; its issuer URL."""
    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


def configure(sql: Sql, issuer: str, **oauth: Any) -> None:
    settings = {
        "enabled": True,
        "issuerUrl": issuer,
        "clientId": CLIENT_ID,
        "clientSecret": "s3cret",
        "allowInsecureRequests": True,  # the test provider speaks plain http
        **oauth,
    }
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s::jsonb)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (json.dumps({"oauth": settings}),),
    )


async def set_claims(issuer: str, sub: str, claims: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.put(f"{issuer}/users/{sub}", json=claims)
    assert response.status_code == 204


async def authorize(client: Any, **body: Any) -> tuple[str, dict[str, str]]:
    """POST /oauth/authorize; the provider URL and the cookies it set (name -> value)."""
    response = await client.post("/api/oauth/authorize", json={"redirectUri": REDIRECT, **body})
    assert response.status_code == 201, await response.get_data()
    cookies = dict(c.split(";", 1)[0].split("=", 1) for c in response.headers.getlist("Set-Cookie"))
    return (await response.get_json())["url"], cookies


async def sign_in_at_provider(url: str, sub: str) -> str:
    """Submit the provider's login form as ``sub``; the callback URL it redirects to."""
    async with httpx.AsyncClient() as http:
        form = await http.get(url)
        assert form.status_code == 200 and "<form" in form.text
        response = await http.post(url, data={"sub": sub})
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def oauth_login(client: Any, sub: str) -> Any:
    """The web app's whole flow; the callback answer. The client's cookie jar carries the state."""
    url, _ = await authorize(client)
    callback = await sign_in_at_provider(url, sub)
    response = await client.post("/api/oauth/callback", json={"url": callback})
    client.cookie_jar.clear()
    return response


async def first_admin(make_user: MakeUser) -> Any:
    return await make_user("admin@example.com", is_admin=True)


# --- the flow ------------------------------------------------------------------------------------


async def test_authorize_url_state_and_pkce_cookies(client: Any, sql: Sql, provider: str) -> None:
    configure(sql, provider, scope="openid email profile", prompt="login")
    url, cookies = await authorize(client)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{provider}/oauth2/authorize"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == REDIRECT
    assert query["scope"] == "openid email profile"
    assert query["prompt"] == "login"
    assert query["state"] == cookies["immich_oauth_state"]
    assert len(cookies["immich_oauth_code_verifier"]) >= 43
    # the test provider does not announce S256 support, so no challenge is sent (openid-client)
    assert "code_challenge" not in query

    response = await client.post(
        "/api/oauth/authorize",
        json={"redirectUri": REDIRECT, "state": "mine", "codeChallenge": "c"},
    )
    assert response.status_code == 201
    set_cookies = response.headers.getlist("Set-Cookie")
    assert len(set_cookies) == 1  # the client keeps its own verifier
    assert re.fullmatch(
        f"immich_oauth_state=mine{COOKIE_TAIL}; HttpOnly; SameSite=Lax", set_cookies[0]
    )
    assert "state=mine" in (await response.get_json())["url"]


async def test_login_auto_registers_with_claims_and_sets_cookies(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    await first_admin(make_user)
    configure(sql, provider, defaultStorageQuota=2)
    await set_claims(
        provider,
        "sub-ann",
        {
            "email": " Ann@Example.com ",
            "name": "Ann Oauth",
            "preferred_username": "ann.label",
            "immich_quota": 5,
            "immich_role": "admin",
        },
    )
    response = await oauth_login(client, "sub-ann")
    assert response.status_code == 201, await response.get_data()
    body = await response.get_json()
    assert body["userEmail"] == "ann@example.com"
    assert body["name"] == "Ann Oauth"
    assert body["isAdmin"] is True
    token = body["accessToken"]
    cookies = response.headers.getlist("Set-Cookie")
    assert re.fullmatch(
        f"immich_access_token={token}{COOKIE_TAIL}; HttpOnly; SameSite=Lax", cookies[0]
    )
    assert re.fullmatch(f"immich_auth_type=oauth{COOKIE_TAIL}; HttpOnly; SameSite=Lax", cookies[1])
    assert re.fullmatch(f"immich_is_authenticated=true{COOKIE_TAIL}; SameSite=Lax", cookies[2])
    assert cookies[3:] == SPENT

    me = await client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    user = await me.get_json()
    assert user["oauthId"] == "sub-ann"
    assert user["storageLabel"] == "annlabel"  # sanitised: dots dropped
    assert user["quotaSizeInBytes"] == 5 * 1024**3
    # the session remembers the ID token (for logout's id_token_hint)
    rows = sql('SELECT "oauthBearerToken" FROM session WHERE "userId" = %s', (user["id"],))
    assert len(rows) == 1 and rows[0][0].count(".") == 2

    # A second login finds the user by subject: no new user.
    again = await oauth_login(client, "sub-ann")
    assert again.status_code == 201
    assert (await again.get_json())["userId"] == user["id"]
    assert sql('SELECT count(*) FROM "user" WHERE email = %s', ("ann@example.com",)) == [(1,)]


async def test_registration_defaults_without_claims(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    await first_admin(make_user)
    configure(sql, provider, defaultStorageQuota=3)
    await set_claims(
        provider,
        "sub-bo",
        {
            "email": "bo@example.com",
            "given_name": "Bo",
            "family_name": "Gus",
            "immich_role": "root",
            "immich_quota": "lots",
        },
    )
    response = await oauth_login(client, "sub-bo")
    assert response.status_code == 201
    body = await response.get_json()
    assert body["name"] == "Bo Gus"
    assert body["isAdmin"] is False  # an unknown role is a user
    row = sql(
        'SELECT "quotaSizeInBytes", "storageLabel" FROM "user" WHERE id = %s', (body["userId"],)
    )
    assert row == [(3 * 1024**3, None)]


async def test_login_links_an_existing_user_by_email(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    await first_admin(make_user)
    existing = await make_user("cy@example.com")
    configure(sql, provider, autoRegister=False)
    await set_claims(provider, "sub-cy", {"email": "CY@example.com"})
    response = await oauth_login(client, "sub-cy")
    assert response.status_code == 201
    assert (await response.get_json())["userId"] == existing.id
    assert sql('SELECT "oauthId" FROM "user" WHERE id = %s', (existing.id,)) == [("sub-cy",)]


async def test_unknown_user_with_auto_register_off_leaves_nothing(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    await first_admin(make_user)
    configure(sql, provider, autoRegister=False)
    await set_claims(provider, "sub-dee", {"email": "dee@example.com"})
    users, sessions = sql('SELECT count(*) FROM "user"'), sql("SELECT count(*) FROM session")
    response = await oauth_login(client, "sub-dee")
    assert response.status_code == 400
    assert await response.get_json() == {"message": "OAuth authentication failed"}
    assert response.headers.getlist("Set-Cookie") == SPENT
    assert sql('SELECT count(*) FROM "user"') == users
    assert sql("SELECT count(*) FROM session") == sessions


async def test_email_linked_to_another_subject_fails(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    await first_admin(make_user)
    taken = await make_user("eve@example.com")
    sql("""UPDATE "user" SET "oauthId" = 'someone-else' WHERE id = %s""", (taken.id,))
    configure(sql, provider)
    await set_claims(provider, "sub-eve", {"email": "eve@example.com"})
    response = await oauth_login(client, "sub-eve")
    assert response.status_code == 400
    assert await response.get_json() == {"message": "OAuth authentication failed"}
    assert sql('SELECT "oauthId" FROM "user" WHERE id = %s', (taken.id,)) == [("someone-else",)]


async def test_profile_without_email_cannot_register(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    await first_admin(make_user)
    configure(sql, provider)
    await set_claims(provider, "sub-noemail", {"name": "No Mail"})
    response = await oauth_login(client, "sub-noemail")
    assert response.status_code == 400
    assert await response.get_json() == {"message": "OAuth profile does not have an email address"}


# --- bad input and faults --------------------------------------------------------------------------


async def test_disabled_missing_state_and_verifier(client: Any, sql: Sql, provider: str) -> None:
    for path in ("/api/oauth/authorize", "/api/oauth/callback"):
        body = {"redirectUri": REDIRECT} if path.endswith("authorize") else {"url": REDIRECT}
        response = await client.post(path, json=body)
        assert response.status_code == 400
        assert await response.get_json() == {"message": "OAuth is not enabled"}
    configure(sql, provider)
    response = await client.post("/api/oauth/callback", json={"url": REDIRECT})
    assert (response.status_code, await response.get_json()) == (
        400,
        {"message": "OAuth state is missing"},
    )
    response = await client.post("/api/oauth/callback", json={"url": REDIRECT, "state": "s"})
    assert (response.status_code, await response.get_json()) == (
        400,
        {"message": "OAuth code verifier is missing"},
    )
    response = await client.post("/api/oauth/callback", json={"url": ""})
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "Validation failed"


async def test_bad_state_and_reused_code_fail_without_a_session(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    await first_admin(make_user)
    configure(sql, provider)
    await set_claims(provider, "sub-fay", {"email": "fay@example.com"})
    url, cookies = await authorize(client)
    client.cookie_jar.clear()
    callback = await sign_in_at_provider(url, "sub-fay")
    verifier = cookies["immich_oauth_code_verifier"]
    sessions = sql("SELECT count(*) FROM session")

    forged = await client.post(
        "/api/oauth/callback", json={"url": callback, "state": "forged", "codeVerifier": verifier}
    )
    assert forged.status_code == 500
    assert await forged.get_json() == {"message": "Failed to finish oauth"}
    assert forged.headers.getlist("Set-Cookie") == SPENT

    state = cookies["immich_oauth_state"]
    ok = await client.post(
        "/api/oauth/callback", json={"url": callback, "state": state, "codeVerifier": verifier}
    )
    assert ok.status_code == 201
    # The provider spends a code once: the same callback again fails.
    replay = await client.post(
        "/api/oauth/callback", json={"url": callback, "state": state, "codeVerifier": verifier}
    )
    assert replay.status_code == 500
    assert await replay.get_json() == {"message": "Failed to finish oauth"}
    assert sql("SELECT count(*) FROM session") == [(sessions[0][0] + 1,)]
    assert sql('SELECT count(*) FROM "user" WHERE email = %s', ("fay@example.com",)) == [(1,)]


async def test_provider_down_or_slow(client: Any, sql: Sql) -> None:
    # Nothing listens: discovery fails at once.
    with trio.socket.socket() as probe:
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configure(sql, f"http://127.0.0.1:{port}")
    response = await client.post("/api/oauth/authorize", json={"redirectUri": REDIRECT})
    assert response.status_code == 500
    assert (await response.get_json())["message"].startswith("Error in OAuth discovery: ")

    # A provider that accepts and never answers: the configured timeout (ms) ends the wait.
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        configure(sql, f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=300)
        with trio.fail_after(20):
            response = await client.post("/api/oauth/authorize", json={"redirectUri": REDIRECT})
        assert response.status_code == 500
        assert await response.get_json() == {
            "message": "Error in OAuth discovery: The operation was aborted due to timeout"
        }
    finally:
        listener.close()


async def test_plain_http_provider_needs_insecure_requests(
    client: Any, sql: Sql, provider: str
) -> None:
    configure(sql, provider, allowInsecureRequests=False)
    response = await client.post("/api/oauth/authorize", json={"redirectUri": REDIRECT})
    assert response.status_code == 500
    assert await response.get_json() == {
        "message": "Error in OAuth discovery: only requests to HTTPS are allowed"
    }


async def test_wrong_signing_algorithm_fails_the_login(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    await first_admin(make_user)
    configure(sql, provider, signingAlgorithm="ES256")
    await set_claims(provider, "sub-gil", {"email": "gil@example.com"})
    response = await oauth_login(client, "sub-gil")
    assert response.status_code == 500
    assert await response.get_json() == {"message": "Failed to finish oauth"}
    assert sql('SELECT count(*) FROM "user" WHERE email = %s', ("gil@example.com",)) == [(0,)]


# --- mobile ----------------------------------------------------------------------------------------


async def test_mobile_redirect_and_override(client: Any, sql: Sql, provider: str) -> None:
    response = await client.get("/api/oauth/mobile-redirect?code=abc&state=xyz")
    assert response.status_code == 307
    assert response.headers["Location"] == "app.immich:///oauth-callback?code=abc&state=xyz"

    configure(
        sql,
        provider,
        mobileOverrideEnabled=True,
        mobileRedirectUri="https://immich.test/api/oauth/mobile-redirect",
    )
    url, _ = await authorize(client, redirectUri="app.immich:///oauth-callback")
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"] == ["https://immich.test/api/oauth/mobile-redirect"]


# --- link and unlink ---------------------------------------------------------------------------------


async def test_link_unlink_and_duplicate(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    admin = await first_admin(make_user)
    other = await make_user("hal@example.com")
    configure(sql, provider)
    await set_claims(provider, "sub-link", {"email": "elsewhere@example.com"})

    url, cookies = await authorize(client)
    client.cookie_jar.clear()
    callback = await sign_in_at_provider(url, "sub-link")
    body = {
        "url": callback,
        "state": cookies["immich_oauth_state"],
        "codeVerifier": cookies["immich_oauth_code_verifier"],
    }
    response = await client.post("/api/oauth/link", json=body, headers=admin.headers)
    assert response.status_code == 200, await response.get_data()
    assert (await response.get_json())["oauthId"] == "sub-link"
    token_hint = sql('SELECT "oauthBearerToken" FROM session WHERE "userId" = %s', (admin.id,))[0][
        0
    ]
    assert token_hint and token_hint.count(".") == 2

    # The same subject cannot be linked to someone else.
    url, cookies = await authorize(client)
    client.cookie_jar.clear()
    callback = await sign_in_at_provider(url, "sub-link")
    body = {
        "url": callback,
        "state": cookies["immich_oauth_state"],
        "codeVerifier": cookies["immich_oauth_code_verifier"],
    }
    response = await client.post("/api/oauth/link", json=body, headers=other.headers)
    assert response.status_code == 400
    assert await response.get_json() == {
        "message": "This OAuth account has already been linked to another user."
    }
    assert sql('SELECT "oauthId" FROM "user" WHERE id = %s', (other.id,)) == [("",)]

    response = await client.post("/api/oauth/unlink", headers=admin.headers)
    assert response.status_code == 200
    assert (await response.get_json())["oauthId"] == ""
    assert sql(
        'SELECT "oauthBearerToken", "oauthSid" FROM session WHERE "userId" = %s', (admin.id,)
    ) == [(None, None)]


async def test_admin_unlink_all(client: Any, sql: Sql, make_user: MakeUser) -> None:
    admin = await first_admin(make_user)
    user = await make_user("ivy@example.com")
    sql("""UPDATE "user" SET "oauthId" = 'sub-' || email""")
    response = await client.post("/api/admin/auth/unlink-all", headers=user.headers)
    assert response.status_code == 403
    response = await client.post("/api/admin/auth/unlink-all", headers=admin.headers)
    assert response.status_code == 204
    assert sql('SELECT DISTINCT "oauthId" FROM "user"') == [("",)]


# --- server settings ---------------------------------------------------------------------------------


async def test_features_and_config_reflect_the_oauth_settings(
    client: Any, sql: Sql, provider: str
) -> None:
    configure(sql, provider, autoLaunch=True, buttonText="Family login")
    features = await (await client.get("/api/server/features")).get_json()
    assert (features["oauth"], features["oauthAutoLaunch"]) == (True, True)
    config = await (await client.get("/api/server/config")).get_json()
    assert config["oauthButtonText"] == "Family login"


# --- back-channel logout -------------------------------------------------------------------------

SECRET = "a-client-secret-long-enough-for-hs256"


def logout_token(issuer: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": issuer,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 60,
        "jti": "j1",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        **claims,
    }
    return jwt.encode({"alg": "HS256"}, payload, OctKey.import_key(SECRET))


async def backchannel(client: Any, token: str) -> Any:
    return await client.post(
        "/api/oauth/backchannel-logout",
        data=urlencode({"logout_token": token}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_backchannel_logout_by_sid_and_by_sub(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    admin = await first_admin(make_user)
    user = await make_user("jo@example.com")
    sql("""UPDATE "user" SET "oauthId" = 'sub-jo' WHERE id = %s""", (user.id,))
    sql("""UPDATE session SET "oauthSid" = 'sid-1' WHERE "userId" = %s""", (user.id,))
    second = crypto.new_token()
    sql(
        'INSERT INTO session (token, "userId", "deviceType", "deviceOS", "oauthSid")'
        " VALUES (%s, %s, 'web', 'Linux', 'sid-2')",
        (crypto.hash_token(second), user.id),
    )
    configure(sql, provider, signingAlgorithm="HS256", clientSecret=SECRET)

    response = await backchannel(client, logout_token(provider, sid="sid-1"))
    assert response.status_code == 200
    assert await response.get_data() == b""
    assert sql('SELECT "oauthSid" FROM session WHERE "userId" = %s', (user.id,)) == [("sid-2",)]
    me = await client.get("/api/users/me", headers=user.headers)
    assert me.status_code == 401

    response = await backchannel(client, logout_token(provider, sub="sub-jo"))
    assert response.status_code == 200
    assert sql('SELECT count(*) FROM session WHERE "userId" = %s', (user.id,)) == [(0,)]
    assert sql('SELECT count(*) FROM session WHERE "userId" = %s', (admin.id,)) == [(1,)]


async def test_backchannel_logout_refusals(client: Any, sql: Sql, provider: str) -> None:
    token = logout_token(provider, sub="x")
    response = await backchannel(client, token)
    assert (response.status_code, await response.get_json()) == (
        400,
        {"message": "Received backchannel logout request but OAuth is not enabled"},
    )
    configure(sql, provider, signingAlgorithm="HS256", clientSecret=SECRET)
    invalid = {"message": "Error backchannel logout: token validation failed"}
    for bad in (
        logout_token("http://elsewhere.test", sub="x"),  # another issuer
        logout_token(provider, sub="x", aud="someone-else"),
        logout_token(provider, sub="x", events={}),
        logout_token(provider, sub="x", nonce="n"),
        logout_token(provider, sub="x", iat=int(time.time()) - 600),  # too old
        token[:-4] + "AAAA",  # signature broken
    ):
        response = await backchannel(client, bad)
        assert (response.status_code, await response.get_json()) == (400, invalid)
    response = await backchannel(client, logout_token(provider))
    assert (response.status_code, await response.get_json()) == (
        400,
        {"message": "Invalid logout token: it must contain either a sub or a sid claim"},
    )
    response = await client.post(
        "/api/oauth/backchannel-logout",
        data="",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "Validation failed"


# --- logout after an OAuth login ---------------------------------------------------------------------


async def test_logout_sends_the_browser_to_the_providers_end_session(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    await first_admin(make_user)
    configure(sql, provider)
    await set_claims(provider, "sub-kim", {"email": "kim@example.com"})
    for end_session in ("", "https://sso.test/logout?x=1"):
        configure(sql, provider, endSessionEndpoint=end_session)
        login = await oauth_login(client, "sub-kim")
        token = (await login.get_json())["accessToken"]
        id_token = sql(
            'SELECT "oauthBearerToken" FROM session WHERE token = %s', (crypto.hash_token(token),)
        )[0][0]
        response = await client.post(
            "/api/auth/logout",
            headers={"Authorization": f"Bearer {token}", "Cookie": "immich_auth_type=oauth"},
        )
        assert response.status_code == 200
        expected = end_session or f"{provider}/oauth2/end_session"
        sep = "&" if "?" in expected else "?"
        assert await response.get_json() == {
            "successful": True,
            "redirectUri": f"{expected}{sep}id_token_hint={id_token}",
        }
        client.cookie_jar.clear()

    # A password login's logout (no oauth auth-type cookie) goes to the login page.
    login = await oauth_login(client, "sub-kim")
    token = (await login.get_json())["accessToken"]
    response = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert (await response.get_json())["redirectUri"] == "/auth/login?autoLaunch=0"


# --- PKCE with a provider that announces S256 --------------------------------------------------------


class PkceCheckingProvider:
    """WSGI middleware over the test provider: it announces S256 PKCE, remembers each code's
    challenge, and refuses a token request whose ``code_verifier`` does not hash to it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.challenge_of_state: dict[str, str] = {}
        self.challenge_of_code: dict[str, str] = {}
        self.verified: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if path == "/oauth2/authorize" and "code_challenge" in query:
            assert query["code_challenge_method"] == "S256"
            self.challenge_of_state[query["state"]] = query["code_challenge"]
        if path == "/oauth2/token":
            form = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            fields = {k: v[-1] for k, v in parse_qs(form.decode()).items()}
            expected = self.challenge_of_code.get(fields.get("code", ""))
            verifier = fields.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if expected != base64.urlsafe_b64encode(digest).rstrip(b"=").decode():
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error": "invalid_grant"}']
            self.verified.append(verifier)
            environ["wsgi.input"] = io.BytesIO(form)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            captured.update(status=status, headers=headers)
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        headers = dict(captured["headers"])
        back = {k: v[-1] for k, v in parse_qs(urlsplit(headers.get("Location", "")).query).items()}
        if "code" in back and back.get("state") in self.challenge_of_state:
            self.challenge_of_code[back["code"]] = self.challenge_of_state[back["state"]]
        if path == "/.well-known/openid-configuration":
            meta = json.loads(body)
            meta["code_challenge_methods_supported"] = ["S256"]
            body = json.dumps(meta).encode()
        headers["Content-Length"] = str(len(body))
        start_response(captured["status"], list(headers.items()))
        return [body]


@pytest.fixture
def pkce_provider() -> Iterator[tuple[str, PkceCheckingProvider]]:
    checker = PkceCheckingProvider(oidc_provider_mock.app())
    server = werkzeug.serving.make_server("localhost", 0, checker, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}", checker
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


async def test_pkce_verifier_from_the_cookie_reaches_the_token_endpoint(
    client: Any, sql: Sql, make_user: MakeUser, pkce_provider: tuple[str, PkceCheckingProvider]
) -> None:
    issuer, checker = pkce_provider
    await first_admin(make_user)
    configure(sql, issuer)
    await set_claims(issuer, "sub-pk", {"email": "pk@example.com"})
    url, cookies = await authorize(client)
    verifier = cookies["immich_oauth_code_verifier"]
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    callback = await sign_in_at_provider(url, "sub-pk")
    response = await client.post("/api/oauth/callback", json={"url": callback})  # cookie jar
    client.cookie_jar.clear()
    assert response.status_code == 201, await response.get_data()
    assert checker.verified == [verifier]

    # A wrong verifier: the provider refuses the code, the login fails and leaves no session.
    url, _ = await authorize(client)
    client.cookie_jar.clear()
    callback = await sign_in_at_provider(url, "sub-pk")
    state = parse_qs(urlsplit(callback).query)["state"][0]
    sessions = sql("SELECT count(*) FROM session")
    response = await client.post(
        "/api/oauth/callback", json={"url": callback, "state": state, "codeVerifier": "wrong"}
    )
    assert (response.status_code, await response.get_json()) == (
        500,
        {"message": "Failed to finish oauth"},
    )
    assert sql("SELECT count(*) FROM session") == sessions


# --- the profile picture -------------------------------------------------------------------------------


@pytest.fixture
def picture_url() -> Iterator[str]:
    """A web server answering one 600x400 PNG at ``/me.png`` (404 elsewhere)."""
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), (200, 30, 30)).save(buffer, format="PNG")
    png = buffer.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/me.png"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(png)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/me.png"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


async def test_profile_picture_becomes_the_profile_image(
    client: Any, sql: Sql, provider: str, make_user: MakeUser, picture_url: str, runtime: Any
) -> None:
    await first_admin(make_user)
    configure(sql, provider)
    await set_claims(provider, "sub-pic", {"email": "pic@example.com", "picture": picture_url})
    await set_claims(
        provider, "sub-nopic", {"email": "nopic@example.com", "picture": picture_url + "x"}
    )
    response = await oauth_login(client, "sub-pic")
    assert response.status_code == 201
    user_id = (await response.get_json())["userId"]
    path = sql('SELECT "profileImagePath" FROM "user" WHERE id = %s', (user_id,))[0][0]
    media = runtime.settings.media_location.resolve()
    assert path.startswith(f"{media}/profile/{user_id}/") and path.endswith(".webp")
    with Image.open(path) as image:
        assert (image.format, image.size) == ("WEBP", (375, 250))

    # A picture that cannot be fetched is only logged: the login still succeeds, no image.
    response = await oauth_login(client, "sub-nopic")
    assert response.status_code == 201
    user_id = (await response.get_json())["userId"]
    assert sql('SELECT "profileImagePath" FROM "user" WHERE id = %s', (user_id,)) == [("",)]
    assert not (media / "profile" / user_id).exists()
