"""Rows of the world's album and what hangs off it: albums, downloads, shared links,
activities, and the album roles and link variants (the editor, the links without download or
upload, with a password, expired: ``world.EXTRA_ACTORS``)."""

from __future__ import annotations

from typing import Any

from tests.http.access.vocabulary import (
    FORBIDDEN,
    Check,
    Outcome,
    Row,
    _album,
    _same,
    album_rule,
    asset_read,
    no_access,
    ok,
    own_row,
    photo,
    refused,
    shows,
)
from tests.http.access.world import World

# -- Albums (the world's album: owner, a viewer, an editor, an album link) --------------------


def _lists(album: bool) -> Check:
    return lambda w, body: [a["id"] for a in body] == ([w.album] if album else [])


def _album_count(count: int) -> Check:
    return lambda w, body: body["assetCount"] == count


# -- Download ------------------------------------------------------------------------------------


def _archive_ids(w: World, body: Any) -> list[str]:
    return [i for a in body["archives"] for i in a["assetIds"]]


_NO_TIMELINE_DOWNLOAD = no_access("timeline.download")


DOWNLOAD_ROWS: tuple[Row, ...] = (
    Row(op="getDownloadInfo", target=photo,
        request=lambda w, t: ("POST", "/api/download/info", {"assetIds": [t]}),
        expect=_same(asset_read("asset.download", links=True),
                     asset_link=no_access("asset.download"), link_no_download=no_access("asset.download"),
                     owner=ok(201, lambda w, b: _archive_ids(w, b) == [w.photo]),
                     partner=ok(201), album_viewer=ok(201), album_link=ok(201), locked_elevated=ok(201))),
    Row(op="downloadArchive", target=photo,
        request=lambda w, t: ("POST", "/api/download/archive", {"assetIds": [t]}),
        expect=_same(asset_read("asset.download", links=True), asset_link=no_access("asset.download"),
                     link_no_download=no_access("asset.download"))),
    Row(op="getDownloadInfo", target=_album, asset=False,
        request=lambda w, t: ("POST", "/api/download/info", {"albumId": t}),
        expect=_same(album_rule("album.download", 201, viewer=True, links=True),
                     link_no_download=no_access("album.download"),
                     owner=ok(201, lambda w, b: sorted(_archive_ids(w, b)) == sorted([w.photo, w.video])))),
    Row(op="getDownloadInfo", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("POST", "/api/download/info", {"userId": t}),
        expect=_same(own_row(201, _NO_TIMELINE_DOWNLOAD), album_link=_NO_TIMELINE_DOWNLOAD,
                     asset_link=_NO_TIMELINE_DOWNLOAD)),
)


_NO_PERMISSION = ok(check=lambda w, body: body == {"success": False, "error": "no_permission"})
_NOT_SHARED = refused(400, "Album not shared with user")

