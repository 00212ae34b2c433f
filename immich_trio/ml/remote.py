"""Immich's machine-learning service as a client speaks to it (``POST <url>/predict``).

The request is multipart: ``entries`` (JSON: ``{"clip":{"visual":{"modelName":...}}}`` or
``{"clip":{"textual":{"modelName":...,"options":{"language":...}}}}``) and either ``image``
(the file's bytes) or ``text``. The answer is JSON; a CLIP embedding comes back as a string
holding a JSON list (``{"clip":"[0.1,...]"}``, plus ``imageHeight``/``imageWidth`` for an
image), which is also pgvector's text form, so it is stored as it came.

Fail-over as Immich's server does it: healthy URLs first, in configured order, then the
others; a URL that answers non-2xx or cannot be reached is marked unhealthy and the next is
tried; a success marks it healthy; when all fail the request fails. With
``availabilityChecks.enabled`` a loop pings every URL (``GET <url>/ping``, ``timeout`` ms)
every ``interval`` ms; without it every URL counts as healthy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import trio

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 300.0  # a cold ML service may download its model first


class RemoteError(Exception):
    """Every URL failed."""


def _urls(ml_config: Mapping[str, Any]) -> list[str]:
    urls = ml_config.get("urls") or []
    return [str(u) for u in urls]


def _checks(ml_config: Mapping[str, Any]) -> Mapping[str, Any]:
    checks = ml_config.get("availabilityChecks")
    return checks if isinstance(checks, Mapping) else {}


def _endpoint(url: str, path: str) -> str:
    # ``new URL('/predict', url)``: the path replaces whatever path the URL had
    parsed = httpx.URL(url)
    return str(parsed.copy_with(path=path, query=None, fragment=None))


class RemoteML:
    """Talks to the configured ML services and remembers which are healthy."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self.healthy: dict[str, bool] = {}

    def _client(self, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self._transport, timeout=timeout)

    def _set_healthy(self, url: str, healthy: bool) -> None:
        if self.healthy.get(url) != healthy:
            log.info("Machine learning server became %s (%s).", "healthy" if healthy else "unhealthy", url)
        self.healthy[url] = healthy

    def _is_healthy(self, ml_config: Mapping[str, Any], url: str) -> bool:
        if not _checks(ml_config).get("enabled", True):
            return True
        return self.healthy.get(url, False)

    async def predict(
        self,
        ml_config: Mapping[str, Any],
        entries: Mapping[str, Any],
        *,
        image: bytes | None = None,
        text: str | None = None,
    ) -> dict[str, Any]:
        urls = _urls(ml_config)
        ordered = [u for u in urls if self._is_healthy(ml_config, u)]
        ordered += [u for u in urls if not self._is_healthy(ml_config, u)]
        data = {"entries": json.dumps(entries, separators=(",", ":"))}
        if text is not None:
            data["text"] = text
        files = {"image": ("blob", image, "application/octet-stream")} if image is not None else None
        async with self._client(REQUEST_TIMEOUT) as client:
            for url in ordered:
                try:
                    response = await client.post(_endpoint(url, "/predict"), data=data, files=files)
                except httpx.HTTPError as exc:
                    log.warning('Machine learning request to "%s" failed: %s', url, exc or type(exc).__name__)
                else:
                    if response.is_success:
                        self._set_healthy(url, True)
                        answer = response.json()
                        if not isinstance(answer, dict):
                            raise RemoteError(f"Machine learning answer from {url} is not an object")
                        return answer
                    log.warning(
                        'Machine learning request to "%s" failed with status %d: %s',
                        url, response.status_code, response.reason_phrase,
                    )
                self._set_healthy(url, False)
        raise RemoteError(f"Machine learning request '{data['entries']}' failed for all URLs")

    async def check(self, url: str, within: float) -> None:
        """Ping ``url``; healthy if it answers 2xx within ``within`` seconds."""
        healthy = False
        with trio.move_on_after(within):
            try:
                async with self._client(within) as client:
                    healthy = (await client.get(_endpoint(url, "/ping"))).is_success
            except httpx.HTTPError:
                pass
        self._set_healthy(url, healthy)

    async def run_checks(
        self, config: Callable[[], Mapping[str, Any] | None], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Ping every URL each ``interval`` while ML and the checks are enabled."""
        task_status.started()
        while True:
            ml_config = config() or {}
            checks = _checks(ml_config)
            interval = float(checks.get("interval", 30000)) / 1000.0
            if ml_config.get("enabled", True) and checks.get("enabled", True):
                within = float(checks.get("timeout", 2000)) / 1000.0
                for url in list(self.healthy):
                    if url not in _urls(ml_config):
                        del self.healthy[url]
                async with trio.open_nursery() as nursery:
                    for url in _urls(ml_config):
                        nursery.start_soon(self.check, url, within)
            await trio.sleep(max(interval, 1.0))
