"""Sending a file as Immich's ``sendFile`` (Express ``send``) does: validators, ranges, streaming.

Weak ETag ``W/"<size hex>-<mtime ms hex>"``, ``Last-Modified``, conditional GET (304) and
preconditions (412), one byte range (206 / 416), ``Accept-Ranges: bytes``; the body is read
in chunks in a worker thread as the client consumes it, never whole (behaviour.md §5).
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

import attrs
import trio
from quart import Response

from immich_trio.http.errors import NotFound

CHUNK_SIZE = 256 * 1024
PRIVATE_WITH_CACHE = (
    "private, max-age=86400, no-transform, stale-while-revalidate=2592000, stale-if-error=2592000"
)
_URI_COMPONENT_SAFE = "-_.!~*'()"


@attrs.frozen(kw_only=True)
class FileToSend:
    """What to send (Immich's ``ImmichFileResponse``)."""

    path: str
    content_type: str
    file_name: str | None = None
    cache_control: str | None = PRIVATE_WITH_CACHE


@attrs.frozen(kw_only=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


UNSATISFIABLE = -1
IGNORE_RANGE = -2


def content_disposition(file_name: str) -> str:
    return f"inline; filename*=UTF-8''{quote(file_name, safe=_URI_COMPONENT_SAFE)}"


def weak_etag(size: int, mtime_ns: int) -> str:
    return f'W/"{size:x}-{mtime_ns // 1_000_000:x}"'


def http_date(seconds: float) -> str:
    return format_datetime(datetime.fromtimestamp(int(seconds), tz=UTC), usegmt=True)


def _parse_http_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _tokens(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


def parse_range(size: int, header: str) -> list[ByteRange] | int:
    """``range-parser`` with ``combine``: ranges, ``UNSATISFIABLE`` or ``IGNORE_RANGE``."""
    index = header.find("=")
    if index == -1:
        return IGNORE_RANGE
    ranges: list[ByteRange] = []
    for part in header[index + 1 :].split(","):
        bounds = part.split("-")
        if len(bounds) != 2:
            return IGNORE_RANGE
        start, end = _int_prefix(bounds[0]), _int_prefix(bounds[1])
        if start is None:  # "-n": the last n bytes
            if end is None:
                continue
            start, end = size - end, size - 1
        elif end is None:  # "n-": to the end
            end = size - 1
        end = min(end, size - 1)
        if start < 0 or start > end:
            continue
        ranges.append(ByteRange(start=start, end=end))
    if not ranges:
        return UNSATISFIABLE
    return _combine(ranges)


def _int_prefix(text: str) -> int | None:
    """``parseInt(text, 10)``: leading digits after whitespace, else None (NaN)."""
    text = text.strip()
    sign = 1
    if text[:1] in "+-" and text:
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else None


def _combine(ranges: list[ByteRange]) -> list[ByteRange]:
    ordered = sorted(ranges, key=lambda r: r.start)
    merged = [ordered[0]]
    for r in ordered[1:]:
        last = merged[-1]
        if r.start > last.end + 1:
            merged.append(r)
        elif r.end > last.end:
            merged[-1] = ByteRange(start=last.start, end=r.end)
    return merged


def is_fresh(headers: Mapping[str, str], etag: str, last_modified: str) -> bool:
    """The ``fresh`` module: may the client's cached copy be used (→ 304)?"""
    modified_since = headers.get("if-modified-since")
    none_match = headers.get("if-none-match")
    if not modified_since and not none_match:
        return False
    cache_control = headers.get("cache-control", "")
    if "no-cache" in cache_control:
        return False
    if none_match and none_match.strip() != "*":
        if not any(m in (etag, "W/" + etag) or "W/" + m == etag for m in _tokens(none_match)):
            return False
    if modified_since:
        since, modified = _parse_http_date(modified_since), _parse_http_date(last_modified)
        if since is None or modified is None or modified > since:
            return False
    return True


def precondition_failed(headers: Mapping[str, str], etag: str, mtime: float) -> bool:
    if_match = headers.get("if-match")
    if if_match and if_match.strip() != "*":
        if not any(m in (etag, "W/" + etag) or "W/" + m == etag for m in _tokens(if_match)):
            return True
    unmodified_since = headers.get("if-unmodified-since")
    if unmodified_since:
        since = _parse_http_date(unmodified_since)
        if since is not None and int(mtime) > since:
            return True
    return False


def _range_fresh(headers: Mapping[str, str], etag: str, mtime: float) -> bool:
    if_range = headers.get("if-range")
    if not if_range:
        return True
    if '"' in if_range:
        return etag in if_range
    since = _parse_http_date(if_range)
    return since is not None and int(mtime) <= since


async def _stream(path: str, offset: int, length: int) -> AsyncIterator[bytes]:
    async with await trio.open_file(path, "rb") as file:
        await file.seek(offset)
        remaining = length
        while remaining > 0:
            chunk = await file.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break  # the file shrank under us; the client sees a short body
            remaining -= len(chunk)
            yield chunk


async def send_file(headers: Mapping[str, str], file: FileToSend, *, head: bool = False) -> Response:
    """The response for ``file``; ``NotFound`` if it cannot be read (``headers`` lower-cased)."""
    try:
        st = await trio.Path(file.path).stat()
        if not stat_mod.S_ISREG(st.st_mode) or not os.access(file.path, os.R_OK):
            raise NotFound()
    except OSError:
        raise NotFound() from None
    size = st.st_size
    etag = weak_etag(size, st.st_mtime_ns)
    last_modified = http_date(st.st_mtime)
    out: dict[str, str] = {}
    if file.cache_control:
        out["Cache-Control"] = file.cache_control
    out["Content-Type"] = file.content_type
    if file.file_name:
        out["Content-Disposition"] = content_disposition(file.file_name)
    out["Accept-Ranges"] = "bytes"
    out["Last-Modified"] = last_modified
    out["ETag"] = etag
    # user files are served with the type they were uploaded as: HTML named .jpg must not be
    # sniffed and rendered by the browser
    out["X-Content-Type-Options"] = "nosniff"

    if precondition_failed(headers, etag, st.st_mtime):
        return Response(b'{"message":"Precondition Failed"}', status=412, content_type="application/json")
    if is_fresh(headers, etag, last_modified):
        kept = {k: v for k, v in out.items() if not k.lower().startswith("content-")}
        return Response(b"", status=304, headers=kept)

    status, offset, length = 200, 0, size
    range_header = headers.get("range", "")
    if range_header.lstrip().startswith("bytes="):
        ranges = parse_range(size, range_header)
        if not _range_fresh(headers, etag, st.st_mtime):
            ranges = IGNORE_RANGE
        if ranges == UNSATISFIABLE:
            return Response(
                b'{"message":"Range Not Satisfiable"}',
                status=416,
                content_type="application/json",
                headers={"Content-Range": f"bytes */{size}"},
            )
        if isinstance(ranges, list) and len(ranges) == 1:
            status, offset, length = 206, ranges[0].start, ranges[0].length
            out["Content-Range"] = f"bytes {ranges[0].start}-{ranges[0].end}/{size}"

    body: bytes | AsyncIterator[bytes] = b"" if head or length == 0 else _stream(file.path, offset, length)
    response = Response(body, status=status, headers=out)
    response.headers["Content-Length"] = str(length)
    return response
