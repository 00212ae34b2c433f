"""People: the caller's list (Immich's ordering and counts), one person, writes, merge and search.

A person "shows" when it has at least one visible, non-deleted face on a live timeline asset,
and either a name or ``minFaces`` such faces (Immich's ``getAllForUser``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]
Row = dict[str, Any]

PERSON_COLUMNS = (
    'p.id, p.name, p."birthDate", p."thumbnailPath", p."isHidden", p."isFavorite", p.color,'
    ' p."updatedAt", p."ownerId", p."faceAssetId", p."createdAt"'
)

_LIVE_FACES = """
JOIN asset_face f ON f."personId" = p.id AND f."deletedAt" IS NULL AND f."isVisible" IS TRUE
JOIN asset a ON a.id = f."assetId" AND a.visibility = 'timeline' AND a."deletedAt" IS NULL
"""

_LIST = f"""
SELECT {PERSON_COLUMNS} FROM person p
{_LIVE_FACES}
WHERE p."ownerId" = %(user)s AND (%(with_hidden)s OR NOT p."isHidden")
GROUP BY p.id
HAVING p.name <> '' OR count(f."assetId") >= %(min_faces)s
ORDER BY p."isHidden", p."isFavorite" DESC, {{order}}
OFFSET %(skip)s LIMIT %(take)s
"""
_BY_NAME_AND_COUNT = (
    "NULLIF(p.name, '') IS NULL, count(f.\"assetId\") DESC, NULLIF(p.name, '') ASC NULLS LAST, p.\"createdAt\""
)
_BY_DISTANCE = """
(SELECT s.embedding FROM face_search s WHERE s."faceId" = p."faceAssetId")
  <=> (SELECT s.embedding FROM face_search s WHERE s."faceId" = %(closest)s)
"""

_COUNTS = """
SELECT count(DISTINCT p.id) AS total, count(DISTINCT p.id) FILTER (WHERE p."isHidden") AS hidden
FROM person p
WHERE p."ownerId" = %(user)s AND EXISTS (
  SELECT 1 FROM asset_face f
  JOIN asset a ON a.id = f."assetId" AND a.visibility = 'timeline' AND a."deletedAt" IS NULL
  WHERE f."personId" = p.id AND f."deletedAt" IS NULL AND f."isVisible" IS TRUE)
"""


async def has_vectors(conn: Conn) -> bool:
    cur = await conn.execute("SELECT to_regclass('face_search') IS NOT NULL AS ok")
    row = await cur.fetchone()
    return bool(row and row["ok"])


async def list_for_user(
    conn: Conn, user_id: UUID, *, with_hidden: bool, min_faces: int, skip: int, take: int,
    closest_face_id: UUID | None,
) -> tuple[list[Row], bool]:
    """One page of the caller's people, and whether another page follows."""
    order = _BY_NAME_AND_COUNT
    if closest_face_id is not None and await has_vectors(conn):
        order = f"{_BY_DISTANCE}, {_BY_NAME_AND_COUNT}"
    params = {
        "user": user_id, "with_hidden": with_hidden, "min_faces": max(min_faces, 1),
        "skip": skip, "take": take + 1, "closest": closest_face_id,
    }
    cur = await conn.execute(_LIST.format(order=order), params)
    rows = await cur.fetchall()
    return rows[:take], len(rows) > take


async def counts(conn: Conn, user_id: UUID) -> tuple[int, int]:
    cur = await conn.execute(_COUNTS, {"user": user_id})
    row = await cur.fetchone()
    assert row is not None
    return int(row["total"]), int(row["hidden"])


async def get(conn: Conn, person_id: UUID) -> Row | None:
    cur = await conn.execute(f"SELECT {PERSON_COLUMNS} FROM person p WHERE p.id = %s", (person_id,))
    return await cur.fetchone()


async def get_many(conn: Conn, ids: Sequence[UUID]) -> list[Row]:
    cur = await conn.execute(f"SELECT {PERSON_COLUMNS} FROM person p WHERE p.id = ANY(%s)", (list(ids),))
    return await cur.fetchall()


async def create(conn: Conn, owner_id: UUID, values: Mapping[str, Any]) -> Row:
    """A new person of ``owner_id``; ``values`` holds the given columns (name, birthDate...)."""
    columns = ['"ownerId"', *(f'"{k}"' for k in values)]
    marks = ["%s"] * len(columns)
    cur = await conn.execute(
        f"INSERT INTO person AS p ({', '.join(columns)}) VALUES ({', '.join(marks)})"
        f" RETURNING {PERSON_COLUMNS}",
        (owner_id, *values.values()),
    )
    row: Row | None = await cur.fetchone()
    assert row is not None
    return row


