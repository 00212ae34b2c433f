"""The access matrix: every implemented route that takes an id, driven by every kind of caller.

The cast (``access_world.py``): the owner of a photo, a video and a locked photo; a stranger
(``other``); an admin who is not the owner; a ``partner`` the owner shares with; an
``album_viewer`` of the owner's album; an ``album_link`` (album shared link, upload and
download allowed) and an ``asset_link`` (individual link to the photo and video, no download,
no metadata); and, for asset routes, the owner on the locked photo without (``locked``) and
with (``locked_elevated``) a PIN-unlocked session. Then the actors a row may leave out
(``access_world.EXTRA_ACTORS``): an ``album_editor`` (defaults to the viewer's outcome), the
album link without allowDownload / without allowUpload / with a password and the cookie that
proves it (default to the album link's outcome), an expired album link, which fails
authentication and so gets 401 ``Invalid share key`` on every route, and a password link without
the cookie: 401 ``Password required`` wherever links are admitted (``outcome_of``).

Each ``Row`` says, for every actor, what Immich answers: ``ok(status)`` (optionally with a check
of the body) or ``refused(status, message)`` (exact body). A refused request must also leave
every row and file unchanged (``access_world.snapshot``). Refused actors run first, then the
allowed ones, in ``ACTORS`` order.

Adding a route: append a ``Row`` to ``ROWS`` with its operationId, a ``target`` (which id of the
world it is aimed at), a ``request`` (method, path, JSON body) and an outcome for every actor
(``asset=True`` rows also for the locked actors). ``test_every_route_with_an_id_is_in_the_matrix``
fails for an implemented route that takes an id (path or query parameter, or body field named
``id``/``...Id``/``...Ids``) and has no row; ``NOT_IDS`` lists the exceptions with their reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import pytest

from immich_trio.actors.uploader import Uploader
from immich_trio.config import Settings
from immich_trio.http import registry, spec
from immich_trio.http.app import create_app
from immich_trio.runtime import Runtime
from tests.http.access_world import (
    ACTORS,
    DERIVED_FROM,
    EXTRA_ACTORS,
    LINK_AUTH_FAILURES,
    LOCKED_ACTORS,
    PASSWORD_LOCKED,
    Sql,
    World,
    build_world,
    snapshot,
)
from tests.http.conftest import MakeUser

Check = Callable[[World, Any], bool]
Request = tuple[str, str, Any]  # method, path (with query), JSON body or None


@attrs.frozen
class Outcome:
    status: int
    message: str | None = None  # refusals: the exact message
    check: Check | None = None  # allowed: what the body must show

    @property
    def refused(self) -> bool:
        return self.message is not None


def ok(status: int = 200, check: Check | None = None) -> Outcome:
    return Outcome(status, check=check)


def refused(status: int, message: str) -> Outcome:
    return Outcome(status, message)


def no_access(permission: str) -> Outcome:
    return refused(400, f"Not found or no {permission} access")


FORBIDDEN = refused(403, "Forbidden")


@attrs.frozen(kw_only=True)
class Row:
    op: str
    target: Callable[[World], str]
    request: Callable[[World, str], Request]
    expect: Mapping[str, Outcome]
    asset: bool = True  # the locked actors apply (their target is the locked photo)


def outcome_of(row: Row, actor: str) -> Outcome:
    """What ``actor`` gets on ``row``: its own entry, the rule of its failing key, or the default."""
    if actor in LINK_AUTH_FAILURES:
        return refused(*LINK_AUTH_FAILURES[actor])
    if actor in PASSWORD_LOCKED:
        link = outcome_of(row, "album_link")
        return link if link == FORBIDDEN else refused(401, "Password required")
    if actor in row.expect:
        return row.expect[actor]
    return row.expect[DERIVED_FROM[actor]]


def actors_of(row: Row) -> tuple[str, ...]:
    return (*ACTORS, *(LOCKED_ACTORS if row.asset else ()), *EXTRA_ACTORS)


def photo(w: World) -> str:
    return w.photo


def video(w: World) -> str:
    return w.video


def _same(template: Mapping[str, Outcome], **changes: Outcome) -> dict[str, Outcome]:
    return {**template, **changes}


def shows(w: World, body: Any, target: str) -> bool:
    return isinstance(body, dict) and body.get("id") == target


# -- expectation templates ------------------------------------------------------------------


def asset_read(permission: str, *, links: bool) -> dict[str, Outcome]:
    """owner, partner and album members see it; links too when the route admits them."""
    link = ok() if links else FORBIDDEN
    return {
        "owner": ok(), "other": no_access(permission), "admin": no_access(permission),
        "partner": ok(), "album_viewer": ok(), "album_link": link, "asset_link": link,
        "locked": no_access(permission), "locked_elevated": ok(),
    }


FILE_REFUSED = refused(404, "Not Found")


def file_route(template: Mapping[str, Outcome]) -> dict[str, Outcome]:
    """File endpoints answer every failure, a refusal included, with a bare 404 (behaviour.md §2)."""
    return {
        actor: FILE_REFUSED if o.refused and o.status == 400 else o for actor, o in template.items()
    }


def asset_owner_only(permission: str, status: int = 200) -> dict[str, Outcome]:
    return {
        "owner": ok(status), "other": no_access(permission), "admin": no_access(permission),
        "partner": no_access(permission), "album_viewer": no_access(permission),
        "album_link": FORBIDDEN, "asset_link": FORBIDDEN,
        "locked": no_access(permission), "locked_elevated": ok(status),
    }


def own_row(status: int, refusal: Outcome) -> dict[str, Outcome]:
    """Rows of the owner's own (sessions, API keys): nobody else, no link."""
    return {
        "owner": ok(status), "other": refusal, "admin": refusal, "partner": refusal,
        "album_viewer": refusal, "album_link": FORBIDDEN, "asset_link": FORBIDDEN,
    }


