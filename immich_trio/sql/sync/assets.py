"""Sync queries of the caller's own assets and what hangs off them: exif, stacks, edits,
metadata, OCR."""

from __future__ import annotations

from immich_trio.sql.sync import shapes as s
from immich_trio.sql.sync.build import deletes, upserts
from immich_trio.sql.sync.stream import ts

_OWN = 'a."ownerId" = %(me)s'

ASSETS = upserts("asset a", 'a."updateId"', s.own_asset("a"), _OWN)
ASSET_DELETES = deletes("asset_audit x", "x", s.col("x", "assetId"), 'x."ownerId" = %(me)s')

EXIFS = upserts(
    'asset_exif e JOIN asset a ON a.id = e."assetId"', 'e."updateId"', s.exif("e"), _OWN
)

STACKS = upserts(
    'stack st JOIN asset a ON a.id = st."primaryAssetId"',
    'st."updateId"',
    s.stack("st"),
    'st."ownerId" = %(me)s',
)
STACK_DELETES = deletes("stack_audit x", "x", s.col("x", "stackId"), 'x."userId" = %(me)s')

EDITS = upserts(
    'asset_edit x JOIN asset a ON a.id = x."assetId"', 'x."updateId"', s.edit("x"), _OWN
)
EDIT_DELETES = deletes(
    'asset_edit_audit x JOIN asset a ON a.id = x."assetId"', "x", s.col("x", "editId"), _OWN
)

METADATA = upserts(
    'asset_metadata m JOIN asset a ON a.id = m."assetId"',
    'm."updateId"',
    s.col("m", "assetId", "key", "value"),
    _OWN,
)
METADATA_DELETES = deletes(
    'asset_metadata_audit x JOIN asset a ON a.id = x."assetId"',
    "x",
    s.col("x", "assetId", "key"),
    _OWN,
)

OCR = upserts('asset_ocr o JOIN asset a ON a.id = o."assetId"', 'o."updateId"', s.ocr("o"), _OWN)
OCR_DELETES = deletes(
    'asset_ocr_audit x JOIN asset a ON a.id = x."assetId"',
    "x",
    [*s.col("x", "id", "assetId"), ("deletedAt", ts('x."deletedAt"'))],
    _OWN,
)
