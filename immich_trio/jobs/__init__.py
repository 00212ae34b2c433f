"""Immich's job vocabulary: queue and job names and what the admin commands queue."""

from __future__ import annotations

from immich_trio.jobs.names import (
    ASSET_JOBS,
    FIXED_CONCURRENCY,
    MANUAL_JOBS,
    QUEUE_JOBS,
    QUEUE_OF,
    START_JOBS,
    UNPAUSABLE,
    JobName,
    ManualJob,
    ManualJobName,
    QueueName,
    StartJob,
    concurrency_from_config,
)

__all__ = [
    "ASSET_JOBS",
    "FIXED_CONCURRENCY",
    "MANUAL_JOBS",
    "QUEUE_JOBS",
    "QUEUE_OF",
    "START_JOBS",
    "UNPAUSABLE",
    "JobName",
    "ManualJob",
    "ManualJobName",
    "QueueName",
    "StartJob",
    "concurrency_from_config",
]
