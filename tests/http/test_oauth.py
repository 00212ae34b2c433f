"""OAuth login end to end against a real OpenID Connect provider (``tests/http/oidc_provider.py``):
authorize, the provider's login form, the callback, auto-registration with claims, linking by
e-mail, link/unlink, the mobile redirect, logout to the provider, the profile picture, PKCE,
admin unlink-all, and what the server's features and config say.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from immich_trio import crypto
from tests.http.conftest import MakeUser
from tests.http.oidc_provider import (
    CLIENT_ID,
    COOKIE_TAIL,
    REDIRECT,
    SPENT,
    PkceCheckingProvider,
    Sql,
    authorize,
    configure,
    first_admin,
    oauth_login,
    running_pkce_provider,
    running_provider,
    serving_picture,
    set_claims,
    sign_in_at_provider,
)


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with running_provider() as issuer:
        yield issuer


@pytest.fixture
def pkce_provider() -> Iterator[tuple[str, PkceCheckingProvider]]:
    with running_pkce_provider() as running:
        yield running


@pytest.fixture
def picture_url() -> Iterator[str]:
    with serving_picture() as url:
        yield url


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


# --- client authentication and a signed userinfo -----------------------------------------------------

SECRET = "a-client-secret-long-enough-for-hs256"


async def test_client_secret_basic_post_and_a_signed_userinfo(
    client: Any, sql: Sql, make_user: MakeUser, pkce_provider: tuple[str, PkceCheckingProvider]
) -> None:
    issuer, checker = pkce_provider
    await first_admin(make_user)
    # Scope without "email": the ID token has no e-mail, so the profile comes from userinfo,
    # here a JWT signed with the client secret (profileSigningAlgorithm).
    checker.userinfo_secret = SECRET
    checker.userinfo_extra = {"email": "signed@example.com"}
    configure(
        sql,
        issuer,
        scope="openid profile",
        clientSecret=SECRET,
        tokenEndpointAuthMethod="client_secret_basic",
        profileSigningAlgorithm="HS256",
    )
    await set_claims(issuer, "sub-sig", {"email": "unused@example.com", "name": "Sig"})
    response = await oauth_login(client, "sub-sig")
    assert response.status_code == 201, await response.get_data()
    assert (await response.get_json())["userEmail"] == "signed@example.com"
    authorization, form = checker.token_requests[-1]
    pair = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert authorization == f"Basic {pair}"
    assert "client_secret" not in form

    # client_secret_post: the secret in the form; a userinfo signed with another key is refused.
    checker.userinfo_secret = "another-secret-long-enough-for-hs256!"
    configure(
        sql,
        issuer,
        scope="openid profile",
        clientSecret=SECRET,
        tokenEndpointAuthMethod="client_secret_post",
        profileSigningAlgorithm="HS256",
    )
    response = await oauth_login(client, "sub-sig")
    assert (response.status_code, await response.get_json()) == (
        500,
        {"message": "Failed to finish oauth"},
    )
    authorization, form = checker.token_requests[-1]
    assert authorization is None
    assert (form["client_id"], form["client_secret"]) == (CLIENT_ID, SECRET)
