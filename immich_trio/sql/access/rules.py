"""Immich's access decision: for a permission and a set of ids, the ids the principal may touch.

Each permission has one rule for users and one for shared links. A rule is a union of
predicates (``predicates.py``), answered for the whole id set in one round trip, plus the
rules that need no query (a user's own id; a link's upload flag). A permission without a
rule grants nothing, as in Immich.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

import attrs
from psycopg import AsyncConnection

from immich_trio.sql.access import predicates as p

Conn = AsyncConnection[Any]


@attrs.frozen(kw_only=True)
class SharedLinkGrant:
    """What a shared link lets its holder do beyond seeing its assets."""

    id: UUID
    allow_upload: bool
    allow_download: bool
    show_metadata: bool

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SharedLinkGrant:
        return cls(
            id=row["id"],
            allow_upload=bool(row["allowUpload"]),
            allow_download=bool(row["allowDownload"]),
            show_metadata=bool(row["showExif"]),
        )


@attrs.frozen(kw_only=True)
class Principal:
    """Who asks: a user (``elevated`` when the session is PIN-unlocked) or a shared link,
    in which case ``user_id`` is the link's owner."""

    user_id: UUID
    elevated: bool = False
    shared_link: SharedLinkGrant | None = None


@attrs.frozen
class Rule:
    """``self_id``: the user's own id passes; ``all_ids``: every id passes (link uploads)."""

    predicates: tuple[p.Predicate, ...] = ()
    self_id: bool = False
    all_ids: bool = False


_NONE = Rule()
_ASSET_SEEN = Rule((p.ASSET_OWNER, p.ASSET_IN_MEMBER_ALBUM, p.ASSET_OF_PARTNER))
_ASSET_OWNED = Rule((p.ASSET_OWNER,))
_SELF = Rule(self_id=True)

# Immich's checkOtherAccess (server/src/utils/access.ts), permission by permission.
USER_RULES: Mapping[str, Rule] = {
    "activity.create": Rule((p.ALBUM_OPEN_FOR_ACTIVITY,)),
    "activity.delete": Rule((p.ACTIVITY_AUTHOR, p.ACTIVITY_IN_OWNED_ALBUM)),
    "asset.read": _ASSET_SEEN,
    "asset.view": _ASSET_SEEN,
    "asset.download": _ASSET_SEEN,
    "asset.share": Rule((p.ASSET_OWNER_UNLOCKED, p.ASSET_OF_PARTNER)),
    "asset.update": _ASSET_OWNED,
    "asset.delete": _ASSET_OWNED,
    "asset.copy": _ASSET_OWNED,
    "asset.edit.get": _ASSET_OWNED,
    "asset.edit.create": _ASSET_OWNED,
    "asset.edit.delete": _ASSET_OWNED,
    "asset.upload": _SELF,
    "album.read": Rule((p.ALBUM_VIEWER,)),
    "album.download": Rule((p.ALBUM_VIEWER,)),
    "albumAsset.create": Rule((p.ALBUM_EDITOR,)),
    "albumAsset.delete": Rule((p.ALBUM_EDITOR,)),
    "album.update": Rule((p.ALBUM_OWNER,)),
    "album.delete": Rule((p.ALBUM_OWNER,)),
    "album.share": Rule((p.ALBUM_OWNER,)),
    "archive.read": _SELF,
    "authDevice.delete": Rule((p.SESSION_OWNER,)),
    "duplicate.read": Rule((p.DUPLICATE_OWNER,)),
    "duplicate.delete": Rule((p.DUPLICATE_OWNER,)),
    "face.delete": Rule((p.FACE_OWNER,)),
    "notification.read": Rule((p.NOTIFICATION_OWNER,)),
    "notification.update": Rule((p.NOTIFICATION_OWNER,)),
    "notification.delete": Rule((p.NOTIFICATION_OWNER,)),
    "tag.asset": Rule((p.TAG_OWNER,)),
    "tag.read": Rule((p.TAG_OWNER,)),
    "tag.update": Rule((p.TAG_OWNER,)),
    "tag.delete": Rule((p.TAG_OWNER,)),
    "timeline.read": Rule((p.PARTNER_SHARING_WITH_USER,), self_id=True),
    "timeline.download": _SELF,
    "memory.read": Rule((p.MEMORY_OWNER,)),
    "memory.update": Rule((p.MEMORY_OWNER,)),
    "memory.delete": Rule((p.MEMORY_OWNER,)),
    "person.create": Rule((p.FACE_OWNER,)),
    "person.reassign": Rule((p.FACE_OWNER,)),
    "person.read": Rule((p.PERSON_OWNER,)),
    "person.update": Rule((p.PERSON_OWNER,)),
    "person.delete": Rule((p.PERSON_OWNER,)),
    "person.merge": Rule((p.PERSON_OWNER,)),
    "partner.update": Rule((p.PARTNER_SHARING_WITH_USER,)),
    "session.read": Rule((p.SESSION_OWNER,)),
    "session.update": Rule((p.SESSION_OWNER,)),
    "session.delete": Rule((p.SESSION_OWNER,)),
    "session.lock": Rule((p.SESSION_OWNER,)),
    "stack.read": Rule((p.STACK_OWNER,)),
    "stack.update": Rule((p.STACK_OWNER,)),
    "stack.delete": Rule((p.STACK_OWNER,)),
    "workflow.read": Rule((p.WORKFLOW_OWNER,)),
    "workflow.update": Rule((p.WORKFLOW_OWNER,)),
    "workflow.delete": Rule((p.WORKFLOW_OWNER,)),
}

