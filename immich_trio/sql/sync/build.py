"""Builders of the three query shapes of the stream: upserts, deletes (audit) and backfill.

Each query reads one page: rows whose key is above ``page`` (the last key of the previous
page, or the nil UUID), ordered by key, at most ``page_rows``. Keys are unique per query,
except where one asset is reached through two album links: those rows are identical (same
data, same ack), so a page boundary between them drops only a duplicate line.
"""

from __future__ import annotations

from immich_trio.sql.sync.shapes import Fields, obj


def upserts(source: str, key: str, fields: Fields, where: str) -> str:
    """Rows with ``after < key < now`` ordered by ``key`` (the row's ``updateId``)."""
    return f"""
SELECT {key}::text AS ack, {obj(fields)} AS data
FROM {source}
WHERE {where} AND {key} > %(after)s AND {key} < %(now)s AND {key} > %(page)s
ORDER BY {key} LIMIT %(page_rows)s
"""


def deletes(source: str, alias: str, fields: Fields, where: str) -> str:
    """Audit rows with ``after < id < now`` ordered by ``id``."""
    return upserts(source, f'{alias}."id"', fields, where)


def backfill(source: str, key: str, fields: Fields, where: str) -> str:
    """A new parent's rows up to the client's upsert checkpoint: ``after < key <= before``
    (``after`` is the row acked last when resuming that parent, else the nil UUID)."""
    return f"""
SELECT {key}::text AS ack, {obj(fields)} AS data
FROM {source}
WHERE {where} AND {key} > %(after)s AND {key} <= %(before)s AND {key} < %(now)s
  AND {key} > %(page)s
ORDER BY {key} LIMIT %(page_rows)s
"""