def admin_only(status: int = 200) -> dict[str, Outcome]:
    return {actor: (ok(status) if actor == "admin" else FORBIDDEN) for actor in ACTORS}


def timeline(permission: str) -> dict[str, Outcome]:
    return {
        "owner": ok(), "other": no_access(permission), "admin": no_access(permission),
        "partner": ok(), "album_viewer": no_access(permission),
        "album_link": no_access(permission), "asset_link": no_access(permission),
    }


def _info_link_checks() -> dict[str, Outcome]:
    def full_without_owner(w: World, body: Any) -> bool:
        return shows(w, body, w.photo) and "owner" not in body and "exifInfo" in body

    def sanitized(w: World, body: Any) -> bool:
        return shows(w, body, w.photo) and body.get("hasMetadata") is False and "originalPath" not in body

    return {"album_link": ok(check=full_without_owner), "asset_link": ok(check=sanitized)}


NOT_OWNED_VIDEO = refused(400, "Live photo video does not belong to the user")
API_KEY_NOT_FOUND = refused(400, "API Key not found")
USER_SEEN = {actor: ok() for actor in ACTORS} | {"album_link": FORBIDDEN, "asset_link": FORBIDDEN}
META = "mobile-app"


# Partners: anyone shares their own library with anyone (the owner's pair exists already;
# Immich refuses no self-share); only the pair's sharer removes it.
PARTNER_CREATE = own_row(201, ok(201)) | {"owner": refused(400, "Partner already exists")}
PARTNER_NOT_FOUND = refused(400, "Partner not found")
READ_AT = "2026-01-01T00:00:00.000Z"


def _upload(w: World, target: str) -> Request:
    return ("POST", "/api/assets", {"multipart": {"livePhotoVideoId": target}})



# -- Albums ------------------------------------------------------------------------------------


def _album(w: World) -> str:
    return w.album


def album_rule(permission: str, status: int = 200, *, viewer: bool = False, links: bool = False) -> dict[str, Outcome]:
    """The owner (and the viewer for reads); links only on the routes that admit them."""
    refusal = no_access(permission)
    return {
        "owner": ok(status), "other": refusal, "admin": refusal, "partner": refusal,
        "album_viewer": ok(status) if viewer else refusal,
        "album_link": ok(status) if links else FORBIDDEN,
        "asset_link": refusal if links else FORBIDDEN,
    }


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


def _tag(w: World) -> str:
    return w.tag


def _tag_result(asset: str) -> Check:
    return lambda w, body: body == [{"id": getattr(w, asset), "success": True}]


def _tag_count(count: int) -> Outcome:
    return ok(check=lambda w, body: body == {"count": count})


