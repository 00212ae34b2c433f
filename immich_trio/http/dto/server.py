"""DTOs of the Server tag."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from immich_trio.http.dto import OMIT


@attrs.frozen(kw_only=True)
class ServerPingResponse:
    res: str = "pong"


@attrs.frozen(kw_only=True)
class ServerVersionResponseDto:
    major: int
    minor: int
    patch: int
    prerelease: int | None = None


@attrs.frozen(kw_only=True)
class ServerVersionHistoryResponseDto:
    id: UUID
    created_at: datetime
    version: str


@attrs.frozen(kw_only=True)
class ServerAboutResponseDto:
    version: str
    version_url: str
    licensed: bool
    build: Any = OMIT
    build_url: Any = OMIT
    build_image: Any = OMIT
    build_image_url: Any = OMIT
    repository: Any = OMIT
    repository_url: Any = OMIT
    source_ref: Any = OMIT
    source_commit: Any = OMIT
    source_url: Any = OMIT
    third_party_source_url: Any = OMIT
    third_party_bug_feature_url: Any = OMIT
    third_party_documentation_url: Any = OMIT
    third_party_support_url: Any = OMIT
    nodejs: Any = OMIT
    exiftool: Any = OMIT
    ffmpeg: Any = OMIT
    libvips: Any = OMIT
    imagemagick: Any = OMIT


@attrs.frozen(kw_only=True)
class ServerStorageResponseDto:
    # Immich's key order (assignment order in ServerService.getStorage)
    disk_available: str
    disk_size: str
    disk_use: str
    disk_available_raw: int
    disk_size_raw: int
    disk_use_raw: int
    disk_usage_percentage: float


@attrs.frozen(kw_only=True)
class UsageByUserDto:
    user_id: UUID
    user_name: str
    photos: int
    videos: int
    usage: int
    usage_photos: int
    usage_videos: int
    quota_size_in_bytes: int | None


@attrs.frozen(kw_only=True)
class ServerStatsResponseDto:
    photos: int
    videos: int
    usage: int
    usage_photos: int
    usage_videos: int
    usage_by_user: list[UsageByUserDto]


@attrs.frozen(kw_only=True)
class ServerFeaturesDto:
    smart_search: bool
    facial_recognition: bool
    duplicate_detection: bool
    map: bool
    reverse_geocoding: bool
    import_faces: bool
    sidecar: bool
    search: bool
    trash: bool
    oauth: bool
    oauth_auto_launch: bool
    ocr: bool
    password_login: bool
    config_file: bool
    email: bool
    realtime_transcoding: bool


@attrs.frozen(kw_only=True)
class ServerConfigDto:
    login_page_message: str
    trash_days: int
    user_delete_delay: int
    oauth_button_text: str
    is_initialized: bool
    is_onboarded: bool
    external_domain: str
    public_users: bool
    map_dark_style_url: str
    map_light_style_url: str
    maintenance_mode: bool
    min_faces: int


@attrs.frozen(kw_only=True)
class ServerApkLinksDto:
    arm64v8a: str
    armeabiv7a: str
    universal: str
    x86_64: str = attrs.field(metadata={"wire": "x86_64"})


@attrs.frozen(kw_only=True)
class VersionCheckStateResponseDto:
    checked_at: str | None
    release_version: str | None
