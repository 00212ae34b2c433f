"""Album notifications where Immich creates them: an invite queues ``NotifyAlbumInvite``, new
media queues one debounced ``NotifyAlbumUpdate`` per album; the jobs write Immich's rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from immich_trio.actors.notifications import NotificationsActor
from immich_trio.runtime import Runtime
from immich_trio.sql.jobs import Job
from tests.http.test_albums import D1, D2, insert_asset

MakeUser = Callable[..., Awaitable[Any]]
Sql = Callable[..., list[tuple[Any, ...]]]


async def _run_jobs(runtime: Runtime, sql: Sql, name: str) -> None:
    """Run the waiting jobs called ``name`` as the dispatcher would (apply in a transaction)."""
    actor = NotificationsActor(runtime.pool)
    for job_id, data in sql("SELECT id, data FROM immich_trio.job WHERE name = %s ORDER BY id", (name,)):
        job = Job(id=job_id, queue="notifications", name=name, data=data, attempt=1, max_attempts=5,
                  created_at=datetime.now(UTC))
        result = await actor.run_job(job)
        assert result.status == "success" and result.apply is not None
        async with runtime.pool.connection() as conn, conn.transaction():
            await result.apply(conn)
        sql("DELETE FROM immich_trio.job WHERE id = %s", (job_id,))


async def test_invite_and_debounced_update(client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com", name="Alex")
    ana = await make_user("ana@example.com", name="Ana")
    a1, a2 = insert_asset(sql, alex.id, D1), insert_asset(sql, alex.id, D2)
    r = await client.post("/api/albums", json={"albumName": "Summer"}, headers=alex.headers)
    album = (await r.get_json())["id"]
    r = await client.put(f"/api/albums/{album}/users", json={"albumUsers": [{"userId": ana.id}]},
                         headers=alex.headers)
    assert r.status_code == 200
    assert sql("SELECT data FROM immich_trio.job WHERE name = 'NotifyAlbumInvite'") == [
        ({"id": album, "recipientId": ana.id},)]
    await _run_jobs(runtime, sql, "NotifyAlbumInvite")
    r = await client.get("/api/notifications", headers=ana.headers)
    [invite] = await r.get_json()
    assert list(invite) == ["id", "createdAt", "level", "type", "title", "description", "data"]
    assert (invite["level"], invite["type"], invite["title"], invite["description"], invite["data"]) == (
        "success", "AlbumInvite", "Shared Album Invitation", "Alex shared an album (Summer) with you",
        f'{{"albumId":"{album}"}}')

    # two additions: one waiting update job, five minutes after the last, for the others
    for asset in (a1, a2):
        r = await client.put(f"/api/albums/{album}/assets", json={"ids": [asset]}, headers=alex.headers)
        assert r.status_code == 200
    jobs = sql("SELECT data, run_after > now() + interval '4 minutes' FROM immich_trio.job"
               " WHERE name = 'NotifyAlbumUpdate'")
    assert jobs == [({"id": album, "recipientIds": [ana.id], "delay": 300000}, True)]
    await _run_jobs(runtime, sql, "NotifyAlbumUpdate")
    r = await client.get("/api/notifications?type=AlbumUpdate", headers=ana.headers)
    [update] = await r.get_json()
    assert (update["level"], update["title"], update["description"], update["data"]) == (
        "info", "Shared Album Update", "New media has been added to the album (Summer)", f'{{"albumId":"{album}"}}')
    assert (await (await client.get("/api/notifications", headers=alex.headers)).get_json()) == []


async def test_private_album_queues_nothing(client: Any, make_user: MakeUser, sql: Sql) -> None:
    alex = await make_user("alex@example.com")
    asset = insert_asset(sql, alex.id, D1)
    r = await client.post("/api/albums", json={"albumName": "Mine", "assetIds": [asset]}, headers=alex.headers)
    album = (await r.get_json())["id"]
    r = await client.put(f"/api/albums/{album}/assets", json={"ids": [insert_asset(sql, alex.id, D2)]},
                         headers=alex.headers)
    assert r.status_code == 200
    assert sql("SELECT count(*) FROM immich_trio.job WHERE queue = 'notifications'") == [(0,)]
