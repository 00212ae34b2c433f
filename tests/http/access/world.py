"""The world of the access matrix (``tests/http/test_access_matrix.py``), built with plain SQL:
its cast, and the snapshot a refused request must leave unchanged.

One owner with a photo, a video and a locked photo (files on disk), a second session and an
API key; a stranger, an admin, a partner the owner shares with, a viewer of the owner's album,
an editor of that album (with a photo of their own), an album shared link (upload and download
allowed) with its variants (no download; no upload; a password, used without the cookie; expired)
and an individual-asset link (neither, no metadata), and an elevated (PIN-unlocked) session of
the owner for the locked photo.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from immich_trio import crypto
from immich_trio.storage.files import person_thumbnail_path
from tests.http.access.workflow_world import SNAPSHOT_QUERIES as WORKFLOW_SNAPSHOT_QUERIES
from tests.http.access.workflow_world import plugin_and_workflow
from tests.http.conftest import MakeUser

Sql = Callable[..., list[tuple[Any, ...]]]

# Every actor of the matrix; LOCKED_ACTORS take the owner's locked photo as their target.
ACTORS = ("owner", "other", "admin", "partner", "album_viewer", "album_link", "asset_link")
LOCKED_ACTORS = ("locked", "locked_elevated")
# Actors whose outcome a row may leave out: each defaults to the outcome of the actor it varies
# (``DERIVED_FROM``), or, for a key that fails authentication, is fixed for every route
# (``LINK_AUTH_FAILURES``). A row names one of them only where it differs.
DERIVED_FROM = {
    "album_editor": "album_viewer",  # differs on adding/removing album assets
    "link_no_download": "album_link",  # the album link without allowDownload
    "link_no_upload": "album_link",  # the album link without allowUpload
    # A password link whose holder proved the password (the shared-link cookie).
    "link_password_cookie": "album_link",
}
LINK_AUTH_FAILURES = {"link_expired": (401, "Invalid share key")}
# A password link without the cookie: 401 ``Password required`` on every route that admits
# links (Immich v3.1 checks only GET /shared-links/me; we close that hole), 403 where the route
# refuses links altogether.
PASSWORD_LOCKED = ("link_password",)
EXTRA_ACTORS = (*DERIVED_FROM, *LINK_AUTH_FAILURES, *PASSWORD_LOCKED)


@attrs.frozen(kw_only=True)
class World:
    owner_id: str
    photo: str
    video: str
    locked: str
    album: str
    session: str  # a second session of the owner (not the one making requests)
    api_key: str
    media: Path
    headers: dict[str, dict[str, str]]  # actor -> request headers
    partner_id: str = ""  # the user the owner shares with
    notification: str = ""  # a notification of the owner
    asset_link: str = ""  # the owner's individual link (its id)
    activity: str = ""  # the owner's comment on the album
    tag: str = ""  # the owner's tag "Trips", on the photo
    memory: str = ""  # the owner's memory (with the photo)
    stack: str = ""  # the owner's stack: the photo (primary) and the video
    editor_photo: str = ""  # a photo of the album editor (not in the album)
    album_links: int = 0  # how many shared links the owner has on the album
    integrity_report: str = ""  # an untracked-file report on a stray file in upload/
    person: str = ""  # the owner's person, its face on the photo (feature face), thumbnail on disk
    face: str = ""  # that face
    person2: str = ""  # a second person of the owner, no face (merge and reassign targets)
    duplicate: str = ""  # the owner's duplicate group of two more photos (not stacked)
    duplicates: tuple[str, ...] = ()  # its two photos
    plugin: str = ""  # the core plugin (one method)
    workflow: str = ""  # the owner's workflow (one step of that method)


def _session(sql: Sql, user_id: str, *, pin_until: datetime | None = None) -> tuple[str, str]:
    token = crypto.new_token()
    [(session_id,)] = sql(
        'INSERT INTO session (token, "userId", "deviceType", "deviceOS", "pinExpiresAt")'
        " VALUES (%s, %s, 'pytest', 'Linux', %s) RETURNING id",
        (crypto.hash_token(token), user_id, pin_until),
    )
    return str(session_id), token


def _asset(sql: Sql, owner: str, media: Path, name: str, kind: str, visibility: str = "timeline") -> str:
    original = media / "upload" / name
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_bytes(os.urandom(64))
    when = datetime(2024, 1, 15, tzinfo=UTC)
    [(asset_id,)] = sql(
        'INSERT INTO asset ("ownerId", type, "originalPath", "fileCreatedAt", "fileModifiedAt",'
        ' "localDateTime", checksum, "checksumAlgorithm", "originalFileName", visibility)'
        " VALUES (%s, %s, %s, %s, %s, %s, %s, 'sha1', %s, %s) RETURNING id",
        (owner, kind, str(original), when, when, when, os.urandom(20), name, visibility),
    )
    thumb = media / "thumbs" / f"{asset_id}_thumbnail.webp"
    thumb.parent.mkdir(parents=True, exist_ok=True)
    thumb.write_bytes(b"THUMB")
    sql('INSERT INTO asset_file ("assetId", type, path) VALUES (%s, %s, %s)', (asset_id, "thumbnail", str(thumb)))
    sql('INSERT INTO asset_exif ("assetId", description) VALUES (%s, %s)', (asset_id, "exif"))
    sql(
        """INSERT INTO asset_metadata ("assetId", key, value) VALUES (%s, 'mobile-app', '{"iCloudId": "x"}')""",
        (asset_id,),
    )
    return str(asset_id)


def _link(sql: Sql, owner: str, kind: str, *, album: str | None, upload: bool, download: bool, exif: bool,
          password: str | None = None, expires: datetime | None = None) -> tuple[str, str]:
    key = os.urandom(50)
    [(link_id,)] = sql(
        'INSERT INTO shared_link ("userId", key, type, "albumId", "allowUpload", "allowDownload", "showExif",'
        ' password, "expiresAt") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id',
        (owner, key, kind, album, upload, download, exif, password, expires),
    )
    return str(link_id), base64.urlsafe_b64encode(key).decode().rstrip("=")


def _people(sql: Sql, owner: str, photo: str, media: Path) -> tuple[str, str, str]:
    """The owner's person with one face on ``photo`` (its feature face) and a thumbnail file,
    and a second person with no face."""
    [(person,)] = sql('INSERT INTO person ("ownerId", name) VALUES (%s, %s) RETURNING id', (owner, "Alice"))
    [(face,)] = sql(
        'INSERT INTO asset_face ("assetId", "personId", "imageWidth", "imageHeight", "boundingBoxX1",'
        ' "boundingBoxY1", "boundingBoxX2", "boundingBoxY2") VALUES (%s, %s, 100, 100, 10, 10, 40, 40)'
        " RETURNING id",
        (photo, person),
    )
    thumb = person_thumbnail_path(media, owner, person)
    thumb.parent.mkdir(parents=True, exist_ok=True)
    thumb.write_bytes(b"\xff\xd8\xff person")
    sql('UPDATE person SET "faceAssetId" = %s, "thumbnailPath" = %s WHERE id = %s', (face, str(thumb), person))
    [(person2,)] = sql('INSERT INTO person ("ownerId", name) VALUES (%s, %s) RETURNING id', (owner, "Bob"))
    return str(person), str(face), str(person2)


async def build_world(sql: Sql, make_user: MakeUser, media: Path) -> World:
    owner = await make_user("owner@example.com", name="Owner")
    other = await make_user("other@example.com", name="Other")
    admin = await make_user("admin@example.com", name="Admin", is_admin=True)
    partner = await make_user("partner@example.com", name="Partner")
    viewer = await make_user("viewer@example.com", name="Viewer")
    editor = await make_user("editor@example.com", name="Editor")
    sql('INSERT INTO partner ("sharedById", "sharedWithId") VALUES (%s, %s)', (owner.id, partner.id))

    photo = _asset(sql, owner.id, media, "photo.jpg", "IMAGE")
    video = _asset(sql, owner.id, media, "clip.mp4", "VIDEO")
    locked = _asset(sql, owner.id, media, "secret.jpg", "IMAGE", visibility="locked")

    [(album,)] = sql("INSERT INTO album (\"albumName\") VALUES ('Shared') RETURNING id")
    editor_photo = _asset(sql, editor.id, media, "editor.jpg", "IMAGE")
    for user_id, role in ((owner.id, "owner"), (viewer.id, "viewer"), (editor.id, "editor")):
        sql('INSERT INTO album_user ("albumId", "userId", role) VALUES (%s, %s, %s)', (album, user_id, role))
    for asset_id in (photo, video):
        sql('INSERT INTO album_asset ("albumId", "assetId") VALUES (%s, %s)', (album, asset_id))
    _, album_key = _link(sql, owner.id, "ALBUM", album=str(album), upload=True, download=True, exif=True)
    variants: dict[str, dict[str, Any]] = {
        "link_no_download": {"upload": True, "download": False},
        "link_no_upload": {"upload": False, "download": True},
        "link_password": {"upload": True, "download": True, "password": "secret"},
        "link_expired": {"upload": True, "download": True, "expires": datetime.now(UTC) - timedelta(minutes=1)},
    }
    variant_links = {
        actor: _link(sql, owner.id, "ALBUM", album=str(album), exif=True, **flags)
        for actor, flags in variants.items()
    }
    variant_keys = {actor: key for actor, (_, key) in variant_links.items()}
    password_link = variant_links["link_password"][0]
    proof = base64.b64encode(hashlib.sha256(f"{password_link}-secret".encode()).digest()).decode()
    asset_link, asset_key = _link(sql, owner.id, "INDIVIDUAL", album=None, upload=False, download=False, exif=False)
    for asset_id in (photo, video):
        sql('INSERT INTO shared_link_asset ("sharedLinkId", "assetId") VALUES (%s, %s)', (asset_link, asset_id))

    second_session, _ = _session(sql, owner.id)
    _, elevated_token = _session(sql, owner.id, pin_until=datetime.now(UTC) + timedelta(minutes=14))
    [(api_key,)] = sql(
        'INSERT INTO api_key (key, name, "userId", permissions) VALUES (%s, %s, %s, %s) RETURNING id',
        (crypto.hash_token(crypto.new_token()), "Key", owner.id, ["all"]),
    )
    [(notification,)] = sql(
        "INSERT INTO notification (\"userId\", title, type) VALUES (%s, 'Job Failed', 'JobFailed') RETURNING id", (owner.id,)
    )
    [(activity,)] = sql(
        'INSERT INTO activity ("albumId", "userId", comment) VALUES (%s, %s, %s) RETURNING id',
        (album, owner.id, "Lovely"),
    )
    [(tag,)] = sql('INSERT INTO tag ("userId", value) VALUES (%s, %s) RETURNING id', (owner.id, "Trips"))
    sql("INSERT INTO tag_closure (id_ancestor, id_descendant) VALUES (%s, %s)", (tag, tag))
    sql('INSERT INTO tag_asset ("tagId", "assetId") VALUES (%s, %s)', (tag, photo))
    [(memory,)] = sql(
        'INSERT INTO memory ("ownerId", type, data, "memoryAt") VALUES (%s, %s, %s, %s) RETURNING id',
        (owner.id, "on_this_day", '{"year": 2024}', datetime(2024, 1, 15, tzinfo=UTC)),
    )
    sql('INSERT INTO memory_asset ("memoriesId", "assetId") VALUES (%s, %s)', (memory, photo))
    [(stack,)] = sql('INSERT INTO stack ("ownerId", "primaryAssetId") VALUES (%s, %s) RETURNING id', (owner.id, photo))
    sql('UPDATE asset SET "stackId" = %s WHERE id IN (%s, %s)', (stack, photo, video))
    stray = media / "upload" / "stray" / "stray.jpg"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"\xff\xd8\xff stray")
    [(report,)] = sql(
        "INSERT INTO integrity_report (type, path) VALUES ('untracked_file', %s) RETURNING id", (str(stray),)
    )
    person, face, person2 = _people(sql, owner.id, photo, media)
    duplicate = "d0000000-0000-4000-8000-000000000001"
    duplicates = (_asset(sql, owner.id, media, "dup1.jpg", "IMAGE"), _asset(sql, owner.id, media, "dup2.jpg", "IMAGE"))
    sql('UPDATE asset SET "duplicateId" = %s WHERE id IN (%s, %s)', (duplicate, *duplicates))
    plugin, workflow = plugin_and_workflow(sql, owner.id)
    headers = {
        "owner": owner.headers,
        "other": other.headers,
        "admin": admin.headers,
        "partner": partner.headers,
        "album_viewer": viewer.headers,
        "album_editor": editor.headers,
        **{actor: {"x-immich-share-key": key} for actor, key in variant_keys.items()},
        "link_password_cookie": {
            "x-immich-share-key": variant_keys["link_password"],
            "Cookie": f"immich_shared_link_token={proof}",
        },
        "album_link": {"x-immich-share-key": album_key},
        "asset_link": {"x-immich-share-key": asset_key},
        "locked": owner.headers,
        "locked_elevated": {"Authorization": f"Bearer {elevated_token}"},
    }
    return World(
        owner_id=owner.id, photo=photo, video=video, locked=locked, album=str(album),
        session=second_session, api_key=str(api_key), media=media, headers=headers,
        partner_id=partner.id, notification=str(notification), asset_link=asset_link,
        activity=str(activity), tag=str(tag), memory=str(memory), stack=str(stack),
        editor_photo=editor_photo, album_links=1 + len(variants), integrity_report=str(report),
        person=person, face=face, person2=person2, duplicate=duplicate, duplicates=duplicates,
        plugin=plugin, workflow=workflow,
    )


# What a refused request must leave unchanged: the rows the built routes can write, and files.
SNAPSHOT_QUERIES = (
    'SELECT id, "ownerId", "isFavorite", visibility, status, "deletedAt", "livePhotoVideoId",'
    ' "duplicateId" FROM asset ORDER BY id',
    'SELECT "assetId", description, rating, "dateTimeOriginal", "lockedProperties" FROM asset_exif ORDER BY 1',
    'SELECT "assetId", key, value FROM asset_metadata ORDER BY 1, 2',
    'SELECT id, "pinExpiresAt", "isPendingSyncReset" FROM session ORDER BY id',
    "SELECT id, name, permissions FROM api_key ORDER BY id",
    'SELECT id, email, name, "isAdmin", "deletedAt", "quotaSizeInBytes", status, "storageLabel" FROM "user" ORDER BY id',
    'SELECT "userId", key, value FROM user_metadata ORDER BY 1, 2',
    'SELECT "albumId", "assetId" FROM album_asset ORDER BY 1, 2',
    "SELECT name, data FROM immich_trio.job ORDER BY id",
    # albums
    'SELECT id, "albumName", description, "albumThumbnailAssetId", "isActivityEnabled", "order", "updatedAt"'
    " FROM album ORDER BY id",
    'SELECT "albumId", "userId", role FROM album_user ORDER BY 1, 2',
    'SELECT "sharedById", "sharedWithId", "inTimeline" FROM partner ORDER BY 1, 2',
    'SELECT id, "readAt", "deletedAt" FROM notification ORDER BY id',
    # shared links
    'SELECT id, description, password, "expiresAt", "allowUpload", "allowDownload", "showExif", slug'
    " FROM shared_link ORDER BY id",
    'SELECT "sharedLinkId", "assetId" FROM shared_link_asset ORDER BY 1, 2',
    # activities
    'SELECT id, "albumId", "userId", "assetId", comment, "isLiked" FROM activity ORDER BY id',
    # tags
    'SELECT id, "userId", value, color, "parentId", "updatedAt" FROM tag ORDER BY id',
    'SELECT "tagId", "assetId" FROM tag_asset ORDER BY 1, 2',
    "SELECT id_ancestor, id_descendant FROM tag_closure ORDER BY 1, 2",
    'SELECT "assetId", tags FROM asset_exif ORDER BY 1',
    # memories
    'SELECT id, "ownerId", data, "isSaved", "memoryAt", "seenAt", "deletedAt" FROM memory ORDER BY id',
    'SELECT "memoriesId", "assetId" FROM memory_asset ORDER BY 1, 2',
    # stacks
    'SELECT id, "primaryAssetId", "ownerId" FROM stack ORDER BY id',
    'SELECT id, "stackId" FROM asset ORDER BY id',
    # integrity
    'SELECT id, type, path, "assetId", "fileAssetId" FROM integrity_report ORDER BY id',
    # people and faces
    'SELECT id, "ownerId", name, "birthDate", "isHidden", "isFavorite", color, "faceAssetId", "thumbnailPath"'
    " FROM person ORDER BY id",
    'SELECT id, "assetId", "personId", "sourceType", "deletedAt", "isVisible", "boundingBoxX1" FROM asset_face'
    " ORDER BY id",
    *WORKFLOW_SNAPSHOT_QUERIES,
)


def snapshot(sql: Sql, media: Path) -> tuple[Any, ...]:
    files = sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())
    return (*(tuple(sql(q)) for q in SNAPSHOT_QUERIES), tuple(files))
