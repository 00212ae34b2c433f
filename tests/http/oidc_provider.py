"""The OAuth tests' provider side: a real OpenID Connect provider (``oidc-provider-mock``) in a
thread, a PKCE-checking wrapper around it, a picture server, and the steps of a login.

Each test module wraps the servers it needs in its own fixtures.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import oidc_provider_mock
import werkzeug.serving
from joserfc import jwt
from joserfc.jwk import OctKey
from oidc_provider_mock import run_server_in_thread
from PIL import Image

from tests.http.conftest import MakeUser

Sql = Callable[..., list[tuple[Any, ...]]]

REDIRECT = "http://immich.test/auth/login"
CLIENT_ID = "immich-test"
COOKIE_TAIL = r"; Max-Age=34560000; Path=/; Expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT"
SPENT = [
    "immich_oauth_state=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "immich_oauth_code_verifier=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
]


@contextmanager
def running_provider() -> Iterator[str]:
    """A real OIDC provider on a free port; its issuer URL."""
    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


def configure(sql: Sql, issuer: str, **oauth: Any) -> None:
    settings = {
        "enabled": True,
        "issuerUrl": issuer,
        "clientId": CLIENT_ID,
        "clientSecret": "s3cret",
        "allowInsecureRequests": True,  # the test provider speaks plain http
        **oauth,
    }
    sql(
        "INSERT INTO system_metadata (key, value) VALUES ('system-config', %s::jsonb)"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (json.dumps({"oauth": settings}),),
    )


async def set_claims(issuer: str, sub: str, claims: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.put(f"{issuer}/users/{sub}", json=claims)
    assert response.status_code == 204


async def authorize(client: Any, **body: Any) -> tuple[str, dict[str, str]]:
    """POST /oauth/authorize; the provider URL and the cookies it set (name -> value)."""
    response = await client.post("/api/oauth/authorize", json={"redirectUri": REDIRECT, **body})
    assert response.status_code == 201, await response.get_data()
    cookies = dict(c.split(";", 1)[0].split("=", 1) for c in response.headers.getlist("Set-Cookie"))
    return (await response.get_json())["url"], cookies


async def sign_in_at_provider(url: str, sub: str) -> str:
    """Submit the provider's login form as ``sub``; the callback URL it redirects to."""
    async with httpx.AsyncClient() as http:
        form = await http.get(url)
        assert form.status_code == 200 and "<form" in form.text
        response = await http.post(url, data={"sub": sub})
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def oauth_login(client: Any, sub: str) -> Any:
    """The web app's whole flow; the callback answer. The client's cookie jar carries the state."""
    url, _ = await authorize(client)
    callback = await sign_in_at_provider(url, sub)
    response = await client.post("/api/oauth/callback", json={"url": callback})
    client.cookie_jar.clear()
    return response


async def first_admin(make_user: MakeUser) -> Any:
    return await make_user("admin@example.com", is_admin=True)


# --- a provider that checks PKCE, records token requests, may sign its userinfo ---------------------


class PkceCheckingProvider:
    """WSGI middleware over the test provider: it announces S256 PKCE, remembers each code's
    challenge, and refuses a token request whose ``code_verifier`` does not hash to it. It keeps
    each token request's ``Authorization`` header and form; with ``userinfo_secret`` set, its
    userinfo answers a JWT signed with it (HS256) holding ``userinfo_extra`` too."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.challenge_of_state: dict[str, str] = {}
        self.challenge_of_code: dict[str, str] = {}
        self.verified: list[str] = []
        self.token_requests: list[tuple[str | None, dict[str, str]]] = []
        self.userinfo_secret: str | None = None
        self.userinfo_extra: dict[str, Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if path == "/oauth2/authorize" and "code_challenge" in query:
            assert query["code_challenge_method"] == "S256"
            self.challenge_of_state[query["state"]] = query["code_challenge"]
        if path == "/oauth2/token":
            form = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            fields = {k: v[-1] for k, v in parse_qs(form.decode()).items()}
            self.token_requests.append((environ.get("HTTP_AUTHORIZATION"), fields))
            expected = self.challenge_of_code.get(fields.get("code", ""))
            verifier = fields.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if expected != base64.urlsafe_b64encode(digest).rstrip(b"=").decode():
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error": "invalid_grant"}']
            self.verified.append(verifier)
            environ["wsgi.input"] = io.BytesIO(form)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            captured.update(status=status, headers=headers)
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        headers = dict(captured["headers"])
        back = {k: v[-1] for k, v in parse_qs(urlsplit(headers.get("Location", "")).query).items()}
        if "code" in back and back.get("state") in self.challenge_of_state:
            self.challenge_of_code[back["code"]] = self.challenge_of_state[back["state"]]
        if path == "/.well-known/openid-configuration":
            meta = json.loads(body)
            meta["code_challenge_methods_supported"] = ["S256"]
            body = json.dumps(meta).encode()
        if path == "/userinfo" and self.userinfo_secret and captured["status"].startswith("200"):
            claims = {**json.loads(body), **self.userinfo_extra}
            body = jwt.encode(
                {"alg": "HS256"}, claims, OctKey.import_key(self.userinfo_secret)
            ).encode()
            headers["Content-Type"] = "application/jwt"
        headers["Content-Length"] = str(len(body))
        start_response(captured["status"], list(headers.items()))
        return [body]


@contextmanager
def running_pkce_provider() -> Iterator[tuple[str, PkceCheckingProvider]]:
    """The test provider behind ``PkceCheckingProvider``; its issuer URL and the checker."""
    checker = PkceCheckingProvider(oidc_provider_mock.app())
    server = werkzeug.serving.make_server("localhost", 0, checker, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}", checker
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


# --- the profile picture -------------------------------------------------------------------------------


@contextmanager
def serving_picture() -> Iterator[str]:
    """A web server answering one 600x400 PNG at ``/me.png`` (404 elsewhere)."""
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), (200, 30, 30)).save(buffer, format="PNG")
    png = buffer.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/me.png"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(png)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/me.png"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
