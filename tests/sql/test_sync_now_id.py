"""The sync stream's ``nowId`` never passes an id that a running statement has taken but not
yet committed: a row committed after the stream read past its id would be skipped for ever."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from immich_trio.sql.sync.stream import NOW_ID
from tests.sql.test_schema import apply_migrations

SLOW_INSERT = (
    "INSERT INTO pending (u) SELECT u FROM (SELECT immich_uuid_v7() AS u, pg_sleep(%s) AS pause) AS taken"
)


@pytest.fixture
def db(empty_db_url: str) -> Iterator[str]:
    apply_migrations(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE pending (u uuid)")
    yield empty_db_url


def _now_id(url: str) -> uuid.UUID:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        row = conn.execute(NOW_ID).fetchone()
    assert row is not None
    return uuid.UUID(row["id"])


def _wait_running(url: str, needle: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        for _ in range(500):
            row = conn.execute(
                "SELECT backend_xid, state FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
                (f"%{needle}%",),
            ).fetchone()
            if row is not None and row["state"] == "active":
                return row
            time.sleep(0.01)
    raise AssertionError("the slow statement never started")


@pytest.mark.parametrize("in_transaction", [False, True])
def test_now_id_stays_below_an_id_taken_before_the_first_write(db: str, in_transaction: bool) -> None:
    def insert() -> None:
        with psycopg.connect(db, autocommit=not in_transaction) as conn:
            if in_transaction:
                conn.execute("SELECT 1")  # a transaction open before the statement, no xid yet
            conn.execute(SLOW_INSERT, (0.6,))
            conn.commit()

    writer = threading.Thread(target=insert)
    writer.start()
    try:
        seen = _wait_running(db, "pg_sleep")
        # the id is taken, the row not yet written: the transaction has no xid
        assert seen["backend_xid"] is None
        time.sleep(0.05)
        bound = _now_id(db)
    finally:
        writer.join(10)
    with psycopg.connect(db, autocommit=True) as conn:
        (taken,) = conn.execute("SELECT u FROM pending").fetchone() or (None,)
    assert taken is not None
    assert taken > bound, "nowId passed an id whose row had not committed yet"


def test_now_id_is_about_now_when_nothing_runs(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        (reference,) = conn.execute("SELECT immich_uuid_v7()").fetchone() or (None,)
    bound = _now_id(db)
    with psycopg.connect(db, autocommit=True) as conn:
        (later,) = conn.execute("SELECT immich_uuid_v7()").fetchone() or (None,)
    assert reference is not None and later is not None
    assert _ms(reference) - 1 <= _ms(bound) <= _ms(later)


def _ms(value: uuid.UUID) -> int:
    return int.from_bytes(value.bytes[:6], "big")
