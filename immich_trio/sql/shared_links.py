"""Shared links: the owner's links with their assets and album, and their writes.

Immich loads a link three ways and the answers differ (``shared-link.repository.ts``):
- ``full`` (get by id, ``/shared-links/me``, login): live link assets with their exif, and the
  album with the figures of its live assets;
- ``listed`` (the list): live link assets without exif, the album without figures;
- ``written`` (create, update): every link asset that has an exif row, no album.
Asset and album dates come from JSON Immich aggregated in PostgreSQL, so they are returned as
PostgreSQL's JSON text (``<column>.json``) beside the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg import AsyncConnection, errors

from immich_trio.sql.assets.info import EXIF_JSON

Conn = AsyncConnection[Any]
Shape = Literal["full", "listed", "written"]

SLUG_CONSTRAINT = "shared_link_slug_uq"
ASSET_DATES = ("createdAt", "fileCreatedAt", "fileModifiedAt", "localDateTime", "updatedAt")


class SlugTaken(Exception):
    """Another link already uses this slug."""




_DATES = ", ".join(f"""to_json(a."{c}") #>> '{{}}' AS "{c}.json\"""" for c in ASSET_DATES)

_ASSETS = {
    "full": f"""
SELECT sla."sharedLinkId" AS "linkId", a.*, {_DATES}, {EXIF_JSON} AS "exifInfo"
FROM shared_link_asset sla JOIN asset a ON a.id = sla."assetId"
WHERE sla."sharedLinkId" = ANY(%s::uuid[]) AND a."deletedAt" IS NULL AND EXISTS
      (SELECT FROM asset_exif e WHERE e."assetId" = a.id)
ORDER BY a."fileCreatedAt", a.id""",
    "listed": f"""
SELECT sla."sharedLinkId" AS "linkId", a.*, {_DATES}, NULL::json AS "exifInfo"
FROM shared_link_asset sla JOIN asset a ON a.id = sla."assetId"
WHERE sla."sharedLinkId" = ANY(%s::uuid[]) AND a."deletedAt" IS NULL
ORDER BY a."fileCreatedAt", a.id""",
    "written": f"""
SELECT sla."sharedLinkId" AS "linkId", a.*, {_DATES}, NULL::json AS "exifInfo"
FROM shared_link_asset sla JOIN asset a ON a.id = sla."assetId"
WHERE sla."sharedLinkId" = ANY(%s::uuid[]) AND EXISTS
      (SELECT FROM asset_exif e WHERE e."assetId" = a.id)
ORDER BY a."fileCreatedAt", a.id""",
}

_ALBUM_FIGURES = """
    (SELECT json_build_object('count', count(*),
        'first', to_json((array_agg(x."localDateTime" ORDER BY x."fileCreatedAt" ASC))[1]) #>> '{}',
        'last', to_json((array_agg(x."localDateTime" ORDER BY x."fileCreatedAt" DESC))[1]) #>> '{}')
     FROM album_asset aa JOIN asset x ON x.id = aa."assetId" AND x."deletedAt" IS NULL
     WHERE aa."albumId" = al.id)"""

_LINKS = """
SELECT l.id, l.description, l.password, l."userId", l.key, l.type, l."createdAt", l."expiresAt",
       l."allowUpload", l."allowDownload", l."showExif", l.slug, l."albumId",
       CASE WHEN al.id IS NULL THEN NULL ELSE json_build_object(
           'id', al.id, 'albumName', al."albumName", 'description', al.description,
           'albumThumbnailAssetId', al."albumThumbnailAssetId",
           'createdAt', al."createdAt", 'updatedAt', al."updatedAt",
           'isActivityEnabled', al."isActivityEnabled", 'order', al."order",
           'figures', {figures}) END AS album
FROM shared_link l
LEFT JOIN album al ON al.id = l."albumId" AND al."deletedAt" IS NULL
WHERE l."userId" = %(user)s AND (l.type = 'INDIVIDUAL' OR al.id IS NOT NULL)
"""

LIST = _LINKS.format(figures="NULL") + """
  AND (%(album)s::uuid IS NULL OR l."albumId" = %(album)s::uuid)
  AND (%(id)s::uuid IS NULL OR l.id = %(id)s::uuid)
ORDER BY l."createdAt" DESC
"""

GET = _LINKS.format(figures=_ALBUM_FIGURES) + """  AND l.id = %(id)s::uuid
"""

# A written link as create/update answer it: no album.
WRITTEN = """
SELECT l.id, l.description, l.password, l."userId", l.key, l.type, l."createdAt", l."expiresAt",
       l."allowUpload", l."allowDownload", l."showExif", l.slug, l."albumId", NULL::json AS album
FROM shared_link l WHERE l.id = %s
"""

INSERT = """
INSERT INTO shared_link (key, "userId", type, "albumId", description, password, "expiresAt",
                         "allowUpload", "allowDownload", "showExif", slug)
VALUES (%(key)s, %(user)s, %(type)s, %(album)s, %(description)s, %(password)s, %(expires)s,
        %(upload)s, %(download)s, %(show)s, %(slug)s)
RETURNING id
"""

ADD_ASSETS = """
INSERT INTO shared_link_asset ("sharedLinkId", "assetId")
SELECT %s, unnest(%s::uuid[]) ON CONFLICT DO NOTHING
"""

REMOVE_ASSETS = """
DELETE FROM shared_link_asset WHERE "sharedLinkId" = %s AND "assetId" = ANY(%s::uuid[])
"""

