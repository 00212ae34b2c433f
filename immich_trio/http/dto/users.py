"""User DTOs (tags "Users" and "Users (admin)") and the builders that map user rows onto them.

Rows are dicts keyed by the ``user`` table's column names (``"isAdmin"``, ``"profileChangedAt"``...);
``user_admin_dto`` also reads an optional ``"license"`` key (the ``user_metadata['license']`` value).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from immich_trio.http.dto import OMIT, _Omit, _parse_datetime

# UserAvatarColor, in the spec's order: the fallback colour is picked by index in this tuple.
AVATAR_COLORS = (
    "primary",
    "pink",
    "red",
    "yellow",
    "blue",
    "green",
    "purple",
    "orange",
    "gray",
    "amber",
)


def avatar_color(email: str, stored: str | None) -> str:
    """The stored colour, else one derived from the email (sum of code points, mod the palette)."""
    if stored:
        return stored
    return AVATAR_COLORS[sum(ord(ch) for ch in email) % len(AVATAR_COLORS)]


@attrs.frozen(kw_only=True)
class UserResponseDto:
    id: UUID
    email: str
    name: str
    profile_image_path: str
    avatar_color: str
    profile_changed_at: datetime


@attrs.frozen(kw_only=True)
class UserLicense:
    license_key: str
    activation_key: str
    activated_at: datetime


@attrs.frozen(kw_only=True)
class UserAdminResponseDto:
    id: UUID
    email: str
    name: str
    profile_image_path: str
    avatar_color: str
    profile_changed_at: datetime
    storage_label: str | None
    should_change_password: bool
    is_admin: bool
    created_at: datetime
    deleted_at: datetime | None
    updated_at: datetime
    oauth_id: str
    quota_size_in_bytes: int | None
    quota_usage_in_bytes: int | None
    status: str
    license: UserLicense | None


def license_dto(value: Mapping[str, Any] | None) -> UserLicense | None:
    """``user_metadata['license']`` (``{licenseKey, activationKey, activatedAt}``) as a DTO."""
    if not value:
        return None
    return UserLicense(
        license_key=value["licenseKey"],
        activation_key=value["activationKey"],
        activated_at=_parse_datetime(value["activatedAt"], None),
    )


def user_dto(row: Mapping[str, Any]) -> UserResponseDto:
    return UserResponseDto(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        profile_image_path=row["profileImagePath"],
        avatar_color=avatar_color(row["email"], row.get("avatarColor")),
        profile_changed_at=row["profileChangedAt"],
    )


def user_admin_dto(row: Mapping[str, Any]) -> UserAdminResponseDto:
    base = user_dto(row)
    return UserAdminResponseDto(
        id=base.id,
        email=base.email,
        name=base.name,
        profile_image_path=base.profile_image_path,
        avatar_color=base.avatar_color,
        profile_changed_at=base.profile_changed_at,
        storage_label=row["storageLabel"],
        should_change_password=row["shouldChangePassword"],
        is_admin=row["isAdmin"],
        created_at=row["createdAt"],
        deleted_at=row["deletedAt"],
        updated_at=row["updatedAt"],
        oauth_id=row["oauthId"],
        quota_size_in_bytes=row["quotaSizeInBytes"],
        quota_usage_in_bytes=row["quotaUsageInBytes"],
        status=row["status"],
        license=license_dto(row.get("license")),
    )


# --- request bodies ------------------------------------------------------------------------
# Updates are read with ``ctx.json()`` (absent ≠ null); creation has required fields, so a class.


@attrs.frozen(kw_only=True)
class UserAdminCreateDto:
    email: str
    name: str
    password: str
    avatar_color: str | None = None
    is_admin: bool = False
    notify: bool = False
    pin_code: str | None = None
    quota_size_in_bytes: int | None = None
    should_change_password: bool = True
    storage_label: str | None = None


@attrs.frozen(kw_only=True)
class OnboardingResponseDto:
    is_onboarded: bool


@attrs.frozen(kw_only=True)
class CreateProfileImageResponseDto:
    user_id: UUID
    profile_image_path: str
    profile_changed_at: datetime


@attrs.frozen(kw_only=True)
class AssetStatsResponseDto:
    images: int
    videos: int
    total: int


# --- preferences ---------------------------------------------------------------------------
# Stored as the partial ``user_metadata['preferences']`` (only what differs from these
# defaults), answered as the defaults deep-merged with it. Wire (camelCase) keys.

DEFAULT_PREFERENCES: Mapping[str, Mapping[str, Any]] = {
    "albums": {"defaultAssetOrder": "desc"},
    "folders": {"enabled": False, "sidebarWeb": False},
    "memories": {"enabled": True, "duration": 5},
    "people": {"enabled": True, "sidebarWeb": False},
    "sharedLinks": {"enabled": True, "sidebarWeb": False},
    "ratings": {"enabled": False},
    "tags": {"enabled": False, "sidebarWeb": False},
    "emailNotifications": {"enabled": True, "albumInvite": True, "albumUpdate": True},
    "download": {"archiveSize": 4 * 1024**3, "includeEmbeddedVideos": False},
    "purchase": {"showSupportBadge": True, "hideBuyButtonUntil": "2022-02-12T00:00:00.000Z"},
    "cast": {"gCastEnabled": False},
    "recentlyAdded": {"sidebarWeb": False},
}


# Optional leaves with no default: absent from the answer until set.
_OPTIONAL_PREFERENCES: Mapping[str, frozenset[str]] = {"people": frozenset({"minimumFaces"})}


def merge_preferences(
    stored: Mapping[str, Any] | None, update: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Defaults, then the stored partial, then an update (all two levels deep, wire keys)."""
    out: dict[str, Any] = {section: dict(values) for section, values in DEFAULT_PREFERENCES.items()}
    for layer in (stored or {}, update or {}):
        for section, values in layer.items():
            if section not in out or not isinstance(values, Mapping):
                continue
            known = DEFAULT_PREFERENCES[section].keys() | _OPTIONAL_PREFERENCES.get(
                section, frozenset()
            )
            out[section].update({k: v for k, v in values.items() if k in known and v is not None})
    return out


