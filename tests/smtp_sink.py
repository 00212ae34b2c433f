"""A real SMTP server for tests: aiosmtpd on a loopback port, in its own thread, keeping every
mail it receives (parsed) for the test to read."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import attrs
from aiosmtpd.controller import Controller


@attrs.define
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())


class _Keep:
    def __init__(self) -> None:
        self.mails: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@attrs.define
class SmtpSink:
    host: str
    port: int
    handler: _Keep

    @property
    def mails(self) -> list[Received]:
        return self.handler.mails

    def transport(self) -> dict[str, Any]:
        """The ``notifications.smtp.transport`` settings that reach this server."""
        return {"host": self.host, "port": self.port, "secure": False, "ignoreCert": False,
                "username": "", "password": ""}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()


def run_sink() -> Iterator[SmtpSink]:
    handler = _Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpSink(host="127.0.0.1", port=controller.port, handler=handler)
    finally:
        controller.stop()
