"""Database layer: psycopg on Trio, the pool, migrations, the embedded PostgreSQL."""

from __future__ import annotations

from .driver import TrioConnection, connect
from .embedded import EmbeddedPostgres, run_embedded_postgres
from .errors import DatabaseUnavailable, EmbeddedPostgresDied, MigrationError, PoolClosed
from .migrate import migrate, migrate_url
from .pool import Pool, PoolStatistics, open_pool

__all__ = [
    "DatabaseUnavailable",
    "EmbeddedPostgres",
    "EmbeddedPostgresDied",
    "MigrationError",
    "Pool",
    "PoolClosed",
    "PoolStatistics",
    "TrioConnection",
    "connect",
    "migrate",
    "migrate_url",
    "open_pool",
    "run_embedded_postgres",
]
