"""Search queries: Immich's asset search filters (metadata, statistics, random, large assets).

One filter builder (``_where``) serves every search, as Immich's ``searchAssetBuilder`` does:
each present filter adds one predicate; exif filters need the inner join on ``asset_exif``
(so assets without an exif row never match them). Results are ordered by ``fileCreatedAt``
then ``id`` and fetched one row past the page to learn whether a next page exists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import attrs
from psycopg import AsyncConnection, sql

from immich_trio.sql.assets.info import EXIF_JSON
from immich_trio.sql.ocr import search_tokens

Conn = AsyncConnection[Any]

# DTO date filters → (column, comparison); Immich's bounds are inclusive.
DATE_FILTERS: dict[str, tuple[str, str]] = {
    "created_before": ('a."createdAt"', "<="),
    "created_after": ('a."createdAt"', ">="),
    "updated_before": ('a."updatedAt"', "<="),
    "updated_after": ('a."updatedAt"', ">="),
    "trashed_before": ('a."deletedAt"', "<="),
    "trashed_after": ('a."deletedAt"', ">="),
    "taken_before": ('a."fileCreatedAt"', "<="),
    "taken_after": ('a."fileCreatedAt"', ">="),
}
# Exif equality filters (None: the column is null), by DTO field.
EXIF_FILTERS: dict[str, str] = {
    "city": "city",
    "state": "state",
    "country": "country",
    "make": "make",
    "model": "model",
    "lens_model": "lensModel",
    "rating": "rating",
}


@attrs.frozen(kw_only=True)
class AssetSearch:
    """Which assets a search may return and the filters it applies (access already decided)."""

    caller_id: UUID
    owner_ids: tuple[UUID, ...] = ()  # none: any owner (a shared link searching its album)
    include_locked: bool = False  # when no visibility is asked for
    visibility: str | None = None
    dates: dict[str, datetime] = attrs.field(factory=dict)
    exif: dict[str, str | int | None] = attrs.field(factory=dict)
    checksum: bytes | None = None
    asset_id: UUID | None = None
    library_id: UUID | None = None
    type: str | None = None
    is_favorite: bool | None = None
    is_offline: bool | None = None
    is_encoded: bool | None = None
    is_motion: bool | None = None
    is_not_in_album: bool = False
    with_stacked: bool | None = None
    with_deleted: bool = False
    with_exif: bool = False
    album_ids: tuple[UUID, ...] = ()
    tag_ids: tuple[UUID, ...] | None = ()  # None: assets without any tag
    person_ids: tuple[UUID, ...] = ()
    original_file_name: str | None = None
    original_path: str | None = None
    description: str | None = None
    encoded_video_path: str | None = None
    ocr: str | None = None
    order: Literal["asc", "desc"] = "desc"

    @property
    def needs_exif(self) -> bool:
        return self.with_exif or bool(self.exif) or bool(self.description)


def _ilike(column: str, key: str) -> sql.Composable:
    return sql.SQL("f_unaccent({col}) ILIKE '%%' || f_unaccent(%({key})s) || '%%'").format(
        col=sql.SQL(column), key=sql.SQL(key)
    )


def _owners(f: AssetSearch, params: dict[str, Any]) -> list[sql.Composable]:
    if not f.owner_ids:
        return []
    params["caller"] = f.caller_id
    params["owners"] = list(f.owner_ids)
    if f.owner_ids == (f.caller_id,):
        return [sql.SQL('a."ownerId" = %(caller)s::uuid')]
    # Partners' assets show only as far as a partner may see them: their timeline.
    return [
        sql.SQL('a."ownerId" = ANY(%(owners)s::uuid[])'),
        sql.SQL("""(a."ownerId" = %(caller)s::uuid OR a.visibility = 'timeline')"""),
    ]


def members(kind: str, f: AssetSearch, params: dict[str, Any]) -> sql.Composable:
    """The ids of the assets in every album, of every person, or under every tag (``kind``:
    ``albums``, ``people``, ``tags``) that ``f`` names, as a subquery. With one id there is
    nothing to count, and the planner may join the rows as they come (no sort, no grouping).
    ``favorites``: the owners' untrashed favourites (``immich_trio_asset_favorite_idx``)."""
    if kind == "favorites":
        params["owners"] = list(f.owner_ids)
        return sql.SQL('SELECT fa.id FROM asset fa WHERE fa."ownerId" = ANY(%(owners)s::uuid[])'
                       ' AND fa."isFavorite" AND fa."deletedAt" IS NULL')
    ids = {"albums": f.album_ids, "people": f.person_ids, "tags": f.tag_ids or ()}[kind]
    params[kind] = list(ids)
    params[f"{kind}_count"] = len(set(ids))
    if kind == "albums":
        query = 'SELECT aa."assetId" FROM album_asset aa WHERE aa."albumId" = ANY(%(albums)s::uuid[])'
        every = ' GROUP BY aa."assetId" HAVING count(DISTINCT aa."albumId") = %(albums_count)s'
    elif kind == "tags":
        query = ('SELECT ta."assetId" FROM tag_asset ta JOIN tag_closure tc ON tc.id_descendant = ta."tagId"'
                 ' WHERE tc.id_ancestor = ANY(%(tags)s::uuid[])')
        every = ' GROUP BY ta."assetId" HAVING count(DISTINCT tc.id_ancestor) >= %(tags_count)s'
    else:
        query = ('SELECT af."assetId" FROM asset_face af WHERE af."personId" = ANY(%(people)s::uuid[])'
                 ' AND af."deletedAt" IS NULL AND af."isVisible"')
        every = ' GROUP BY af."assetId" HAVING count(DISTINCT af."personId") = %(people_count)s'
    return sql.SQL(query + (every if len(set(ids)) > 1 else ""))