UPDATABLE = frozenset({"name", "birthDate", "isHidden", "isFavorite", "color", "faceAssetId", "thumbnailPath"})


async def update(conn: Conn, person_id: UUID, values: Mapping[str, Any]) -> Row | None:
    """Set the given columns (names in ``UPDATABLE``); the row as it is after."""
    unknown = set(values) - UPDATABLE
    if unknown:
        raise ValueError(f"not a person column: {sorted(unknown)}")
    if not values:
        return await get(conn, person_id)
    sets = ", ".join(f'"{k}" = %s' for k in values)
    cur = await conn.execute(
        f"UPDATE person AS p SET {sets} WHERE p.id = %s RETURNING {PERSON_COLUMNS}",
        (*values.values(), person_id),
    )
    return await cur.fetchone()


async def delete(conn: Conn, ids: Iterable[UUID]) -> list[Row]:
    """Delete people; their rows (for the thumbnails to unlink). Faces keep living, unassigned."""
    cur = await conn.execute(
        f"DELETE FROM person p WHERE p.id = ANY(%s) RETURNING {PERSON_COLUMNS}", (list(ids),)
    )
    return await cur.fetchall()


async def statistics(conn: Conn, person_id: UUID) -> int:
    cur = await conn.execute(
        """
        SELECT count(DISTINCT a.id) AS n FROM asset_face f
        JOIN asset a ON a.id = f."assetId" AND a.visibility = 'timeline' AND a."deletedAt" IS NULL
        WHERE f."personId" = %s AND f."deletedAt" IS NULL AND f."isVisible" IS TRUE
        """,
        (person_id,),
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def search_by_name(conn: Conn, user_id: UUID, name: str, *, with_hidden: bool) -> list[Row]:
    """Immich's ``getByName``: trigram word similarity or prefix, nearest names first, at most 1000."""
    cur = await conn.execute(
        f"""
        SELECT {PERSON_COLUMNS} FROM person p
        WHERE p."ownerId" = %(user)s
          AND (f_unaccent(p.name) %%>> f_unaccent(%(name)s)
               OR f_unaccent(p.name) ILIKE f_unaccent(%(prefix)s))
          AND (%(with_hidden)s OR NOT p."isHidden")
        ORDER BY f_unaccent(p.name) <->>> f_unaccent(%(name)s)
        LIMIT 1000
        """,
        {"user": user_id, "name": name, "prefix": _like_prefix(name), "with_hidden": with_hidden},
    )
    return await cur.fetchall()


def _like_prefix(text: str) -> str:
    return text + "%"


async def reassign_all_faces(conn: Conn, old_person: UUID, new_person: UUID) -> int:
    cur = await conn.execute(
        'UPDATE asset_face SET "personId" = %s WHERE "personId" = %s', (new_person, old_person)
    )
    return cur.rowcount


async def set_random_feature_face(conn: Conn, person_id: UUID) -> bool:
    """Point the person at one of its live faces (Immich's ``getRandomFace``); False if none."""
    cur = await conn.execute(
        """
        UPDATE person SET "faceAssetId" = (
          SELECT f.id FROM asset_face f WHERE f."personId" = %(id)s AND f."deletedAt" IS NULL LIMIT 1)
        WHERE id = %(id)s AND EXISTS (
          SELECT 1 FROM asset_face f WHERE f."personId" = %(id)s AND f."deletedAt" IS NULL)
        """,
        {"id": person_id},
    )
    return cur.rowcount > 0


async def asset_people(conn: Conn, asset_id: UUID) -> list[Row]:
    """The distinct people of an asset's visible, non-deleted faces (``people`` of an asset).

    ``updatedAt`` is PostgreSQL's JSON text of the date, as Immich's aggregated rows carry it."""
    cur = await conn.execute(
        f"""
        SELECT DISTINCT ON (p.id) {PERSON_COLUMNS},
               to_json(p."updatedAt") #>> '{{}}' AS "updatedAt"
        FROM asset_face f
        JOIN person p ON p.id = f."personId"
        WHERE f."assetId" = %s AND f."deletedAt" IS NULL AND f."isVisible" IS TRUE
        ORDER BY p.id
        """,
        (asset_id,),
    )
    return await cur.fetchall()

