"""The Authentication tag: sign-up, login and its cookies, logout, credentials, password, PIN code."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import trio

from immich_trio import crypto
from immich_trio.http.socketio import EventRelay
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser

Sql = Callable[..., list[tuple[Any, ...]]]

LOGIN_KEYS = [
    "accessToken",
    "userId",
    "userEmail",
    "name",
    "isAdmin",
    "profileImagePath",
    "shouldChangePassword",
    "isOnboarded",
]
USER_ADMIN_KEYS = {
    "avatarColor",
    "createdAt",
    "deletedAt",
    "email",
    "id",
    "isAdmin",
    "license",
    "name",
    "oauthId",
    "profileChangedAt",
    "profileImagePath",
    "quotaSizeInBytes",
    "quotaUsageInBytes",
    "shouldChangePassword",
    "status",
    "storageLabel",
    "updatedAt",
}
COOKIE_TAIL = r"; Max-Age=34560000; Path=/; Expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT"
CLEARED = [
    "immich_access_token=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "immich_auth_type=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "immich_is_authenticated=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up(
    client: Any, email: str = "admin@example.com", password: str = "admin-pass"
) -> Any:
    return await client.post(
        "/api/auth/admin-sign-up", json={"email": email, "password": password, "name": "Admin"}
    )


async def login(client: Any, email: str, password: str, **kwargs: Any) -> Any:
    response = await client.post(
        "/api/auth/login", json={"email": email, "password": password}, **kwargs
    )
    # The test client keeps cookies; forget them so later requests carry only what a test sends.
    client.cookie_jar.clear()
    return response


async def status(client: Any, headers: dict[str, str]) -> Any:
    return await client.get("/api/auth/status", headers=headers)


# --- sign-up and login ---------------------------------------------------------------------------


async def test_admin_sign_up_login_and_probe(client: Any, sql: Sql) -> None:
    response = await sign_up(client, email="Admin@Example.com")
    assert response.status_code == 201
    admin = await response.get_json()
    assert set(admin) == USER_ADMIN_KEYS
    assert admin["email"] == "admin@example.com"
    assert admin["name"] == "Admin"
    assert admin["isAdmin"] is True
    assert admin["storageLabel"] == "admin"
    assert admin["shouldChangePassword"] is True
    assert admin["license"] is None
    assert response.headers.getlist("Set-Cookie") == []  # no session from sign-up
    assert sql("SELECT count(*) FROM session") == [(0,)]
    stored = sql('SELECT password FROM "user" WHERE id = %s', (admin["id"],))[0][0]
    assert stored.startswith("$2") and crypto.check_password("admin-pass", stored)

    response = await login(client, "admin@example.com", "admin-pass")
    assert response.status_code == 201
    body = await response.get_json()
    assert list(body) == LOGIN_KEYS
    assert body["userId"] == admin["id"]
    assert body["userEmail"] == "admin@example.com"
    assert body["isAdmin"] is True
    assert body["shouldChangePassword"] is True
    assert body["isOnboarded"] is False
    assert body["profileImagePath"] == ""
    token = body["accessToken"]
    assert re.fullmatch(r"[A-Za-z0-9]{32,43}", token)
    assert sql("SELECT token FROM session") == [(crypto.hash_token(token),)]

    probe = await status(client, bearer(token))
    assert probe.status_code == 200
    assert await probe.get_json() == {"pinCode": False, "password": True, "isElevated": False}


async def test_login_cookies_exactly(client: Any, make_user: MakeUser) -> None:
    user = await make_user("c@example.com", password="secret-1")
    response = await login(client, "c@example.com", "secret-1")
    token = (await response.get_json())["accessToken"]
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 3
    assert re.fullmatch(
        f"immich_access_token={token}{COOKIE_TAIL}; HttpOnly; SameSite=Lax", cookies[0]
    )
    assert re.fullmatch(
        f"immich_auth_type=password{COOKIE_TAIL}; HttpOnly; SameSite=Lax", cookies[1]
    )
    assert re.fullmatch(f"immich_is_authenticated=true{COOKIE_TAIL}; SameSite=Lax", cookies[2])
    expires = re.search(r"Expires=([^;]+)", cookies[0])
    assert expires is not None
    when = datetime.strptime(expires.group(1), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert abs(when - (datetime.now(UTC) + timedelta(days=400))) < timedelta(minutes=1)
    assert user.id == (await response.get_json())["userId"]


async def test_login_cookies_are_secure_over_https(client: Any, make_user: MakeUser) -> None:
    await make_user("s@example.com", password="secret-1")
    response = await login(client, "s@example.com", "secret-1", scheme="https")
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 3
    assert all("; Secure; SameSite=Lax" in c for c in cookies)
    plain = await login(client, "s@example.com", "secret-1")
    assert not any("Secure" in c for c in plain.headers.getlist("Set-Cookie"))


async def test_login_secure_behind_trusted_proxy(client: Any, make_user: MakeUser) -> None:
    await make_user("p@example.com", password="secret-1")
    proxied = {"headers": {"X-Forwarded-Proto": "https"}}
    loopback = await login(
        client, "p@example.com", "secret-1", **proxied, scope_base={"client": ("127.0.0.1", 5000)}
    )
    assert all("; Secure;" in c for c in loopback.headers.getlist("Set-Cookie"))
    # an untrusted peer cannot claim HTTPS
    remote = await login(
        client, "p@example.com", "secret-1", **proxied, scope_base={"client": ("203.0.113.9", 5000)}
    )
    assert not any("Secure" in c for c in remote.headers.getlist("Set-Cookie"))


async def test_login_records_device_from_user_agent(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("d@example.com", password="secret-1")
    sql("DELETE FROM session")
    response = await login(
        client, "d@example.com", "secret-1", headers={"User-Agent": "immich-android/1.131.3"}
    )
    assert response.status_code == 201
    rows = sql('SELECT "appVersion", "deviceOS", "userId"::text FROM session')
    assert rows == [("1.131.3", "Android", user.id)]


async def test_login_email_is_case_insensitive(client: Any, make_user: MakeUser) -> None:
    await make_user("mixed@example.com", password="secret-1")
    response = await login(client, "MIXED@example.com", "secret-1")
    assert response.status_code == 201
    assert (await response.get_json())["userEmail"] == "mixed@example.com"


async def test_login_wrong_password_or_unknown_email(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    await make_user("w@example.com", password="secret-1")
    sessions_before = sql("SELECT count(*) FROM session")
    for email, password in (("w@example.com", "wrong"), ("nobody@example.com", "secret-1")):
        response = await login(client, email, password)
        assert response.status_code == 401
        assert await response.get_json() == {"message": "Incorrect email or password"}
        assert response.headers.getlist("Set-Cookie") == []
    assert sql("SELECT count(*) FROM session") == sessions_before


async def test_login_of_deleted_user_is_refused(client: Any, make_user: MakeUser, sql: Sql) -> None:
    await make_user("gone@example.com", password="secret-1")
    sql("""UPDATE "user" SET "deletedAt" = now()""")
    response = await login(client, "gone@example.com", "secret-1")
    assert response.status_code == 401
    assert await response.get_json() == {"message": "Incorrect email or password"}


async def test_login_validation(client: Any) -> None:
    response = await client.post("/api/auth/login", json={"email": "not-an-email", "password": "x"})
    assert response.status_code == 400
    body = await response.get_json()
    assert body["message"] == "Validation failed"
    assert body["errors"][0]["path"] == ["email"]


async def test_password_login_disabled(client: Any, make_user: MakeUser, sql: Sql) -> None:
    await make_user("x@example.com", password="secret-1")
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)",
        (json.dumps({"passwordLogin": {"enabled": False}}),),
    )
    response = await login(client, "x@example.com", "secret-1")
    assert response.status_code == 401
    assert await response.get_json() == {"message": "Password login has been disabled"}


async def test_login_reports_onboarding(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("o@example.com", password="secret-1")
    sql(
        """INSERT INTO user_metadata ("userId", key, value) VALUES (%s, 'onboarding', '{"isOnboarded": true}')""",
        (user.id,),
    )
    body = await (await login(client, "o@example.com", "secret-1")).get_json()
    assert body["isOnboarded"] is True
    assert body["shouldChangePassword"] is False


async def test_second_admin_sign_up_is_refused(client: Any, sql: Sql) -> None:
    assert (await sign_up(client)).status_code == 201
    response = await sign_up(client, email="other@example.com")
    assert response.status_code == 400
    assert await response.get_json() == {"message": "The server already has an admin"}
    assert sql('SELECT count(*) FROM "user"') == [(1,)]


async def test_admin_sign_up_disabled(client: Any, runtime: Runtime, sql: Sql) -> None:
    runtime.settings = attrs.evolve(runtime.settings, allow_setup=False)
    response = await sign_up(client)
    assert response.status_code == 400
    assert await response.get_json() == {"message": "Admin setup is disabled"}
    assert sql('SELECT count(*) FROM "user"') == [(0,)]


async def test_admin_sign_up_with_taken_email(client: Any, make_user: MakeUser) -> None:
    await make_user("taken@example.com")
    response = await sign_up(client, email="taken@example.com")
    assert response.status_code == 400
    assert await response.get_json() == {"message": "Email is not available"}


# --- logout and credential transports -------------------------------------------------------------


async def test_logout_deletes_session_and_clears_cookies(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    await make_user("l@example.com", password="secret-1")
    token = (await (await login(client, "l@example.com", "secret-1")).get_json())["accessToken"]
    assert sql("SELECT count(*) FROM session") == [(2,)]

    response = await client.post("/api/auth/logout", headers=bearer(token))
    assert response.status_code == 200
    assert await response.get_json() == {
        "successful": True,
        "redirectUri": "/auth/login?autoLaunch=0",
    }
    assert response.headers.getlist("Set-Cookie") == CLEARED
    assert sql("SELECT count(*) FROM session WHERE token = %s", (crypto.hash_token(token),)) == [
        (0,)
    ]
    assert sql("SELECT count(*) FROM session") == [(1,)]  # the other session stays

    again = await status(client, bearer(token))
    assert again.status_code == 401
    assert await again.get_json() == {"message": "Invalid user token"}


async def test_logout_notifies_the_session_socket(
    client: Any, make_user: MakeUser, runtime: Runtime, sql: Sql, relay: EventRelay
) -> None:
    user = await make_user("h@example.com")
    session_id = sql("SELECT id::text FROM session")[0][0]
    socket = runtime.hub.attach(user_id=user.id, session_id=session_id)
    other = runtime.hub.attach(user_id=user.id, session_id=None)
    # Each attach greets the whole user room, as Immich does.
    assert "on_server_version" in await socket.receive()
    assert "on_server_version" in await socket.receive()
    assert (await client.post("/api/auth/logout", headers=user.headers)).status_code == 200
    with trio.fail_after(5):
        frame = await socket.receive()
    assert frame == f'42["on_session_delete","{session_id}"]'
    with trio.fail_after(5):
        await socket.wait_ended()
    assert other.active  # the user's other sockets (no session) stay connected


async def test_logout_with_api_key_deletes_nothing(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("k@example.com")
    created = await client.post(
        "/api/api-keys", headers=user.headers, json={"permissions": ["all"]}
    )
    secret = (await created.get_json())["secret"]
    response = await client.post("/api/auth/logout", headers={"x-api-key": secret})
    assert response.status_code == 200
    assert await response.get_json() == {
        "successful": True,
        "redirectUri": "/auth/login?autoLaunch=0",
    }
    assert response.headers.getlist("Set-Cookie") == CLEARED
    assert sql("SELECT count(*) FROM session") == [(1,)]
    assert (await status(client, user.headers)).status_code == 200


async def test_session_token_transports(client: Any, make_user: MakeUser) -> None:
    user = await make_user("t@example.com")
    for kwargs in (
        {"headers": {"Cookie": f"immich_access_token={user.token}"}},
        {"headers": {"x-immich-user-token": user.token}},
        {"headers": {"x-immich-session-token": user.token}},
        {"headers": {"Authorization": f"bearer {user.token}"}},
        {"query_string": {"sessionKey": user.token}},
    ):
        response = await client.get("/api/auth/status", **kwargs)
        assert response.status_code == 200, kwargs
        assert (await response.get_json())["password"] is True

    missing = await client.get("/api/auth/status")
    assert missing.status_code == 401
    assert await missing.get_json() == {"message": "Authentication required"}
    for kwargs in (
        {"headers": {"Cookie": "immich_access_token=nope"}},
        {"headers": {"x-immich-user-token": "nope"}},
        {"query_string": {"sessionKey": "nope"}},
    ):
        response = await client.get("/api/auth/status", **kwargs)
        assert response.status_code == 401
        assert await response.get_json() == {"message": "Invalid user token"}


async def test_login_cookie_authenticates_the_browser(client: Any, make_user: MakeUser) -> None:
    await make_user("b@example.com", password="secret-1")
    response = await client.post(
        "/api/auth/login", json={"email": "b@example.com", "password": "secret-1"}
    )
    assert response.status_code == 201
    # The client now holds the cookies from the login response, as a browser would.
    probe = await client.get("/api/auth/status")
    assert probe.status_code == 200
    logout = await client.post("/api/auth/logout")
    assert logout.status_code == 200
    after = await client.get("/api/auth/status")
    assert after.status_code == 401
    assert await after.get_json() == {"message": "Authentication required"}


async def test_expired_session_is_invalid(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("e@example.com")
    sql("""UPDATE session SET "expiresAt" = now() - interval '1 minute'""")
    response = await status(client, user.headers)
    assert response.status_code == 401
    assert await response.get_json() == {"message": "Invalid user token"}


async def test_validate_token(client: Any, make_user: MakeUser) -> None:
    user = await make_user("v@example.com")
    response = await client.post("/api/auth/validateToken", headers=user.headers)
    assert response.status_code == 200
    assert await response.get_json() == {"authStatus": True}
    bad = await client.post("/api/auth/validateToken", headers=bearer("nope"))
    assert bad.status_code == 401


# --- password ---------------------------------------------------------------------------------------


async def test_change_password(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("cp@example.com", password="old-password")
    other = (await (await login(client, "cp@example.com", "old-password")).get_json())[
        "accessToken"
    ]

    wrong = await client.post(
        "/api/auth/change-password",
        headers=user.headers,
        json={"password": "not-it", "newPassword": "new-password"},
    )
    assert wrong.status_code == 400
    assert await wrong.get_json() == {"message": "Wrong password"}

    short = await client.post(
        "/api/auth/change-password",
        headers=user.headers,
        json={"password": "old-password", "newPassword": "short"},
    )
    assert short.status_code == 400
    assert (await short.get_json())["message"] == "Validation failed"

    response = await client.post(
        "/api/auth/change-password",
        headers=user.headers,
        json={"password": "old-password", "newPassword": "new-password"},
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert set(body) == USER_ADMIN_KEYS
    assert body["id"] == user.id
    assert body["email"] == "cp@example.com"
    # without invalidateSessions the other session lives on
    assert (await status(client, bearer(other))).status_code == 200

    assert (await login(client, "cp@example.com", "old-password")).status_code == 401
    assert (await login(client, "cp@example.com", "new-password")).status_code == 201


async def test_change_password_invalidates_other_sessions(
    client: Any, make_user: MakeUser, sql: Sql
) -> None:
    user = await make_user("inv@example.com", password="old-password")
    other = (await (await login(client, "inv@example.com", "old-password")).get_json())[
        "accessToken"
    ]
    stranger = await make_user("stranger@example.com")
    response = await client.post(
        "/api/auth/change-password",
        headers=user.headers,
        json={
            "password": "old-password",
            "newPassword": "new-password",
            "invalidateSessions": True,
        },
    )
    assert response.status_code == 200
    assert (await status(client, user.headers)).status_code == 200
    gone = await status(client, bearer(other))
    assert gone.status_code == 401
    assert await gone.get_json() == {"message": "Invalid user token"}
    assert (await status(client, stranger.headers)).status_code == 200


# --- PIN code and elevation -------------------------------------------------------------------------


async def test_pin_code_lifecycle(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("pin@example.com", password="account-pw")
    h = user.headers

    no_pin = await client.post("/api/auth/session/unlock", headers=h, json={"pinCode": "123456"})
    assert no_pin.status_code == 400
    assert await no_pin.get_json() == {"message": "User does not have a PIN code"}

    bad_format = await client.post("/api/auth/pin-code", headers=h, json={"pinCode": "12345"})
    assert bad_format.status_code == 400
    assert (await bad_format.get_json())["message"] == "Validation failed"

    setup = await client.post("/api/auth/pin-code", headers=h, json={"pinCode": "123456"})
    assert setup.status_code == 204
    assert await setup.get_data() == b""
    stored = sql('SELECT "pinCode" FROM "user" WHERE id = %s', (user.id,))[0][0]
    assert stored != "123456" and crypto.check_password("123456", stored)

    twice = await client.post("/api/auth/pin-code", headers=h, json={"pinCode": "654321"})
    assert twice.status_code == 400
    assert await twice.get_json() == {"message": "User already has a PIN code"}
    assert (await (await status(client, h)).get_json())["pinCode"] is True

    wrong = await client.post("/api/auth/session/unlock", headers=h, json={"pinCode": "000000"})
    assert wrong.status_code == 400
    assert await wrong.get_json() == {"message": "Wrong PIN code"}
    neither = await client.post("/api/auth/session/unlock", headers=h, json={})
    assert neither.status_code == 400
    assert await neither.get_json() == {"message": "Either password or pinCode is required"}

    unlock = await client.post("/api/auth/session/unlock", headers=h, json={"pinCode": "123456"})
    assert unlock.status_code == 204
    elevated = await (await status(client, h)).get_json()
    assert elevated["isElevated"] is True
    until = datetime.fromisoformat(elevated["pinExpiresAt"].replace("Z", "+00:00"))
    assert abs(until - (datetime.now(UTC) + timedelta(minutes=15))) < timedelta(seconds=30)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", elevated["pinExpiresAt"])
    assert "expiresAt" not in elevated

    lock = await client.post("/api/auth/session/lock", headers=h)
    assert lock.status_code == 204
    locked = await (await status(client, h)).get_json()
    assert locked == {"pinCode": True, "password": True, "isElevated": False}

    # unlocking with the account password works too
    by_password = await client.post(
        "/api/auth/session/unlock", headers=h, json={"password": "account-pw"}
    )
    assert by_password.status_code == 204
    wrong_pw = await client.post("/api/auth/session/unlock", headers=h, json={"password": "nope"})
    assert wrong_pw.status_code == 400
    assert await wrong_pw.get_json() == {"message": "Wrong password"}


async def test_change_and_reset_pin_code(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("pin2@example.com", password="account-pw")
    h = user.headers
    assert (
        await client.post("/api/auth/pin-code", headers=h, json={"pinCode": "111111"})
    ).status_code == 204

    wrong = await client.put(
        "/api/auth/pin-code", headers=h, json={"pinCode": "999999", "newPinCode": "222222"}
    )
    assert wrong.status_code == 400
    assert await wrong.get_json() == {"message": "Wrong PIN code"}
    changed = await client.put(
        "/api/auth/pin-code", headers=h, json={"pinCode": "111111", "newPinCode": "222222"}
    )
    assert changed.status_code == 204
    old = await client.post("/api/auth/session/unlock", headers=h, json={"pinCode": "111111"})
    assert old.status_code == 400
    assert (
        await client.post("/api/auth/session/unlock", headers=h, json={"pinCode": "222222"})
    ).status_code == 204
    by_password = await client.put(
        "/api/auth/pin-code", headers=h, json={"password": "account-pw", "newPinCode": "333333"}
    )
    assert by_password.status_code == 204

    # reset locks every session of the user and removes the PIN code
    bad = await client.delete("/api/auth/pin-code", headers=h, json={"password": "nope"})
    assert bad.status_code == 400
    assert await bad.get_json() == {"message": "Wrong password"}
    reset = await client.delete("/api/auth/pin-code", headers=h, json={"pinCode": "333333"})
    assert reset.status_code == 204
    assert await (await status(client, h)).get_json() == {
        "pinCode": False,
        "password": True,
        "isElevated": False,
    }
    assert sql('SELECT count(*) FROM session WHERE "pinExpiresAt" IS NOT NULL') == [(0,)]


async def test_unlock_and_lock_need_a_session_token(client: Any, make_user: MakeUser) -> None:
    user = await make_user("ak@example.com")
    created = await client.post(
        "/api/api-keys", headers=user.headers, json={"permissions": ["all"]}
    )
    key = {"x-api-key": (await created.get_json())["secret"]}
    assert (
        await client.post("/api/auth/pin-code", headers=key, json={"pinCode": "123456"})
    ).status_code == 204
    for path, body in (
        ("/api/auth/session/unlock", {"pinCode": "123456"}),
        ("/api/auth/session/lock", None),
    ):
        response = await client.post(path, headers=key, json=body)
        assert response.status_code == 400
        assert await response.get_json() == {
            "message": "This endpoint can only be used with a session token"
        }
    # with an API key the status has no session part
    assert await (await status(client, key)).get_json() == {
        "pinCode": True,
        "password": True,
        "isElevated": False,
    }


async def test_elevation_in_use_is_kept_alive(client: Any, make_user: MakeUser, sql: Sql) -> None:
    user = await make_user("alive@example.com")
    sql("""UPDATE session SET "pinExpiresAt" = now() + interval '2 minutes'""")
    body = await (await status(client, user.headers)).get_json()
    assert body["isElevated"] is True
    until = datetime.fromisoformat(body["pinExpiresAt"].replace("Z", "+00:00"))
    assert abs(until - (datetime.now(UTC) + timedelta(minutes=5))) < timedelta(seconds=30)

    # more than 5 minutes left: untouched
    far = datetime.now(UTC) + timedelta(minutes=12)
    sql("""UPDATE session SET "pinExpiresAt" = %s""", (far,))
    body = await (await status(client, user.headers)).get_json()
    assert datetime.fromisoformat(body["pinExpiresAt"].replace("Z", "+00:00")) == far.replace(
        microsecond=far.microsecond // 1000 * 1000
    )

    # expired: not elevated, not revived
    sql("""UPDATE session SET "pinExpiresAt" = now() - interval '1 minute'""")
    body = await (await status(client, user.headers)).get_json()
    assert body["isElevated"] is False
    assert datetime.fromisoformat(body["pinExpiresAt"].replace("Z", "+00:00")) < datetime.now(UTC)


async def test_limited_api_key_needs_all_for_logout(client: Any, make_user: MakeUser) -> None:
    user = await make_user("lim@example.com")
    created = await client.post(
        "/api/api-keys", headers=user.headers, json={"permissions": ["session.read"]}
    )
    key = {"x-api-key": (await created.get_json())["secret"]}
    response = await client.post("/api/auth/logout", headers=key)
    assert response.status_code == 403
    assert await response.get_json() == {"message": "Missing required permission: all"}
    # validateToken needs no permission at all
    assert (await client.post("/api/auth/validateToken", headers=key)).status_code == 200
