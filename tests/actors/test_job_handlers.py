"""No job waits forever: every job the API can cause to be queued has a worker that runs it.

Walks from each ``POST /api/jobs`` name and each queue ``start`` command through
``jobs.follow_ups`` in a server's microservices built as ``build_tree`` builds them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from immich_trio.actors import janitor
from immich_trio.config import Settings
from immich_trio.jobs.follow_ups import FOLLOW_UPS
from immich_trio.jobs.names import MANUAL_JOBS, START_JOBS, JobName
from immich_trio.microservices import Microservices, add_microservices, make_clip
from immich_trio.reactor import Supervisor
from immich_trio.runtime import utc_now
from immich_trio.sql.pool import Pool

PENDING_IN_JANITOR: frozenset[str] = frozenset()
"""Names allowed to reach only the janitor's queue-wide ``skipped`` answer (none today: a name
added here is never waiting, but not done)."""


@pytest.fixture
def parts(tmp_path: Path) -> Microservices:
    settings = Settings(media_location=tmp_path, db_url="postgresql://unused@/unused")
    return add_microservices(Supervisor("media"), Pool(settings.db_url or ""), settings, utc_now, make_clip(settings))


def accepted_starts() -> set[JobName]:
    """Job names the API queues directly."""
    return {job.name for job in MANUAL_JOBS.values()} | {start.name for start in START_JOBS.values()}


def reachable() -> set[JobName]:
    seen: set[JobName] = set()
    todo = list(accepted_starts())
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(FOLLOW_UPS.get(name, ()))
    return seen


def unhandled(parts: Microservices) -> list[str]:
    missing = []
    for name in sorted(reachable()):
        target = parts.dispatcher.target_of(name)
        if target is None:
            missing.append(f"{name}: no worker")
        elif target == parts.janitor.address and name not in janitor.HANDLED:
            if name not in PENDING_IN_JANITOR:
                missing.append(f"{name}: the janitor only skips it")
    return missing


def test_every_job_the_api_can_queue_has_a_worker(parts: Microservices) -> None:
    assert unhandled(parts) == []


def test_the_walk_reaches_fan_outs_and_manual_jobs() -> None:
    names = reachable()
    assert JobName.ASSET_GENERATE_THUMBNAILS in names  # thumbnailGeneration start fans out
    assert JobName.FILE_DELETE in names
    assert JobName.DATABASE_BACKUP in names
    assert JobName.SMART_SEARCH_QUEUE_ALL in names  # accepted with CLIP off
    assert JobName.SIDECAR_CHECK in names  # sidecar start fans out
    assert JobName.PERSON_FILE_MIGRATION in names  # migration start fans out


def test_a_new_job_without_a_worker_fails_the_walk(
    parts: Microservices, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every job name has a worker today: take one away, as a job added without one would be
    registered = parts.dispatcher.target_of
    monkeypatch.setattr(
        parts.dispatcher, "target_of", lambda name: None if name == JobName.ASSET_FILE_MIGRATION else registered(name)
    )
    assert unhandled(parts) == ["AssetFileMigration: no worker"]
