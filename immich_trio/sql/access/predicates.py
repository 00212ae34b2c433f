"""The access predicates: each rule of who may touch which row, written once as SQL.

A predicate is a ``SELECT`` of one uuid column (``id``) naming the rows of its kind that the
principal passes, among the requested ids. The parameters are shared by every predicate:
``%(ids)s`` (uuid[]), ``%(user)s`` (the caller, or the owner of a shared link),
``%(elevated)s`` (a PIN-unlocked session) and ``%(link)s`` (the shared link's id).
Rules (``rules.py``) union predicates into one query per permission.
"""

from __future__ import annotations

from typing import NewType

Predicate = NewType("Predicate", str)

_IDS = "%(ids)s::uuid[]"
_USER = "%(user)s::uuid"
_LINK = "%(link)s::uuid"

# -- assets --------------------------------------------------------------------------------

# The caller's own assets (trashed ones included); locked ones only for an elevated session.
ASSET_OWNER = Predicate(f"""
SELECT a.id FROM asset a
WHERE a.id = ANY({_IDS}) AND a."ownerId" = {_USER}
  AND (%(elevated)s OR a.visibility <> 'locked')""")

# The same, never locked assets whatever the session (sharing a locked asset is refused).
ASSET_OWNER_UNLOCKED = Predicate(f"""
SELECT a.id FROM asset a
WHERE a.id = ANY({_IDS}) AND a."ownerId" = {_USER} AND a.visibility <> 'locked'""")

# Assets, and the video parts of live photos, in a live album the caller is a member of
# (v3 keeps the album owner in album_user too, with role 'owner').
ASSET_IN_MEMBER_ALBUM = Predicate(f"""
SELECT unnest(ARRAY[a.id, a."livePhotoVideoId"]) AS id
FROM album_user au
JOIN "user" u ON u.id = au."userId" AND u."deletedAt" IS NULL
JOIN album al ON al.id = au."albumId" AND al."deletedAt" IS NULL
JOIN album_asset aa ON aa."albumId" = al.id
JOIN asset a ON a.id = aa."assetId" AND a."deletedAt" IS NULL
WHERE au."userId" = {_USER}
  AND (a.id = ANY({_IDS}) OR a."livePhotoVideoId" = ANY({_IDS}))""")

# Live timeline and hidden (live-photo video) assets of a user who shares with the caller.
ASSET_OF_PARTNER = Predicate(f"""
SELECT a.id FROM partner p
JOIN "user" u ON u.id = p."sharedById" AND u."deletedAt" IS NULL
JOIN asset a ON a."ownerId" = p."sharedById" AND a."deletedAt" IS NULL
WHERE p."sharedWithId" = {_USER} AND a.id = ANY({_IDS})
  AND a.visibility IN ('timeline', 'hidden')""")

# Live assets of the shared link (individual links) or of its live album (album links),
# with their live-photo video parts.
ASSET_IN_SHARED_LINK = Predicate(f"""
SELECT unnest(ARRAY[a.id, a."livePhotoVideoId"]) AS id
FROM shared_link_asset sla
JOIN asset a ON a.id = sla."assetId" AND a."deletedAt" IS NULL
WHERE sla."sharedLinkId" = {_LINK}
  AND (a.id = ANY({_IDS}) OR a."livePhotoVideoId" = ANY({_IDS}))
UNION ALL
SELECT unnest(ARRAY[a.id, a."livePhotoVideoId"]) AS id
FROM shared_link l
JOIN album al ON al.id = l."albumId" AND al."deletedAt" IS NULL
JOIN album_asset aa ON aa."albumId" = al.id
JOIN asset a ON a.id = aa."assetId" AND a."deletedAt" IS NULL
WHERE l.id = {_LINK}
  AND (a.id = ANY({_IDS}) OR a."livePhotoVideoId" = ANY({_IDS}))""")

# -- albums --------------------------------------------------------------------------------


def _album_role(*roles: str) -> Predicate:
    wanted = ", ".join(f"'{r}'" for r in roles)
    return Predicate(f"""
SELECT al.id FROM album al
JOIN album_user au ON au."albumId" = al.id AND au."userId" = {_USER}
JOIN "user" u ON u.id = au."userId" AND u."deletedAt" IS NULL
WHERE al.id = ANY({_IDS}) AND al."deletedAt" IS NULL AND au.role IN ({wanted})""")


ALBUM_OWNER = _album_role("owner")
ALBUM_EDITOR = _album_role("owner", "editor")
ALBUM_VIEWER = _album_role("owner", "editor", "viewer")

ALBUM_OF_SHARED_LINK = Predicate(f"""
SELECT l."albumId" AS id FROM shared_link l
WHERE l.id = {_LINK} AND l."albumId" = ANY({_IDS})""")

# -- activities (ids of activities, or of albums for creation) ------------------------------

ACTIVITY_AUTHOR = Predicate(f"""
SELECT ac.id FROM activity ac WHERE ac.id = ANY({_IDS}) AND ac."userId" = {_USER}""")

ACTIVITY_IN_OWNED_ALBUM = Predicate(f"""
SELECT ac.id FROM activity ac
JOIN album al ON al.id = ac."albumId" AND al."deletedAt" IS NULL
JOIN album_user au ON au."albumId" = al.id AND au.role = 'owner'
WHERE ac.id = ANY({_IDS}) AND au."userId" = {_USER}""")

ALBUM_OPEN_FOR_ACTIVITY = Predicate(f"""
SELECT al.id FROM album al
JOIN album_user au ON au."albumId" = al.id AND au."userId" = {_USER}
JOIN "user" u ON u.id = au."userId" AND u."deletedAt" IS NULL
WHERE al.id = ANY({_IDS}) AND al."deletedAt" IS NULL AND al."isActivityEnabled" IS TRUE""")

# -- rows that simply belong to a user -------------------------------------------------------


def _owned(table: str, column: str, *, live_only: bool = False) -> Predicate:
    live = ' AND t."deletedAt" IS NULL' if live_only else ""
    return Predicate(
        f'SELECT t.id FROM "{table}" t WHERE t.id = ANY({_IDS}) AND t."{column}" = {_USER}{live}'
    )


SESSION_OWNER = _owned("session", "userId")
NOTIFICATION_OWNER = _owned("notification", "userId")
TAG_OWNER = _owned("tag", "userId")
MEMORY_OWNER = _owned("memory", "ownerId", live_only=True)
PERSON_OWNER = _owned("person", "ownerId")
STACK_OWNER = _owned("stack", "ownerId")
WORKFLOW_OWNER = _owned("workflow", "ownerId")

# Duplicate groups (ids are ``asset.duplicateId``) holding an asset of the caller.
DUPLICATE_OWNER = Predicate(f"""
SELECT DISTINCT a."duplicateId" AS id FROM asset a
WHERE a."duplicateId" = ANY({_IDS}) AND a."ownerId" = {_USER}""")

# Faces on the caller's live assets.
FACE_OWNER = Predicate(f"""
SELECT f.id FROM asset_face f
JOIN asset a ON a.id = f."assetId" AND a."deletedAt" IS NULL
WHERE f.id = ANY({_IDS}) AND a."ownerId" = {_USER}""")

# Users (ids) who share their library with the caller.
PARTNER_SHARING_WITH_USER = Predicate(f"""
SELECT p."sharedById" AS id FROM partner p
WHERE p."sharedById" = ANY({_IDS}) AND p."sharedWithId" = {_USER}""")
