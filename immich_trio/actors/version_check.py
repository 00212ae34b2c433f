"""Immich's version check: once an hour, while ``newVersionCheck.enabled``, ask GitHub for the
latest release, store it as ``version-check-state`` and tell every socket of a newer one
(``on_new_release``, a ``ReleaseNotification``)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import trio

from immich_trio import sysconfig
from immich_trio.actors.config_watch import following_config
from immich_trio.actors.dispatcher import WallClock
from immich_trio.actors.notifier import SERVER_VERSION
from immich_trio.sql import events, system_metadata
from immich_trio.sql import nightly as claims
from immich_trio.sql.errors import DatabaseUnavailable
from immich_trio.sql.pool import Pool

log = logging.getLogger(__name__)

TASK_NAME = "version-check"
RELEASE_URL = "https://api.github.com/repos/immich-app/immich/releases/latest"
"""Immich's source of the latest release (``IMMICH_VERSION_CHECK_URL`` overrides it)."""
INTERVAL = 3600.0
"""Seconds between two checks (Immich: an hourly cron in the API worker)."""
MIN_AGE = timedelta(minutes=60)
"""A check stored less than this long ago is not repeated (Immich's rule on ``checkedAt``)."""
FETCH_TIMEOUT = 30.0
CLAIM_KEY = claims.cron_key("versionCheck")

_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")

Version = tuple[int, int, int, str | None]


def parse_version(text: str) -> Version:
    """``v3.1.0`` or ``3.2.0-rc.1`` as (major, minor, patch, prerelease); ValueError otherwise."""
    match = _SEMVER.match(text.strip())
    if match is None:
        raise ValueError(f"not a semantic version: {text!r}")
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), pre


def _pre_key(pre: str | None) -> tuple[Any, ...]:
    # Semver precedence: a release outranks its prereleases; numeric fields compare as numbers
    # and rank below alphanumeric ones.
    if pre is None:
        return (1,)
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (0, parts)


def is_newer(release: Version, current: Version) -> bool:
    return (release[:3], _pre_key(release[3])) > (current[:3], _pre_key(current[3]))


def version_dto(version: Version) -> dict[str, Any]:
    major, minor, patch, pre = version
    return {"major": major, "minor": minor, "patch": patch, "prerelease": pre}


def current_version() -> Version:
    v = SERVER_VERSION
    pre = v.get("prerelease")
    return int(v["major"] or 0), int(v["minor"] or 0), int(v["patch"] or 0), None if pre is None else str(pre)


def release_notification(state: dict[str, Any]) -> dict[str, Any] | None:
    """Immich's ``ReleaseNotification`` for a stored ``version-check-state`` (None if unreadable)."""
    try:
        release = parse_version(str(state["releaseVersion"]))
    except (KeyError, ValueError):
        return None
    ours = current_version()
    return {
        "isAvailable": is_newer(release, ours),
        "checkedAt": state.get("checkedAt"),
        "serverVersion": version_dto(ours),
        "releaseVersion": version_dto(release),
    }


def iso_utc(moment: datetime) -> str:
    """Luxon's ``toISO()`` of a UTC instant: milliseconds and ``Z``."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _checked_at(state: Any) -> datetime | None:
    raw = state.get("checkedAt") if isinstance(state, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


class VersionCheck:
    """Owns the hourly version check; a supervised task (``run``) beside the nightly scheduler,
    in every ``api`` process.

    Checks at start, then every ``INTERVAL`` seconds of the Trio clock, and at once when a saved
    config turns ``newVersionCheck.enabled`` on. Each check claims its hour
    (``sql/nightly.claim_run`` under its own key: two processes never both ask GitHub) and,
    as Immich does, skips when ``version-check-state.checkedAt`` is under an hour old. The
    fetch runs outside any transaction; its result is stored and, when newer than ours,
    published to every socket (``on_new_release``) in one transaction. A failure (network,
    database, a bad answer) is logged as a warning and changes nothing; the next hour retries.
    """

    def __init__(
        self,
        pool: Pool,
        *,
        now: WallClock,
        url: str = RELEASE_URL,
        base: sysconfig.Config | None = None,
    ) -> None:
        self._pool = pool
        self._now = now
        self._url = url
        self._base = base
        self._enabled = bool(sysconfig.defaults()["newVersionCheck"]["enabled"])
        self._turned_on = trio.Event()
        self.checks = 0
        """Releases fetched and stored (for tests and status)."""
        self.failures = 0

    def _on_config(self, config: sysconfig.Config) -> None:
        enabled = bool(config.get("newVersionCheck", {}).get("enabled", True))
        if enabled and not self._enabled:
            self._turned_on.set()
        self._enabled = enabled

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with following_config(self._pool, self._base, self._on_config, name="version check"):
            self._turned_on = trio.Event()
            task_status.started()
            while True:
                await self.check_once()
                with trio.move_on_after(INTERVAL):
                    await self._turned_on.wait()
                self._turned_on = trio.Event()

    async def check_once(self) -> bool:
        """One check by Immich's rules; True when a release was fetched and stored."""
        if not self._enabled:
            return False
        try:
            if not await self._claim():
                return False
            with trio.fail_after(FETCH_TIMEOUT):
                release = await self._fetch()
            tag = str(release.get("tag_name", ""))
            version = parse_version(tag)
            state = {"checkedAt": iso_utc(self._now()), "releaseVersion": tag}
            async with self._pool.connection() as conn, conn.transaction():
                await system_metadata.set_value(conn, system_metadata.VERSION_CHECK_STATE, state)
                if is_newer(version, current_version()):
                    log.info("version check: found %s, released at %s", tag, release.get("published_at"))
                    await events.publish_to_all(conn, "on_new_release", release_notification(state))
        except (
            DatabaseUnavailable, psycopg.Error, httpx.HTTPError, trio.TooSlowError, ValueError,
        ) as exc:
            log.warning("version check: unable to run: %s", exc)
            self.failures += 1
            return False
        self.checks += 1
        return True

    async def _claim(self) -> bool:
        now = self._now()
        hour = now.replace(minute=0, second=0, microsecond=0)
        async with self._pool.connection() as conn, conn.transaction():
            if not await claims.claim_run(conn, hour, CLAIM_KEY):
                return False
            checked = _checked_at(await system_metadata.get(conn, system_metadata.VERSION_CHECK_STATE))
            return checked is None or now - checked >= MIN_AGE

    async def _fetch(self) -> dict[str, Any]:
        async with httpx.AsyncClient(headers={"Accept": "application/vnd.github+json"}) as client:
            response = await client.get(self._url)
            response.raise_for_status()
            body = response.json()
        if not isinstance(body, dict):
            raise ValueError("the release answer is not an object")
        return body
