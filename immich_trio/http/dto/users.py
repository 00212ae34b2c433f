"""Users (tags "Users" and "Users (admin)"): builders that map user rows onto the generated
DTOs, Immich's key order for them, and the merge of stored preferences with their defaults.

Rows are dicts keyed by the ``user`` table's column names (``"isAdmin"``, ``"profileChangedAt"``...);
``user_admin_dto`` also reads an optional ``"license"`` key (the ``user_metadata['license']`` value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from immich_trio.http.dto import _parse_datetime, key_order
from immich_trio.http.dto.generated import (
    AlbumsResponse,
    CastResponse,
    CreateProfileImageResponseDto,
    DownloadResponse,
    EmailNotificationsResponse,
    FoldersResponse,
    MemoriesResponse,
    PeopleResponse,
    PurchaseResponse,
    RatingsResponse,
    RecentlyAddedResponse,
    SharedLinksResponse,
    TagsResponse,
    UserAdminResponseDto,
    UserAvatarColor,
    UserLicense,
    UserPreferencesResponseDto,
    UserResponseDto,
)

# UserAvatarColor, in the spec's order: the fallback colour is picked by index in this tuple.
AVATAR_COLORS: tuple[UserAvatarColor, ...] = get_args(UserAvatarColor)

# Immich's class order, not the spec's
_USER_ORDER = ("id", "email", "name", "profile_image_path", "avatar_color", "profile_changed_at")
key_order(UserResponseDto, *_USER_ORDER)
key_order(
    UserAdminResponseDto,
    *_USER_ORDER,
    "storage_label",
    "should_change_password",
    "is_admin",
    "created_at",
    "deleted_at",
    "updated_at",
    "oauth_id",
    "quota_size_in_bytes",
    "quota_usage_in_bytes",
    "status",
    "license",
)
key_order(UserLicense, "license_key", "activation_key", "activated_at")
key_order(CreateProfileImageResponseDto, "user_id", "profile_image_path", "profile_changed_at")
key_order(MemoriesResponse, "enabled", "duration")
key_order(PeopleResponse, "enabled", "sidebar_web", "minimum_faces")
key_order(EmailNotificationsResponse, "enabled", "album_invite", "album_update")
key_order(PurchaseResponse, "show_support_badge", "hide_buy_button_until")
key_order(
    UserPreferencesResponseDto,
    "albums",
    "folders",
    "memories",
    "people",
    "shared_links",
    "ratings",
    "tags",
    "email_notifications",
    "download",
    "purchase",
    "cast",
    "recently_added",
)


def avatar_color(email: str, stored: UserAvatarColor | None) -> UserAvatarColor:
    """The stored colour, else one derived from the email (sum of code points, mod the palette)."""
    if stored:
        return stored
    return AVATAR_COLORS[sum(ord(ch) for ch in email) % len(AVATAR_COLORS)]


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


# --- preferences ---------------------------------------------------------------------------
# Stored as the partial ``user_metadata['preferences']`` (only what differs from these
# defaults), answered as the defaults deep-merged with it. Wire (camelCase) keys.

DEFAULT_PREFERENCES: Mapping[str, Mapping[str, Any]] = {
    "albums": {"defaultAssetOrder": "desc"},
    "folders": {"enabled": False, "sidebarWeb": False},
    "memories": {"enabled": True, "duration": 5},
    "people": {"enabled": True, "sidebarWeb": False, "minimumFaces": 3},
    "sharedLinks": {"enabled": True, "sidebarWeb": False},
    "ratings": {"enabled": False},
    "tags": {"enabled": False, "sidebarWeb": False},
    "emailNotifications": {"enabled": True, "albumInvite": True, "albumUpdate": True},
    "download": {"archiveSize": 4 * 1024**3, "includeEmbeddedVideos": False},
    "purchase": {"showSupportBadge": True, "hideBuyButtonUntil": "2022-02-12T00:00:00.000Z"},
    "cast": {"gCastEnabled": False},
    "recentlyAdded": {"sidebarWeb": False},
}


def merge_preferences(
    stored: Mapping[str, Any] | None, update: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Defaults, then the stored partial, then an update (all two levels deep, wire keys)."""
    out: dict[str, Any] = {section: dict(values) for section, values in DEFAULT_PREFERENCES.items()}
    for layer in (stored or {}, update or {}):
        for section, values in layer.items():
            if section not in out or not isinstance(values, Mapping):
                continue
            known = DEFAULT_PREFERENCES[section].keys()
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


def preferences_dto(stored: Mapping[str, Any] | None) -> UserPreferencesResponseDto:
    """The effective preferences for a stored partial ``user_metadata['preferences']`` value."""
    p = merge_preferences(stored)
    people = p["people"]
    return UserPreferencesResponseDto(
        albums=AlbumsResponse(default_asset_order=p["albums"]["defaultAssetOrder"]),
        folders=FoldersResponse(
            enabled=p["folders"]["enabled"], sidebar_web=p["folders"]["sidebarWeb"]
        ),
        memories=MemoriesResponse(
            enabled=p["memories"]["enabled"], duration=p["memories"]["duration"]
        ),
        people=PeopleResponse(
            enabled=people["enabled"],
            sidebar_web=people["sidebarWeb"],
            minimum_faces=people["minimumFaces"],
        ),
        shared_links=SharedLinksResponse(
            enabled=p["sharedLinks"]["enabled"], sidebar_web=p["sharedLinks"]["sidebarWeb"]
        ),
        ratings=RatingsResponse(enabled=p["ratings"]["enabled"]),
        tags=TagsResponse(enabled=p["tags"]["enabled"], sidebar_web=p["tags"]["sidebarWeb"]),
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