TAG_ROWS: tuple[Row, ...] = (
    Row(op="getTagById", target=_tag, asset=False, request=lambda w, t: ("GET", f"/api/tags/{t}", None),
        expect=own_row(200, no_access("tag.read"))),
    Row(op="createTag", target=_tag, asset=False,
        request=lambda w, t: ("POST", "/api/tags", {"name": "Italy", "parentId": t}),
        expect=own_row(201, no_access("tag.read"))),
    Row(op="updateTag", target=_tag, asset=False,
        request=lambda w, t: ("PUT", f"/api/tags/{t}", {"color": "#123456"}),
        expect=own_row(200, no_access("tag.update"))),
    Row(op="deleteTag", target=_tag, asset=False, request=lambda w, t: ("DELETE", f"/api/tags/{t}", None),
        expect=own_row(204, no_access("tag.delete"))),
    Row(op="tagAssets", target=_tag, asset=False,
        request=lambda w, t: ("PUT", f"/api/tags/{t}/assets", {"ids": [w.video]}),
        expect=own_row(200, no_access("tag.asset")) | {"owner": ok(check=_tag_result("video"))}),
    Row(op="untagAssets", target=_tag, asset=False,
        request=lambda w, t: ("DELETE", f"/api/tags/{t}/assets", {"ids": [w.photo]}),
        expect=own_row(200, no_access("tag.asset")) | {"owner": ok(check=_tag_result("photo"))}),
    # Tags and assets the caller may not touch are left out: nothing tagged, nothing refused.
    Row(op="bulkTagAssets", target=_tag, asset=False,
        request=lambda w, t: ("PUT", "/api/tags/assets", {"tagIds": [t], "assetIds": [w.video]}),
        expect=own_row(200, _tag_count(0)) | {"owner": _tag_count(1)}),
    Row(op="getTimeBuckets", target=_tag, asset=False,
        request=lambda w, t: ("GET", f"/api/timeline/buckets?tagId={t}", None),
        expect=own_row(200, no_access("tag.read")) | {
            "album_link": no_access("timeline.read"), "asset_link": no_access("timeline.read")}),
)


# -- Memories (the owner's memory holding the photo) ------------------------------------------


def _memory(w: World) -> str:
    return w.memory


def memory_rule(permission: str, status: int = 200, check: Check | None = None) -> dict[str, Outcome]:
    """A memory is its owner's alone; links are refused by the route."""
    return {"owner": ok(status, check), "other": no_access(permission), "admin": no_access(permission),
            "partner": no_access(permission), "album_viewer": no_access(permission),
            "album_link": FORBIDDEN, "asset_link": FORBIDDEN}


def _memory_assets(count: int) -> Check:
    return lambda w, body: isinstance(body, dict) and len(body["assets"]) == count


