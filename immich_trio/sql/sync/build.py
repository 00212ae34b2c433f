"""Builders of the three query shapes of the stream: upserts, deletes (audit) and backfill."""

from __future__ import annotations

from immich_trio.sql.sync.shapes import Fields, obj


def upserts(source: str, key: str, fields: Fields, where: str) -> str:
    """Rows with ``after < key < now`` ordered by ``key`` (the row's ``updateId``)."""
    return f"""
SELECT {key}::text AS ack, {obj(fields)} AS data
FROM {source}
WHERE {where} AND {key} > %(after)s AND {key} < %(now)s
ORDER BY {key}
"""


def deletes(source: str, alias: str, fields: Fields, where: str) -> str:
    """Audit rows with ``after < id < now`` ordered by ``id``."""
    return upserts(source, f'{alias}."id"', fields, where)


def backfill(source: str, key: str, fields: Fields, where: str) -> str:
    """A new parent's rows up to the client's upsert checkpoint: ``after <= key <= before``."""
    return f"""
SELECT {key}::text AS ack, {obj(fields)} AS data
FROM {source}
WHERE {where} AND {key} >= %(after)s AND {key} <= %(before)s AND {key} < %(now)s
ORDER BY {key}
"""
