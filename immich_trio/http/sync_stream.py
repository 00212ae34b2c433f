"""The body of ``POST /sync/stream``: each requested type in the server's fixed order.

Lines are written as they are read, a page at a time (``sql.sync.stream``), each page a short
query on a pool connection taken for that page only: memory stays bounded however large the
library, and a slow client holds no connection while it reads. The order, acks and backfill
rules are docs/reference/sync.md's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from uuid import UUID

import attrs

from immich_trio.sql.sync import albums, assets, library, partners, users
from immich_trio.sql.sync import stream as q

# (entity type of the lines, query)
Half = tuple[str, str]


@attrs.frozen
class Plain:
    upserts: Half
    deletes: Half | None = None


@attrs.frozen
class Backfilled:
    """A type scoped by parents (partners sharing with me, or my album memberships)."""

    parents: str
    backfill: Half
    bound_by: str  # the checkpoint type that bounds backfill rows (the client's upserts)
    upserts: Half | None
    deletes: Half | None = None
    # AlbumAssetsV2 / AlbumAssetExifsV1: (updates, fast-forward type, creates) instead of upserts.
    split: tuple[Half, str, Half] | None = None


Handler = Plain | Backfilled

DEPRECATED = {
    "AssetsV1": "AssetsV2",
    "PartnerAssetsV1": "PartnerAssetsV2",
    "AlbumAssetsV1": "AlbumAssetsV2",
    "AssetFacesV1": "AssetFacesV2",
}

HANDLERS: dict[str, Handler | None] = {
    "AuthUsersV1": Plain(("AuthUserV1", users.AUTH_USER)),
    "UsersV1": Plain(("UserV1", users.USERS), ("UserDeleteV1", users.USER_DELETES)),
    "PartnersV1": Plain(("PartnerV1", users.PARTNERS), ("PartnerDeleteV1", users.PARTNER_DELETES)),
    "AssetsV1": None,
    "AssetsV2": Plain(("AssetV2", assets.ASSETS), ("AssetDeleteV1", assets.ASSET_DELETES)),
    "StacksV1": Plain(("StackV1", assets.STACKS), ("StackDeleteV1", assets.STACK_DELETES)),
    "PartnerAssetsV1": None,
    "PartnerAssetsV2": Backfilled(
        q.PARTNERS_CREATED_AFTER,
        ("PartnerAssetBackfillV2", partners.PARTNER_ASSET_BACKFILL),
        "PartnerAssetV2",
        ("PartnerAssetV2", partners.PARTNER_ASSETS),
        ("PartnerAssetDeleteV1", partners.PARTNER_ASSET_DELETES),
    ),
    "PartnerStacksV1": Backfilled(
        q.PARTNERS_CREATED_AFTER,
        ("PartnerStackBackfillV1", partners.PARTNER_STACK_BACKFILL),
        "PartnerStackV1",
        ("PartnerStackV1", partners.PARTNER_STACKS),
        ("PartnerStackDeleteV1", partners.PARTNER_STACK_DELETES),
    ),
    "AlbumAssetsV1": None,
    "AlbumAssetsV2": Backfilled(
        q.ALBUMS_CREATED_AFTER,
        ("AlbumAssetBackfillV2", albums.ALBUM_ASSET_BACKFILL),
        "AlbumAssetCreateV2",
        None,
        split=(
            ("AlbumAssetUpdateV2", albums.ALBUM_ASSET_UPDATES),
            "AlbumAssetUpdateV2",
            ("AlbumAssetCreateV2", albums.ALBUM_ASSET_CREATES),
        ),
    ),
    "AlbumsV1": Plain(("AlbumV1", albums.ALBUMS_V1), ("AlbumDeleteV1", albums.ALBUM_DELETES)),
    "AlbumsV2": Plain(("AlbumV2", albums.ALBUMS_V2), ("AlbumDeleteV1", albums.ALBUM_DELETES)),
    "AlbumUsersV1": Backfilled(
        q.ALBUMS_CREATED_AFTER,
        ("AlbumUserBackfillV1", albums.ALBUM_USER_BACKFILL),
        "AlbumUserV1",
        ("AlbumUserV1", albums.ALBUM_USERS),
        ("AlbumUserDeleteV1", albums.ALBUM_USER_DELETES),
    ),
    "AlbumToAssetsV1": Backfilled(
        q.ALBUMS_CREATED_AFTER,
        ("AlbumToAssetBackfillV1", albums.ALBUM_TO_ASSET_BACKFILL),
        "AlbumToAssetV1",
        ("AlbumToAssetV1", albums.ALBUM_TO_ASSETS),
        ("AlbumToAssetDeleteV1", albums.ALBUM_TO_ASSET_DELETES),
    ),
    "AssetExifsV1": Plain(("AssetExifV1", assets.EXIFS)),
    "AlbumAssetExifsV1": Backfilled(
        q.ALBUMS_CREATED_AFTER,
        ("AlbumAssetExifBackfillV1", albums.ALBUM_EXIF_BACKFILL),
        "AlbumAssetExifCreateV1",
        None,
        split=(
            ("AlbumAssetExifUpdateV1", albums.ALBUM_EXIF_UPDATES),
            "AlbumAssetExifUpdateV1",
            ("AlbumAssetExifCreateV1", albums.ALBUM_EXIF_CREATES),
        ),
    ),
    "AssetOcrV1": Plain(("AssetOcrV1", assets.OCR), ("AssetOcrDeleteV1", assets.OCR_DELETES)),
    "PartnerAssetExifsV1": Backfilled(
        q.PARTNERS_CREATED_AFTER,
        ("PartnerAssetExifBackfillV1", partners.PARTNER_EXIF_BACKFILL),
        "PartnerAssetExifV1",
        ("PartnerAssetExifV1", partners.PARTNER_EXIFS),
    ),
    "MemoriesV1": Plain(("MemoryV1", library.MEMORIES), ("MemoryDeleteV1", library.MEMORY_DELETES)),
    "MemoryToAssetsV1": Plain(
        ("MemoryToAssetV1", library.MEMORY_ASSETS),
        ("MemoryToAssetDeleteV1", library.MEMORY_ASSET_DELETES),
    ),
    "PeopleV1": Plain(("PersonV1", library.PEOPLE), ("PersonDeleteV1", library.PERSON_DELETES)),
    "AssetFacesV1": None,
    "AssetFacesV2": Plain(
        ("AssetFaceV2", library.FACES), ("AssetFaceDeleteV1", library.FACE_DELETES)
    ),
    "UserMetadataV1": Plain(
        ("UserMetadataV1", users.USER_METADATA),
        ("UserMetadataDeleteV1", users.USER_METADATA_DELETES),
    ),
    "AssetMetadataV1": Plain(
        ("AssetMetadataV1", assets.METADATA), ("AssetMetadataDeleteV1", assets.METADATA_DELETES)
    ),
    "AssetEditsV1": Plain(
        ("AssetEditV1", assets.EDITS), ("AssetEditDeleteV1", assets.EDIT_DELETES)
    ),
}
ORDER = tuple(HANDLERS)


def line(type_: str, data: str, ack: str) -> str:
    return f'{{"type":"{type_}","data":{data},"ack":"{ack}"}}\n'


def ack_line(ack: str) -> str:
    return line("SyncAckV1", "{}", ack)


RESET_LINE = line("SyncResetV1", "{}", "SyncResetV1|reset")


def parse_ack(ack: str) -> tuple[str, str | None, str | None]:
    """``type|updateId[|extraId]``; an id that is not a UUID counts as absent."""
    parts = ack.split("|", 2)
    update = parts[1] if len(parts) > 1 else None
    if update is not None:
        try:
            update = str(UUID(update))
        except ValueError:
            update = None
    return parts[0], update, parts[2] if len(parts) > 2 else None


def plan(requested: Sequence[str]) -> tuple[list[str], str | None]:
    """The requested types in server order, cut before the first deprecated one (returned)."""
    wanted = set(requested)
    todo: list[str] = []
    for name in ORDER:
        if name not in wanted:
            continue
        if name in DEPRECATED:
            return todo, name
        todo.append(name)
    return todo, None


@attrs.define
class Stream:
    connect: q.Connect
    me: UUID
    session_id: UUID
    now: str
    checkpoints: Mapping[str, str]

    def after(self, entity: str) -> str:
        ack = self.checkpoints.get(entity)
        return (parse_ack(ack)[1] if ack else None) or q.NIL

    async def rows(self, entity: str, query: str, params: Mapping[str, Any]) -> AsyncIterator[str]:
        async for page in q.stream_rows(self.connect, query, params):
            yield "".join(line(entity, row["data"], f"{entity}|{row['ack']}") for row in page)

    async def half(self, half: Half, **extra: Any) -> AsyncIterator[str]:
        entity, query = half
        params = {"me": self.me, "now": self.now, "after": self.after(entity), **extra}
        async for chunk in self.rows(entity, query, params):
            yield chunk

    async def plain(self, handler: Plain) -> AsyncIterator[str]:
        if handler.deletes is not None:
            async for chunk in self.half(handler.deletes):
                yield chunk
        async for chunk in self.half(handler.upserts):
            yield chunk

    async def backfilled(self, handler: Backfilled) -> AsyncIterator[str]:
        if handler.deletes is not None:
            async for chunk in self.half(handler.deletes):
                yield chunk
        async for chunk in self._backfill(handler):
            yield chunk
        if handler.upserts is not None:
            async for chunk in self.half(handler.upserts):
                yield chunk
        if handler.split is not None:
            async for chunk in self._split(*handler.split):
                yield chunk

    async def _backfill(self, handler: Backfilled) -> AsyncIterator[str]:
        kind, query = handler.backfill
        stored = self.checkpoints.get(kind)
        _, mark_id, mark_extra = parse_ack(stored) if stored else (kind, None, None)
        async with self.connect() as conn:
            found = await q.parents(conn, handler.parents, self.me, mark_id or q.NIL, self.now)
        bound = self.checkpoints.get(handler.bound_by)
        bound_id = parse_ack(bound)[1] if bound else None
        if bound_id is None:
            if found:
                ack = f"{kind}|{found[-1]['createId']}|complete"
                async with self.connect() as conn:
                    await q.upsert_checkpoints(conn, self.session_id, {kind: ack})
            return
        for parent in found:
            create_id = parent["createId"]
            if create_id == mark_id and mark_extra == "complete":
                continue
            start = mark_extra if create_id == mark_id and mark_extra else q.NIL
            params = {
                "parent": parent["parent"],
                "after": start,
                "before": bound_id,
                "now": self.now,
                "me": self.me,
            }
            async for page in q.stream_rows(self.connect, query, params):
                yield "".join(
                    line(kind, row["data"], f"{kind}|{create_id}|{row['ack']}") for row in page
                )
            yield ack_line(f"{kind}|{create_id}|complete")

    async def _split(self, updates: Half, forward: str, creates: Half) -> AsyncIterator[str]:
        created = self.checkpoints.get(creates[0])
        created_id = parse_ack(created)[1] if created else None
        if created_id is not None:
            async for chunk in self.half(updates, created=created_id):
                yield chunk
        first = True
        async for chunk in self.half(creates):
            if first:
                yield ack_line(f"{forward}|{self.now}")
                first = False
            yield chunk

    async def run(self, todo: Sequence[str], *, complete: bool) -> AsyncIterator[bytes]:
        for name in todo:
            handler = HANDLERS[name]
            assert handler is not None
            body = self.plain(handler) if isinstance(handler, Plain) else self.backfilled(handler)
            async for chunk in body:
                yield chunk.encode()
        if complete:
            yield line("SyncCompleteV1", "{}", f"SyncCompleteV1|{self.now}").encode()