def _memberships(f: AssetSearch, params: dict[str, Any]) -> list[sql.Composable]:
    conds: list[sql.Composable] = []
    if f.album_ids:
        conds.append(sql.SQL("a.id IN ({})").format(members("albums", f, params)))
    elif f.is_not_in_album:
        conds.append(sql.SQL('NOT EXISTS (SELECT 1 FROM album_asset aa WHERE aa."assetId" = a.id)'))
    if f.tag_ids is None:
        conds.append(sql.SQL('NOT EXISTS (SELECT 1 FROM tag_asset ta WHERE ta."assetId" = a.id)'))
    elif f.tag_ids:
        conds.append(sql.SQL("a.id IN ({})").format(members("tags", f, params)))
    if f.person_ids:
        conds.append(sql.SQL("a.id IN ({})").format(members("people", f, params)))
    return conds


def _flags(f: AssetSearch, params: dict[str, Any]) -> list[sql.Composable]:
    conds: list[sql.Composable] = []
    for name, value in (("favorite", f.is_favorite), ("offline", f.is_offline)):
        if value is not None:
            params[name] = value
            column = '"isFavorite"' if name == "favorite" else '"isOffline"'
            conds.append(sql.SQL("a.{} = %({})s").format(sql.SQL(column), sql.SQL(name)))
    if f.is_encoded is not None:
        exists = sql.SQL(
            """EXISTS (SELECT 1 FROM asset_file af WHERE af."assetId" = a.id AND af.type = 'encoded_video')"""
        )
        conds.append(exists if f.is_encoded else sql.SQL("NOT ") + exists)
    if f.is_motion is not None:
        conds.append(sql.SQL('a."livePhotoVideoId" IS {} NULL').format(sql.SQL("NOT" if f.is_motion else "")))
    if f.with_stacked is False:
        conds.append(sql.SQL('a."stackId" IS NULL'))
    if f.type is not None:
        params["type"] = f.type
        conds.append(sql.SQL("a.type = %(type)s"))
    return conds


def _texts(f: AssetSearch, params: dict[str, Any]) -> list[sql.Composable]:
    conds: list[sql.Composable] = []
    if f.checksum is not None:
        params["checksum"] = f.checksum
        conds.append(sql.SQL("a.checksum = %(checksum)s"))
    if f.asset_id is not None:
        params["asset_id"] = f.asset_id
        conds.append(sql.SQL("a.id = %(asset_id)s::uuid"))
    if f.library_id is not None:
        params["library"] = f.library_id
        conds.append(sql.SQL('a."libraryId" = %(library)s::uuid'))
    if f.original_file_name:
        params["file_name"] = f.original_file_name
        conds.append(_ilike('a."originalFileName"', "file_name"))
    if f.original_path:
        params["path"] = f.original_path
        conds.append(_ilike('a."originalPath"', "path"))
    if f.description:
        params["description"] = f.description
        conds.append(_ilike("e.description", "description"))
    if f.encoded_video_path:
        params["encoded"] = f.encoded_video_path
        conds.append(sql.SQL(
            """EXISTS (SELECT 1 FROM asset_file af WHERE af."assetId" = a.id AND af.type = 'encoded_video'"""
            ' AND NOT af."isEdited" AND af.path = %(encoded)s)'
        ))
    if f.ocr:
        params["ocr"] = " ".join(search_tokens(f.ocr))  # as the stored text was tokenised
        conds.append(sql.SQL(
            'EXISTS (SELECT 1 FROM ocr_search o WHERE o."assetId" = a.id'
            " AND f_unaccent(o.text) %%>> f_unaccent(%(ocr)s))"
        ))
    return conds


