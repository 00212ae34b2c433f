"""The Server tag: ping, version, features, config, about, storage, statistics, media types."""

from __future__ import annotations

import os
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

import trio

from immich_trio import IMMICH_VERSION, IMMICH_VERSION_STRING, sysconfig
from immich_trio.http import media_types
from immich_trio.http.context import Ctx
from immich_trio.http.dto import dumps
from immich_trio.http.dto.generated import (
    ServerAboutResponseDto,
    ServerApkLinksDto,
    ServerConfigDto,
    ServerFeaturesDto,
    ServerPingResponse,
    ServerStatsResponseDto,
    ServerStorageResponseDto,
    ServerVersionHistoryResponseDto,
    ServerVersionResponseDto,
    VersionCheckStateResponseDto,
)
from immich_trio.http.dto.server import usage_by_user_dto
from immich_trio.http.registry import operation
from immich_trio.sql import server as q
from immich_trio.sql import system_metadata
from immich_trio.sql import users as users_q

RELEASE_URL = "https://github.com/immich-app/immich/releases"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_ABOUT_ENV = {
    "build": "IMMICH_BUILD",
    "build_url": "IMMICH_BUILD_URL",
    "build_image": "IMMICH_BUILD_IMAGE",
    "build_image_url": "IMMICH_BUILD_IMAGE_URL",
    "repository": "IMMICH_REPOSITORY",
    "repository_url": "IMMICH_REPOSITORY_URL",
    "source_ref": "IMMICH_SOURCE_REF",
    "source_commit": "IMMICH_SOURCE_COMMIT",
    "source_url": "IMMICH_SOURCE_URL",
    "third_party_source_url": "IMMICH_THIRD_PARTY_SOURCE_URL",
    "third_party_bug_feature_url": "IMMICH_THIRD_PARTY_BUG_FEATURE_URL",
    "third_party_documentation_url": "IMMICH_THIRD_PARTY_DOCUMENTATION_URL",
    "third_party_support_url": "IMMICH_THIRD_PARTY_SUPPORT_URL",
}


def human_size(size: float) -> str:
    """1024-based size with one decimal, as Immich shows disk figures.

    Rounds half up like JavaScript's ``toFixed`` (1280 B -> "1.3 KiB"), not half-even.
    """
    unit = 0
    while size >= 1024 and unit < len(_UNITS) - 1:
        size /= 1024
        unit += 1
    shown = Decimal(size).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{shown} {_UNITS[unit]}"


@cache
def _library_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    exiftool = shutil.which("exiftool")
    if exiftool:
        try:
            out = subprocess.run(
                [exiftool, "-ver"], capture_output=True, text=True, timeout=10, check=True
            )
            versions["exiftool"] = out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        import av

        # the FFmpeg release PyAV is linked against (e.g. "7.1.1"), as `ffmpeg -version` shows
        ffmpeg = getattr(av, "ffmpeg_version_info", None)
        if not ffmpeg:
            ffmpeg = ".".join(str(n) for n in av.library_versions.get("libavcodec", ()))
        if ffmpeg:
            versions["ffmpeg"] = str(ffmpeg)
    except ImportError:
        pass
    try:
        import pyvips

        versions["libvips"] = f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    except Exception:
        pass
    return versions


# The same bytes every time: encoded once (the DTO's conversion was a fifth of a ping's own work).
_PONG = dumps(ServerPingResponse(res="pong"))


@operation("pingServer")
async def ping_server(ctx: Ctx) -> bytes:
    return _PONG


@operation("getServerVersion")
async def get_server_version(ctx: Ctx) -> ServerVersionResponseDto:
    major, minor, patch = IMMICH_VERSION
    return ServerVersionResponseDto(major=major, minor=minor, patch=patch, prerelease=None)


@operation("getVersionHistory")
async def get_version_history(ctx: Ctx) -> list[ServerVersionHistoryResponseDto]:
    async with ctx.db() as conn:
        rows = await q.version_history(conn)
    return [
        ServerVersionHistoryResponseDto(id=r["id"], created_at=r["createdAt"], version=r["version"])
        for r in rows
    ]


@operation("getSupportedMediaTypes")
async def get_supported_media_types(ctx: Ctx) -> dict[str, list[str]]:
    return media_types.supported()