ALBUM_ROWS: tuple[Row, ...] = (
    Row(op="getAlbumInfo", target=_album, asset=False, request=lambda w, t: ("GET", f"/api/albums/{t}", None),
        expect=album_rule("album.read", viewer=True, links=True)),
    Row(op="getAlbumMapMarkers", target=_album, asset=False,
        request=lambda w, t: ("GET", f"/api/albums/{t}/map-markers", None),
        expect=album_rule("album.read", viewer=True, links=True)),
    Row(op="getAllAlbums", target=_album, asset=False, request=lambda w, t: ("GET", f"/api/albums?id={t}", None),
        expect={"owner": ok(check=_lists(True)), "other": ok(check=_lists(False)), "admin": ok(check=_lists(False)),
                "partner": ok(check=_lists(False)), "album_viewer": ok(check=_lists(True)),
                "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
    Row(op="createAlbum", target=photo, asset=False,
        request=lambda w, t: ("POST", "/api/albums", {"albumName": "New", "assetIds": [t]}),
        expect={"owner": ok(201, _album_count(1)), "other": ok(201, _album_count(0)),
                "admin": ok(201, _album_count(0)), "partner": ok(201, _album_count(1)),
                "album_viewer": ok(201, _album_count(0)), "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
    Row(op="updateAlbumInfo", target=_album, asset=False,
        request=lambda w, t: ("PATCH", f"/api/albums/{t}", {"albumName": "Renamed"}), expect=album_rule("album.update")),
    Row(op="deleteAlbum", target=_album, asset=False, request=lambda w, t: ("DELETE", f"/api/albums/{t}", None),
        expect=album_rule("album.delete", 204)),
    Row(op="addAssetsToAlbum", target=_album, asset=False,
        request=lambda w, t: ("PUT", f"/api/albums/{t}/assets", {"ids": [w.locked]}),
        expect=_same(album_rule("albumAsset.create"), album_editor=ok())),
    Row(op="removeAssetFromAlbum", target=_album, asset=False,
        request=lambda w, t: ("DELETE", f"/api/albums/{t}/assets", {"ids": [w.photo]}),
        expect=_same(album_rule("albumAsset.delete"), album_editor=ok())),
    Row(op="addAssetsToAlbums", target=_album, asset=False,
        request=lambda w, t: ("PUT", "/api/albums/assets", {"albumIds": [t], "assetIds": [w.locked]}),
        expect={"owner": _NO_PERMISSION, "other": _NO_PERMISSION, "admin": _NO_PERMISSION,
                "partner": _NO_PERMISSION, "album_viewer": _NO_PERMISSION,
                "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
    Row(op="addUsersToAlbum", target=_album, asset=False,
        request=lambda w, t: ("PUT", f"/api/albums/{t}/users", {"albumUsers": [{"userId": w.owner_id}]}),
        expect=album_rule("album.share")),
    Row(op="updateAlbumUser", target=_album, asset=False,
        request=lambda w, t: ("PUT", f"/api/albums/{t}/user/{w.owner_id}", {"role": "viewer"}),
        expect=_same(album_rule("album.share"), owner=refused(400, "User is owner"))),
    # Immich looks at the membership before the access (a member may always leave).
    Row(op="removeUserFromAlbum", target=_album, asset=False,
        request=lambda w, t: ("DELETE", f"/api/albums/{t}/user/me", None),
        expect={"owner": refused(400, "Cannot remove the last album owner"), "other": _NOT_SHARED,
                "admin": _NOT_SHARED, "partner": _NOT_SHARED, "album_viewer": ok(204),
                "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
)

# -- Shared links (the owner's individual link) -----------------------------------------------


_LINK_NOT_FOUND = refused(400, "Shared link not found")


def _asset_link(w: World) -> str:
    return w.asset_link


def link_rule(status: int = 200, check: Check | None = None) -> dict[str, Outcome]:
    """Only the link's owner reaches a link by id; links themselves are refused by the route."""
    return {"owner": ok(status, check), "other": _LINK_NOT_FOUND, "admin": _LINK_NOT_FOUND,
            "partner": _LINK_NOT_FOUND, "album_viewer": _LINK_NOT_FOUND,
            "album_link": FORBIDDEN, "asset_link": FORBIDDEN}


def _links_listed(count: int) -> Check:
    return lambda w, body: isinstance(body, list) and len(body) == count


SHARED_LINK_ROWS: tuple[Row, ...] = (
    Row(op="getSharedLinkById", target=_asset_link, asset=False,
        request=lambda w, t: ("GET", f"/api/shared-links/{t}", None),
        expect=link_rule(check=lambda w, body: shows(w, body, w.asset_link))),
    Row(op="updateSharedLink", target=_asset_link, asset=False,
        request=lambda w, t: ("PATCH", f"/api/shared-links/{t}", {"description": "x"}), expect=link_rule()),
    Row(op="removeSharedLink", target=_asset_link, asset=False,
        request=lambda w, t: ("DELETE", f"/api/shared-links/{t}", None), expect=link_rule(204)),
    Row(op="addSharedLinkAssets", target=_asset_link, asset=False,
        request=lambda w, t: ("PUT", f"/api/shared-links/{t}/assets", {"assetIds": [w.locked]}),
        expect=link_rule(check=lambda w, body: body[0]["error"] == "no_permission")),
    Row(op="removeSharedLinkAssets", target=_asset_link, asset=False,
        request=lambda w, t: ("DELETE", f"/api/shared-links/{t}/assets", {"assetIds": [w.photo]}),
        expect=link_rule()),
    Row(op="createSharedLink", target=photo, asset=False,
        request=lambda w, t: ("POST", "/api/shared-links", {"type": "INDIVIDUAL", "assetIds": [t]}),
        expect={"owner": ok(201), "other": no_access("asset.share"), "admin": no_access("asset.share"),
                "partner": ok(201), "album_viewer": no_access("asset.share"),
                "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
    Row(op="getAllSharedLinks", target=_album, asset=False,
        request=lambda w, t: ("GET", f"/api/shared-links?albumId={t}", None),
        expect={"owner": ok(check=lambda w, body: len(body) == w.album_links), "other": ok(check=_links_listed(0)),
                "admin": ok(check=_links_listed(0)), "partner": ok(check=_links_listed(0)),
                "album_viewer": ok(check=_links_listed(0)), "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
)

# -- Activities (the owner's comment on the world's album) ------------------------------------


def _shows_activity(w: World, body: Any) -> bool:
    return [a["id"] for a in body] == [w.activity]


ACTIVITY_ROWS: tuple[Row, ...] = (
    Row(op="getActivities", target=_album, asset=False,
        request=lambda w, t: ("GET", f"/api/activities?albumId={t}&userId={w.owner_id}", None),
        expect=_same(album_rule("album.read", viewer=True), owner=ok(check=_shows_activity),
                     album_viewer=ok(check=_shows_activity))),
    Row(op="getActivityStatistics", target=_album, asset=False,
        request=lambda w, t: ("GET", f"/api/activities/statistics?albumId={t}&assetId={w.photo}", None),
        expect=album_rule("album.read", viewer=True)),
    Row(op="createActivity", target=_album, asset=False,
        request=lambda w, t: ("POST", "/api/activities", {"albumId": t, "assetId": w.photo, "type": "like"}),
        expect=album_rule("activity.create", 201, viewer=True)),
    Row(op="deleteActivity", target=lambda w: w.activity, asset=False,
        request=lambda w, t: ("DELETE", f"/api/activities/{t}", None),
        expect=album_rule("activity.delete", 204)),
)


# -- Album roles and link variants (the actors of world.EXTRA_ACTORS) -------------------


def _added(success: bool, error: str | None = None) -> Check:
    def check(w: World, body: Any) -> bool:
        wanted: dict[str, Any] = {"id": w.editor_photo, "success": success}
        if error:
            wanted["error"] = error
        return bool(body == [wanted])

    return check


ALBUM_ROLE_AND_LINK_VARIANT_ROWS: tuple[Row, ...] = (
    # An editor adds a photo of their own; a viewer cannot add; the owner may not add another
    # user's photo (no asset.share on it).
    Row(op="addAssetsToAlbum", target=_album, asset=False,
        request=lambda w, t: ("PUT", f"/api/albums/{t}/assets", {"ids": [w.editor_photo]}),
        expect=_same(album_rule("albumAsset.create"), owner=ok(check=_added(False, "no_permission")),
                     album_editor=ok(check=_added(True)))),
)
