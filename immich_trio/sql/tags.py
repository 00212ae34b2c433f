"""Tags: a user's hierarchical labels (``tag``), their closure (``tag_closure``: every tag is
its own ancestor, and the ancestor of everything below it) and the assets they label
(``tag_asset``).

A tag's ``value`` is its whole path (``Travel/Italy``); its parent is the tag whose value is
the path without its last part. Every write here keeps the closure right, so that "this tag
and everything below it" is one join. Whatever the number of ids, each step is one statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]

COLUMNS = 'id, "parentId", value, "createdAt", "updatedAt", color'

LIST = f"""SELECT {COLUMNS} FROM tag WHERE "userId" = %s ORDER BY value"""

GET = f"""SELECT {COLUMNS} FROM tag WHERE id = %s"""

VALUE_TAKEN = """SELECT EXISTS (SELECT 1 FROM tag WHERE "userId" = %s AND value = %s) AS taken"""

# The new tag, its own closure row, and a row for each ancestor of its parent.
CREATE = f"""
WITH t AS (
    INSERT INTO tag ("userId", value, color, "parentId") VALUES (%(user)s, %(value)s, %(color)s, %(parent)s)
    ON CONFLICT ("userId", value) DO NOTHING
    RETURNING {COLUMNS}
), closure AS (
    INSERT INTO tag_closure (id_ancestor, id_descendant)
    SELECT t.id, t.id FROM t
    UNION ALL
    SELECT c.id_ancestor, t.id FROM t JOIN tag_closure c ON c.id_descendant = t."parentId"
    ON CONFLICT DO NOTHING
)
SELECT * FROM t
"""

SET_COLOR = f"""UPDATE tag SET color = %s WHERE id = %s RETURNING {COLUMNS}"""

# Children go with their parent (tag."parentId" cascades), and so do closure and asset rows.
DELETE = """DELETE FROM tag WHERE id = %s"""

# Every path value, root first: missing ones are created, and each gets its parent by value
# (Immich's upsert sets ``parentId`` again on a conflict, which also moves ``updatedAt``).
UPSERT_VALUES = """
INSERT INTO tag ("userId", value)
SELECT %(user)s, v FROM unnest(%(values)s::text[]) AS v
ON CONFLICT ("userId", value) DO NOTHING
"""

SET_PARENTS = """
UPDATE tag t SET "parentId" = p.id
FROM unnest(%(values)s::text[], %(parents)s::text[]) AS v(value, parent)
LEFT JOIN tag p ON p."userId" = %(user)s AND p.value = v.parent
WHERE t."userId" = %(user)s AND t.value = v.value
"""

# (ancestor value, descendant value) pairs: each path with every prefix of it, itself included.
CLOSE_VALUES = """
INSERT INTO tag_closure (id_ancestor, id_descendant)
SELECT a.id, d.id
FROM unnest(%(ancestors)s::text[], %(descendants)s::text[]) AS v(ancestor, descendant)
JOIN tag a ON a."userId" = %(user)s AND a.value = v.ancestor
JOIN tag d ON d."userId" = %(user)s AND d.value = v.descendant
ON CONFLICT DO NOTHING
"""

BY_VALUES = f"""SELECT {COLUMNS} FROM tag WHERE "userId" = %s AND value = ANY(%s::text[])"""

PRESENT_ASSETS = """
SELECT "assetId" FROM tag_asset WHERE "tagId" = %s AND "assetId" = ANY(%s::uuid[])
"""

ADD_ASSETS = """
INSERT INTO tag_asset ("tagId", "assetId") SELECT %s, unnest(%s::uuid[]) ON CONFLICT DO NOTHING
"""

REMOVE_ASSETS = """DELETE FROM tag_asset WHERE "tagId" = %s AND "assetId" = ANY(%s::uuid[])"""

# Every tag with every asset; the pairs that were not there yet come back.
ADD_PAIRS = """
INSERT INTO tag_asset ("tagId", "assetId")
SELECT t, a FROM unnest(%s::uuid[]) AS t CROSS JOIN unnest(%s::uuid[]) AS a
ON CONFLICT DO NOTHING
RETURNING "assetId"
"""

REPLACE_ASSET_TAGS = """
WITH gone AS (DELETE FROM tag_asset WHERE "assetId" = %(asset)s AND NOT ("tagId" = ANY(%(tags)s::uuid[])))
INSERT INTO tag_asset ("tagId", "assetId") SELECT unnest(%(tags)s::uuid[]), %(asset)s
ON CONFLICT DO NOTHING
"""

EXIF_TAGS = """SELECT tags FROM asset_exif WHERE "assetId" = %s"""

# Immich's updateTags: ``asset_exif.tags`` mirrors the asset's tag values, and ``tags`` joins the
# asset's locked properties so that a metadata refresh does not overwrite it.
MIRROR_EXIF_TAGS = """
INSERT INTO asset_exif ("assetId", tags, "lockedProperties")
SELECT x.id,
       coalesce((SELECT array_agg(t.value ORDER BY t.value) FROM tag_asset ta
                 JOIN tag t ON t.id = ta."tagId" WHERE ta."assetId" = x.id), '{}'),
       ARRAY['tags']::varchar[]
FROM unnest(%s::uuid[]) AS x(id)
ON CONFLICT ("assetId") DO UPDATE SET
    tags = excluded.tags,
    "lockedProperties" = CASE
        WHEN 'tags' = ANY(coalesce(asset_exif."lockedProperties", '{}')) THEN asset_exif."lockedProperties"
        ELSE coalesce(asset_exif."lockedProperties", '{}') || ARRAY['tags']::varchar[]
    END
