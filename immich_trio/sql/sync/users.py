"""Sync queries of users, the auth user, partners and user metadata."""

from __future__ import annotations

from immich_trio.sql.sync import shapes as s
from immich_trio.sql.sync.build import deletes, upserts

AUTH_USER = upserts(
    '"user" u',
    'u."updateId"',
    [
        *s.user("u"),
        *s.col(
            "u",
            "isAdmin",
            "pinCode",
            "oauthId",
            "storageLabel",
            "quotaSizeInBytes",
            "quotaUsageInBytes",
        ),
    ],
    "u.id = %(me)s",
)

USERS = upserts('"user" u', 'u."updateId"', s.user("u"), "true")
USER_DELETES = deletes("user_audit x", "x", s.col("x", "userId"), "true")

_MINE = '(p."sharedById" = %(me)s OR p."sharedWithId" = %(me)s)'
PARTNERS = upserts(
    "partner p", 'p."updateId"', s.col("p", "sharedById", "sharedWithId", "inTimeline"), _MINE
)
PARTNER_DELETES = deletes("partner_audit p", "p", s.col("p", "sharedById", "sharedWithId"), _MINE)

USER_METADATA = upserts(
    "user_metadata m", 'm."updateId"', s.col("m", "userId", "key", "value"), 'm."userId" = %(me)s'
)
USER_METADATA_DELETES = deletes(
    "user_metadata_audit x", "x", s.col("x", "userId", "key"), 'x."userId" = %(me)s'
)
