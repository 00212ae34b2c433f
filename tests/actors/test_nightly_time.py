"""When the nightly tasks are due: midnight, the two DST nights of Europe/Berlin, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from immich_trio.actors.nightly_time import next_start, parse_start_time, server_zone

BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "start", "expected"),
    [
        # an ordinary winter day: 02:30 CET is 01:30 UTC
        (utc(2026, 1, 10, 0, 0), time(2, 30), utc(2026, 1, 10, 1, 30)),
        # strictly after: at the start instant the next one is tomorrow's
        (utc(2026, 1, 10, 1, 30), time(2, 30), utc(2026, 1, 11, 1, 30)),
        # across midnight: 23:50 local, a midnight start is ten minutes away, the next day
        (utc(2026, 1, 10, 22, 50), time(0, 0), utc(2026, 1, 10, 23, 0)),
        # late in the local evening, which is already the next UTC day
        (utc(2026, 7, 10, 22, 30), time(0, 15), utc(2026, 7, 11, 22, 15)),
        # spring forward (29 March 2026, 02:00 CET -> 03:00 CEST): 02:30 does not exist and
        # runs once at the end of the gap, 03:00 CEST = 01:00 UTC
        (utc(2026, 3, 28, 12, 0), time(2, 30), utc(2026, 3, 29, 1, 0)),
        (utc(2026, 3, 29, 1, 0), time(2, 30), utc(2026, 3, 30, 0, 30)),
        # fall back (25 October 2026, 03:00 CEST -> 02:00 CET): 02:30 happens twice, runs at
        # the first (00:30 UTC), and the second (01:30 UTC) is not another run
        (utc(2026, 10, 24, 12, 0), time(2, 30), utc(2026, 10, 25, 0, 30)),
        (utc(2026, 10, 25, 0, 30), time(2, 30), utc(2026, 10, 26, 1, 30)),
    ],
)
def test_next_start(after: datetime, start: time, expected: datetime) -> None:
    assert next_start(after, start, BERLIN) == expected


def test_next_start_in_utc() -> None:
    assert next_start(utc(2026, 5, 1, 3, 0), time(0, 0), UTC) == utc(2026, 5, 2, 0, 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("00:00", time(0, 0)), ("23:59", time(23, 59)), ("7:05", time(7, 5)), ("24:00", time(0, 0)),
     ("12:60", time(0, 0)), ("noon", time(0, 0)), (None, time(0, 0)), ("-1:30", time(0, 0))],
)
def test_parse_start_time(value: object, expected: time) -> None:
    assert parse_start_time(value) == expected


def test_server_zone_reads_tz() -> None:
    assert server_zone({"TZ": "Europe/Berlin"}) == BERLIN
    assert server_zone({"TZ": ":Europe/Berlin"}) == BERLIN
    assert server_zone({"TZ": "Not/AZone"}) == UTC
