"""Maintenance (admin) integrity reports: the untracked-file check end to end (walk, batch
job, report), the summary, pages, CSV, the flagged file, and deleting a report."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio

from immich_trio.actors.integrity import IntegrityActor
from immich_trio.actors.integrity import actor as integrity_actor
from immich_trio.jobs.names import JobName
from immich_trio.runtime import Runtime
from immich_trio.sql.jobs import Job
from tests.http.conftest import MakeUser


def _job(name: JobName, data: dict[str, Any]) -> Job:
    return Job(
        id=1, queue="integrityCheck", name=name.value, data=data, attempt=1, max_attempts=3,
        created_at=datetime.now(UTC),
    )


async def _run(actor: IntegrityActor, runtime: Runtime, name: JobName, data: dict[str, Any]) -> None:
    result = await actor.run_job(_job(name, data))
    assert result.status == "success"
    if result.apply is not None:
        async with runtime.pool.connection() as conn, conn.transaction():
            await result.apply(conn)


async def test_untracked_scan_reports_and_routes(
    client: Any, make_user: MakeUser, runtime: Runtime, sql: Any
) -> None:
    media = runtime.settings.media_location
    stray = media / "upload" / "someone" / "ab" / "stray.jpg"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"stray bytes")
    (media / "upload" / ".tmp").mkdir(parents=True, exist_ok=True)
    (media / "upload" / ".tmp" / "x.part").write_bytes(b"hidden")
    admin = await make_user("admin@example.com", is_admin=True)
    user = await make_user("user@example.com")

    actor = IntegrityActor(runtime.pool, media)
    await _run(actor, runtime, JobName.INTEGRITY_UNTRACKED_FILES_QUEUE_ALL, {})
    queued = sql("SELECT data FROM immich_trio.job WHERE name = 'IntegrityUntrackedFiles'")
    assert [row[0]["paths"] for row in queued] == [[str(stray)]]
    # The batch job runs twice (a retry): the same single report.
    for _ in range(2):
        await _run(actor, runtime, JobName.INTEGRITY_UNTRACKED_FILES, queued[0][0])

    denied = await client.get("/api/admin/integrity/summary", headers=user.headers)
    assert denied.status_code == 403
    summary = await client.get("/api/admin/integrity/summary", headers=admin.headers)
    assert await summary.get_json() == {"checksum_mismatch": 0, "missing_file": 0, "untracked_file": 1}

    page = await client.get("/api/admin/integrity/report?type=untracked_file", headers=admin.headers)
    body = await page.get_json()
    assert [(i["type"], i["path"]) for i in body["items"]] == [("untracked_file", str(stray))]
    assert "nextCursor" not in body
    report_id = body["items"][0]["id"]

    csv = await client.get("/api/admin/integrity/report/untracked_file/csv", headers=admin.headers)
    assert csv.status_code == 200 and csv.content_type.startswith("text/csv")
    text = (await csv.get_data()).decode()
    assert text == f'id,type,assetId,fileAssetId,path\n{report_id},untracked_file,null,null,"{stray}"\n'

    file = await client.get(f"/api/admin/integrity/report/{report_id}/file", headers=admin.headers)
    assert (file.status_code, await file.get_data()) == (200, b"stray bytes")

    deleted = await client.delete(f"/api/admin/integrity/report/{report_id}", headers=admin.headers)
    assert deleted.status_code == 200
    assert not stray.exists()
    assert sql("SELECT count(*) FROM integrity_report")[0][0] == 0


async def test_missing_file_batch_and_refresh(runtime: Runtime, sql: Any, tmp_path: Path) -> None:
    actor = IntegrityActor(runtime.pool, runtime.settings.media_location)
    here = tmp_path / "here.jpg"
    here.write_bytes(b"x")
    gone = str(tmp_path / "gone.jpg")
    items = [{"path": str(here)}, {"path": gone}]
    await _run(actor, runtime, JobName.INTEGRITY_MISSING_FILES, {"items": items})
    rows = sql("SELECT id, type, path FROM integrity_report")
    assert [(r[1], r[2]) for r in rows] == [("missing_file", gone)]
    # The file comes back: a refresh drops the report.
    await trio.Path(gone).write_bytes(b"back")
    await _run(
        actor, runtime, JobName.INTEGRITY_MISSING_FILES_REFRESH,
        {"items": [{"reportId": str(rows[0][0]), "path": gone}]},
    )
    assert sql("SELECT count(*) FROM integrity_report")[0][0] == 0


async def test_checksum_scan_reports_only_changed_files(
    runtime: Runtime, sql: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrity_actor, "CHECKSUM_PAGE", 2)  # two pages, the second after the first
    [(owner,)] = sql("INSERT INTO \"user\" (email, password, name) VALUES ('c@x.com', 'x', 'c') RETURNING id")
    paths = {name: tmp_path / f"{name}.jpg" for name in ("same", "changed", "gone")}
    for name, path in paths.items():
        sql(
            'INSERT INTO asset ("ownerId", type, "originalPath", "originalFileName", checksum,'
            ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime")'
            " VALUES (%s, 'IMAGE', %s, %s, %s, 'sha1', now(), now(), now())",
            (owner, str(path), path.name, hashlib.sha1(name.encode()).digest()),
        )
        if name != "gone":  # a gone file is the missing-file check's matter
            path.write_bytes(name.encode() if name == "same" else b"other bytes")
    actor = IntegrityActor(runtime.pool, runtime.settings.media_location)
    await _run(actor, runtime, JobName.INTEGRITY_CHECKSUM_FILES, {})
    assert sql("SELECT type, path FROM integrity_report") == [("checksum_mismatch", str(paths["changed"]))]
    # The run went to the end: the next one starts from the beginning again.
    assert sql("SELECT value FROM system_metadata WHERE key = 'integrity-checksum-checkpoint'") == [({},)]
