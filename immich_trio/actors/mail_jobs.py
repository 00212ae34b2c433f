"""The mail side of the notification jobs, as Immich's NotificationService does it: the welcome
mail of a new account, the album invite and album update mails (each queued as a ``SendMail``
job, whether or not SMTP is on), and ``SendMail`` itself (sent only when SMTP is enabled).

Album mail goes only to recipients whose ``emailNotifications`` preferences allow it. The
album thumbnail Immich attaches inline (``cid:album-thumbnail``) is not attached yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from psycopg import AsyncConnection

from immich_trio import sysconfig
from immich_trio.actors.dispatcher import JobResult
from immich_trio.mail import smtp, templates
from immich_trio.sql import mail as q

log = logging.getLogger(__name__)

Conn = AsyncConnection[Any]

WELCOME_SUBJECT = "Welcome to Immich"
INVITE_SUBJECT = "You have been added to a shared album - {album}"
UPDATE_SUBJECT = "New media has been added to an album - {album}"

# Per album job kind: the preference that allows it, the template, its stored custom one.
_ALBUM_MAIL = {
    "AlbumInvite": ("albumInvite", templates.ALBUM_INVITE, "albumInviteTemplate", INVITE_SUBJECT),
    "AlbumUpdate": ("albumUpdate", templates.ALBUM_UPDATE, "albumUpdateTemplate", UPDATE_SUBJECT),
}


def _custom(config: sysconfig.Config, key: str) -> str:
    value = config.get("templates", {}).get("email", {}).get(key, "")
    return value if isinstance(value, str) else ""


def _base_url(config: sysconfig.Config) -> str:
    return templates.base_url(config.get("server", {}))


async def queue_album_mail(conn: Conn, album_id: str, kind: str, user_ids: Iterable[str]) -> int:
    """Queue the ``kind`` mail (``AlbumInvite``/``AlbumUpdate``) for each recipient who is still
    a member and wants it; the number queued."""
    preference, name, custom_key, subject = _ALBUM_MAIL[kind]
    config = await sysconfig.load(conn)
    queued = 0
    for row in await q.album_recipients(conn, album_id, user_ids):
        if not q.wants_mail(row["preferences"], preference):
            continue
        values = {
            "baseUrl": _base_url(config), "albumId": album_id, "albumName": row["album_name"],
            "senderName": row["owner_name"], "recipientName": row["name"],
        }
        rendered = templates.render(name, values, _custom(config, custom_key))
        await q.enqueue_mail(
            conn, to=row["email"], subject=subject.format(album=row["album_name"]),
            html=rendered.html, text=rendered.text,
        )
        queued += 1
    return queued


async def queue_welcome_mail(conn: Conn, data: Mapping[str, Any]) -> bool:
    """Queue the welcome mail of a new account; False when the user is gone."""
    user_id = data.get("id")
    user = await q.live_user(conn, user_id) if isinstance(user_id, str) else None
    if user is None:
        return False
    config = await sysconfig.load(conn)
    password = data.get("tempPassword")
    values = {
        "baseUrl": _base_url(config), "displayName": user["name"], "username": user["email"],
        "password": password if isinstance(password, str) else None,
    }
    rendered = templates.render(templates.WELCOME, values, _custom(config, "welcomeTemplate"))
    await q.enqueue_mail(conn, to=user["email"], subject=WELCOME_SUBJECT, html=rendered.html, text=rendered.text)
    return True


async def send_mail(config: sysconfig.Config, data: Mapping[str, Any]) -> JobResult:
    """Run a ``SendMail`` job with the SMTP settings of ``config``."""
    settings = config.get("notifications", {}).get("smtp", {})
    if not settings.get("enabled"):
        return JobResult(status="skipped")
    fields = [data.get(key) for key in ("to", "subject", "html", "text")]
    if not all(isinstance(field, str) for field in fields):
        return JobResult(status="failed", error="job data is not a mail")
    to, subject, html, text = (str(field) for field in fields)
    sender = str(settings.get("from") or "")
    mail = smtp.Mail(
        to=to, sender=sender, reply_to=str(settings.get("replyTo") or sender),
        subject=subject, html=html, text=text,
    )
    try:
        message_id = await smtp.send(smtp.SmtpTransport.from_config(settings.get("transport", {})), mail)
    except smtp.SmtpError as exc:
        return JobResult(status="failed", error=str(exc))
    log.info("Sent mail with id: %s", message_id)
    return JobResult(status="success")
