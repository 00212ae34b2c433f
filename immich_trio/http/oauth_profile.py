"""What an OAuth login takes from the provider's profile: a new user's row from the claims
(role, storage label, storage quota, name) and the picture as the profile image.

As Immich v3.1's auth service: a claim that is not of the expected kind falls back to the
default (``user``, no label, ``oauth.defaultStorageQuota``); quotas are GiB.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

import trio

from immich_trio import oidc, sysconfig
from immich_trio.http.context import Ctx
from immich_trio.http.users_admin import sanitize_storage_label
from immich_trio.sql import users as users_q
from immich_trio.storage.profile_images import write_profile_image

log = logging.getLogger("immich_trio.http.oauth")

GIB = 1024**3
# A profile picture bigger than this is not a profile picture.
PICTURE_LIMIT = 20 * 1024 * 1024


_MISSING = object()


def _js_number(value: Any) -> float | None:
    """JavaScript's ``Number(value)`` for JSON values; None stands for NaN."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _storage_quota(profile: Mapping[str, Any], oauth: Mapping[str, Any]) -> int | None:
    """Bytes from the quota claim (GiB, any number >= 0; null means unlimited), else the default."""
    value = profile.get(str(oauth.get("storageQuotaClaim") or ""), _MISSING)
    number = None if value is _MISSING else _js_number(value)
    if number is None or number < 0:
        default = oauth.get("defaultStorageQuota")
        return None if default is None else int(default) * GIB
    return None if value is None else int(number * GIB)


def new_user_values(
    profile: Mapping[str, Any], email: str, oauth: Mapping[str, Any]
) -> dict[str, Any]:
    """The row of a user registered from an OAuth profile."""
    label = profile.get(str(oauth.get("storageLabelClaim") or ""))
    role = profile.get(str(oauth.get("roleClaim") or ""))
    full_name = f"{profile.get('given_name') or ''} {profile.get('family_name') or ''}".strip()
    name = profile.get("name") or full_name or profile.get("preferred_username") or email
    storage_label = sanitize_storage_label(label) if isinstance(label, str) and label else None
    return {
        "email": email,
        "name": str(name),
        "oauthId": str(profile["sub"]),
        "quotaSizeInBytes": _storage_quota(profile, oauth),
        "storageLabel": storage_label or None,
        "isAdmin": role == "admin",
    }


async def sync_picture(ctx: Ctx, oauth: Mapping[str, Any], user_id: Any, url: str) -> None:
    """The profile's picture becomes the user's profile image; a failure is only logged."""
    media = ctx.runtime.settings.media_location
    path = None
    try:
        data = await oidc.fetch_picture(oauth, url, limit=PICTURE_LIMIT)
        async with ctx.db() as conn:
            thumbnail = (await sysconfig.load(conn))["image"]["thumbnail"]
        path = await trio.to_thread.run_sync(
            functools.partial(
                write_profile_image,
                media,
                user_id,
                data,
                fmt=str(thumbnail["format"]),
                size=int(thumbnail["size"]),
                quality=int(thumbnail["quality"]),
            )
        )
        async with ctx.db() as conn, conn.transaction():
            await users_q.update_user(
                conn,
                user_id,
                {"profileImagePath": str(path), "profileChangedAt": ctx.runtime.now()},
            )
    except Exception as exc:  # Cancelled is a BaseException and passes through
        log.warning("Unable to sync oauth profile picture: %s", exc)
        if path is not None:
            await trio.Path(path).unlink(missing_ok=True)
