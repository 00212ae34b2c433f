"""Jobs and queues (tags "Jobs" and "Queues"): builders from queue counts and job rows, and
Immich's key order for them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from immich_trio.http.dto import key_order
from immich_trio.http.dto.generated import (
    QueueJobResponseDto,
    QueueName,
    QueueResponseDto,
    QueueResponseLegacyDto,
    QueueStatisticsDto,
    QueueStatusLegacyDto,
)

# Immich's class order, not the spec's
key_order(QueueStatisticsDto, "active", "completed", "failed", "delayed", "waiting", "paused")
key_order(QueueResponseDto, "name", "is_paused", "statistics")
key_order(QueueJobResponseDto, "id", "name", "data", "timestamp")


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
    """``name`` is a value of ``jobs.names.QueueName``, whose values are the spec's."""
    return QueueResponseDto(
        name=cast(QueueName, name), is_paused=is_paused, statistics=statistics_dto(counts)
    )


def queue_job_dto(row: Mapping[str, Any]) -> QueueJobResponseDto:
    created: datetime = row["created_at"]
    return QueueJobResponseDto(
        id=str(row["id"]),
        name=row["name"],
        data=dict(row["data"] or {}),
        timestamp=int(created.timestamp() * 1000),
    )
