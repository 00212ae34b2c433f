"""One asset as ``GET /assets/{id}`` shows it, and the owner's asset statistics.

Embedded objects (exif, owner, tags, stack) are built with ``json_build_object`` so their
dates keep PostgreSQL's JSON form, which is what Immich's responses show for them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql

Conn = AsyncConnection[Any]

# An asset's exif as the JSON object Immich embeds in its asset responses (``a`` is the asset).
EXIF_JSON = """(SELECT json_build_object(
        'make', e.make, 'model', e.model, 'exifImageWidth', e."exifImageWidth",
        'exifImageHeight', e."exifImageHeight", 'fileSizeInByte', e."fileSizeInByte",
        'orientation', e.orientation, 'dateTimeOriginal', e."dateTimeOriginal",
        'modifyDate', e."modifyDate", 'timeZone', e."timeZone", 'lensModel', e."lensModel",
        'fNumber', e."fNumber", 'focalLength', e."focalLength", 'iso', e.iso,
        'exposureTime', e."exposureTime", 'latitude', e.latitude, 'longitude', e.longitude,
        'city', e.city, 'state', e.state, 'country', e.country, 'description', e.description,
        'projectionType', e."projectionType", 'rating', e.rating)
     FROM asset_exif e WHERE e."assetId" = a.id)"""

ASSET_INFO = f"""
SELECT a.*,
    {EXIF_JSON} AS "exifInfo",
    (SELECT json_build_object(
        'id', u.id, 'email', u.email, 'name', u.name, 'profileImagePath', u."profileImagePath",
        'avatarColor', u."avatarColor", 'profileChangedAt', u."profileChangedAt")
     FROM "user" u WHERE u.id = a."ownerId") AS owner,
    (SELECT coalesce(json_agg(json_build_object(
        'id', t.id, 'parentId', t."parentId", 'value', t.value, 'createdAt', t."createdAt",
        'updatedAt', t."updatedAt", 'color', t.color) ORDER BY t."createdAt", t.id), '[]'::json)
     FROM tag t JOIN tag_asset ta ON ta."tagId" = t.id WHERE ta."assetId" = a.id) AS tags,
    (SELECT json_build_object(
        'id', s.id, 'primaryAssetId', s."primaryAssetId",
        'assetCount', (SELECT count(*) FROM asset m WHERE m."stackId" = s.id AND m."deletedAt" IS NULL))
     FROM stack s WHERE s.id = a."stackId") AS stack
FROM asset a WHERE a.id = %s
"""


async def asset_info(conn: AsyncConnection[Any], asset_id: UUID) -> dict[str, Any] | None:
    """The asset row plus ``exifInfo``, ``owner``, ``tags`` and ``stack`` as JSON objects."""
    cur = await conn.execute(ASSET_INFO, (asset_id,))
    return await cur.fetchone()


# -- statistics --------------------------------------------------------------------------


async def statistics(
    conn: Conn,
    owner_id: UUID,
    *,
    visibility: str | None,
    is_favorite: bool | None,
    is_trashed: bool | None,
) -> dict[str, int]:
    params: dict[str, Any] = {"owner": owner_id}
    conds = [sql.SQL('"ownerId" = %(owner)s')]
    if visibility is None:
        conds.append(sql.SQL("visibility IN ('archive', 'timeline')"))
    else:
        params["visibility"] = visibility
        conds.append(sql.SQL("visibility = %(visibility)s::asset_visibility_enum"))
    if is_favorite is not None:
        params["favorite"] = is_favorite
        conds.append(sql.SQL('"isFavorite" = %(favorite)s'))
    if is_trashed:
        conds.append(sql.SQL("""status <> 'deleted' AND "deletedAt" IS NOT NULL"""))
    else:
        conds.append(sql.SQL('"deletedAt" IS NULL'))
    query = sql.SQL(
        """
SELECT count(*) FILTER (WHERE type = 'IMAGE') AS images,
       count(*) FILTER (WHERE type = 'VIDEO') AS videos,
       count(*) AS total
FROM asset WHERE {where}
"""
    ).format(where=sql.SQL(" AND ").join(conds))
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return {k: int(v) for k, v in row.items()}
