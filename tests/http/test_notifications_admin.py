"""Notifications (admin) and mail: create a notification, preview templates, send a test
e-mail, and the mail the notification jobs send, received by a real local SMTP server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from immich_trio.actors.notifications import NotificationsActor
from immich_trio.runtime import Runtime
from immich_trio.sql.jobs import Job
from tests.http.conftest import MakeUser
from tests.smtp_sink import SmtpSink, closed_port, run_sink

Sql = Callable[..., list[tuple[Any, ...]]]

MISSING_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    yield from run_sink()


def smtp_body(sink: SmtpSink, **transport: Any) -> dict[str, Any]:
    return {"enabled": True, "from": "Immich <noreply@example.com>", "replyTo": "",
            "transport": {**sink.transport(), **transport}}


def enable_smtp(sql: Sql, sink: SmtpSink) -> None:
    partial = {"notifications": {"smtp": smtp_body(sink)}}
    sql("INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (json.dumps(partial),))


async def run_jobs(runtime: Runtime, sql: Sql, name: str) -> list[str]:
    """Run the waiting jobs called ``name`` as the dispatcher would; their statuses."""
    actor = NotificationsActor(runtime.pool)
    statuses = []
    for job_id, data in sql("SELECT id, data FROM immich_trio.job WHERE name = %s ORDER BY id", (name,)):
        job = Job(id=job_id, queue="notifications", name=name, data=data, attempt=1, max_attempts=5,
                  created_at=datetime.now(UTC))
        result = await actor.run_job(job)
        statuses.append(result.status)
        if result.apply is not None:
            async with runtime.pool.connection() as conn, conn.transaction():
                await result.apply(conn)
        sql("DELETE FROM immich_trio.job WHERE id = %s", (job_id,))
    return statuses


async def test_create_notification(client: Any, make_user: MakeUser) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    ana = await make_user("ana@example.com")
    r = await client.post("/api/admin/notifications", headers=admin.headers,
                          json={"userId": ana.id, "title": "Hello", "data": {"k": 1}})
    assert r.status_code == 201
    body = await r.get_json()
    assert list(body) == ["id", "createdAt", "level", "type", "title", "data"]
    assert (body["level"], body["type"], body["title"], body["data"]) == ("info", "Custom", "Hello", {"k": 1})
    listed = await (await client.get("/api/notifications", headers=ana.headers)).get_json()
    assert [n["id"] for n in listed] == [body["id"]]

    r = await client.post("/api/admin/notifications", headers=admin.headers, json={
        "userId": ana.id, "title": "Oops", "level": "error", "type": "JobFailed", "description": "d"})
    assert (await r.get_json())["description"] == "d" and (await r.get_json())["level"] == "error"
    # an unknown user: Immich's insert fails on the foreign key (500); found by the fuzz test, a 400
    r = await client.post("/api/admin/notifications", headers=admin.headers,
                          json={"userId": MISSING_ID, "title": "x"})
    assert (r.status_code, await r.get_json()) == (400, {"message": "User not found"})
    r = await client.post("/api/admin/notifications", headers=ana.headers, json={"userId": ana.id, "title": "x"})
    assert r.status_code == 403
    r = await client.post("/api/admin/notifications", headers=admin.headers, json={"userId": ana.id})
    assert r.status_code == 400


async def test_template_previews(client: Any, make_user: MakeUser, sql: Sql) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    url = "/api/admin/notifications/templates"
    r = await client.post(f"{url}/welcome", headers=admin.headers, json={"template": ""})
    body = await r.get_json()
    assert r.status_code == 200 and list(body) == ["name", "html"] and body["name"] == "welcome"
    for text in ("John Doe", "john@doe.com", "thisIsAPassword123", "https://my.immich.app/auth/login"):
        assert text in body["html"]
    r = await client.post(f"{url}/album-invite", headers=admin.headers, json={"template": ""})
    html = (await r.get_json())["html"]
    assert "John Doe&#39;s Favorites" in html and "Jane Doe" in html and "/albums/1" in html
    r = await client.post(f"{url}/album-update", headers=admin.headers,
                          json={"template": "<p>Hi {recipientName}, see {albumName} {unknown}</p>"})
    assert "<p>Hi Jane Doe, see Favorite Photos {unknown}</p>" in (await r.get_json())["html"]
    r = await client.post(f"{url}/nope", headers=admin.headers, json={"template": ""})
    assert await r.get_json() == {"name": "nope", "html": ""}
    # the server's external domain is where the links point
    sql("INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)",
        (json.dumps({"server": {"externalDomain": "https://photos.example.com"}}),))
    r = await client.post(f"{url}/album-update", headers=admin.headers, json={"template": ""})
    assert "https://photos.example.com/albums/1" in (await r.get_json())["html"]


async def test_test_email(client: Any, make_user: MakeUser, smtp_sink: SmtpSink) -> None:
    admin = await make_user("admin@example.com", name="Alex", is_admin=True)
    r = await client.post("/api/admin/notifications/test-email", headers=admin.headers, json=smtp_body(smtp_sink))
    assert r.status_code == 200
    message_id = (await r.get_json())["messageId"]
    [mail] = smtp_sink.mails
    assert mail.recipients == ["admin@example.com"]
    assert mail.message["Subject"] == "Test email from Immich"
    assert mail.message["Message-ID"] == message_id and message_id.endswith("@example.com>")
    assert mail.message["Reply-To"] == "Immich <noreply@example.com>"
    assert "This is a test email from your Immich Instance!" in mail.part("plain")
    assert "Hey <strong>Alex</strong>!" in mail.part("html")

    refused = smtp_body(smtp_sink, port=closed_port())
    r = await client.post("/api/admin/notifications/test-email", headers=admin.headers, json=refused)
    assert (r.status_code, await r.get_json()) == (400, {"message": "Failed to verify SMTP configuration"})
    user = await make_user("ana@example.com")
    r = await client.post("/api/admin/notifications/test-email", headers=user.headers, json=smtp_body(smtp_sink))
    assert r.status_code == 403
    assert len(smtp_sink.mails) == 1


async def test_welcome_mail_on_user_creation(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql, smtp_sink: SmtpSink
) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    r = await client.post("/api/admin/users", headers=admin.headers, json={
        "email": "new@example.com", "password": "temp-pass-1", "name": "Newbie", "notify": True,
        "shouldChangePassword": True})
    assert r.status_code == 201
    r = await client.post("/api/admin/users", headers=admin.headers, json={
        "email": "quiet@example.com", "password": "x", "name": "Quiet"})
    assert await run_jobs(runtime, sql, "NotifyUserSignup") == ["success"]
    [(queued,)] = sql("SELECT data FROM immich_trio.job WHERE name = 'SendMail'")
    assert queued["to"] == "new@example.com" and "Password: temp-pass-1" in queued["text"]
    # SMTP off: the mail job is skipped, nothing sent
    assert await run_jobs(runtime, sql, "SendMail") == ["skipped"] and smtp_sink.mails == []

    await client.post("/api/admin/users", headers=admin.headers, json={
        "email": "second@example.com", "password": "p", "name": "Second", "notify": True,
        "shouldChangePassword": False})
    enable_smtp(sql, smtp_sink)
    assert await run_jobs(runtime, sql, "NotifyUserSignup") == ["success"]
    assert await run_jobs(runtime, sql, "SendMail") == ["success"]
    [mail] = smtp_sink.mails
    assert mail.recipients == ["second@example.com"] and mail.message["Subject"] == "Welcome to Immich"
    text = mail.part("plain")
    assert "Hey Second!" in text and "Username: second@example.com" in text and "Password" not in text


async def test_album_mail_follows_preferences(
    client: Any, runtime: Runtime, make_user: MakeUser, sql: Sql, smtp_sink: SmtpSink
) -> None:
    alex = await make_user("alex@example.com", name="Alex")
    ana = await make_user("ana@example.com", name="Ana")
    bob = await make_user("bob@example.com", name="Bob")
    r = await client.put("/api/users/me/preferences", headers=bob.headers,
                         json={"emailNotifications": {"albumInvite": False}})
    assert r.status_code == 200
    enable_smtp(sql, smtp_sink)
    r = await client.post("/api/albums", json={"albumName": "Summer"}, headers=alex.headers)
    album = (await r.get_json())["id"]
    r = await client.put(f"/api/albums/{album}/users", headers=alex.headers,
                         json={"albumUsers": [{"userId": ana.id}, {"userId": bob.id}]})
    assert r.status_code == 200
    assert await run_jobs(runtime, sql, "NotifyAlbumInvite") == ["success", "success"]
    assert await run_jobs(runtime, sql, "SendMail") == ["success"]
    [mail] = smtp_sink.mails
    assert mail.recipients == ["ana@example.com"]
    assert mail.message["Subject"] == "You have been added to a shared album - Summer"
    assert "Alex has added you to the album Summer." in mail.part("plain")
    assert f"https://my.immich.app/albums/{album}" in mail.part("html")
    # both still get the bell row
    assert sql("SELECT count(*) FROM notification WHERE type = 'AlbumInvite'") == [(2,)]


async def test_send_mail_failure_is_a_failed_run(runtime: Runtime, sql: Sql, smtp_sink: SmtpSink) -> None:
    body = smtp_body(smtp_sink, port=closed_port())
    sql("INSERT INTO system_metadata (key, value) VALUES ('system-config', %s)",
        (json.dumps({"notifications": {"smtp": body}}),))
    sql("INSERT INTO immich_trio.job (queue, name, data) VALUES ('notifications', 'SendMail', %s)",
        (json.dumps({"to": "a@example.com", "subject": "s", "html": "<p>h</p>", "text": "t"}),))
    assert await run_jobs(runtime, sql, "SendMail") == ["failed"]
