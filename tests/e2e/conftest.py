"""End-to-end fixtures: the real ``immich-trio serve`` process on a free port, driven over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@attrs.define
class HttpResult:
    status: int
    body: Any
    headers: dict[str, str]


def _headers(message: Any) -> dict[str, str]:
    out = {k.lower(): v for k, v in message.items()}
    cookies = message.get_all("Set-Cookie") or []
    if cookies:
        out["set-cookie"] = "\n".join(cookies)
    return out


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> HttpResult:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
            resp_headers = _headers(response.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status = exc.code
        resp_headers = _headers(exc.headers)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw
    return HttpResult(status, parsed, resp_headers)


def wait_jobs_idle(base: str, headers: dict[str, str], timeout: float = 300.0) -> dict[str, Any]:
    """Poll ``GET /jobs`` (an admin's headers) until no queue has an active, waiting or delayed
    job; the last answer. Fails after ``timeout`` seconds naming the busy queues."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = call(base, "GET", "/jobs", headers=headers).body
        busy = {
            name: q["jobCounts"] for name, q in jobs.items()
            if q["jobCounts"]["active"] or q["jobCounts"]["waiting"] or q["jobCounts"]["delayed"]
        }
        if not busy:
            return dict(jobs)
        assert time.monotonic() < deadline, f"jobs still running after {timeout}s: {busy}"
        time.sleep(0.5)


@attrs.define
class ServerProcess:
    """One ``immich-trio serve`` child process; can be stopped and started again on the same media."""

    media: Path
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.url + "/api"

    def _spawn(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "immich_trio", "serve"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_without_http(self) -> None:
        """Start a process that opens no HTTP port (``IMMICH_WORKERS_INCLUDE=microservices``)
        and wait until its supervision tree is up."""
        self._spawn()
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if "running workers: " in self.log_tail(400):
                return
            time.sleep(0.05)
        raise RuntimeError(f"server did not start within {START_TIMEOUT}s:\n{self.log_tail()}")

    def start(self) -> float:
        """Start and wait for the first ping; returns the seconds it took."""
        started = time.monotonic()
        self._spawn()
        assert self.proc is not None
        deadline = started + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if call(self.api, "GET", "/server/ping", timeout=2).status == 200:
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not answer within {START_TIMEOUT}s:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        code = self.proc.returncode
        self.proc = None
        return code

    def kill_all(self) -> None:
        """SIGKILL the server and everything it started (its process group)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def new_server(folder: Path, index: int = 0, extra_env: dict[str, str] | None = None) -> ServerProcess:
    """A server (not started) on a free port with its media and log in ``folder``; the
    caller's ``DB_*`` and ``IMMICH_*`` settings are left out, ``extra_env`` added."""
    media = folder / f"media{index}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "IMMICH_"))}
    env.update(
        IMMICH_PORT=str(free_port()),
        IMMICH_HOST="127.0.0.1",
        IMMICH_MEDIA_LOCATION=str(media),
        IMMICH_LOG_LEVEL="log",
        # 155k places per fresh database cost ~14 s of CPU; the tests that need them say so.
        IMMICH_REVERSE_GEOCODING_IMPORT="false",
        # No model can be downloaded here: machine learning off, as the in-process tests store it
        # (a test that wants it turns it on).
        IMMICH_MACHINE_LEARNING_ENABLED="false",
        # The hourly version check asks a closed local port, never GitHub.
        IMMICH_VERSION_CHECK_URL="http://127.0.0.1:9/releases/latest",
    )
    env.update(extra_env or {})
    return ServerProcess(media=media, port=int(env["IMMICH_PORT"]), env=env, log_path=folder / f"server{index}.log")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    made: list[ServerProcess] = []

    def make(extra_env: dict[str, str] | None = None) -> ServerProcess:
        server = new_server(tmp_path, len(made), extra_env)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()
        # The embedded PostgreSQL belongs to the server's process group; make sure it is gone.
        server.kill_all()


@pytest.fixture
def server(server_factory: Any) -> ServerProcess:
    s: ServerProcess = server_factory()
    s.start()
    return s
