"""Streaming multipart uploads with real backpressure.

Quart buffers a request body without bound while the handler runs (STACK-NOTES, HTTP), so for
``POST /api/assets`` an ASGI middleware (``install``) keeps the body away from Quart: Quart gets
an empty body, and the real ``receive`` travels in the scope to the operation's handler, which
still runs in the normal Quart pipeline (route table, credentials, errors). The handler pulls
body chunks only as fast as it writes them to disk; Hypercorn's per-request queue is bounded
(``max_app_queue_size``), so a slow disk stops Hypercorn reading the socket and TCP flow
control pushes back on the client. Memory per upload: that queue (at most 10 chunks of 64 KiB) plus one
``WRITE_BATCH`` block, whatever the file size.

``receive_form`` parses the multipart body incrementally (werkzeug's sansio
``MultipartDecoder``), writes file parts to staging files while hashing them, and keeps the
small text fields in memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs
import trio
from quart import Request
from quart_trio import QuartTrio
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from immich_trio.http.errors import BadRequest, HttpError, PayloadTooLarge
from immich_trio.storage.files import StagedFile

# Routes whose body the middleware streams to the handler instead of giving it to Quart.
STREAMED_ROUTES = frozenset({("POST", "/api/assets"), ("POST", "/api/users/profile-image")})
SCOPE_KEY = "immich_trio.body"
# A body that stalls this long (no bytes at all) is abandoned.
BODY_IDLE_TIMEOUT = 600.0
# Text fields (dates, ids, the metadata JSON) are small; more than this is not a real client.
MAX_FIELD_BYTES = 1024 * 1024
MAX_PARTS = 64
# Bytes handed to the multipart decoder at once: it is fastest on chunks of this order.
DECODER_CHUNK = 64 * 1024


# busboy's words (what Immich's multer answers) for a body that stops before its last boundary.
UNEXPECTED_END = "Unexpected end of form"
MALFORMED = "Malformed multipart body"


class ClientDisconnected(HttpError):
    """The client went away mid-body; the answer goes nowhere, cleanup is what matters."""

    status = 400
    default_message = "Upload aborted: the client disconnected"


class BodyTimeout(HttpError):
    status = 408
    default_message = "Request Timeout"


class BodySource(Protocol):
    async def read(self) -> bytes:
        """The next chunk of the body; ``b""`` once it is complete."""
        ...


class AsgiBody:
    """The request body read straight from the server's ASGI ``receive`` (backpressure)."""

    def __init__(self, receive: Callable[[], Any], idle_timeout: float = BODY_IDLE_TIMEOUT) -> None:
        self._receive = receive
        self._idle_timeout = idle_timeout
        self._done = False
        self._framework_fed = False
        self.received = 0

    async def read(self) -> bytes:
        while not self._done:
            try:
                with trio.fail_after(self._idle_timeout):
                    message = await self._receive()
            except trio.TooSlowError:
                raise BodyTimeout() from None
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            if message["type"] != "http.request":
                continue
            self._done = not message.get("more_body", False)
            chunk: bytes = message.get("body", b"")
            if chunk:
                self.received += len(chunk)
                return chunk
        return b""

    async def framework_receive(self) -> dict[str, Any]:
        """What Quart sees: an empty body at once, then nothing until the request ends."""
        if not self._framework_fed:
            self._framework_fed = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await trio.sleep_forever()
        raise AssertionError("unreachable")


class QuartBody:
    """Fallback source over Quart's own (buffered, size-limited) body, when not installed."""

    def __init__(self, request: Request) -> None:
        self._iter = request.body.__aiter__()

    async def read(self) -> bytes:
        try:
            return await self._iter.__anext__()
        except StopAsyncIteration:
            return b""


class StreamingUploadMiddleware:
    """ASGI wrapper giving the handlers of ``STREAMED_ROUTES`` the body stream itself."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Any], send: Callable[..., Any]) -> None:
        if scope.get("type") == "http" and (scope.get("method"), scope.get("path")) in STREAMED_ROUTES:
            body = AsgiBody(receive)
            scope = {**scope, SCOPE_KEY: body}
            receive = body.framework_receive
        await self.app(scope, receive, send)


def install(app: QuartTrio) -> None:
    """Wrap ``app``'s ASGI entry point (Hypercorn and the test client both go through it)."""
    app.asgi_app = StreamingUploadMiddleware(app.asgi_app)  # type: ignore[method-assign,assignment]


def body_source(request: Request) -> BodySource:
    source = request.scope.get(SCOPE_KEY)
    if isinstance(source, AsgiBody):
        return source
    return QuartBody(request)


