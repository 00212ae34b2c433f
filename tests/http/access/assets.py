"""Rows of the asset routes: info, updates, deletes, metadata, files, upload (live photo), the
timeline by user, and the rest of the asset tag (copy, jobs, edits, OCR)."""

from __future__ import annotations

from typing import Any

from tests.http.access.vocabulary import (
    FILE_REFUSED,
    Outcome,
    Request,
    Row,
    _same,
    asset_owner_only,
    asset_read,
    file_route,
    ok,
    photo,
    refused,
    shows,
    timeline,
    video,
)
from tests.http.access.world import World


def _info_link_checks() -> dict[str, Outcome]:
    def full_without_owner(w: World, body: Any) -> bool:
        return shows(w, body, w.photo) and "owner" not in body and "exifInfo" in body

    def sanitized(w: World, body: Any) -> bool:
        return shows(w, body, w.photo) and body.get("hasMetadata") is False and "originalPath" not in body

    return {"album_link": ok(check=full_without_owner), "asset_link": ok(check=sanitized)}


NOT_OWNED_VIDEO = refused(400, "Live photo video does not belong to the user")
META = "mobile-app"


def _upload(w: World, target: str) -> Request:
    return ("POST", "/api/assets", {"multipart": {"livePhotoVideoId": target}})


# -- Assets ------------------------------------------------------------------------------------

ASSET_ROWS: tuple[Row, ...] = (
    Row(op="getAssetInfo", target=photo, request=lambda w, t: ("GET", f"/api/assets/{t}", None),
        expect=_same(asset_read("asset.read", links=True), **_info_link_checks())),
    Row(op="updateAsset", target=photo, request=lambda w, t: ("PUT", f"/api/assets/{t}", {"isFavorite": True}),
        expect=asset_owner_only("asset.update")),
    Row(op="updateAssets", target=photo,
        request=lambda w, t: ("PUT", "/api/assets", {"ids": [t], "isFavorite": True}),
        expect=asset_owner_only("asset.update", 204)),
    Row(op="deleteAssets", target=photo, request=lambda w, t: ("DELETE", "/api/assets", {"ids": [t]}),
        expect=asset_owner_only("asset.delete", 204)),
    Row(op="restoreAssets", target=photo, request=lambda w, t: ("POST", "/api/trash/restore/assets", {"ids": [t]}),
        expect=asset_owner_only("asset.delete")),
    Row(op="getAssetMetadata", target=photo, request=lambda w, t: ("GET", f"/api/assets/{t}/metadata", None),
        expect=asset_read("asset.read", links=False)),
    Row(op="getAssetMetadataByKey", target=photo,
        request=lambda w, t: ("GET", f"/api/assets/{t}/metadata/{META}", None),
        expect=asset_read("asset.read", links=False)),
    Row(op="updateAssetMetadata", target=photo,
        request=lambda w, t: ("PUT", f"/api/assets/{t}/metadata", {"items": [{"key": META, "value": {"a": 1}}]}),
        expect=asset_owner_only("asset.update")),
    Row(op="deleteAssetMetadata", target=photo,
        request=lambda w, t: ("DELETE", f"/api/assets/{t}/metadata/{META}", None),
        expect=asset_owner_only("asset.update", 204)),
    Row(op="updateBulkAssetMetadata", target=photo,
        request=lambda w, t: ("PUT", "/api/assets/metadata", {"items": [{"assetId": t, "key": META, "value": {}}]}),
        expect=asset_owner_only("asset.update")),
    Row(op="deleteBulkAssetMetadata", target=photo,
        request=lambda w, t: ("DELETE", "/api/assets/metadata", {"items": [{"assetId": t, "key": META}]}),
        expect=asset_owner_only("asset.update", 204)),
    Row(op="viewAsset", target=photo, request=lambda w, t: ("GET", f"/api/assets/{t}/thumbnail", None),
        expect=file_route(asset_read("asset.view", links=True))),
    Row(op="downloadAsset", target=photo, request=lambda w, t: ("GET", f"/api/assets/{t}/original", None),
        expect=file_route(_same(asset_read("asset.download", links=True), asset_link=FILE_REFUSED,
                                link_no_download=FILE_REFUSED))),
    Row(op="playAssetVideo", target=video, request=lambda w, t: ("GET", f"/api/assets/{t}/video/playback", None),
        expect=file_route(_same(asset_read("asset.view", links=True),
                                locked_elevated=refused(404, "Asset not found or asset is not a video")))),
    # The video part of a live photo must be the uploader's own (the link uploads as its owner).
    Row(op="uploadAsset", target=video, request=_upload, asset=False,
        expect={"owner": ok(201), "other": NOT_OWNED_VIDEO, "admin": NOT_OWNED_VIDEO,
                "partner": NOT_OWNED_VIDEO, "album_viewer": NOT_OWNED_VIDEO,
                "album_link": ok(201), "asset_link": refused(401, "Unauthorized"),
                "link_no_upload": refused(401, "Unauthorized")}),
)

# -- Timeline ----------------------------------------------------------------------------------

TIMELINE_ROWS: tuple[Row, ...] = (
    Row(op="getTimeBuckets", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/timeline/buckets?userId={t}", None), expect=timeline("timeline.read")),
    Row(op="getTimeBucket", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/timeline/bucket?timeBucket=2024-01-01&userId={t}", None),
        expect=timeline("timeline.read")),
)


# -- The rest of the asset tag: copy, jobs, edits, OCR ------------------------------------------

ASSET_REST_ROWS: tuple[Row, ...] = (
    Row(op="copyAsset", target=photo,
        request=lambda w, t: ("PUT", "/api/assets/copy", {"sourceId": t, "targetId": w.video}),
        expect=asset_owner_only("asset.copy", 204)),
    Row(op="runAssetJobs", target=photo,
        request=lambda w, t: ("POST", "/api/assets/jobs", {"assetIds": [t], "name": "regenerate-thumbnail"}),
        expect=asset_owner_only("asset.update", 204)),
    Row(op="getAssetEdits", target=photo, request=lambda w, t: ("GET", f"/api/assets/{t}/edits", None),
        expect=asset_read("asset.read", links=False)),
    # the world's photo has no EXIF size: the owner passes access and meets Immich's next check
    Row(op="editAsset", target=photo,
        request=lambda w, t: ("PUT", f"/api/assets/{t}/edits",
                              {"edits": [{"action": "rotate", "parameters": {"angle": 90}}]}),
        expect=_same(asset_owner_only("asset.edit.create"),
                     owner=refused(400, "Asset dimensions are not available for editing"),
                     locked_elevated=refused(400, "Asset dimensions are not available for editing"))),
    Row(op="removeAssetEdits", target=photo, request=lambda w, t: ("DELETE", f"/api/assets/{t}/edits", None),
        expect=asset_owner_only("asset.edit.delete", 204)),
    Row(op="getAssetOcr", target=photo, request=lambda w, t: ("GET", f"/api/assets/{t}/ocr", None),
        expect=asset_read("asset.read", links=False)),
)
