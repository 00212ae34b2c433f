"""The HTTP/2 slow-sender guard's bookkeeping, driven by hand: frames cut at every byte, and
a clock that advances only by the waiting the test says happened."""

from __future__ import annotations

import h2.events
from hpack import Encoder
from hyperframe.frame import ContinuationFrame, DataFrame, HeadersFrame, PingFrame

from immich_trio.http.hypercorn_h2_patches import FrameScanner, H2SlowSenderGuard, SlowSenderLimits

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
LIMITS = SlowSenderLimits(header_timeout=60.0, min_body_rate=1024, body_rate_window=60.0)


def request_received(stream_id: int, method: bytes = b"POST") -> h2.events.RequestReceived:
    event = h2.events.RequestReceived(stream_id=stream_id)
    event.headers = [(b":method", method), (b":path", b"/")]
    return event


def stream_ended(stream_id: int) -> h2.events.StreamEnded:
    return h2.events.StreamEnded(stream_id=stream_id)


def test_scanner_follows_header_blocks_and_data_cut_at_every_byte() -> None:
    block = Encoder().encode([(":method", "POST"), (":path", "/upload"), ("x-a", "b" * 50)])
    wire = (
        PREFACE
        + PingFrame(0, opaque_data=b"12345678").serialize()
        + HeadersFrame(1, data=block[:20]).serialize()
        + ContinuationFrame(1, data=block[20:], flags=["END_HEADERS"]).serialize()
        + DataFrame(1, data=b"x" * 300).serialize()
        + DataFrame(3, data=b"", flags=["END_STREAM"]).serialize()
    )
    headers_start = len(PREFACE) + 17
    headers_end = headers_start + 9 + 20 + 9 + len(block) - 20
    scanner = FrameScanner()
    data: dict[int, int] = {}
    for at, byte in enumerate(wire):
        for stream_id, size in scanner.feed(bytes([byte])):
            data[stream_id] = data.get(stream_id, 0) + size
        open_block = scanner.header_block is not None
        assert open_block == (headers_start + 9 <= at + 1 < headers_end), at
    assert data == {1: 300}

    whole = FrameScanner()
    assert list(whole.feed(wire)) == [(1, 300)] and whole.header_block is None


def test_body_must_pay_each_window_and_only_waiting_counts() -> None:
    guard = H2SlowSenderGuard()
    assert guard.time_left(LIMITS) == LIMITS.header_timeout  # the first request is awaited
    guard.feed(PREFACE)
    guard.observe(request_received(1))
    assert guard.time_left(LIMITS) == LIMITS.body_rate_window
    quota = int(LIMITS.min_body_rate * LIMITS.body_rate_window)
    for _ in range(100):  # a long upload at twice the minimum rate never runs out of time
        guard.advance(LIMITS.body_rate_window / 4)
        guard.feed(DataFrame(1, data=b"x" * (quota // 2)).serialize())
        assert guard.time_left(LIMITS) > 0 and guard.slow_bodies(LIMITS) == []
    guard.advance(LIMITS.body_rate_window)  # a stalled window
    assert guard.time_left(LIMITS) <= 0
    assert guard.slow_bodies(LIMITS) == [1] and not guard.headers_overdue(LIMITS)


def test_finished_and_websocket_streams_are_not_timed() -> None:
    guard = H2SlowSenderGuard()
    guard.feed(PREFACE)
    guard.observe(request_received(1, b"CONNECT"))  # a websocket: quiet for minutes is normal
    guard.observe(request_received(3))
    guard.observe(stream_ended(3))
    guard.advance(10 * LIMITS.body_rate_window)
    assert guard.time_left(LIMITS) == float("inf") and guard.slow_bodies(LIMITS) == []


def test_one_slow_stream_does_not_make_another_late() -> None:
    guard = H2SlowSenderGuard()
    guard.feed(PREFACE)
    guard.observe(request_received(1))
    guard.advance(LIMITS.body_rate_window / 2)
    guard.observe(request_received(3))
    quota = int(LIMITS.min_body_rate * LIMITS.body_rate_window)
    guard.feed(DataFrame(3, data=b"y" * quota).serialize())
    guard.advance(LIMITS.body_rate_window / 2)
    assert guard.slow_bodies(LIMITS) == [1]


def test_the_first_request_must_come_within_the_header_timeout() -> None:
    guard = H2SlowSenderGuard()
    guard.feed(PREFACE + PingFrame(0, opaque_data=b"12345678").serialize())
    guard.advance(LIMITS.header_timeout - 1)
    assert not guard.headers_overdue(LIMITS)
    guard.advance(1)
    assert guard.time_left(LIMITS) == 0 and guard.headers_overdue(LIMITS)


def test_a_header_block_is_timed_from_its_first_frame() -> None:
    guard = H2SlowSenderGuard()
    guard.feed(PREFACE)
    guard.observe(request_received(1))
    guard.observe(stream_ended(1))
    guard.advance(1000)  # idle between requests: no limit here
    assert guard.time_left(LIMITS) == float("inf")
    guard.feed(HeadersFrame(3, data=b"\x82").serialize())  # no END_HEADERS
    assert guard.time_left(LIMITS) == LIMITS.header_timeout
    guard.advance(LIMITS.header_timeout - 1)
    guard.feed(ContinuationFrame(3, data=b"\x84").serialize())  # progress does not reset it
    assert not guard.headers_overdue(LIMITS) and guard.time_left(LIMITS) == 1
    guard.advance(1)
    assert guard.headers_overdue(LIMITS)
    assert guard.scanner.header_block is not None and guard.scanner.header_block[1] == 3
    guard.feed(ContinuationFrame(3, data=b"\x86", flags=["END_HEADERS"]).serialize())
    assert not guard.headers_overdue(LIMITS) and guard.time_left(LIMITS) == float("inf")