# -- multipart ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FileTarget:
    """Where a file part goes, and the most bytes it may have (None: no limit)."""

    path: Path
    max_bytes: int | None = None
    too_large: str = "Payload Too Large"


# Called when a file part starts, with (field name, file name, text fields so far): the
# target, None to skip the part, or raise an HttpError to refuse the upload.
FileGate = Callable[[str, str, Mapping[str, str]], FileTarget | None]


@attrs.define(kw_only=True)
class ReceivedFile:
    name: str
    filename: str
    staged: StagedFile


@attrs.define(kw_only=True)
class ReceivedForm:
    fields: dict[str, str] = attrs.field(factory=dict)
    files: dict[str, ReceivedFile] = attrs.field(factory=dict)

    def discard(self) -> None:
        for received in self.files.values():
            received.staged.discard()


def boundary_of(content_type: str | None) -> bytes | None:
    mimetype, options = parse_options_header(content_type or "")
    if mimetype != "multipart/form-data" or not options.get("boundary"):
        return None
    return options["boundary"].encode("latin-1")


class _Decoder(MultipartDecoder):
    """Werkzeug's decoder with part headers that always decode.

    Immich reads multipart file names as latin1 and turns them back into UTF-8, i.e. the raw
    bytes are UTF-8. Werkzeug decodes header bytes as UTF-8 directly, which gives the same
    names, but raises on invalid bytes; those are replaced here, as Node's decoder does.
    """

    def _parse_headers(self, data: bytes | bytearray) -> Any:
        return super()._parse_headers(bytes(data).decode("utf-8", "replace").encode("utf-8"))


async def receive_form(source: BodySource, content_type: str | None, gate: FileGate) -> ReceivedForm:
    """Read the whole multipart body from ``source``; file parts land in staging files.

    On any error (bad input, limit, disconnect, cancellation) the staging files written so
    far are deleted before the exception propagates. A body that is not multipart gives an
    empty form (the caller's validation reports what is missing).
    """
    form = ReceivedForm()
    boundary = boundary_of(content_type)
    try:
        if boundary is None:
            while await source.read():
                pass
            return form
        await _decode(source, _Decoder(boundary, MAX_FIELD_BYTES, max_parts=MAX_PARTS), gate, form)
    except BaseException:
        form.discard()
        raise
    return form


async def _decode(source: BodySource, decoder: MultipartDecoder, gate: FileGate, form: ReceivedForm) -> None:
    current: ReceivedFile | None = None
    limit = math.inf
    too_large = ""
    field_name: str | None = None
    field_value = bytearray()
    done = False
    while not done:
        chunk = await source.read()
        pieces: list[bytes | None] = [chunk[i : i + DECODER_CHUNK] for i in range(0, len(chunk), DECODER_CHUNK)]
        if not chunk:
            pieces = [None]  # end of body
        for piece in pieces:
            try:
                decoder.receive_data(piece)
            except RequestEntityTooLarge:
                raise PayloadTooLarge() from None
            while True:
                try:
                    event = decoder.next_event()
                except RequestEntityTooLarge:
                    raise PayloadTooLarge() from None
                except (ValueError, UnicodeDecodeError):
                    raise BadRequest(UNEXPECTED_END if piece is None else MALFORMED) from None
                if isinstance(event, NeedData):
                    break
                if isinstance(event, Epilogue):
                    done = True
                    break
                if isinstance(event, File):
                    field_name = None
                    filename = event.filename or ""
                    target = gate(event.name, filename, form.fields)
                    current = None
                    if target is not None and event.name not in form.files:
                        staged = await StagedFile.create(target.path)
                        current = ReceivedFile(name=event.name, filename=filename, staged=staged)
                        form.files[event.name] = current
                        limit = math.inf if target.max_bytes is None else target.max_bytes
                        too_large = target.too_large
                elif isinstance(event, Field):
                    current = None
                    field_name = event.name
                    field_value.clear()
                elif isinstance(event, Data):
                    if current is not None:
                        if current.staged.size + len(event.data) > limit:
                            raise BadRequest(too_large)
                        await current.staged.write(event.data)
                    elif field_name is not None:
                        field_value += event.data
                        if len(field_value) > MAX_FIELD_BYTES:
                            raise PayloadTooLarge()
                    if not event.more_data:
                        if field_name is not None:
                            form.fields[field_name] = field_value.decode("utf-8", "replace")
                        current = None
                        field_name = None
        if not chunk and not done:
            raise BadRequest(UNEXPECTED_END)
