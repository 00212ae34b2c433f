"""Tags "Jobs" and "Queues": legacy counts and commands, queue endpoints, admin only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from immich_trio.jobs.names import QueueName

Sql = Callable[..., list[tuple[Any, ...]]]
ZERO = {"active": 0, "completed": 0, "failed": 0, "delayed": 0, "waiting": 0, "paused": 0}


def add_job(
    sql: Sql, queue: str, name: str, status: str = "waiting", run_after: str | None = None
) -> int:
    rows = sql(
        "INSERT INTO immich_trio.job (queue, name, data, status, run_after)"
        ' VALUES (%s, %s, \'{"id": "x"}\', %s, %s::timestamptz) RETURNING id',
        (queue, name, status, run_after),
    )
    return int(rows[0][0])


@pytest.fixture
async def admin(make_user: Any) -> Any:
    return await make_user("admin@example.com", is_admin=True)


async def test_get_jobs_lists_every_queue_in_order_with_counts(
    client: Any, admin: Any, sql: Sql
) -> None:
    add_job(sql, "thumbnailGeneration", "AssetGenerateThumbnails")
    add_job(sql, "thumbnailGeneration", "AssetGenerateThumbnails", "active")
    add_job(sql, "thumbnailGeneration", "AssetGenerateThumbnails", "failed")
    add_job(sql, "thumbnailGeneration", "AssetGenerateThumbnails", run_after="2999-01-01T00:00:00Z")
    response = await client.get("/api/jobs", headers=admin.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert list(body) == [queue.value for queue in QueueName]
    assert body["thumbnailGeneration"] == {
        "jobCounts": {
            "active": 1,
            "completed": 0,
            "failed": 1,
            "delayed": 1,
            "waiting": 1,
            "paused": 0,
        },
        "queueStatus": {"isActive": True, "isPaused": False},
    }
    assert body["metadataExtraction"] == {
        "jobCounts": ZERO,
        "queueStatus": {"isActive": False, "isPaused": False},
    }


async def test_start_enqueues_the_queue_all_job(client: Any, admin: Any, sql: Sql) -> None:
    response = await client.put(
        "/api/jobs/thumbnailGeneration",
        json={"command": "start", "force": True},
        headers=admin.headers,
    )
    assert response.status_code == 200
    body = await response.get_json()
    assert body["jobCounts"]["waiting"] == 1
    assert sql("SELECT queue, name, data FROM immich_trio.job") == [
        ("thumbnailGeneration", "AssetGenerateThumbnailsQueueAll", {"force": True})
    ]
    response = await client.put(
        "/api/jobs/storageTemplateMigration", json={"command": "start"}, headers=admin.headers
    )
    assert response.status_code == 200
    assert sql("SELECT data FROM immich_trio.job WHERE name = 'StorageTemplateMigration'") == [
        ({},)
    ]


async def test_start_errors(client: Any, admin: Any, sql: Sql) -> None:
    response = await client.put(
        "/api/jobs/search", json={"command": "start"}, headers=admin.headers
    )
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "Invalid job name: search"
    add_job(sql, "metadataExtraction", "AssetExtractMetadata", "active")
    response = await client.put(
        "/api/jobs/metadataExtraction", json={"command": "start"}, headers=admin.headers
    )
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "Job is already running"
    response = await client.put("/api/jobs/nope", json={"command": "start"}, headers=admin.headers)
    assert response.status_code == 400
    response = await client.put(
        "/api/jobs/metadataExtraction", json={"command": "jump"}, headers=admin.headers
    )
    assert response.status_code == 400


async def test_pause_resume_empty_clear_failed(client: Any, admin: Any, sql: Sql) -> None:
    url = "/api/jobs/smartSearch"
    add_job(sql, "smartSearch", "SmartSearch")
    add_job(sql, "smartSearch", "SmartSearch")
    add_job(sql, "smartSearch", "SmartSearch", "failed")
    response = await client.put(url, json={"command": "pause"}, headers=admin.headers)
    body = await response.get_json()
    assert body["queueStatus"] == {"isActive": False, "isPaused": True}
    assert body["jobCounts"]["paused"] == 2 and body["jobCounts"]["waiting"] == 0
    response = await client.put(url, json={"command": "resume"}, headers=admin.headers)
    body = await response.get_json()
    assert body["queueStatus"]["isPaused"] is False and body["jobCounts"]["waiting"] == 2
    response = await client.put(url, json={"command": "empty"}, headers=admin.headers)
    body = await response.get_json()
    assert body["jobCounts"]["waiting"] == 0 and body["jobCounts"]["failed"] == 1
    response = await client.put(url, json={"command": "clear-failed"}, headers=admin.headers)
    assert (await response.get_json())["jobCounts"] == ZERO


async def test_create_manual_job(client: Any, admin: Any, sql: Sql) -> None:
    for name in (
        "tag-cleanup",
        "integrity-missing-files-refresh",
        "integrity-checksum-mismatch-delete-all",
    ):
        response = await client.post("/api/jobs", json={"name": name}, headers=admin.headers)
        assert response.status_code == 204
    assert sql("SELECT queue, name, data FROM immich_trio.job ORDER BY id") == [
        ("backgroundTask", "TagCleanup", {}),
        ("integrityCheck", "IntegrityMissingFilesQueueAll", {"refreshOnly": True}),
        ("integrityCheck", "IntegrityDeleteReportType", {"type": "checksum_mismatch"}),
    ]
    response = await client.post("/api/jobs", json={"name": "nope"}, headers=admin.headers)
    assert response.status_code == 400


async def test_queues_endpoints(client: Any, admin: Any, sql: Sql) -> None:
    first = add_job(sql, "ocr", "Ocr")
    add_job(sql, "ocr", "Ocr", "failed")
    response = await client.get("/api/queues", headers=admin.headers)
    assert response.status_code == 200
    body = await response.get_json()
    assert [item["name"] for item in body] == [queue.value for queue in QueueName]
    assert body[[q.value for q in QueueName].index("ocr")] == {
        "name": "ocr",
        "isPaused": False,
        "statistics": {**ZERO, "waiting": 1, "failed": 1},
    }
    response = await client.put("/api/queues/ocr", json={"isPaused": True}, headers=admin.headers)
    assert response.status_code == 200
    assert (await response.get_json())["isPaused"] is True
    response = await client.get("/api/queues/ocr", headers=admin.headers)
    body = await response.get_json()
    assert body["isPaused"] is True and body["statistics"]["paused"] == 1

    response = await client.get("/api/queues/ocr/jobs?status=paused", headers=admin.headers)
    assert response.status_code == 200
    (job,) = await response.get_json()
    assert job["id"] == str(first) and job["name"] == "Ocr" and job["data"] == {"id": "x"}
    assert isinstance(job["timestamp"], int)
    response = await client.get("/api/queues/ocr/jobs", headers=admin.headers)
    assert len(await response.get_json()) == 2

    response = await client.delete("/api/queues/ocr/jobs", json={}, headers=admin.headers)
    assert response.status_code == 204
    assert sql("SELECT status FROM immich_trio.job") == [("failed",)]
    response = await client.delete(
        "/api/queues/ocr/jobs", json={"failed": True}, headers=admin.headers
    )
    assert response.status_code == 204
    assert sql("SELECT status FROM immich_trio.job") == []


async def test_background_task_cannot_be_paused(client: Any, admin: Any) -> None:
    response = await client.put(
        "/api/queues/backgroundTask", json={"isPaused": True}, headers=admin.headers
    )
    assert response.status_code == 400
    assert (await response.get_json())["message"] == "The BackgroundTask queue cannot be paused"
    response = await client.put(
        "/api/queues/backgroundTask", json={"isPaused": False}, headers=admin.headers
    )
    assert response.status_code == 200


async def test_non_admin_is_forbidden(client: Any, make_user: Any) -> None:
    user = await make_user("user@example.com")
    for method, url, body in (
        ("GET", "/api/jobs", None),
        ("PUT", "/api/jobs/ocr", {"command": "start"}),
        ("POST", "/api/jobs", {"name": "tag-cleanup"}),
        ("GET", "/api/queues", None),
        ("GET", "/api/queues/ocr/jobs", None),
        ("DELETE", "/api/queues/ocr/jobs", {}),
    ):
        response = await client.open(url, method=method, json=body, headers=user.headers)
        assert response.status_code == 403, (method, url)
    response = await client.get("/api/jobs")
    assert response.status_code == 401