_IN_LINK = Rule((p.ASSET_IN_SHARED_LINK,))
_LINK_ALBUM = Rule((p.ALBUM_OF_SHARED_LINK,))


def shared_link_rule(permission: str, link: SharedLinkGrant) -> Rule:
    """Immich's checkSharedLinkAccess: a link reaches its own assets and album, no more."""
    match permission:
        case "asset.read" | "asset.view":
            return _IN_LINK
        case "asset.download":
            return _IN_LINK if link.allow_download else _NONE
        case "asset.upload":
            return Rule(all_ids=True) if link.allow_upload else _NONE
        case "asset.share":
            # Immich checks the link owner's (never locked) assets here.
            return Rule((p.ASSET_OWNER_UNLOCKED,))
        case "album.read":
            return _LINK_ALBUM
        case "album.download":
            return _LINK_ALBUM if link.allow_download else _NONE
        case "albumAsset.create":
            return _LINK_ALBUM if link.allow_upload else _NONE
        case _:
            return _NONE


def rule_for(principal: Principal, permission: str) -> Rule:
    if principal.shared_link is not None:
        return shared_link_rule(permission, principal.shared_link)
    return USER_RULES.get(permission, _NONE)


async def allowed_ids(
    conn: Conn, principal: Principal, permission: str, ids: Iterable[UUID]
) -> set[UUID]:
    """The subset of ``ids`` that ``principal`` may touch with ``permission``: one query at most."""
    wanted = set(ids)
    if not wanted:
        return set()
    rule = rule_for(principal, permission)
    if rule.all_ids:
        return wanted
    out = {principal.user_id} & wanted if rule.self_id else set()
    rest = wanted - out
    if rule.predicates and rest:
        union = "\nUNION ALL\n".join(f"({pred})" for pred in rule.predicates)
        query = f"SELECT DISTINCT t.id FROM ({union}) AS t WHERE t.id = ANY(%(ids)s::uuid[])"
        link = principal.shared_link.id if principal.shared_link is not None else None
        cur = await conn.execute(
            query,  # composed from the constant predicates only
            {"ids": list(rest), "user": principal.user_id, "elevated": principal.elevated, "link": link},
        )
        out |= {row["id"] for row in await cur.fetchall()}
    return out
