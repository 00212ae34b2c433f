"""Shared links: rows of ``sql/shared_links.py`` onto ``SharedLinkResponseDto``, in Immich's key order.

The album is Immich's ``mapAlbumWithoutAssets``: no members, ``shared``/``hasSharedLink`` true,
figures only when the album's assets were loaded. Assets and album dates keep PostgreSQL's
JSON form. A holder of a link without ``showMetadata`` sees stripped assets.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from immich_trio.http import media_types
from immich_trio.http.dto import OMIT, SqlJsonDatetime, converter, key_order
from immich_trio.http.dto.albums import album_dto
from immich_trio.http.dto.assets import asset_dto, b64
from immich_trio.http.dto.generated import AlbumResponseDto, AssetResponseDto, SharedLinkResponseDto
from immich_trio.sql.shared_links import ASSET_DATES

key_order(
    SharedLinkResponseDto,
    "id", "description", "password", "user_id", "key", "type", "created_at", "expires_at", "assets",
    "album", "allow_upload", "allow_download", "show_metadata", "slug",
)


def share_key(key: bytes) -> str:
    """Immich's form of a link key: base64url without padding."""
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def _asset(row: Mapping[str, Any], caller_id: UUID) -> AssetResponseDto:
    dated = dict(row)
    for column in ASSET_DATES:
        dated[column] = SqlJsonDatetime.parse(row[f"{column}.json"])
    return asset_dto(dated, caller_id=caller_id, exif=row["exifInfo"])


def _album(album: Mapping[str, Any]) -> AlbumResponseDto:
    figures = album["figures"]
    row = {
        **album,
        "id": UUID(album["id"]),
        "albumThumbnailAssetId": UUID(album["albumThumbnailAssetId"]) if album["albumThumbnailAssetId"] else None,
        "createdAt": SqlJsonDatetime.parse(album["createdAt"]),
        "updatedAt": SqlJsonDatetime.parse(album["updatedAt"]),
        "albumUsers": [],
        "hasSharedLink": True,
        "assetCount": figures["count"] if figures else 0,
        "lastLocal": figures["first"] if figures else None,
        "firstLocal": figures["last"] if figures else None,
    }
    return album_dto(row, figures="assets")


def shared_link_dto(row: Mapping[str, Any]) -> SharedLinkResponseDto:
    owner: UUID = row["userId"]
    return SharedLinkResponseDto(
        id=row["id"],
        description=row["description"],
        password=row["password"],
        user_id=owner,
        key=share_key(bytes(row["key"])),
        type=row["type"],
        created_at=row["createdAt"],
        expires_at=row["expiresAt"],
        assets=[_asset(a, owner) for a in row["assets"]],
        album=_album(row["album"]) if row["album"] else OMIT,
        allow_upload=row["allowUpload"],
        allow_download=row["allowDownload"],
        show_metadata=row["showExif"],
        slug=row["slug"],
    )


def stripped_asset(row: Mapping[str, Any]) -> dict[str, Any]:
    """Immich's ``mapAsset(..., {stripMetadata: true})`` of a link asset."""
    return {
        "id": str(row["id"]),
        "type": row["type"],
        "originalMimeType": media_types.mime_type(row["originalFileName"]),
        "thumbhash": b64(row["thumbhash"]),
        "localDateTime": row["localDateTime.json"],
        "duration": row["duration"],
        "livePhotoVideoId": str(row["livePhotoVideoId"]) if row["livePhotoVideoId"] else None,
        "hasMetadata": False,
        "width": row["width"],
        "height": row["height"],
    }


def holder_view(row: Mapping[str, Any]) -> SharedLinkResponseDto | dict[str, Any]:
    """The link as its holder sees it: assets stripped when the link hides metadata."""
    dto = shared_link_dto(row)
    if row["showExif"]:
        return dto
    body: dict[str, Any] = converter.unstructure(dto)
    body["assets"] = [stripped_asset(a) for a in row["assets"]]
    return body
