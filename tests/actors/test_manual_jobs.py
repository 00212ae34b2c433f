"""Admin-started jobs end to end on the whole server tree: the database backup, the person
cleanup, and the machine-learning start commands with machine learning off (accepted, then
skipped as Immich skips them)."""

from __future__ import annotations

import gzip
import re
import uuid

import httpx
import trio
from media_harness import Server, make_user, wait_for
from psycopg.types.json import Jsonb

from immich_trio import sysconfig

NO_JOBS = "SELECT name, status, error FROM immich_trio.job"
BACKUP = re.compile(r"^immich-db-backup-\d{8}T\d{6}-v3\.1\.0-pg\d+(\.\d+)*\.sql\.gz$")


async def admin_client(server: Server) -> tuple[httpx.AsyncClient, dict[str, str]]:
    admin = await trio.to_thread.run_sync(
        lambda: make_user(server.db_url, "admin@example.com", is_admin=True)
    )
    return httpx.AsyncClient(base_url=server.base, timeout=60), admin.headers


async def test_backup_database_writes_a_gzipped_sql_dump_and_keeps_the_newest(
    server: Server,
) -> None:
    folder = server.media / "backups"
    old = [f"immich-db-backup-2020010{i}T020000-v3.1.0-pg18.1.sql.gz" for i in range(1, 6)]
    for name in [*old, "immich-db-backup-20200109T020000-v3.1.0-pg18.1.sql.gz.tmp", "keep.txt"]:
        (folder / name).write_bytes(b"old")
    server.sql(
        "INSERT INTO system_metadata (key, value) VALUES (%s, %s)"
        " ON CONFLICT (key) DO UPDATE SET value = system_metadata.value || EXCLUDED.value",
        (sysconfig.KEY, Jsonb({"backup": {"database": {"keepLastAmount": 3}}})),
    )
    client, headers = await admin_client(server)
    async with client:
        response = await client.post("/api/jobs", json={"name": "backup-database"}, headers=headers)
        assert response.status_code == 204
    await wait_for(server, NO_JOBS, (), [])
    names = sorted(p.name for p in folder.iterdir())
    made = [n for n in names if n not in old and BACKUP.match(n)]
    assert len(made) == 1
    assert names == sorted([*old[-2:], made[0], "keep.txt", ".immich"])  # and Immich's folder marker
    dump = gzip.decompress((folder / made[0]).read_bytes()).decode()
    assert "PostgreSQL database dump" in dump
    assert "CREATE TABLE public.asset (" in dump
    assert "DROP TABLE IF EXISTS public.asset;" in dump


async def test_person_cleanup_deletes_faceless_people_and_their_thumbnails(server: Server) -> None:
    owner = await trio.to_thread.run_sync(make_user, server.db_url, "owner@example.com")
    thumb = server.media / "thumbs" / "person.jpeg"
    thumb.parent.mkdir(parents=True, exist_ok=True)
    thumb.write_bytes(b"x")
    faceless, kept = str(uuid.uuid4()), str(uuid.uuid4())
    for person_id, path in ((faceless, str(thumb)), (kept, "")):
        server.sql(
            'INSERT INTO person (id, "ownerId", "thumbnailPath") VALUES (%s, %s, %s)',
            (person_id, owner.id, path),
        )
    asset_id = str(uuid.uuid4())
    server.sql(
        'INSERT INTO asset (id, "ownerId", type, "originalPath", "originalFileName", checksum,'
        ' "checksumAlgorithm", "fileCreatedAt", "fileModifiedAt", "localDateTime")'
        " VALUES (%s, %s, 'IMAGE', '/x.jpg', 'x.jpg', %s, 'sha1', now(), now(), now())",
        (asset_id, owner.id, uuid.uuid4().bytes[:20]),
    )
    server.sql('INSERT INTO asset_face ("assetId", "personId") VALUES (%s, %s)', (asset_id, kept))
    client, headers = await admin_client(server)
    async with client:
        response = await client.post("/api/jobs", json={"name": "person-cleanup"}, headers=headers)
        assert response.status_code == 204
    await wait_for(server, NO_JOBS, (), [])
    assert server.sql("SELECT id::text FROM person") == [(kept,)]
    assert not thumb.exists()


async def test_machine_learning_starts_with_it_off_are_accepted_and_skipped(server: Server) -> None:
    client, headers = await admin_client(server)
    async with client:
        start = {"command": "start", "force": False}
        server.sql(
            "INSERT INTO system_metadata (key, value) VALUES (%s, %s)"
        " ON CONFLICT (key) DO UPDATE SET value = system_metadata.value || EXCLUDED.value",
            (sysconfig.KEY, Jsonb({"machineLearning": {"enabled": False}})),
        )
        for queue in ("faceDetection", "facialRecognition", "duplicateDetection", "ocr"):
            response = await client.put(f"/api/jobs/{queue}", json=start, headers=headers)
            assert response.status_code == 200, queue
    await wait_for(server, NO_JOBS, (), [])
