"""The user-row side of authentication: login look-up, password and PIN hashes, the first admin."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from immich_trio.sql.credential_cache import publish_credentials_changed

# Held for the duration of the admin sign-up transaction so two sign-ups cannot both win.
ADMIN_SIGN_UP_LOCK = 0x696D6D6963680001

LOGIN_USER = """
SELECT u.id, u.email, u.name, u.password, u."isAdmin", u."profileImagePath",
       u."shouldChangePassword",
       COALESCE((m.value ->> 'isOnboarded')::boolean, false) AS "isOnboarded"
FROM "user" u
LEFT JOIN user_metadata m ON m."userId" = u.id AND m.key = 'onboarding'
WHERE u.email = %s AND u."deletedAt" IS NULL
"""

SECRETS_OF_USER = """
SELECT password, "pinCode" FROM "user" WHERE id = %s AND "deletedAt" IS NULL
"""

# Every column of the user plus its licence, as the UserAdminResponseDto builder reads them.
USER_ADMIN = """
SELECT u.*, (SELECT m.value FROM user_metadata m WHERE m."userId" = u.id AND m.key = 'license') AS license
FROM "user" u WHERE u.id = %s
"""

EMAIL_EXISTS = """SELECT EXISTS (SELECT 1 FROM "user" WHERE email = %s) AS found"""

STORAGE_LABEL_EXISTS = """SELECT EXISTS (SELECT 1 FROM "user" WHERE "storageLabel" = %s) AS found"""

LOCK_ADMIN_SIGN_UP = """SELECT pg_advisory_xact_lock(%s)"""

CREATE_ADMIN = """
INSERT INTO "user" (email, name, password, "isAdmin", "storageLabel")
VALUES (%s, %s, %s, true, %s)
RETURNING *, NULL::jsonb AS license
"""

SET_PASSWORD = """UPDATE "user" SET password = %s WHERE id = %s"""

SET_PIN_CODE = """UPDATE "user" SET "pinCode" = %s WHERE id = %s"""


async def login_user(conn: AsyncConnection[Any], email: str) -> dict[str, Any] | None:
    cur = await conn.execute(LOGIN_USER, (email,))
    return await cur.fetchone()


async def secrets_of_user(conn: AsyncConnection[Any], user_id: UUID) -> dict[str, Any] | None:
    """``{"password", "pinCode"}`` hashes (either may be empty/None)."""
    cur = await conn.execute(SECRETS_OF_USER, (user_id,))
    return await cur.fetchone()


async def user_admin(conn: AsyncConnection[Any], user_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(USER_ADMIN, (user_id,))
    return await cur.fetchone()


async def _exists(conn: AsyncConnection[Any], query: str, params: tuple[Any, ...]) -> bool:
    cur = await conn.execute(query, params)
    row: dict[str, Any] | None = await cur.fetchone()
    return bool(row and row["found"])


async def email_exists(conn: AsyncConnection[Any], email: str) -> bool:
    return await _exists(conn, EMAIL_EXISTS, (email,))


async def storage_label_exists(conn: AsyncConnection[Any], label: str) -> bool:
    return await _exists(conn, STORAGE_LABEL_EXISTS, (label,))


async def lock_admin_sign_up(conn: AsyncConnection[Any]) -> None:
    """Serialise admin sign-ups; call inside a transaction (released at its end)."""
    await conn.execute(LOCK_ADMIN_SIGN_UP, (ADMIN_SIGN_UP_LOCK,))


async def create_admin(
    conn: AsyncConnection[Any], *, email: str, name: str, password_hash: str, storage_label: str
) -> dict[str, Any]:
    cur = await conn.execute(CREATE_ADMIN, (email, name, password_hash, storage_label))
    row: dict[str, Any] | None = await cur.fetchone()
    assert row is not None
    return row


async def set_password(conn: AsyncConnection[Any], user_id: UUID, password_hash: str) -> None:
    await conn.execute(SET_PASSWORD, (password_hash, user_id))
    await publish_credentials_changed(conn, user_id)


async def set_pin_code(conn: AsyncConnection[Any], user_id: UUID, pin_hash: str | None) -> None:
    await conn.execute(SET_PIN_CODE, (pin_hash, user_id))
    await publish_credentials_changed(conn, user_id)
