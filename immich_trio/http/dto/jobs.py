"""DTOs of the tags "Jobs" and "Queues"."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class QueueStatisticsDto:
    active: int
    completed: int
    failed: int
    delayed: int
    waiting: int
    paused: int


@attrs.frozen(kw_only=True)
class QueueStatusLegacyDto:
    is_active: bool
    is_paused: bool


@attrs.frozen(kw_only=True)
class QueueResponseLegacyDto:
    job_counts: QueueStatisticsDto
    queue_status: QueueStatusLegacyDto


@attrs.frozen(kw_only=True)
class QueueResponseDto:
    name: str
    is_paused: bool
    statistics: QueueStatisticsDto


@attrs.frozen(kw_only=True)
class QueueJobResponseDto:
    id: str
    name: str
    data: dict[str, Any]
    timestamp: int


@attrs.frozen(kw_only=True)
class QueueCommandDto:
    command: str
    force: bool | None = None


@attrs.frozen(kw_only=True)
class JobCreateDto:
    name: str


@attrs.frozen(kw_only=True)
class QueueUpdateDto:
    is_paused: bool | None = None


@attrs.frozen(kw_only=True)
class QueueDeleteDto:
    failed: bool | None = None


def statistics_dto(counts: Mapping[str, int]) -> QueueStatisticsDto:
    return QueueStatisticsDto(
        active=counts["active"],
        completed=counts["completed"],
        failed=counts["failed"],
        delayed=counts["delayed"],
        waiting=counts["waiting"],
        paused=counts["paused"],
    )


def legacy_dto(counts: Mapping[str, int], is_paused: bool) -> QueueResponseLegacyDto:
    return QueueResponseLegacyDto(
        job_counts=statistics_dto(counts),
        queue_status=QueueStatusLegacyDto(is_active=counts["active"] > 0, is_paused=is_paused),
    )


def queue_dto(name: str, counts: Mapping[str, int], is_paused: bool) -> QueueResponseDto:
    return QueueResponseDto(name=name, is_paused=is_paused, statistics=statistics_dto(counts))


def queue_job_dto(row: Mapping[str, Any]) -> QueueJobResponseDto:
    created: datetime = row["created_at"]
    return QueueJobResponseDto(
        id=str(row["id"]),
        name=row["name"],
        data=dict(row["data"] or {}),
        timestamp=int(created.timestamp() * 1000),
    )
