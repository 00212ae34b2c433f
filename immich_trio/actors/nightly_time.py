"""When the nightly tasks are due: Immich's cron ``<mm> <HH> * * *`` from
``nightlyTasks.startTime``, read in the server's time zone (the ``TZ`` variable, as Node reads it).

Immich schedules with the ``cron`` package, which handles the two DST nights this way: a start
time inside a spring-forward gap (02:30 in Europe/Berlin on the last Sunday of March) runs once,
at the first instant after the gap (03:00 local); a start time repeated by a fall-back runs
once, at its first occurrence.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

LOCALTIME = "/etc/localtime"
DEFAULT_START = time(0, 0)
_MINUTE = timedelta(minutes=1)


def server_zone(env: dict[str, str] | None = None) -> tzinfo:
    """The zone named by ``TZ``, else the system's ``/etc/localtime``, else UTC."""
    name = (env if env is not None else os.environ).get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("unknown time zone TZ=%r, nightly tasks use UTC", name)
            return UTC
    try:
        with open(LOCALTIME, "rb") as file:
            return ZoneInfo.from_file(file, key="localtime")
    except (OSError, ValueError):
        return UTC


def parse_start_time(value: object) -> time:
    """``"HH:mm"`` as Immich validates it; anything else falls back to midnight."""
    if isinstance(value, str):
        hours, sep, minutes = value.partition(":")
        if sep and hours.isdigit() and minutes.isdigit():
            h, m = int(hours), int(minutes)
            if 0 <= h <= 23 and 0 <= m <= 59:
                return time(h, m)
    log.warning("invalid nightlyTasks.startTime %r, using 00:00", value)
    return DEFAULT_START


def local_start(day: date, start: time, zone: tzinfo) -> datetime:
    """The instant (UTC) at which ``day`` reaches ``start`` on the clocks of ``zone``."""
    wanted = datetime.combine(day, start)
    first = wanted.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wanted:
        return first  # exists (the first of two when the clocks fall back)
    # In a spring-forward gap: fold=1 reads it with the offset after the jump (earlier in
    # UTC); the first minute from there whose local time has passed ``wanted`` ends the gap.
    moment = wanted.replace(tzinfo=zone, fold=1).astimezone(UTC)
    while moment.astimezone(zone).replace(tzinfo=None) < wanted:
        moment += _MINUTE
    return moment


def next_start(after: datetime, start: time, zone: tzinfo) -> datetime:
    """The first instant strictly after ``after`` at which the nightly tasks are due."""
    day = after.astimezone(zone).date() - timedelta(days=1)
    while True:
        due = local_start(day, start, zone)
        if due > after:
            return due
        day += timedelta(days=1)
