"""Sending mail over SMTP with the system config's ``notifications.smtp`` settings.

No SMTP client runs on Trio (aiosmtplib is asyncio-only), so the standard library's
``smtplib`` runs in a worker thread: every socket operation has ``CONNECT_TIMEOUT`` (Immich's
nodemailer ``connectionTimeout``) and the whole exchange ``SEND_TIMEOUT`` on the Trio clock;
a cancelled caller abandons the thread, whose socket times out on its own. As nodemailer does:
``secure`` is TLS from the first byte, otherwise STARTTLS when the server offers it;
``ignoreCert`` skips certificate checks; credentials are sent only when one is set.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import attrs
import trio

CONNECT_TIMEOUT = 5.0
"""Seconds for one socket operation (connect, a reply), as Immich's ``connectionTimeout``."""
SEND_TIMEOUT = 60.0
"""Seconds for a whole verify or send, thread included."""


class SmtpError(Exception):
    """The SMTP server could not be reached, refused us, or refused the mail."""


@attrs.frozen(kw_only=True)
class SmtpTransport:
    host: str
    port: int = 587
    secure: bool = False
    username: str = ""
    password: str = ""
    ignore_cert: bool = False

    @classmethod
    def from_config(cls, transport: Mapping[str, Any]) -> SmtpTransport:
        """From ``notifications.smtp.transport`` (camelCase keys, as stored and on the wire)."""
        port = transport.get("port")
        return cls(
            host=str(transport.get("host") or ""),
            port=port if isinstance(port, int) and not isinstance(port, bool) else 587,
            secure=bool(transport.get("secure")),
            username=str(transport.get("username") or ""),
            password=str(transport.get("password") or ""),
            ignore_cert=bool(transport.get("ignoreCert")),
        )


@attrs.frozen(kw_only=True)
class Mail:
    to: str
    sender: str
    reply_to: str
    subject: str
    html: str
    text: str


def _tls_context(transport: SmtpTransport) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if transport.ignore_cert:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _open(transport: SmtpTransport) -> smtplib.SMTP:
    """A connected, greeted (and, when asked, authenticated) client; blocking."""
    context = _tls_context(transport)
    client: smtplib.SMTP
    if transport.secure:
        client = smtplib.SMTP_SSL(transport.host, transport.port, timeout=CONNECT_TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(transport.host, transport.port, timeout=CONNECT_TIMEOUT)
    try:
        client.ehlo()
        if not transport.secure and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if transport.username or transport.password:
            client.login(transport.username, transport.password)
    except BaseException:
        client.close()
        raise
    return client


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _verify_sync(transport: SmtpTransport) -> None:
    _close(_open(transport))


def message_of(mail: Mail) -> EmailMessage:
    """The MIME message: plain text with an HTML alternative, a fresh ``Message-ID``."""
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = mail.to
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    domain = mail.sender.rpartition("@")[2].strip(" >") or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def _send_sync(transport: SmtpTransport, message: EmailMessage) -> None:
    client = _open(transport)
    try:
        client.send_message(message)
    finally:
        _close(client)


async def _in_thread(fn: Callable[..., None], *args: Any) -> None:
    try:
        with trio.fail_after(SEND_TIMEOUT):
            await trio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)
    except trio.TooSlowError as exc:
        raise SmtpError("Timeout: the SMTP server did not answer in time") from exc
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        raise SmtpError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc


async def verify(transport: SmtpTransport) -> None:
    """Connect, greet, TLS and log in as a send would, then hang up (nodemailer's ``verify``)."""
    if not transport.host:
        raise SmtpError("No SMTP host")
    await _in_thread(_verify_sync, transport)


async def send(transport: SmtpTransport, mail: Mail) -> str:
    """Send ``mail``; its ``Message-ID``."""
    if not transport.host:
        raise SmtpError("No SMTP host")
    message = message_of(mail)
    await _in_thread(_send_sync, transport, message)
    return str(message["Message-ID"])
