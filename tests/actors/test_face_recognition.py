"""Facial recognition on a real database through the real dispatcher: synthetic 512-d face
embeddings are clustered into people as Immich clusters them (``minFaces`` 3, ``maxDistance``
0.5): three clusters make three people, a lone face stays alone, a face near only one other
face waits (deferred) and joins a person once one exists, ``force`` starts over, the nightly
run looks again only after new faces, and two jobs at once never make two people."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
import trio
from face_world import (
    DIM,
    TAKEN,
    Sql,
    Wall,
    basis,
    cluster,
    faces_on_new_assets,
    groups,
    make_asset,
    make_face,
    make_user,
    people,
    queue,
    recognition,
    recognition_config,
    save_config,
    settled,
    thumbnail_jobs,
    unassigned,
)
from media_harness import LIMIT, POLL

from immich_trio.actors import face_recognition
from immich_trio.actors.face_recognition import FacialRecognitionActor
from immich_trio.jobs.names import JobName
from immich_trio.sql import face_recognition as face_sql
from immich_trio.sql.jobs import Job
from immich_trio.sql.pool import Pool

NOW = TAKEN + timedelta(days=30)
QUEUE_ALL = JobName.FACIAL_RECOGNITION_QUEUE_ALL
RECOGNIZE = JobName.FACIAL_RECOGNITION


@pytest.fixture
def owner(sql: Sql) -> str:
    save_config(sql, recognition_config())
    return make_user(sql, "owner@example.com")


def state(sql: Sql) -> object:
    rows = sql("SELECT value FROM system_metadata WHERE key = 'facial-recognition-state'")
    return rows[0][0] if rows else None


async def test_three_clusters_make_three_people_and_a_lone_face_stays_alone(
    pool: Pool, sql: Sql, owner: str
) -> None:
    rng = random.Random(1)
    clusters = [faces_on_new_assets(sql, owner, cluster(rng, size)) for size in (3, 4, 6)]
    [lone] = faces_on_new_assets(sql, owner, cluster(rng, 1))
    # a cluster seen only on archived photos is never "core": it makes no person
    archived = faces_on_new_assets(sql, owner, cluster(rng, 3), visibility="archive")
    # another user's faces, however close, are never mixed with the owner's
    stranger = make_user(sql, "stranger@example.com")
    twin = faces_on_new_assets(sql, stranger, cluster(random.Random(1), 3)[:2])

    async with recognition(pool, Wall(NOW)):
        queue(sql, QUEUE_ALL, {"force": False})
        await settled(sql)

    found = people(sql)
    assert groups(sql) == {frozenset(c) for c in clusters}
    assert unassigned(sql) == {lone, *archived, *twin}
    owners = {o for (o,) in sql('SELECT DISTINCT "ownerId"::text FROM person')}
    assert owners == {owner}
    # each person's feature face is one of its faces, and its thumbnail is queued
    for person, feature in sql('SELECT id::text, "faceAssetId"::text FROM person'):
        assert feature in found[person]
    assert thumbnail_jobs(sql) == set(found)
    assert state(sql) == {"lastRun": "2024-05-31T12:00:00.000Z"}


async def test_a_deferred_face_joins_the_person_its_cluster_made(pool: Pool, sql: Sql, owner: str) -> None:
    # a1, a2, a3 are one tight cluster; edge is within 0.5 of a1 only (0.4), 0.6 from the others
    a1 = basis((0, 1.0))
    a2 = basis((0, 0.9), (1, 0.19**0.5))
    a3 = basis((0, 0.9), (2, 0.19**0.5))
    y = (0.4 - 0.54) / 0.19**0.5
    edge = basis((0, 0.6), (1, y), (2, y), (3, (1 - 0.36 - 2 * y * y) ** 0.5))
    faces = faces_on_new_assets(sql, owner, [edge, a1, a2, a3])

    async with recognition(pool, Wall(NOW)) as actor:
        # face detection queues one job per new face, the edge face first
        for face in faces:
            queue(sql, RECOGNIZE, {"id": face})
        await settled(sql)
        decisions = actor.extra_status()

    # on its first run the edge face matched only a1 (no person yet): it went to the back
    assert decisions["deferred"] == 1
    assert groups(sql) == {frozenset(faces)}
    assert unassigned(sql) == set()


async def test_a_pair_waits_unassigned_until_its_cluster_grows(pool: Pool, sql: Sql, owner: str) -> None:
    rng = random.Random(2)
    members = cluster(rng, 4)
    pair = faces_on_new_assets(sql, owner, members[:2])
    async with recognition(pool, Wall(NOW)):
        queue(sql, QUEUE_ALL, {"force": False})
        await settled(sql)
        assert people(sql) == {}
        assert unassigned(sql) == set(pair)

        # two more photos of the same person are detected later
        more = faces_on_new_assets(sql, owner, members[2:])
        queue(sql, QUEUE_ALL, {"force": False})
        await settled(sql)

    assert groups(sql) == {frozenset(pair + more)}


async def test_force_unassigns_deletes_emptied_people_and_clusters_again(
    pool: Pool, sql: Sql, owner: str, tmp_path: Path
) -> None:
    rng = random.Random(3)
    clusters = [faces_on_new_assets(sql, owner, cluster(rng, 3)) for _ in range(2)]
    # a person of the user's own, with a face drawn by hand: force leaves it alone
    [(named,)] = sql("INSERT INTO person (\"ownerId\", name) VALUES (%s, 'Ada') RETURNING id::text", (owner,))
    manual = make_face(sql, make_asset(sql, owner), None, source="manual", person=named)

    async with recognition(pool, Wall(NOW)):
        queue(sql, QUEUE_ALL, {"force": False})
        await settled(sql)
        first = people(sql)
        assert groups(sql) == {frozenset(c) for c in clusters} | {frozenset({manual})}
        old = set(first) - {named}
        thumb = tmp_path / "old-person.jpeg"
        sql('UPDATE person SET "thumbnailPath" = %s WHERE id = %s', (str(thumb), sorted(old)[0]))

        queue(sql, QUEUE_ALL, {"force": True})
        await settled(sql)

    second = people(sql)
    assert groups(sql) == {frozenset(faces) for faces in first.values()}
    assert not old & set(second)  # the machine-made people were deleted and made anew
    assert second[named] == {manual}
    [(files,)] = sql("SELECT data->'files' FROM immich_trio.job WHERE name = 'FileDelete'")
    assert files == [str(thumb)]


async def test_nightly_looks_again_only_after_new_faces(pool: Pool, sql: Sql, owner: str) -> None:
    rng = random.Random(4)
    members = cluster(rng, 3)
    [early] = faces_on_new_assets(sql, owner, members[:1])
    sql('INSERT INTO asset_job_status ("assetId", "facesRecognizedAt") SELECT "assetId", %s FROM asset_face',
        (NOW - timedelta(hours=1),))  # fmt: skip
    wall = Wall(NOW)
    async with recognition(pool, wall):
        queue(sql, QUEUE_ALL, {"force": False, "nightly": True})
        await settled(sql)
        assert state(sql) == {"lastRun": "2024-05-31T12:00:00.000Z"}
        assert unassigned(sql) == {early}

        # two faces appear without any detection run recorded since: the next night skips
        later = faces_on_new_assets(sql, owner, members[1:])
        wall.moment = NOW + timedelta(days=1)
        queue(sql, QUEUE_ALL, {"force": False, "nightly": True})
        await settled(sql)
        assert state(sql) == {"lastRun": "2024-05-31T12:00:00.000Z"}
        assert people(sql) == {}

        # detection records them: the night after clusters the three
        sql('INSERT INTO asset_job_status ("assetId", "facesRecognizedAt") SELECT "assetId", %s FROM asset_face'
            ' WHERE id = ANY(%s::uuid[])', (NOW + timedelta(days=1, hours=1), later))  # fmt: skip
        wall.moment = NOW + timedelta(days=2)
        queue(sql, QUEUE_ALL, {"force": False, "nightly": True})
        await settled(sql)

    assert state(sql) == {"lastRun": "2024-06-02T12:00:00.000Z"}
    assert groups(sql) == {frozenset([early, *later])}


async def test_a_person_born_after_the_photo_is_not_matched(pool: Pool, sql: Sql, owner: str) -> None:
    rng = random.Random(7)
    members = cluster(rng, 5)
    [(kid,)] = sql(
        "INSERT INTO person (\"ownerId\", name, \"birthDate\") VALUES (%s, 'Kid', '2025-01-01') RETURNING id::text",
        (owner,),
    )
    known = [make_face(sql, make_asset(sql, owner, taken=TAKEN + timedelta(days=400)), e, person=kid)
             for e in members[:3]]  # fmt: skip
    # the same face on a photo taken before the birth date cannot be the kid; one taken after is
    [before] = faces_on_new_assets(sql, owner, members[3:4])  # taken 2024-05-01
    [after] = faces_on_new_assets(sql, owner, members[4:], taken=TAKEN + timedelta(days=500))

    async with recognition(pool, Wall(NOW)):
        queue(sql, QUEUE_ALL, {"force": False})
        await settled(sql)

    assert people(sql) == {kid: {*known, after}}
    assert unassigned(sql) == {before}


async def test_a_zero_embedding_matches_nothing_and_breaks_nothing(pool: Pool, sql: Sql, owner: str) -> None:
    """A zero vector has no cosine distance (NaN) to anything: its face stays alone, its job
    ends, and the faces around it still cluster."""
    zero = make_face(sql, make_asset(sql, owner), [0.0] * DIM)
    faces = faces_on_new_assets(sql, owner, cluster(random.Random(8), 3))
    async with recognition(pool, Wall(NOW)) as actor:
        queue(sql, QUEUE_ALL, {"force": False})
        await settled(sql)
        status = actor.extra_status()

    assert groups(sql) == {frozenset(faces)}
    assert unassigned(sql) == {zero}
    assert status["failed"] == 0


async def test_queue_all_waits_until_face_detection_is_done(
    pool: Pool, sql: Sql, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    faces = faces_on_new_assets(sql, owner, cluster(random.Random(9), 3))
    [(detecting,)] = sql(
        "INSERT INTO immich_trio.job (queue, name, data, status)"
        " VALUES ('faceDetection', 'AssetDetectFaces', '{}'::jsonb, 'active') RETURNING id"
    )
    looks: list[int] = []
    looked_thrice = trio.Event()
    active_jobs = face_sql.active_jobs

    async def counted(conn: face_sql.Conn, queues: list[str]) -> int:
        looks.append(await active_jobs(conn, queues))
        if len(looks) >= 3:
            looked_thrice.set()
        return looks[-1]

    monkeypatch.setattr(face_sql, "active_jobs", counted)
    monkeypatch.setattr(face_recognition, "QUEUE_WAIT_POLL", POLL / 10)
    actor = FacialRecognitionActor(pool, now=Wall(NOW))
    job = Job(id=1, queue="facialRecognition", name=QUEUE_ALL.value, data={"force": False}, attempt=1,
              max_attempts=3, created_at=NOW)  # fmt: skip
    results = []

    async def run() -> None:
        results.append(await actor.run_job(job))

    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            await looked_thrice.wait()
            assert results == []  # still waiting on the detection job
            sql("DELETE FROM immich_trio.job WHERE id = %s", (detecting,))

    [result] = results
    assert result.status == "success" and looks[-1] == 0 and set(looks[:3]) == {1}
    assert result.apply is not None
    async with pool.connection() as conn, conn.transaction():
        await result.apply(conn)
    queued = sql("SELECT data->>'id' FROM immich_trio.job WHERE name = 'FacialRecognition'")
    assert {face for (face,) in queued} == set(faces)


async def test_turned_off_it_does_nothing(pool: Pool, sql: Sql, owner: str) -> None:
    save_config(sql, recognition_config(enabled=False))
    faces = faces_on_new_assets(sql, owner, cluster(random.Random(5), 3))
    async with recognition(pool, Wall(NOW)):
        queue(sql, QUEUE_ALL, {"force": False})
        queue(sql, RECOGNIZE, {"id": faces[0]})
        await settled(sql)
    assert people(sql) == {}
    assert unassigned(sql) == set(faces)
    assert state(sql) is None


async def test_unknown_or_embeddingless_faces_fail_for_good(pool: Pool, sql: Sql, owner: str) -> None:
    no_embedding = make_face(sql, make_asset(sql, owner), None)
    actor = FacialRecognitionActor(pool, now=Wall(NOW))
    for face, error in (
        ("7d1c5e0e-7a5d-4a37-9d0c-000000000000", "Face 7d1c5e0e-7a5d-4a37-9d0c-000000000000 not found"),
        (no_embedding, f"Face {no_embedding} does not have an embedding"),
    ):
        job = Job(id=1, queue="facialRecognition", name=RECOGNIZE.value, data={"id": face}, attempt=1,
                  max_attempts=3, created_at=NOW)  # fmt: skip
        result = await actor.run_job(job)
        assert (result.status, result.error, result.retry) == ("failed", error, False)


async def test_two_jobs_at_once_on_one_cluster_make_one_person(pool: Pool, sql: Sql, owner: str) -> None:
    """Two processes each run a face of a new cluster: the second waits for the first's
    commit (the owner's lock), then finds its person instead of creating another."""
    faces = faces_on_new_assets(sql, owner, cluster(random.Random(6), 3))
    actor = FacialRecognitionActor(pool, now=Wall(NOW))
    results = []
    for face in faces[:2]:
        job = Job(id=1, queue="facialRecognition", name=RECOGNIZE.value, data={"id": face}, attempt=1,
                  max_attempts=3, created_at=NOW)  # fmt: skip
        result = await actor.run_job(job)
        assert result.status == "success" and result.apply is not None
        results.append(result.apply)

    second_done = trio.Event()

    async def second(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with pool.connection() as conn, conn.transaction():
            task_status.started()
            await results[1](conn)
        second_done.set()

    def second_waits() -> bool:
        return sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == [(1,)]

    with trio.fail_after(LIMIT):
        async with pool.connection() as conn, trio.open_nursery() as nursery:
            async with conn.transaction():
                await results[0](conn)  # creates the person, not committed yet
                await nursery.start(second)
                for _ in range(int(LIMIT / POLL)):
                    if second_done.is_set() or second_waits():
                        break
                    await trio.sleep(POLL)

    assert groups(sql) == {frozenset(faces[:2])}
    assert len(thumbnail_jobs(sql)) == 1