"""

# Immich's TagCleanup: a tag goes when neither it nor any tag below it labels an asset.
DELETE_EMPTY = """
DELETE FROM tag t
WHERE NOT EXISTS (SELECT 1 FROM tag_closure c JOIN tag_asset ta ON ta."tagId" = c.id_descendant
                  WHERE c.id_ancestor = t.id)
"""


async def list_tags(conn: Conn, user_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(LIST, (user_id,))
    return await cur.fetchall()


async def get_tag(conn: Conn, tag_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(GET, (tag_id,))
    return await cur.fetchone()


async def value_taken(conn: Conn, user_id: UUID, value: str) -> bool:
    cur = await conn.execute(VALUE_TAKEN, (user_id, value))
    row = await cur.fetchone()
    assert row is not None
    return bool(row["taken"])


async def create_tag(
    conn: Conn, user_id: UUID, value: str, *, color: str | None, parent_id: UUID | None
) -> dict[str, Any] | None:
    """The new tag, or None when the user has one with this value already."""
    params = {"user": user_id, "value": value, "color": color, "parent": parent_id}
    cur = await conn.execute(CREATE, params)
    return await cur.fetchone()


async def set_color(conn: Conn, tag_id: UUID, color: str | None) -> dict[str, Any] | None:
    cur = await conn.execute(SET_COLOR, (color, tag_id))
    return await cur.fetchone()


async def delete_tag(conn: Conn, tag_id: UUID) -> None:
    await conn.execute(DELETE, (tag_id,))


def path_values(raw: str) -> list[str]:
    """The values of a path and of each of its parents, root first; empty parts are dropped
    (``/a//b/`` is ``a``, ``a/b``), as Immich's upsertTags drops them."""
    parts = [part for part in raw.split("/") if part]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


async def upsert_paths(conn: Conn, user_id: UUID, raws: Sequence[str]) -> list[dict[str, Any]]:
    """Immich's upsertTags: each distinct path (in order) is created with its parents as needed;
    the answer is the leaf tag of each path that has one. The caller holds the transaction."""
    wanted = list(dict.fromkeys(raws))
    leaves = [chain[-1] for raw in wanted if (chain := path_values(raw))]
    if not leaves:
        return []
    values: dict[str, str | None] = {}
    ancestors: list[str] = []
    descendants: list[str] = []
    for raw in wanted:
        chain = path_values(raw)
        for depth, value in enumerate(chain):
            if value in values:
                continue
            values[value] = chain[depth - 1] if depth else None
            ancestors.extend(chain[: depth + 1])
            descendants.extend([value] * (depth + 1))
    names = list(values)
    params = {"user": user_id, "values": names, "parents": [values[v] for v in names]}
    await conn.execute(UPSERT_VALUES, params)
    await conn.execute(SET_PARENTS, params)
    closure = {"user": user_id, "ancestors": ancestors, "descendants": descendants}
    await conn.execute(CLOSE_VALUES, closure)
    cur = await conn.execute(BY_VALUES, (user_id, leaves))
    by_value = {row["value"]: row for row in await cur.fetchall()}
    return [by_value[leaf] for leaf in leaves]


async def present_assets(conn: Conn, tag_id: UUID, asset_ids: Iterable[UUID]) -> set[UUID]:
    cur = await conn.execute(PRESENT_ASSETS, (tag_id, list(asset_ids)))
    return {row["assetId"] for row in await cur.fetchall()}


async def add_assets(conn: Conn, tag_id: UUID, asset_ids: Sequence[UUID]) -> None:
    await conn.execute(ADD_ASSETS, (tag_id, list(asset_ids)))


async def remove_assets(conn: Conn, tag_id: UUID, asset_ids: Sequence[UUID]) -> None:
    await conn.execute(REMOVE_ASSETS, (tag_id, list(asset_ids)))


async def add_pairs(conn: Conn, tag_ids: Sequence[UUID], asset_ids: Sequence[UUID]) -> list[UUID]:
    """The asset of every (tag, asset) pair that was added (one per new pair)."""
    cur = await conn.execute(ADD_PAIRS, (list(tag_ids), list(asset_ids)))
    return [row["assetId"] for row in await cur.fetchall()]


async def replace_asset_tags(conn: Conn, asset_id: UUID | str, tag_ids: Sequence[UUID]) -> None:
    """The asset is labelled by exactly these tags (metadata extraction's keywords)."""
    await conn.execute(REPLACE_ASSET_TAGS, {"asset": asset_id, "tags": list(tag_ids)})


async def apply_exif_tags(conn: Conn, asset_id: UUID | str, owner_id: UUID | str) -> None:
    """Metadata extraction: the asset is labelled by exactly the tags its ``asset_exif.tags`` lists
    (as stored, so a locked list set through the API wins over the file), created as needed."""
    cur = await conn.execute(EXIF_TAGS, (asset_id,))
    row = await cur.fetchone()
    paths = list(row["tags"] or []) if row is not None else []
    tags = await upsert_paths(conn, UUID(str(owner_id)), paths)
    await replace_asset_tags(conn, asset_id, [tag["id"] for tag in tags])


async def mirror_exif_tags(conn: Conn, asset_ids: Iterable[UUID]) -> None:
    await conn.execute(MIRROR_EXIF_TAGS, (list(asset_ids),))


async def delete_empty_tags(conn: Conn) -> int:
    """Delete every tag with no asset on it or below it (one statement); the number deleted."""
    cur = await conn.execute(DELETE_EMPTY)
    return cur.rowcount