def includes_trashed(f: AssetSearch) -> bool:
    """Whether trashed assets may match: asked for, or implied by a trash date or offline."""
    return f.with_deleted or bool({"trashed_before", "trashed_after"} & f.dates.keys() or f.is_offline)


def _where(f: AssetSearch, params: dict[str, Any]) -> sql.Composable:
    conds = _owners(f, params)
    if f.visibility is not None:
        params["visibility"] = f.visibility
        conds.append(sql.SQL("a.visibility = %(visibility)s::asset_visibility_enum"))
    elif not f.include_locked:
        conds.append(sql.SQL("a.visibility <> 'locked'"))
    for field, value in f.dates.items():
        column, op = DATE_FILTERS[field]
        params[field] = value
        conds.append(sql.SQL("{} {} %({})s").format(sql.SQL(column), sql.SQL(op), sql.SQL(field)))
    for field, wanted in f.exif.items():
        exif_column = sql.SQL("e.{}").format(sql.Identifier(EXIF_FILTERS[field]))
        if wanted is None:
            conds.append(sql.SQL("{} IS NULL").format(exif_column))
        else:
            params[f"exif_{field}"] = wanted
            conds.append(sql.SQL("{} = %({})s").format(exif_column, sql.SQL(f"exif_{field}")))
    conds += _memberships(f, params) + _flags(f, params) + _texts(f, params)
    if not includes_trashed(f):
        conds.append(sql.SQL('a."deletedAt" IS NULL'))
    return sql.SQL(" AND ").join(conds) if conds else sql.SQL("true")


def _from(f: AssetSearch, *, exif: bool = False) -> sql.Composable:
    if f.needs_exif or exif:
        return sql.SQL('asset a JOIN asset_exif e ON e."assetId" = a.id')
    return sql.SQL("asset a")


def _select(f: AssetSearch) -> sql.Composable:
    if f.with_exif:
        return sql.SQL("a.*, {} AS \"exifInfo\"").format(sql.SQL(EXIF_JSON))
    return sql.SQL("a.*")


def search_parts(f: AssetSearch, params: dict[str, Any]) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    """The select list, source and predicate of a search, for queries built elsewhere
    (smart search orders the same filtered assets by embedding distance)."""
    return _select(f), _from(f), _where(f, params)


async def search_metadata(
    conn: Conn, f: AssetSearch, *, page: int, size: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of matching assets (newest first unless ``order`` says asc) and whether more follow."""
    params: dict[str, Any] = {"limit": size + 1, "offset": (page - 1) * size}
    direction = sql.SQL("ASC" if f.order == "asc" else "DESC")
    query = sql.SQL(
        "SELECT {select} FROM {source} WHERE {where}"
        ' ORDER BY a."fileCreatedAt" {dir}, a.id {dir} LIMIT %(limit)s OFFSET %(offset)s'
    ).format(select=_select(f), source=_from(f), where=_where(f, params), dir=direction)
    cur = await conn.execute(query, params)
    rows = await cur.fetchall()
    return rows[:size], len(rows) > size


async def search_statistics(conn: Conn, f: AssetSearch) -> int:
    params: dict[str, Any] = {}
    query = sql.SQL("SELECT count(*) AS total FROM {source} WHERE {where}").format(
        source=_from(f), where=_where(f, params)
    )
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return int(row["total"]) if row is not None else 0


async def search_random(conn: Conn, f: AssetSearch, *, size: int) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": size}
    query = sql.SQL("SELECT {select} FROM {source} WHERE {where} ORDER BY random() LIMIT %(limit)s").format(
        select=_select(f), source=_from(f), where=_where(f, params)
    )
    cur = await conn.execute(query, params)
    return await cur.fetchall()


async def search_large_assets(
    conn: Conn, f: AssetSearch, *, size: int, min_file_size: int
) -> list[dict[str, Any]]:
    """The largest originals first (always with their exif, as Immich joins it)."""
    params: dict[str, Any] = {"limit": size, "min_size": min_file_size}
    with_exif = attrs.evolve(f, with_exif=True)
    query = sql.SQL(
        'SELECT {select} FROM {source} WHERE {where} AND e."fileSizeInByte" > %(min_size)s'
        ' ORDER BY e."fileSizeInByte" DESC LIMIT %(limit)s'
    ).format(select=_select(with_exif), source=_from(with_exif), where=_where(with_exif, params))
    cur = await conn.execute(query, params)
    return await cur.fetchall()
