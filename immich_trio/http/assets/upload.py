"""Uploads: ``uploadAsset`` and ``checkBulkUpload``.

``uploadAsset`` reads its body as a stream (``http/multipart.py``) and hands the staged files
to the uploader actor.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import attrs
import trio

from immich_trio.actors.uploader import (
    IngestReply,
    IngestUpload,
    StagedUpload,
    UploadRejected,
)
from immich_trio.http import media_types, multipart, spec, validation
from immich_trio.http.access import require_upload_access
from immich_trio.http.context import Ctx, Reply
from immich_trio.http.dto.assets import AssetMediaDuplicateDto
from immich_trio.http.dto.generated import (
    AssetBulkUploadCheckDto,
    AssetBulkUploadCheckResponseDto,
    AssetBulkUploadCheckResult,
    AssetMediaResponseDto,
)
from immich_trio.http.errors import (
    BadRequest,
    ServiceUnavailable,
    ValidationFailed,
)
from immich_trio.http.registry import operation
from immich_trio.sql.assets import upload as q
from immich_trio.storage import files

CHECKSUM_HEADER = "x-immich-checksum"
ASSET_FIELD = "assetData"
SIDECAR_FIELD = "sidecarData"
QUOTA_EXCEEDED = "Quota has been exceeded!"
# Ingest waits for a free uploader slot, one short transaction and two renames.
INGEST_TIMEOUT = 300.0
# Text fields of AssetMediaCreateDto converted like query parameters (from strings).
_SCALAR_FIELDS = ("fileCreatedAt", "fileModifiedAt", "filename", "isFavorite", "visibility", "livePhotoVideoId", "duration")


def decode_checksum(text: str) -> bytes | None:
    """A SHA-1 given as 28-char base64 or 40-char hex (Immich's two forms); None if neither."""
    text = text.strip()
    try:
        if len(text) == 28:
            raw = base64.b64decode(text, validate=True)
        elif len(text) == 40:
            raw = bytes.fromhex(text)
        else:
            return None
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 20 else None


# -- uploadAsset ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class UploadFields:
    """The validated text fields of an ``AssetMediaCreateDto``."""

    file_created_at: datetime
    file_modified_at: datetime
    filename: str | None = None
    is_favorite: bool = False
    visibility: str = "timeline"
    duration: int | None = None
    live_photo_video_id: UUID | None = None
    metadata: tuple[tuple[str, dict[str, Any]], ...] = ()


def _datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_upload_fields(
    schema: Mapping[str, Any], fields: Mapping[str, str], files_present: set[str]
) -> UploadFields:
    """Validate the form against the spec's schema; 400 ``Validation failed`` like Immich's zod."""
    props = spec.resolve(schema).get("properties", {})
    values: dict[str, Any] = {}
    issues: list[dict[str, Any]] = []
    for name in _SCALAR_FIELDS:
        if name in fields:
            value, errs = validation.coerce_parameter(props[name], fields[name], [name])
            values[name] = value
            issues.extend(errs)
    if "metadata" in fields:
        try:
            values["metadata"] = json.loads(fields["metadata"])
        except (ValueError, RecursionError):
            issues.append(validation._invalid_type("array", fields["metadata"], ["metadata"]))
        else:
            issues.extend(validation.unstorable_strings(values["metadata"]))
            issues.extend(validation.validate(props["metadata"], values["metadata"], ["metadata"]))
    for name in (*_SCALAR_FIELDS, "metadata", ASSET_FIELD):
        present = name in values or name in files_present
        if name in spec.resolve(schema).get("required", ()) and not present:
            issues.append(validation._invalid_type(str(spec.resolve(props[name]).get("type", "string")), None, [name], True))
    if issues:
        raise ValidationFailed(issues)
    live = values.get("livePhotoVideoId")
    return UploadFields(
        file_created_at=_datetime(values["fileCreatedAt"]),
        file_modified_at=_datetime(values["fileModifiedAt"]),
        filename=values.get("filename") or None,
        is_favorite=bool(values.get("isFavorite", False)),
        visibility=values.get("visibility") or "timeline",
        duration=values.get("duration") or None,  # 0 means "no duration"
        live_photo_video_id=UUID(live) if live else None,
        metadata=tuple((item["key"], item["value"]) for item in values.get("metadata", ())),
    )


class _UploadGate:
    """Decides, when a file part starts, where it goes (``upload.FileGate``).

    Remembers the name the asset file was judged on: the ``filename`` field if it came
    before the file part, else the multipart file name; the stored extension and the asset
    type follow it (pipeline.md §4).
    """

    def __init__(self, ctx: Ctx, asset_id: UUID) -> None:
        self._media = ctx.runtime.settings.media_location
        self._asset_id = asset_id
        user = ctx.user
        # Early stop for a file that cannot fit; the transaction re-checks atomically.
        self._room = (
            None
            if user.quota_size_in_bytes is None
            else max(0, user.quota_size_in_bytes - user.quota_usage_in_bytes)
        )
        self.judged_name = ""

    def __call__(self, name: str, filename: str, fields: Mapping[str, str]) -> multipart.FileTarget | None:
        if name == ASSET_FIELD:
            judged = fields.get("filename") or filename
            if not media_types.is_asset(judged):
                raise BadRequest(f"Unsupported file type {judged}")
            self.judged_name = judged
            return multipart.FileTarget(
                path=files.staging_path(self._media, self._asset_id), max_bytes=self._room, too_large=QUOTA_EXCEEDED
            )
        if name == SIDECAR_FIELD:
            if not media_types.is_sidecar(filename):
                raise BadRequest(f"Unsupported file type {filename}")
            return multipart.FileTarget(path=files.staging_path(self._media, self._asset_id, sidecar=True))
        return None  # unknown file parts are read and dropped


@operation("uploadAsset")
async def upload_asset(ctx: Ctx) -> Any:
    assert ctx.auth is not None
    checksum = decode_checksum(ctx.request.headers.get(CHECKSUM_HEADER, ""))
    if checksum is not None:
        # Answered before a byte of the body is read.
        async with ctx.db() as conn:
            existing = await q.upload_duplicate(conn, ctx.user.id, checksum)
        if existing is not None:
            return Reply(body=AssetMediaDuplicateDto(id=existing, status="duplicate"), status=200)
    require_upload_access(ctx)
    uploader = ctx.runtime.uploader
    if uploader is None:
        raise ServiceUnavailable("The uploader is not running")

    asset_id = uuid.uuid4()
    source = multipart.body_source(ctx.request)
    gate = _UploadGate(ctx, asset_id)
    form = await multipart.receive_form(source, ctx.request.headers.get("Content-Type"), gate)
    try:
        staged = await _stage(ctx, asset_id, form, gate.judged_name)
    except BaseException:
        form.discard()
        raise

    try:
        with trio.fail_after(INGEST_TIMEOUT):
            reply: IngestReply = await uploader.ask(lambda reply_to: IngestUpload(upload=staged, reply_to=reply_to))
    except UploadRejected as exc:
        raise BadRequest(exc.message) from None
    except BaseException:
        if staged.claim.withdraw():  # never reached the actor: the files are still ours
            staged.discard()
        raise
    if reply.duplicate:
        return Reply(body=AssetMediaDuplicateDto(id=reply.asset_id, status="duplicate"), status=200)
    return Reply(body=AssetMediaResponseDto(id=reply.asset_id, status="created"), status=201)


async def _stage(ctx: Ctx, asset_id: UUID, form: multipart.ReceivedForm, judged_name: str) -> StagedUpload:
    """Check the received form and finish its files (mtime, fsync) for the uploader."""
    assert ctx.op.body_schema is not None
    received = form.files.get(ASSET_FIELD)
    fields = parse_upload_fields(ctx.op.body_schema, form.fields, set(form.files))
    assert received is not None  # required: validation passed
    if received.staged.size == 0:
        raise BadRequest("File is empty")
    unstorable = validation.unstorable_strings(received.filename)  # from the part's header
    if unstorable:
        raise ValidationFailed([{**issue, "path": [ASSET_FIELD]} for issue in unstorable])
    user = ctx.user
    if user.quota_size_in_bytes is not None and user.quota_size_in_bytes < user.quota_usage_in_bytes + received.staged.size:
        raise BadRequest(QUOTA_EXCEEDED)
    name = fields.filename or received.filename
    await received.staged.finish(fields.file_modified_at)
    sidecar = form.files.get(SIDECAR_FIELD)
    if sidecar is not None:
        await sidecar.staged.finish(fields.file_modified_at)
    return StagedUpload(
        asset_id=asset_id,
        owner_id=user.id,
        file=received.staged,
        sidecar=sidecar.staged if sidecar is not None else None,
        extension=media_types.extension(judged_name),
        original_file_name=name,
        asset_type=media_types.asset_type(judged_name),
        file_created_at=fields.file_created_at,
        file_modified_at=fields.file_modified_at,
        is_favorite=fields.is_favorite,
        visibility=fields.visibility,
        duration=fields.duration,
        live_photo_video_id=fields.live_photo_video_id,
        metadata=fields.metadata,
    )


# -- checkBulkUpload -----------------------------------------------------------------------


@operation("checkBulkUpload")
async def check_bulk_upload(ctx: Ctx) -> AssetBulkUploadCheckResponseDto:
    dto = await ctx.body(AssetBulkUploadCheckDto)
    wanted = {item.checksum: decode_checksum(item.checksum) for item in dto.assets}
    async with ctx.db() as conn:
        rows = await q.by_checksums(conn, ctx.user.id, [c for c in wanted.values() if c is not None])
    found: dict[bytes, Mapping[str, Any]] = {}
    for existing in rows:
        found.setdefault(bytes(existing["checksum"]), existing)
    results = []
    for item in dto.assets:
        checksum = wanted[item.checksum]
        row: Mapping[str, Any] | None = found.get(checksum) if checksum is not None else None
        if row is None:
            results.append(AssetBulkUploadCheckResult(id=item.id, action="accept"))
        else:
            results.append(
                AssetBulkUploadCheckResult(
                    id=item.id,
                    action="reject",
                    reason="duplicate",
                    asset_id=row["id"],
                    is_trashed=row["deletedAt"] is not None,
                )
            )
    return AssetBulkUploadCheckResponseDto(results=results)
