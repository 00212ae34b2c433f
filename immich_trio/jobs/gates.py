"""Start jobs of features not built yet, and the system-config switch that turns each off.

Immich's handler for each of these answers ``skipped`` at once and queues nothing when its
feature is off (``SmartSearchQueueAll`` with CLIP disabled, ...). Here the job is accepted
only in that state, and its handler answers ``skipped`` with a log line naming the feature; with the feature on, the
API refuses the command, so no job waits for a worker that does not exist. A job with no
switch (``off`` is ``None``) is always refused.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import attrs

from immich_trio.jobs.names import JobName

Config = dict[str, Any]


def _section(config: Config, *keys: str) -> dict[str, Any]:
    node: Any = config
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _ml(config: Config) -> bool:
    return _section(config, "machineLearning").get("enabled") is not False


def _ml_feature(name: str) -> Callable[[Config], bool]:
    def is_off(config: Config) -> bool:
        return not (_ml(config) and _section(config, "machineLearning", name).get("enabled") is not False)

    return is_off


@attrs.frozen(kw_only=True)
class Feature:
    """A feature not built yet: its name for logs, and when the system config turns it off."""

    name: str
    off: Callable[[Config], bool] | None = None

    def is_off(self, config: Config) -> bool:
        return self.off is not None and self.off(config)


J = JobName
UNBUILT: MappingProxyType[JobName, Feature] = MappingProxyType(
    {
        J.FILE_MIGRATION_QUEUE_ALL: Feature(name="file migration"),
    }
)
"""Jobs the API may queue whose feature is not built, by job name."""

SKIPPED_WHEN_OFF: tuple[JobName, ...] = tuple(name for name, f in UNBUILT.items() if f.off is not None)
"""The ones accepted with their feature off; their handler answers ``skipped``."""


def refuses(name: JobName, config: Config) -> bool:
    """Whether the API must refuse to queue ``name`` under ``config``."""
    feature = UNBUILT.get(name)
    return feature is not None and not feature.is_off(config)