LINK_ASSET_IDS = """
SELECT sla."assetId" AS id FROM shared_link_asset sla
JOIN asset a ON a.id = sla."assetId" AND a."deletedAt" IS NULL
WHERE sla."sharedLinkId" = %s
"""

DELETE = 'DELETE FROM shared_link WHERE id = %s'

UPDATABLE = {"description", "password", "expiresAt", "allowUpload", "allowDownload", "showExif", "slug"}


async def _with_assets(conn: Conn, links: list[dict[str, Any]], shape: Shape) -> list[dict[str, Any]]:
    by_id = {link["id"]: link for link in links}
    for link in links:
        link["assets"] = []
    if links:
        cur = await conn.execute(_ASSETS[shape], (list(by_id),))
        for row in await cur.fetchall():
            by_id[row["linkId"]]["assets"].append(row)
    return links


async def list_links(conn: Conn, user_id: UUID, *, album_id: UUID | None, link_id: UUID | None) -> list[dict[str, Any]]:
    cur = await conn.execute(LIST, {"user": user_id, "album": album_id, "id": link_id})
    return await _with_assets(conn, await cur.fetchall(), "listed")


async def get_link(conn: Conn, user_id: UUID, link_id: UUID) -> dict[str, Any] | None:
    """One of ``user_id``'s links, assets and album figures included (Immich's ``get``)."""
    cur = await conn.execute(GET, {"user": user_id, "id": link_id})
    row = await cur.fetchone()
    return None if row is None else (await _with_assets(conn, [row], "full"))[0]


async def written_link(conn: Conn, link_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(WRITTEN, (link_id,))
    row = await cur.fetchone()
    assert row is not None
    return (await _with_assets(conn, [row], "written"))[0]


def _slug_guard(error: errors.UniqueViolation) -> SlugTaken:
    if error.diag.constraint_name == SLUG_CONSTRAINT:
        return SlugTaken()
    raise error


async def create_link(
    conn: Conn, *, key: bytes, user_id: UUID, type: str, album_id: UUID | None, asset_ids: Sequence[UUID],
    description: str | None, password: str | None, expires_at: datetime | None,
    allow_upload: bool, allow_download: bool, show_exif: bool, slug: str | None,
) -> UUID:
    """Insert the link and its assets; ``SlugTaken`` when the slug is in use."""
    params = {
        "key": key, "user": user_id, "type": type, "album": album_id, "description": description,
        "password": password, "expires": expires_at, "upload": allow_upload, "download": allow_download,
        "show": show_exif, "slug": slug,
    }
    try:
        cur = await conn.execute(INSERT, params)
    except errors.UniqueViolation as error:
        raise _slug_guard(error) from None
    row = await cur.fetchone()
    assert row is not None
    if asset_ids:
        await conn.execute(ADD_ASSETS, (row["id"], list(asset_ids)))
    return UUID(str(row["id"]))


async def update_link(conn: Conn, link_id: UUID, values: dict[str, Any]) -> None:
    """Set the given columns (``UPDATABLE``); ``SlugTaken`` when the slug is in use."""
    assert set(values) <= UPDATABLE, values
    if not values:
        return
    assignments = ", ".join(f'"{column}" = %({column})s' for column in values)
    try:
        await conn.execute(
            f"UPDATE shared_link SET {assignments} WHERE id = %(id)s",  # column names from UPDATABLE only
            {**values, "id": link_id},
        )
    except errors.UniqueViolation as error:
        raise _slug_guard(error) from None


async def delete_link(conn: Conn, link_id: UUID) -> None:
    await conn.execute(DELETE, (link_id,))


async def link_asset_ids(conn: Conn, link_id: UUID) -> set[UUID]:
    cur = await conn.execute(LINK_ASSET_IDS, (link_id,))
    return {row["id"] for row in await cur.fetchall()}


async def add_assets(conn: Conn, link_id: UUID, asset_ids: Sequence[UUID]) -> None:
    if asset_ids:
        await conn.execute(ADD_ASSETS, (link_id, list(asset_ids)))


async def remove_assets(conn: Conn, link_id: UUID, asset_ids: Sequence[UUID]) -> None:
    if asset_ids:
        await conn.execute(REMOVE_ASSETS, (link_id, list(asset_ids)))


# What the OpenGraph tags of a link's page show (Immich's getMetadataTags): the album's name and
# cover, or the link's first asset; the count of the album's or the link's assets.
PREVIEW = """
SELECT l.description, a."albumName",
       coalesce(a."albumThumbnailAssetId", (
           SELECT sa."assetId" FROM shared_link_asset sa JOIN asset x ON x.id = sa."assetId"
           WHERE sa."sharedLinkId" = l.id ORDER BY x."fileCreatedAt", x.id LIMIT 1)) AS cover,
       CASE WHEN l."albumId" IS NOT NULL THEN (
           SELECT count(*) FROM album_asset aa JOIN asset x ON x.id = aa."assetId"
           WHERE aa."albumId" = l."albumId" AND x."deletedAt" IS NULL)
       ELSE (SELECT count(*) FROM shared_link_asset sa WHERE sa."sharedLinkId" = l.id) END AS count
FROM shared_link l LEFT JOIN album a ON a.id = l."albumId" AND a."deletedAt" IS NULL
WHERE l.id = %s
"""


async def link_preview(conn: Conn, link_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(PREVIEW, (link_id,))
    return await cur.fetchone()
