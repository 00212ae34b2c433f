"""Asset calls over HTTP for the pipeline's end-to-end tests: upload, read, wait for metadata."""

from __future__ import annotations

from typing import Any

import httpx
from media_harness import Server, User, wait_for

CREATED_AT = "2024-01-15T10:30:00.000Z"


async def upload(server: Server, user: User, data: bytes, filename: str, **extra: str) -> str:
    fields = {
        "deviceAssetId": f"{filename}-1",
        "deviceId": "pytest",
        "fileCreatedAt": CREATED_AT,
        "fileModifiedAt": CREATED_AT,
        **extra,
    }
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        resp = await client.post(
            "/api/assets", headers=user.headers, data=fields,
            files={"assetData": (filename, data, "application/octet-stream")},
        )
    assert resp.status_code == 201, resp.text
    asset_id: str = resp.json()["id"]
    return asset_id


async def api(server: Server, user: User, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        resp = await client.request(method, path, headers=user.headers, json=body)
    assert resp.status_code < 300, resp.text
    return resp.json() if resp.content else None


async def extracted(server: Server, *ids: str) -> None:
    """Wait until each asset's metadata job has run (successfully)."""
    await wait_for(
        server,
        'SELECT count(*) FROM asset_job_status WHERE "assetId" = ANY(%s::uuid[])'
        ' AND "metadataExtractedAt" IS NOT NULL',
        (list(ids),),
        [(len(ids),)],
    )


async def timeline_count(server: Server, user: User) -> int:
    buckets = await api(server, user, "GET", "/api/timeline/buckets")
    return sum(int(b["count"]) for b in buckets)
