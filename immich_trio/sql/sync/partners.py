"""Sync queries of what partners share with the caller: their assets, exif and stacks."""

from __future__ import annotations

from immich_trio.sql.sync import shapes as s
from immich_trio.sql.sync.build import backfill, deletes, upserts

_SHARERS = 'SELECT "sharedById" FROM partner WHERE "sharedWithId" = %(me)s'

PARTNER_ASSETS = upserts(
    "asset a", 'a."updateId"', s.partner_asset("a"), f'a."ownerId" IN ({_SHARERS})'
)
PARTNER_ASSET_DELETES = deletes(
    "asset_audit x", "x", s.col("x", "assetId"), f'x."ownerId" IN ({_SHARERS})'
)
PARTNER_ASSET_BACKFILL = backfill(
    "asset a", 'a."updateId"', s.partner_asset("a"), 'a."ownerId" = %(parent)s'
)

_EXIF_SOURCE = 'asset_exif e JOIN asset a ON a.id = e."assetId"'
PARTNER_EXIFS = upserts(_EXIF_SOURCE, 'e."updateId"', s.exif("e"), f'a."ownerId" IN ({_SHARERS})')
PARTNER_EXIF_BACKFILL = backfill(
    _EXIF_SOURCE, 'e."updateId"', s.exif("e"), 'a."ownerId" = %(parent)s'
)

_STACK_SOURCE = 'stack st JOIN asset a ON a.id = st."primaryAssetId"'
PARTNER_STACKS = upserts(
    _STACK_SOURCE, 'st."updateId"', s.stack("st"), f'st."ownerId" IN ({_SHARERS})'
)
PARTNER_STACK_DELETES = deletes(
    "stack_audit x", "x", s.col("x", "stackId"), f'x."userId" IN ({_SHARERS})'
)
PARTNER_STACK_BACKFILL = backfill(
    _STACK_SOURCE, 'st."updateId"', s.stack("st"), 'st."ownerId" = %(parent)s'
)