@operation("getServerFeatures")
async def get_server_features(ctx: Ctx) -> ServerFeaturesDto:
    async with ctx.db() as conn:
        c = await sysconfig.load(conn, _defaults(ctx))
    ml = c["machineLearning"]
    smart = bool(ml["enabled"] and ml["clip"]["enabled"])
    return ServerFeaturesDto(
        smart_search=smart,
        facial_recognition=bool(ml["enabled"] and ml["facialRecognition"]["enabled"]),
        duplicate_detection=bool(smart and ml["duplicateDetection"]["enabled"]),
        map=bool(c["map"]["enabled"]),
        reverse_geocoding=bool(c["reverseGeocoding"]["enabled"]),
        import_faces=bool(c["metadata"]["faces"]["import"]),
        sidecar=True,
        search=True,
        trash=bool(c["trash"]["enabled"]),
        oauth=bool(c["oauth"]["enabled"]),
        oauth_auto_launch=bool(c["oauth"]["autoLaunch"]),
        ocr=bool(ml["enabled"] and ml["ocr"]["enabled"]),
        password_login=bool(c["passwordLogin"]["enabled"]),
        config_file=False,
        email=bool(c["notifications"]["smtp"]["enabled"]),
        realtime_transcoding=bool(c["ffmpeg"]["realtime"]["enabled"]),
    )


def _defaults(ctx: Ctx) -> dict[str, Any]:
    return sysconfig.defaults_for(ctx.runtime.settings)


@operation("getServerConfig")
async def get_server_config(ctx: Ctx) -> ServerConfigDto:
    maintenance = ctx.runtime.maintenance.active
    async with ctx.db() as conn:
        c = await sysconfig.load(conn, _defaults(ctx))
        has_admin = await users_q.admin_exists(conn)
        onboarding = await system_metadata.get(conn, "admin-onboarding") or {}
    # Immich's maintenance worker answers initialized and onboarded, in maintenance mode.
    return ServerConfigDto(
        login_page_message=c["server"]["loginPageMessage"],
        trash_days=c["trash"]["days"],
        user_delete_delay=c["user"]["deleteDelay"],
        oauth_button_text=c["oauth"]["buttonText"],
        is_initialized=maintenance or has_admin or not ctx.runtime.settings.allow_setup,
        is_onboarded=maintenance or bool(onboarding.get("isOnboarded", False)),
        external_domain=c["server"]["externalDomain"],
        public_users=c["server"]["publicUsers"],
        map_dark_style_url=c["map"]["darkStyle"],
        map_light_style_url=c["map"]["lightStyle"],
        maintenance_mode=maintenance,
        min_faces=c["machineLearning"]["facialRecognition"]["minFaces"],
    )


@operation("getAboutInfo")
async def get_about_info(ctx: Ctx) -> ServerAboutResponseDto:
    versions = await trio.to_thread.run_sync(_library_versions)
    build = {field: os.environ[env] for field, env in _ABOUT_ENV.items() if os.environ.get(env)}
    async with ctx.db() as conn:
        license_ = await system_metadata.get(conn, "license")
    return ServerAboutResponseDto(
        version=IMMICH_VERSION_STRING,
        version_url=f"{RELEASE_URL}/tag/{IMMICH_VERSION_STRING}",
        licensed=bool(license_),
        **build,
        **versions,
    )


@operation("getApkLinks")
async def get_apk_links(ctx: Ctx) -> ServerApkLinksDto:
    base = f"{RELEASE_URL}/download/{IMMICH_VERSION_STRING}"
    return ServerApkLinksDto(
        arm64v8a=f"{base}/app-arm64-v8a-release.apk",
        armeabiv7a=f"{base}/app-armeabi-v7a-release.apk",
        universal=f"{base}/app-release.apk",
        x86_64=f"{base}/app-x86_64-release.apk",
    )


@operation("getStorage")
async def get_storage(ctx: Ctx) -> ServerStorageResponseDto:
    media = ctx.runtime.settings.media_location
    folder = media / "library" if (media / "library").exists() else media
    usage = await trio.to_thread.run_sync(shutil.disk_usage, folder)
    percentage = round(usage.used / usage.total * 100, 2) if usage.total else 0.0
    return ServerStorageResponseDto(
        disk_size=human_size(usage.total),
        disk_use=human_size(usage.used),
        disk_available=human_size(usage.free),
        disk_size_raw=usage.total,
        disk_use_raw=usage.used,
        disk_available_raw=usage.free,
        disk_usage_percentage=percentage,
    )


@operation("getServerStatistics")
async def get_server_statistics(ctx: Ctx) -> ServerStatsResponseDto:
    async with ctx.db() as conn:
        rows = await q.usage_by_user(conn)
    users = [usage_by_user_dto(r) for r in rows]
    return ServerStatsResponseDto(
        photos=sum(u.photos for u in users),
        videos=sum(u.videos for u in users),
        usage=sum(u.usage for u in users),
        usage_photos=sum(u.usage_photos for u in users),
        usage_videos=sum(u.usage_videos for u in users),
        usage_by_user=users,
    )


@operation("getVersionCheck")
async def get_version_check(ctx: Ctx) -> VersionCheckStateResponseDto:
    async with ctx.db() as conn:
        state = await system_metadata.get(conn, "version-check-state") or {}
    return VersionCheckStateResponseDto(
        checked_at=state.get("checkedAt"), release_version=state.get("releaseVersion")
    )
