"""``immich-trio serve`` on an adopted Immich database, as a real process."""

from __future__ import annotations

from pathlib import Path

import pytest

from immich_trio.sql.immich_database import IMMICH_LAST_MIGRATION
from tests.adoption.conftest import query
from tests.e2e.conftest import START_TIMEOUT, new_server

pytestmark = pytest.mark.e2e


def test_other_immich_version_exits_with_the_reason(adopted_url: str, tmp_path: Path) -> None:
    query(adopted_url, "DROP SCHEMA immich_trio CASCADE")
    query(adopted_url, "INSERT INTO kysely_migrations VALUES ('1799999999999-Future', now())")
    server = new_server(tmp_path, extra_env={"DB_URL": adopted_url})
    server._spawn()
    assert server.proc is not None
    try:
        code = server.proc.wait(START_TIMEOUT)
    finally:
        server.kill_all()
    log = server.log_path.read_text(errors="replace")
    assert code == 1, log
    # Said once, naming both versions; no restart loop, nothing written.
    assert log.count("1799999999999-Future") == 1, log
    assert IMMICH_LAST_MIGRATION in log and "v3.1.0" in log
    assert "cannot run: " in log
    assert query(adopted_url, "SELECT to_regnamespace('immich_trio')")[0][0] is None
