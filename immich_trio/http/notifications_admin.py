"""The "Notifications (admin)" tag: create a notification for a user, send a test e-mail with
the SMTP settings of the request, and preview an e-mail template. Admin-only (the route check
answers non-admins as Immich does).
"""

from __future__ import annotations

from immich_trio import sysconfig
from immich_trio.http.context import Ctx
from immich_trio.http.dto import value_or
from immich_trio.http.dto.generated import (
    NotificationCreateDto,
    NotificationDto,
    SystemConfigSmtpDto,
    TemplateDto,
    TemplateResponseDto,
    TestEmailResponseDto,
)
from immich_trio.http.dto.notifications import notification_dto
from immich_trio.http.errors import BadRequest, HttpError, failed_message
from immich_trio.http.registry import operation
from immich_trio.mail import smtp, templates
from immich_trio.sql import notifications as q
from immich_trio.sql import users

SMTP_UNVERIFIED = "Failed to verify SMTP configuration"
TEST_SUBJECT = "Test email from Immich"

# The sample values of Immich's template previews.
_SAMPLES = {
    templates.WELCOME: {"displayName": "John Doe", "username": "john@doe.com", "password": "thisIsAPassword123"},
    templates.ALBUM_UPDATE: {"albumId": "1", "albumName": "Favorite Photos", "recipientName": "Jane Doe"},
    templates.ALBUM_INVITE: {
        "albumId": "1", "albumName": "John Doe's Favorites", "senderName": "John Doe", "recipientName": "Jane Doe",
    },
}
# The stored custom template a preview falls back to. Immich previews ``album-update`` with
# the album *invite* template, and so do we.
_STORED = {
    templates.WELCOME: "welcomeTemplate",
    templates.ALBUM_UPDATE: "albumInviteTemplate",
    templates.ALBUM_INVITE: "albumInviteTemplate",
}


@operation("createNotification")
async def create_notification(ctx: Ctx) -> NotificationDto:
    dto = await ctx.body(NotificationCreateDto)
    async with ctx.db() as conn:
        row = await q.create(
            conn,
            dto.user_id,
            type=value_or(dto.type, "Custom"),
            level=value_or(dto.level, "info"),
            title=dto.title,
            description=value_or(dto.description, None),
            data=value_or(dto.data, None),
        )
    if row is None:  # no such user: Immich's insert fails on the foreign key (a 500); ours says so
        raise BadRequest("User not found")
    return notification_dto(row)


@operation("sendTestEmailAdmin")
async def send_test_email_admin(ctx: Ctx) -> TestEmailResponseDto:
    dto = await ctx.body(SystemConfigSmtpDto)
    async with ctx.db() as conn:
        user = await users.get_user(conn, ctx.user.id)
        config = await sysconfig.load(conn, sysconfig.defaults_for(ctx.runtime.settings))
    if user is None:
        raise HttpError(failed_message("sendTestEmailAdmin"))
    t = dto.transport
    transport = smtp.SmtpTransport(
        host=t.host, port=t.port, secure=t.secure, username=t.username, password=t.password,
        ignore_cert=t.ignore_cert,
    )
    try:
        await smtp.verify(transport)
    except smtp.SmtpError as exc:
        raise BadRequest(SMTP_UNVERIFIED) from exc
    values = {"baseUrl": templates.base_url(config.get("server", {})), "displayName": user["name"]}
    rendered = templates.render(templates.TEST, values)
    mail = smtp.Mail(
        to=user["email"], sender=dto.from_, reply_to=dto.reply_to or dto.from_,
        subject=TEST_SUBJECT, html=rendered.html, text=rendered.text,
    )
    message_id = await smtp.send(transport, mail)
    return TestEmailResponseDto(message_id=message_id)


@operation("getNotificationTemplateAdmin")
async def get_notification_template_admin(ctx: Ctx) -> TemplateResponseDto:
    dto = await ctx.body(TemplateDto)
    name = str(ctx.path["name"])
    sample = _SAMPLES.get(name)
    if sample is None:  # Immich previews only these three, and answers others empty
        return TemplateResponseDto(name=name, html="")
    async with ctx.db() as conn:
        config = await sysconfig.load(conn, sysconfig.defaults_for(ctx.runtime.settings))
    stored = config.get("templates", {}).get("email", {}).get(_STORED[name], "")
    values = {"baseUrl": templates.base_url(config.get("server", {})), **sample}
    rendered = templates.render(name, values, dto.template or stored)
    return TemplateResponseDto(name=name, html=rendered.html)