MEMORY_ROWS: tuple[Row, ...] = (
    Row(op="getMemory", target=_memory, asset=False, request=lambda w, t: ("GET", f"/api/memories/{t}", None),
        expect=memory_rule("memory.read", check=_memory_assets(1))),
    Row(op="updateMemory", target=_memory, asset=False,
        request=lambda w, t: ("PUT", f"/api/memories/{t}", {"isSaved": True}), expect=memory_rule("memory.update")),
    Row(op="deleteMemory", target=_memory, asset=False, request=lambda w, t: ("DELETE", f"/api/memories/{t}", None),
        expect=memory_rule("memory.delete", 204)),
    Row(op="addMemoryAssets", target=_memory, asset=False,
        request=lambda w, t: ("PUT", f"/api/memories/{t}/assets", {"ids": [w.locked]}),
        expect=memory_rule("memory.read", check=lambda w, body: body[0]["error"] == "no_permission")),
    Row(op="removeMemoryAssets", target=_memory, asset=False,
        request=lambda w, t: ("DELETE", f"/api/memories/{t}/assets", {"ids": [w.photo]}),
        expect=memory_rule("memory.update", check=lambda w, body: body == [{"id": w.photo, "success": True}])),
    Row(op="createMemory", target=photo, asset=False,
        request=lambda w, t: ("POST", "/api/memories", {"type": "on_this_day", "data": {"year": 2024},
                                                         "memoryAt": "2024-01-15T00:00:00.000Z", "assetIds": [t]}),
        expect={"owner": ok(201, _memory_assets(1)), "other": ok(201, _memory_assets(0)),
                "admin": ok(201, _memory_assets(0)), "partner": ok(201, _memory_assets(1)),
                "album_viewer": ok(201, _memory_assets(0)), "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
)


# -- Stacks (the owner's stack of the photo and the video) --------------------------------------


def _stack(w: World) -> str:
    return w.stack


def stack_rule(permission: str, status: int = 200) -> dict[str, Outcome]:
    """Only the stack's owner; no link reaches a stack route."""
    refusal = no_access(permission)
    return {"owner": ok(status), "other": refusal, "admin": refusal, "partner": refusal,
            "album_viewer": refusal, "album_link": FORBIDDEN, "asset_link": FORBIDDEN}


def _stacks_listed(count: int) -> Check:
    return lambda w, body: [s["id"] for s in body] == [w.stack] * count


STACK_ROWS: tuple[Row, ...] = (
    Row(op="getStack", target=_stack, asset=False, request=lambda w, t: ("GET", f"/api/stacks/{t}", None),
        expect=_same(stack_rule("stack.read"), owner=ok(check=lambda w, b: shows(w, b, w.stack)))),
    Row(op="updateStack", target=_stack, asset=False,
        request=lambda w, t: ("PUT", f"/api/stacks/{t}", {"primaryAssetId": w.video}),
        expect=_same(stack_rule("stack.update"), owner=ok(check=lambda w, b: b["primaryAssetId"] == w.video))),
    Row(op="deleteStack", target=_stack, asset=False, request=lambda w, t: ("DELETE", f"/api/stacks/{t}", None),
        expect=stack_rule("stack.delete", 204)),
    Row(op="deleteStacks", target=_stack, asset=False,
        request=lambda w, t: ("DELETE", "/api/stacks", {"ids": [t]}), expect=stack_rule("stack.delete", 204)),
    Row(op="removeAssetFromStack", target=_stack, asset=False,
        request=lambda w, t: ("DELETE", f"/api/stacks/{t}/assets/{w.video}", None),
        expect=stack_rule("stack.update", 204)),
    Row(op="searchStacks", target=photo, asset=False,
        request=lambda w, t: ("GET", f"/api/stacks?primaryAssetId={t}", None),
        expect={actor: ok(check=_stacks_listed(0)) for actor in ACTORS} | {
            "owner": ok(check=_stacks_listed(1)), "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
    # a new stack of the target and the video (the photo's stack is merged into it)
    Row(op="createStack", target=photo,
        request=lambda w, t: ("POST", "/api/stacks", {"assetIds": [t, w.video]}),
        expect=asset_owner_only("asset.update", 201)),
)


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


NOTIFICATION_ADMIN_ROWS: tuple[Row, ...] = (
    # the user id is the recipient's; only admins may write into anyone's bell
    Row(op="createNotification", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("POST", "/api/admin/notifications", {"userId": t, "title": "Hello"}),
        expect=admin_only(201)),
)


# -- Integrity reports (Maintenance admin) ------------------------------------------------------

INTEGRITY_ROWS: tuple[Row, ...] = (
    Row(op="getIntegrityReportFile", target=lambda w: w.integrity_report, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/integrity/report/{t}/file", None), expect=admin_only()),
    Row(op="deleteIntegrityReport", target=lambda w: w.integrity_report, asset=False,
        request=lambda w, t: ("DELETE", f"/api/admin/integrity/report/{t}", None), expect=admin_only()),
)


# -- Calendar heatmap of another user (Users admin) ---------------------------------------------

HEATMAP_ROWS: tuple[Row, ...] = (
    Row(op="getUserCalendarHeatmapAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users/{t}/calendar-heatmap", None), expect=admin_only()),
)


# -- Album roles and link variants (the actors of access_world.EXTRA_ACTORS) -------------------


def _added(success: bool, error: str | None = None) -> Check:
    def check(w: World, body: Any) -> bool:
        wanted: dict[str, Any] = {"id": w.editor_photo, "success": success}
        if error:
            wanted["error"] = error
        return bool(body == [wanted])

    return check


MATRIX8_ROWS: tuple[Row, ...] = (
    # An editor adds a photo of their own; a viewer cannot add; the owner may not add another
    # user's photo (no asset.share on it).
    Row(op="addAssetsToAlbum", target=_album, asset=False,
        request=lambda w, t: ("PUT", f"/api/albums/{t}/assets", {"ids": [w.editor_photo]}),
        expect=_same(album_rule("albumAsset.create"), owner=ok(check=_added(False, "no_permission")),
                     album_editor=ok(check=_added(True)))),
)

def _search_found(count: int) -> Check:
    return lambda w, body: [a["id"] for a in body["assets"]["items"]] == [w.photo] * count


def _listed(count: int) -> Check:  # random has no id filter: the album's photo and video
    return lambda w, body: {a["id"] for a in body} == ({w.photo, w.video} if count else set())


def _search_row(op: str, path: str, found: Callable[[int], Check], link: Outcome) -> Row:
    """A search in the owner's album: only the owner (and its album link, where links may
    search) finds the album's assets; everyone else finds nothing."""
    return Row(
        op=op, target=photo, asset=False,
        request=lambda w, t: ("POST", path, {"albumIds": [w.album], "id": t}),
        expect={actor: ok(check=found(0)) for actor in ACTORS} | {
            "owner": ok(check=found(1)), "album_link": link, "asset_link": link},
    )


SEARCH_ROWS: tuple[Row, ...] = (
    Row(op="searchAssets", target=photo, asset=False,
        request=lambda w, t: ("POST", "/api/search/metadata", {"albumIds": [w.album], "id": t}),
        expect={actor: ok(check=_search_found(0)) for actor in ACTORS} | {
            "owner": ok(check=_search_found(1)), "album_link": ok(check=_search_found(1)),
            "asset_link": refused(400, "Not found or no album.read access")}),
    _search_row("searchRandom", "/api/search/random", _listed, FORBIDDEN),
    _search_row("searchAssetStatistics", "/api/search/statistics",
                lambda n: lambda w, body: body == {"total": 2 * n}, FORBIDDEN),
    # By a stored embedding: asset.read on queryAssetId, then Immich's 400 for an asset
    # without one (the world stores none); links may not smart-search at all.
    Row(op="searchSmart", target=photo,
        request=lambda w, t: ("POST", "/api/search/smart", {"queryAssetId": t}),
        expect={actor: (ok(400, check=lambda w, body: body["message"].endswith(" has no embedding"))
                        if not o.refused else o)
                for actor, o in asset_read("asset.read", links=False).items()}),
    Row(op="searchLargeAssets", target=photo, asset=False,
        request=lambda w, t: ("POST", "/api/search/large-assets?minFileSize=0", None),
        expect={actor: ok(check=lambda w, body: w.photo not in {a["id"] for a in body}) for actor in ACTORS} | {
            "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
)


# -- People and faces (the owner's person with a face on the photo; routes admit no link) -------


def _person(w: World) -> str:
    return w.person


def _face(w: World) -> str:
    return w.face


def person_rule(permission: str, status: int = 200, check: Check | None = None) -> dict[str, Outcome]:
    """Only the person's owner; links are refused at the route (no shared-link access)."""
    return own_row(status, no_access(permission)) | {"owner": ok(status, check)}


def _people_listed(w: World, body: Any) -> bool:
    return [p["id"] for p in body["people"]] == [w.person]


def _faces_seen(owner: bool) -> Check:
    def check(w: World, body: Any) -> bool:
        [face] = body
        return bool(face["id"] == w.face and (face["person"] or {}).get("id") == (w.person if owner else None))

    return check


def _bulk(success: bool) -> Check:
    def check(w: World, body: Any) -> bool:
        wanted = {"id": w.person, "success": True} if success else {"id": w.person, "success": False, "error": "unknown"}
        return bool(body == [wanted])

    return check


_FACE_BOX = {"imageWidth": 100, "imageHeight": 100, "x": 50, "y": 50, "width": 20, "height": 20}

PEOPLE_ROWS: tuple[Row, ...] = (
    Row(op="getPerson", target=_person, asset=False, request=lambda w, t: ("GET", f"/api/people/{t}", None),
        expect=person_rule("person.read", check=lambda w, b: shows(w, b, w.person))),
    Row(op="getPersonStatistics", target=_person, asset=False,
        request=lambda w, t: ("GET", f"/api/people/{t}/statistics", None),
        expect=person_rule("person.read", check=lambda w, b: b == {"assets": 1})),
    Row(op="getPersonThumbnail", target=_person, asset=False,
        request=lambda w, t: ("GET", f"/api/people/{t}/thumbnail", None),
        expect=file_route(person_rule("person.read"))),
    Row(op="updatePerson", target=_person, asset=False,
        request=lambda w, t: ("PUT", f"/api/people/{t}", {"name": "Renamed"}),
        expect=person_rule("person.update", check=lambda w, b: b["name"] == "Renamed")),
    Row(op="updatePeople", target=_person, asset=False,
        request=lambda w, t: ("PUT", "/api/people", {"people": [{"id": t, "name": "Renamed"}]}),
        expect=own_row(200, ok(check=_bulk(False))) | {"owner": ok(check=_bulk(True))}),
    # Immich reads the closest person without an access check, then lists the caller's own people.
    Row(op="getAllPeople", target=_person, asset=False,
        request=lambda w, t: ("GET", f"/api/people?closestPersonId={t}", None),
        expect=own_row(200, ok(check=lambda w, b: b["people"] == [])) | {"owner": ok(check=_people_listed)}),
    Row(op="mergePerson", target=_person, asset=False,
        request=lambda w, t: ("POST", f"/api/people/{t}/merge", {"ids": [w.person2]}),
        expect=person_rule("person.update", check=lambda w, b: b == [{"id": w.person2, "success": True}])),
    Row(op="reassignFaces", target=lambda w: w.person2, asset=False,
        request=lambda w, t: ("PUT", f"/api/people/{t}/reassign", {"data": [{"personId": w.person, "assetId": w.photo}]}),
        expect=person_rule("person.update", check=lambda w, b: [p["id"] for p in b] == [w.person2])),
    Row(op="reassignFacesById", target=lambda w: w.person2, asset=False,
        request=lambda w, t: ("PUT", f"/api/faces/{t}", {"id": w.face}),
        expect=person_rule("person.update", check=lambda w, b: shows(w, b, w.person2))),
    Row(op="deletePerson", target=_person, asset=False, request=lambda w, t: ("DELETE", f"/api/people/{t}", None),
        expect=person_rule("person.delete", 204)),
    Row(op="deletePeople", target=_person, asset=False,
        request=lambda w, t: ("DELETE", "/api/people", {"ids": [t]}), expect=person_rule("person.delete", 204)),
    Row(op="getFaces", target=photo, request=lambda w, t: ("GET", f"/api/faces?id={t}", None),
        expect=_same(asset_read("asset.read", links=False), owner=ok(check=_faces_seen(True)),
                     partner=ok(check=_faces_seen(False)), album_viewer=ok(check=_faces_seen(False)),
                     locked_elevated=ok(check=lambda w, b: b == []))),
    # Both the asset (asset.read) and the person (person.read) must be the caller's to read.
    Row(op="createFace", target=_person, asset=False,
        request=lambda w, t: ("POST", "/api/faces", {"assetId": w.photo, "personId": t, **_FACE_BOX}),
        expect=person_rule("person.read", 201) | {
            "other": no_access("asset.read"), "admin": no_access("asset.read")}),
    Row(op="deleteFace", target=_face, asset=False,
        request=lambda w, t: ("DELETE", f"/api/faces/{t}", {"force": False}), expect=person_rule("face.delete", 204)),
)


ROWS: tuple[Row, ...] = (
    # -- Assets ------------------------------------------------------------------------------
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
    # -- Timeline ----------------------------------------------------------------------------
    Row(op="getTimeBuckets", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/timeline/buckets?userId={t}", None), expect=timeline("timeline.read")),
    Row(op="getTimeBucket", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/timeline/bucket?timeBucket=2024-01-01&userId={t}", None),
        expect=timeline("timeline.read")),
    # -- Sessions and API keys -----------------------------------------------------------------
    Row(op="updateSession", target=lambda w: w.session, asset=False,
        request=lambda w, t: ("PUT", f"/api/sessions/{t}", {"isPendingSyncReset": True}),
        expect=own_row(200, no_access("session.update"))),
    Row(op="lockSession", target=lambda w: w.session, asset=False,
        request=lambda w, t: ("POST", f"/api/sessions/{t}/lock", None),
        expect=own_row(204, no_access("session.lock"))),
    Row(op="deleteSession", target=lambda w: w.session, asset=False,
        request=lambda w, t: ("DELETE", f"/api/sessions/{t}", None),
        expect=own_row(204, no_access("authDevice.delete"))),
    Row(op="getApiKey", target=lambda w: w.api_key, asset=False,
        request=lambda w, t: ("GET", f"/api/api-keys/{t}", None), expect=own_row(200, API_KEY_NOT_FOUND)),
    Row(op="updateApiKey", target=lambda w: w.api_key, asset=False,
        request=lambda w, t: ("PUT", f"/api/api-keys/{t}", {"name": "Renamed"}), expect=own_row(200, API_KEY_NOT_FOUND)),
    Row(op="deleteApiKey", target=lambda w: w.api_key, asset=False,
        request=lambda w, t: ("DELETE", f"/api/api-keys/{t}", None), expect=own_row(204, API_KEY_NOT_FOUND)),
    # -- Users (any user reads any user) and admin users (route-level: admins only) -----------
    Row(op="getUser", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/users/{t}", None), expect=USER_SEEN),
    Row(op="getProfileImage", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/users/{t}/profile-image", None),
        expect=USER_SEEN | {a: ok(404) for a in ACTORS if USER_SEEN[a].status == 200}),
    Row(op="searchUsersAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users?id={t}", None), expect=admin_only()),
    Row(op="getUserAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users/{t}", None), expect=admin_only()),
    Row(op="getUserPreferencesAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users/{t}/preferences", None), expect=admin_only()),
    Row(op="getUserSessionsAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users/{t}/sessions", None), expect=admin_only()),
    Row(op="getUserStatisticsAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users/{t}/statistics", None), expect=admin_only()),
    Row(op="updateUserAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("PUT", f"/api/admin/users/{t}", {"name": "Renamed"}), expect=admin_only()),
    Row(op="updateUserPreferencesAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("PUT", f"/api/admin/users/{t}/preferences", {"memories": {"enabled": False}}),
        expect=admin_only()),
    Row(op="restoreUserAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("POST", f"/api/admin/users/{t}/restore", None), expect=admin_only()),
    Row(op="deleteUserAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("DELETE", f"/api/admin/users/{t}", {}), expect=admin_only()),
    # -- Albums (the world's album: owner, a viewer, an album link) ---------------------------
    *ALBUM_ROWS,
    *DOWNLOAD_ROWS,
    *SHARED_LINK_ROWS,
    *ACTIVITY_ROWS,
    *TAG_ROWS,
    *MEMORY_ROWS,
    *STACK_ROWS,
    *ASSET_REST_ROWS,
    *NOTIFICATION_ADMIN_ROWS,
    *MATRIX8_ROWS,
    *SEARCH_ROWS,
    *INTEGRITY_ROWS,
    *PEOPLE_ROWS,
    *HEATMAP_ROWS,
    # -- Partners and Notifications -----------------------------------------------------------
    Row(op="createPartner", target=lambda w: w.partner_id, asset=False,
        request=lambda w, t: ("POST", "/api/partners", {"sharedWithId": t}), expect=PARTNER_CREATE),
    Row(op="createPartnerDeprecated", target=lambda w: w.partner_id, asset=False,
        request=lambda w, t: ("POST", f"/api/partners/{t}", None), expect=PARTNER_CREATE),
    Row(op="updatePartner", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("PUT", f"/api/partners/{t}", {"inTimeline": True}),
        expect=own_row(200, no_access("partner.update")) | {
            "owner": no_access("partner.update"), "partner": ok(check=lambda w, b: b["inTimeline"] is True)}),
    Row(op="removePartner", target=lambda w: w.partner_id, asset=False,
        request=lambda w, t: ("DELETE", f"/api/partners/{t}", None), expect=own_row(204, PARTNER_NOT_FOUND)),
    Row(op="getNotifications", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("GET", f"/api/notifications?id={t}", None),
        expect=own_row(200, ok(check=lambda w, b: b == [])) | {
            "owner": ok(check=lambda w, b: [n["id"] for n in b] == [w.notification])}),
    Row(op="getNotification", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("GET", f"/api/notifications/{t}", None),
        expect=own_row(200, no_access("notification.read"))),
    Row(op="updateNotification", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("PUT", f"/api/notifications/{t}", {"readAt": READ_AT}),
        expect=own_row(200, no_access("notification.update"))),
    Row(op="updateNotifications", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("PUT", "/api/notifications", {"ids": [t], "readAt": READ_AT}),
        expect=own_row(204, no_access("notification.update"))),
    Row(op="deleteNotification", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("DELETE", f"/api/notifications/{t}", None),
        expect=own_row(204, no_access("notification.delete"))),
    Row(op="deleteNotifications", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("DELETE", "/api/notifications", {"ids": [t]}),
        expect=own_row(204, no_access("notification.delete"))),
)

# Implemented routes whose id-like fields are not server ids a caller could be refused.
NOT_IDS = {
    "checkBulkUpload": "assets[].id are the client's own labels for its files",
    "updateConfig": "oauth.clientId and the like are settings, not rows",
}


# -- the guard: every route with an id is in the matrix ---------------------------------------


def _id_like(name: str) -> bool:
    return name in ("id", "ids") or name.endswith("Id") or name.endswith("Ids")


def _body_has_id(schema: Any, depth: int = 0) -> bool:
    if not isinstance(schema, dict) or depth > 3:
        return False
    schema = spec.resolve(schema)
    for name, prop in schema.get("properties", {}).items():
        if _id_like(name) or _body_has_id(prop, depth + 1):
            return True
    return _body_has_id(schema.get("items"), depth + 1)


def routes_with_ids() -> set[str]:
    class _NoPool:
        def connection(self) -> None:
            raise AssertionError("the route table needs no database")

    create_app(Runtime(settings=Settings(), pool=_NoPool()))  # type: ignore[arg-type]
    handlers = registry.handlers()
    out = set()
    for op in spec.operations().values():
        if op.hidden or op.operation_id not in handlers:
            continue
        params = [p["name"] for p in op.parameters if p["in"] in ("path", "query")]
        if any(_id_like(n) for n in params) or _body_has_id(op.body_schema):
            out.add(op.operation_id)
    return out


def test_every_route_with_an_id_is_in_the_matrix() -> None:
    in_matrix = {row.op for row in ROWS}
    assert routes_with_ids() - set(NOT_IDS) == in_matrix
    for row in ROWS:
        wanted = set(ACTORS) | (set(LOCKED_ACTORS) if row.asset else set())
        assert wanted <= set(row.expect) <= wanted | set(DERIVED_FROM), row.op


def matrix_size() -> int:
    return sum(len(actors_of(row)) for row in ROWS)


# -- driving one row ---------------------------------------------------------------------------


BOUNDARY = "access-matrix-boundary"


def _multipart(fields: Mapping[str, str]) -> bytes:
    parts = [("fileCreatedAt", "2024-01-15T10:30:00Z"), ("fileModifiedAt", "2024-01-15T10:30:00Z"), *fields.items()]
    body = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in parts
    )
    return body + (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="assetData"; filename="still.jpg"\r\n\r\n'.encode()
        + b"\xff\xd8\xff still " + BOUNDARY.encode()[:4]
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def _send(client: Any, headers: dict[str, str], request: Request, serial: int) -> Any:
    method, path, body = request
    if isinstance(body, dict) and "multipart" in body:
        data = _multipart(body["multipart"]).replace(b"still ", f"still {serial} ".encode())
        headers = {**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        return await client.open(path, method=method, headers=headers, data=data)
    return await client.open(path, method=method, headers=headers, json=body)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.op)
async def test_access(row: Row, client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser,
                      sql: Sql) -> None:
    world = await build_world(sql, make_user, runtime.settings.media_location)
    order = actors_of(row)
    actors = sorted(order, key=lambda a: (not outcome_of(row, a).refused, order.index(a)))
    failures = []
    for serial, actor in enumerate(actors):
        expected = outcome_of(row, actor)
        target = world.locked if actor in LOCKED_ACTORS else row.target(world)
        before = snapshot(sql, world.media) if expected.refused else None
        response = await _send(client, world.headers[actor], row.request(world, target), serial)
        body = await response.get_json(silent=True)
        seen = (response.status_code, body)
        if expected.refused:
            if seen != (expected.status, {"message": expected.message}):
                failures.append(f"{actor}: expected {expected.status} {expected.message!r}, got {seen}")
            elif snapshot(sql, world.media) != before:
                failures.append(f"{actor}: refused, but something changed")
        elif response.status_code != expected.status:
            failures.append(f"{actor}: expected {expected.status}, got {seen}")
        elif expected.check is not None and not expected.check(world, body):
            failures.append(f"{actor}: body shows what it must not: {body}")
    assert not failures, "\n".join(failures)
