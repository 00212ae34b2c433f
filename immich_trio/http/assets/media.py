"""The files of an asset: ``downloadAsset`` (original), ``viewAsset`` (thumbnails) and ``playAssetVideo``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

from quart import Response

from immich_trio.http import media_types
from immich_trio.http.access import check_access
from immich_trio.http.context import Ctx
from immich_trio.http.errors import NotFound
from immich_trio.http.registry import operation
from immich_trio.http.serve_file import FileToSend, send_file
from immich_trio.sql.assets import media as q

MEDIA_NOT_FOUND = "Asset media not found"
NOT_A_VIDEO = "Asset not found or asset is not a video"


def _request_headers(ctx: Ctx) -> dict[str, str]:
    return {k.lower(): v for k, v in ctx.request.headers.items()}


async def _asset_files(ctx: Ctx, permission: str) -> dict[str, Any]:
    """The asset and its files once the caller passed ``permission`` on it.

    File endpoints answer every failure with a bare 404 (behaviour.md §2), so a refused id
    and an unknown one look the same here too.
    """
    asset_id = UUID(str(ctx.path["id"]))
    async with ctx.db() as conn:
        if await check_access(ctx, conn, permission, [asset_id]) != {asset_id}:
            raise NotFound()
        row = await q.for_files(conn, asset_id)
    if row is None:  # gone since the check
        raise NotFound()
    return row


def _stem(name: str) -> str:
    ext = media_types.extension(name)
    return name[: -len(ext)] if ext else name


def _pick_files(files: Sequence[Mapping[str, Any]], edited: bool) -> dict[str, str]:
    """Path per file type; with ``edited`` the edited rendering wins over the plain one."""
    out: dict[str, str] = {}
    for f in sorted(files, key=lambda f: bool(f["isEdited"])):
        if f["isEdited"] and not edited:
            continue
        out[f["type"]] = f["path"]
    return out


def _redirect(location: str) -> Response:
    body = f"Found. Redirecting to {location}".encode()
    return Response(body, status=302, headers={"Location": location}, content_type="text/plain; charset=utf-8")


def _query_pairs(ctx: Ctx) -> list[tuple[str, str]]:
    return parse_qsl(ctx.request.query_string.decode("latin-1"), keep_blank_values=True)


async def _send(ctx: Ctx, file: FileToSend) -> Response:
    return await send_file(_request_headers(ctx), file, head=ctx.request.method == "HEAD")


@operation("downloadAsset")
async def download_asset(ctx: Ctx) -> Response:
    asset = await _asset_files(ctx, "asset.download")
    edited = bool(ctx.query.get("edited"))
    path = asset["originalPath"]
    if edited:
        rendered = [f for f in asset["files"] if f["type"] == "fullsize" and f["isEdited"]]
        if rendered:
            path = rendered[0]["path"]
    return await _send(
        ctx,
        FileToSend(
            path=path,
            content_type=media_types.mime_type(path),
            file_name=_stem(asset["originalFileName"]) + media_types.extension(path),
        ),
    )


@operation("viewAsset")
async def view_asset(ctx: Ctx) -> Response:
    asset = await _asset_files(ctx, "asset.view")
    size = ctx.query.get("size") or "thumbnail"
    edited = bool(ctx.query.get("edited"))
    if size == "original":
        return _redirect("original?" + urlencode([p for p in _query_pairs(ctx) if p[0] != "size"]))
    files = _pick_files(asset["files"], edited)
    path = files.get("preview")
    if size == "thumbnail" and "thumbnail" in files:
        path = files["thumbnail"]
    elif size == "fullsize":
        web_original = media_types.has_flag(asset["originalPath"], "webSupported")
        if web_original and not (edited and asset["isEdited"]):
            return _redirect("original?" + urlencode([p for p in _query_pairs(ctx) if p[0] != "size"]))
        if "fullsize" not in files:
            return _redirect(ctx.request.path + "?" + urlencode(_with_size(_query_pairs(ctx), "preview")))
        path = files["fullsize"]
    if not path:
        raise NotFound(MEDIA_NOT_FOUND)
    return await _send(
        ctx,
        FileToSend(
            path=path,
            content_type=media_types.mime_type(path),
            file_name=f"{_stem(asset['originalFileName'])}_{size}{media_types.extension(path)}",
        ),
    )


def _with_size(pairs: list[tuple[str, str]], size: str) -> list[tuple[str, str]]:
    """``URLSearchParams.set``: replace the first ``size`` in place, drop the others."""
    out: list[tuple[str, str]] = []
    done = False
    for key, value in pairs:
        if key == "size":
            if not done:
                out.append((key, size))
                done = True
            continue
        out.append((key, value))
    if not done:
        out.append(("size", size))
    return out


@operation("playAssetVideo")
async def play_asset_video(ctx: Ctx) -> Response:
    asset = await _asset_files(ctx, "asset.view")
    if asset["type"] != "VIDEO":
        raise NotFound(NOT_A_VIDEO)
    encoded = _pick_files(asset["files"], False).get("encoded_video")
    path = encoded or asset["originalPath"]
    return await _send(ctx, FileToSend(path=path, content_type=media_types.mime_type(path)))
