"""Server (tag "Server"): Immich's key order for its DTOs and the per-user usage builder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from immich_trio.http.dto import key_order
from immich_trio.http.dto.generated import (
    ServerAboutResponseDto,
    ServerConfigDto,
    ServerFeaturesDto,
    ServerStatsResponseDto,
    ServerStorageResponseDto,
    ServerVersionHistoryResponseDto,
    UsageByUserDto,
)

# Immich's class order, not the spec's
key_order(ServerVersionHistoryResponseDto, "id", "created_at", "version")
key_order(
    ServerAboutResponseDto,
    "version",
    "version_url",
    "licensed",
    "build",
    "build_url",
    "build_image",
    "build_image_url",
    "repository",
    "repository_url",
    "source_ref",
    "source_commit",
    "source_url",
    "third_party_source_url",
    "third_party_bug_feature_url",
    "third_party_documentation_url",
    "third_party_support_url",
    "nodejs",
    "exiftool",
    "ffmpeg",
    "libvips",
    "imagemagick",
)
# assignment order in ServerService.getStorage
key_order(
    ServerStorageResponseDto,
    "disk_available",
    "disk_size",
    "disk_use",
    "disk_available_raw",
    "disk_size_raw",
    "disk_use_raw",
    "disk_usage_percentage",
)
key_order(
    UsageByUserDto,
    "user_id",
    "user_name",
    "photos",
    "videos",
    "usage",
    "usage_photos",
    "usage_videos",
    "quota_size_in_bytes",
)
key_order(
    ServerStatsResponseDto,
    "photos",
    "videos",
    "usage",
    "usage_photos",
    "usage_videos",
    "usage_by_user",
)
key_order(
    ServerFeaturesDto,
    "smart_search",
    "facial_recognition",
    "duplicate_detection",
    "map",
    "reverse_geocoding",
    "import_faces",
    "sidecar",
    "search",
    "trash",
    "oauth",
    "oauth_auto_launch",
    "ocr",
    "password_login",
    "config_file",
    "email",
    "realtime_transcoding",
)
key_order(
    ServerConfigDto,
    "login_page_message",
    "trash_days",
    "user_delete_delay",
    "oauth_button_text",
    "is_initialized",
    "is_onboarded",
    "external_domain",
    "public_users",
    "map_dark_style_url",
    "map_light_style_url",
    "maintenance_mode",
    "min_faces",
)


def usage_by_user_dto(row: Mapping[str, Any]) -> UsageByUserDto:
    return UsageByUserDto(
        user_id=row["userId"],
        user_name=row["userName"],
        photos=row["photos"],
        videos=row["videos"],
        usage=row["usage"],
        usage_photos=row["usagePhotos"],
        usage_videos=row["usageVideos"],
        quota_size_in_bytes=row["quotaSizeInBytes"],
    )
