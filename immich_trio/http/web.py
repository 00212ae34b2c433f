"""Immich's web app served at ``/`` from a folder, as Immich's server serves ``/build/www``.

Off unless ``IMMICH_WEB_ROOT`` names the folder of the built app. A file in the folder is sent
as it is (content-hashed ``_app/immutable/`` files are cached for a year); any other path that
is not under ``/api`` gets ``index.html``, so the single-page app routes it in the browser;
a shared link's page gets it with the link's OpenGraph tags (``share_page.py``).
The API's own routes (``/api``, ``/.well-known/immich``, ``/custom.css``) always come first.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import trio
from quart import Response, request
from quart_trio import QuartTrio

from immich_trio.http.errors import HttpError, NotFound
from immich_trio.http.serve_file import FileToSend, send_file
from immich_trio.http.share_page import tagged_index
from immich_trio.runtime import Runtime

IMMUTABLE_PREFIX = "_app/immutable/"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
# index.html and unhashed files change with each release: the browser revalidates them.
REVALIDATE = "no-cache"
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".webmanifest": "application/manifest+json"}


def _content_type(path: Path) -> str:
    known = _TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed is None:
        return "application/octet-stream"
    return guessed + "; charset=utf-8" if guessed.startswith("text/") else guessed


def _file_in(root: Path, relative: str) -> Path | None:
    """The regular file ``relative`` names inside ``root``, or None (nothing outside the root)."""
    if not relative or relative.endswith("/") or "\\" in relative or "\0" in relative:
        return None
    parts = relative.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    candidate = root.joinpath(*parts)
    try:
        resolved = candidate.resolve(strict=True)
    except OSError:
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved


def install(app: QuartTrio, root: Path, runtime: Runtime) -> None:
    """Serve the built web app in ``root`` for every GET or HEAD no other route answers."""
    root = root.resolve()
    index = root / "index.html"

    async def web_app(path: str = "") -> Response:
        from immich_trio.http.app import error_response

        if path == "api" or path.startswith("api/"):
            return error_response(HttpError(f"Cannot {request.method} {request.path}").with_status(404))
        headers = {k.lower(): v for k, v in request.headers.items()}
        head = request.method == "HEAD"
        found = _file_in(root, path)
        if found is not None:
            cache = IMMUTABLE_CACHE if path.startswith(IMMUTABLE_PREFIX) else REVALIDATE
            file = FileToSend(path=str(found), content_type=_content_type(found), cache_control=cache)
            return await send_file(headers, file, head=head)
        if path.startswith(("share/", "s/")):
            tagged = await _shared_link_page(runtime, index, path)
            if tagged is not None:
                body = b"" if head else tagged.encode()
                return Response(body, content_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})
        try:
            page = FileToSend(path=str(index), content_type="text/html; charset=utf-8", cache_control=REVALIDATE)
            return await send_file(headers, page, head=head)
        except NotFound as exc:
            return error_response(exc)

    app.add_url_rule("/", endpoint="web_app_root", view_func=web_app, methods=["GET"])
    app.add_url_rule("/<path:path>", endpoint="web_app", view_func=web_app, methods=["GET"])


async def _shared_link_page(runtime: Runtime, index: Path, path: str) -> str | None:
    """``index.html`` with a shared link's OpenGraph tags (``share_page``), or None."""
    try:
        text = await trio.Path(index).read_text(encoding="utf-8")
    except OSError:
        return None
    return await tagged_index(runtime, path, text, f"{request.scheme}://{request.host}")