def partial_preferences(full: Mapping[str, Any]) -> dict[str, Any]:
    """What must be stored: the leaves of ``full`` that differ from the defaults."""
    out: dict[str, Any] = {}
    for section, values in full.items():
        defaults = DEFAULT_PREFERENCES.get(section, {})
        changed = {k: v for k, v in values.items() if defaults.get(k, object()) != v}
        if changed:
            out[section] = changed
    return out


@attrs.frozen(kw_only=True)
class AlbumsResponse:
    default_asset_order: str


@attrs.frozen(kw_only=True)
class EnabledSidebarResponse:
    """FoldersResponse, SharedLinksResponse, TagsResponse: the same two flags."""

    enabled: bool
    sidebar_web: bool


@attrs.frozen(kw_only=True)
class MemoriesResponse:
    enabled: bool
    duration: int


@attrs.frozen(kw_only=True)
class PeopleResponse:
    enabled: bool
    sidebar_web: bool
    minimum_faces: int | _Omit = OMIT


@attrs.frozen(kw_only=True)
class RatingsResponse:
    enabled: bool


@attrs.frozen(kw_only=True)
class EmailNotificationsResponse:
    enabled: bool
    album_invite: bool
    album_update: bool


@attrs.frozen(kw_only=True)
class DownloadResponse:
    archive_size: int
    include_embedded_videos: bool


@attrs.frozen(kw_only=True)
class PurchaseResponse:
    show_support_badge: bool
    hide_buy_button_until: str


@attrs.frozen(kw_only=True)
class CastResponse:
    g_cast_enabled: bool = attrs.field(metadata={"wire": "gCastEnabled"})


@attrs.frozen(kw_only=True)
class RecentlyAddedResponse:
    sidebar_web: bool


@attrs.frozen(kw_only=True)
class UserPreferencesResponseDto:
    albums: AlbumsResponse
    folders: EnabledSidebarResponse
    memories: MemoriesResponse
    people: PeopleResponse
    shared_links: EnabledSidebarResponse
    ratings: RatingsResponse
    tags: EnabledSidebarResponse
    email_notifications: EmailNotificationsResponse
    download: DownloadResponse
    purchase: PurchaseResponse
    cast: CastResponse
    recently_added: RecentlyAddedResponse


def _flags(section: Mapping[str, Any]) -> EnabledSidebarResponse:
    return EnabledSidebarResponse(enabled=section["enabled"], sidebar_web=section["sidebarWeb"])


def preferences_dto(stored: Mapping[str, Any] | None) -> UserPreferencesResponseDto:
    """The effective preferences for a stored partial ``user_metadata['preferences']`` value."""
    p = merge_preferences(stored)
    people = p["people"]
    return UserPreferencesResponseDto(
        albums=AlbumsResponse(default_asset_order=p["albums"]["defaultAssetOrder"]),
        folders=_flags(p["folders"]),
        memories=MemoriesResponse(
            enabled=p["memories"]["enabled"], duration=p["memories"]["duration"]
        ),
        people=PeopleResponse(
            enabled=people["enabled"],
            sidebar_web=people["sidebarWeb"],
            minimum_faces=people.get("minimumFaces", OMIT),
        ),
        shared_links=_flags(p["sharedLinks"]),
        ratings=RatingsResponse(enabled=p["ratings"]["enabled"]),
        tags=_flags(p["tags"]),
        email_notifications=EmailNotificationsResponse(
            enabled=p["emailNotifications"]["enabled"],
            album_invite=p["emailNotifications"]["albumInvite"],
            album_update=p["emailNotifications"]["albumUpdate"],
        ),
        download=DownloadResponse(
            archive_size=p["download"]["archiveSize"],
            include_embedded_videos=p["download"]["includeEmbeddedVideos"],
        ),
        purchase=PurchaseResponse(
            show_support_badge=p["purchase"]["showSupportBadge"],
            hide_buy_button_until=p["purchase"]["hideBuyButtonUntil"],
        ),
        cast=CastResponse(g_cast_enabled=p["cast"]["gCastEnabled"]),
        recently_added=RecentlyAddedResponse(sidebar_web=p["recentlyAdded"]["sidebarWeb"]),
    )
