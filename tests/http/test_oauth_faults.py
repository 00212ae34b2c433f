"""OAuth's bad input and faults: OAuth off, missing state or verifier, a forged state, a reused
code, a provider that is down, slow or plain http, a wrong signing algorithm; back-channel
logout's tokens, good and bad. Immich's status and message, and no half state.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import trio
from joserfc import jwt
from joserfc.jwk import OctKey

from immich_trio import crypto
from tests.http.conftest import MakeUser
from tests.http.oidc_provider import (
    CLIENT_ID,
    REDIRECT,
    SPENT,
    Sql,
    authorize,
    configure,
    first_admin,
    oauth_login,
    running_provider,
    set_claims,
    sign_in_at_provider,
)


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with running_provider() as issuer:
        yield issuer


CALLBACK_BODY = {"url": f"{REDIRECT}?code=c&state=s", "state": "s", "codeVerifier": "v" * 43}


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
    # Immich puts openid-client's error into the message: undici's TypeError when nothing
    # listens, openid-client's ClientError when its AbortSignal timeout fires.
    with trio.socket.socket() as probe:
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configure(sql, f"http://127.0.0.1:{port}")
    for path, body in (("authorize", {"redirectUri": REDIRECT}), ("callback", CALLBACK_BODY)):
        response = await client.post(f"/api/oauth/{path}", json=body)
        assert (response.status_code, await response.get_json()) == (
            500,
            {"message": "Error in OAuth discovery: TypeError: fetch failed"},
        ), path

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
            "message": "Error in OAuth discovery: ClientError: operation timed out"
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
        "message": "Error in OAuth discovery: ClientError: only requests to HTTPS are allowed"
    }


async def test_a_provider_answering_no_metadata(client: Any, sql: Sql, provider: str) -> None:
    # oauth4webapi's status check, as openid-client's errorHandler words it.
    configure(sql, provider + "/no-such-issuer")
    response = await client.post("/api/oauth/authorize", json={"redirectUri": REDIRECT})
    assert (response.status_code, await response.get_json()) == (
        500,
        {"message": "Error in OAuth discovery: ClientError: unexpected HTTP response status code"},
    )


async def test_a_failed_code_exchange_on_link(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    # A code the provider never issued: the token endpoint refuses it; Immich's error
    # interceptor answers with the handler's name, and the user stays unlinked.
    user = await first_admin(make_user)
    configure(sql, provider)
    response = await client.post(
        "/api/oauth/link",
        json={"url": f"{REDIRECT}?code=never-issued&state=s", "state": "s", "codeVerifier": "v" * 43},
        headers=user.headers,
    )
    assert (response.status_code, await response.get_json()) == (
        500,
        {"message": "Failed to link oauth account"},
    )
    assert sql('SELECT "oauthId" FROM "user" WHERE id = %s', (user.id,)) == [("",)]


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


async def test_registration_conflicts_roll_back(
    client: Any, sql: Sql, provider: str, make_user: MakeUser
) -> None:
    # No admin yet: an OAuth user cannot be the first account unless the role claim says admin.
    configure(sql, provider)
    await set_claims(provider, "sub-first", {"email": "first@example.com"})
    response = await oauth_login(client, "sub-first")
    assert (response.status_code, await response.get_json()) == (
        400,
        {"message": "The first registered account must the administrator."},
    )
    assert sql('SELECT count(*) FROM "user"') == [(0,)]

    # A soft-deleted user still holds the e-mail: the insert fails, nothing is left behind.
    await first_admin(make_user)
    gone = await make_user("gone@example.com")
    sql("""UPDATE "user" SET "deletedAt" = now() WHERE id = %s""", (gone.id,))
    await set_claims(provider, "sub-gone", {"email": "gone@example.com"})
    sessions = sql("SELECT count(*) FROM session")
    response = await oauth_login(client, "sub-gone")
    assert (response.status_code, await response.get_json()) == (
        500,
        {"message": "Failed to finish oauth"},
    )
    assert response.headers.getlist("Set-Cookie") == SPENT
    assert sql('SELECT count(*) FROM "user" WHERE "oauthId" = %s', ("sub-gone",)) == [(0,)]
    assert sql("SELECT count(*) FROM session") == sessions
