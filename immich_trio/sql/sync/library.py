"""Sync queries of memories, people and faces."""

from __future__ import annotations

from immich_trio.sql.sync import shapes as s
from immich_trio.sql.sync.build import deletes, upserts

MEMORIES = upserts("memory m", 'm."updateId"', s.memory("m"), 'm."ownerId" = %(me)s')
MEMORY_DELETES = deletes("memory_audit x", "x", s.col("x", "memoryId"), 'x."userId" = %(me)s')

_MY_MEMORIES = 'SELECT id FROM memory WHERE "ownerId" = %(me)s'
MEMORY_ASSETS = upserts(
    'memory_asset ma JOIN asset a ON a.id = ma."assetId"',
    'ma."updateId"',
    [("memoryId", 'ma."memoriesId"'), ("assetId", 'ma."assetId"')],
    f'ma."memoriesId" IN ({_MY_MEMORIES})',
)
MEMORY_ASSET_DELETES = deletes(
    "memory_asset_audit x",
    "x",
    s.col("x", "memoryId", "assetId"),
    f'x."memoryId" IN ({_MY_MEMORIES})',
)

PEOPLE = upserts("person p", 'p."updateId"', s.person("p"), 'p."ownerId" = %(me)s')
PERSON_DELETES = deletes("person_audit x", "x", s.col("x", "personId"), 'x."ownerId" = %(me)s')

FACES = upserts(
    'asset_face f JOIN asset a ON a.id = f."assetId"',
    'f."updateId"',
    s.face("f"),
    'a."ownerId" = %(me)s',
)
FACE_DELETES = deletes(
    'asset_face_audit x JOIN asset a ON a.id = x."assetId"',
    "x",
    s.col("x", "assetFaceId"),
    'a."ownerId" = %(me)s',
)
