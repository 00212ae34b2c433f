"""Browser fixtures: Immich's own web app, served by the real server process, in headless Chromium.

One server process (``IMMICH_WEB_ROOT`` set to the built web app, so the app, ``/api`` and
its websocket share one origin) and one browser serve a whole test module. Playwright's sync
API runs in plain (non-Trio) test functions, so no Trio loop is ever blocked. Debian's
``chromium`` is driven through ``executable_path``: nothing is downloaded.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
import pytest

from tests.e2e.conftest import ServerProcess, new_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Response

ADMIN_EMAIL = "admin@immich.app"
ADMIN_PASSWORD = "admin-password"
ADMIN_NAME = "Immich Admin"
FRIEND_EMAIL = "friend@immich.app"
FRIEND_PASSWORD = "friend-password"
FRIEND_NAME = "Friend"
# Playwright's wait for one action; the machine is shared, so generous.
ACTION_TIMEOUT_MS = 20_000
# A red ("danger") toast of Immich's UI library, in the toast stack at the top right.
DANGER_TOAST = "div.fixed.z-60 > div.bg-danger-50"


# Thumbnails and previews (the web app loads them from /api/assets/<id>/thumbnail, with
# ?key= on a shared link); ``naturalWidth > 0`` means their pixels loaded.
LOADED_THUMBNAILS = """() => [...document.querySelectorAll('img')].filter(
    (img) => img.src.includes('/thumbnail') && img.complete && img.naturalWidth > 0).length"""


def loaded_thumbnails(page: Page) -> int:
    count: int = page.evaluate(LOADED_THUMBNAILS)
    return count


def wait_for_thumbnails(page: Page, at_least: int = 1) -> None:
    page.wait_for_function(f"({LOADED_THUMBNAILS})() >= {at_least}")


def assert_no_error_toast(page: Page, settle_ms: int = 1500) -> None:
    page.wait_for_timeout(settle_ms)  # the layout's requests answer and any toast shows
    toasts = page.locator(DANGER_TOAST)
    assert toasts.count() == 0, f"error toast shown: {toasts.all_inner_texts()}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def site(web_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The real server serving the web app at ``/`` (one per module)."""
    server = new_server(tmp_path_factory.mktemp("browser"), extra_env={"IMMICH_WEB_ROOT": str(web_build)})
    try:
        server.start()
        yield server
    finally:
        server.stop()
        server.kill_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@attrs.frozen
class Signed:
    """A signed-in user: what a new browser context needs to start signed in."""

    email: str
    password: str
    storage_state: Any


def screenshot_on_failure(request: pytest.FixtureRequest, page: Page, folder: Path) -> None:
    failed = any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call")
    )
    if failed:
        path = folder / "failure.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot of the failed page: {path}")


def sign_up_admin_in_web_app(page: Page) -> None:
    """Immich's first-run flow: welcome, admin sign-up, login, onboarding, then the timeline."""
    page.goto("/")
    page.get_by_text("Getting Started").click()
    page.get_by_label("Admin Email").fill(ADMIN_EMAIL)
    page.get_by_label("Admin Password", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_label("Confirm Admin Password").fill(ADMIN_PASSWORD)
    page.get_by_label("Name").fill(ADMIN_NAME)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/auth/login")
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    finish_onboarding(page)


def finish_onboarding(page: Page) -> None:
    """The onboarding steps every user sees on a first sign-in, then the timeline."""
    page.wait_for_url("**/auth/onboarding**")
    # Each onboarding step's forward button is the last one shown; the last says "Done".
    for _ in range(12):
        if "/photos" in page.url:
            break
        page.locator("button:visible").last.click()
        page.wait_for_timeout(300)
    page.wait_for_url("**/photos")


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Login").click()


@pytest.fixture(scope="module")
def admin(
    site: ServerProcess, browser: Browser, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Signed:
    """The admin, signed up through the web app's first-run pages (the first flow of all)."""
    context = browser.new_context(base_url=site.url)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    try:
        sign_up_admin_in_web_app(page)
        return Signed(ADMIN_EMAIL, ADMIN_PASSWORD, context.storage_state())
    except Exception:
        path = tmp_path_factory.mktemp("admin-sign-up") / "failure.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot of the failed sign-up: {path}\nserver log:\n{site.log_tail()}")
        raise
    finally:
        context.close()


@pytest.fixture(scope="module")
def friend(
    site: ServerProcess, browser: Browser, admin: Signed, tmp_path_factory: pytest.TempPathFactory
) -> Signed:
    """A second user: the admin creates the account (``POST /api/admin/users``), then the user
    signs in through the web app and goes through its onboarding."""
    context = browser.new_context(base_url=site.url, storage_state=admin.storage_state)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    try:
        user = {
            "email": FRIEND_EMAIL,
            "password": FRIEND_PASSWORD,
            "name": FRIEND_NAME,
            "shouldChangePassword": False,
        }
        created = context.request.post("/api/admin/users", data=user)
        assert created.status == 201, created.text()
        context.clear_cookies()
        sign_in(page, FRIEND_EMAIL, FRIEND_PASSWORD)
        finish_onboarding(page)
        return Signed(FRIEND_EMAIL, FRIEND_PASSWORD, context.storage_state())
    except Exception:
        path = tmp_path_factory.mktemp("friend-sign-in") / "failure.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot of the failed sign-in: {path}\nserver log:\n{site.log_tail()}")
        raise
    finally:
        context.close()


@attrs.frozen
class ApiFailure:
    """An ``/api`` request the web app made that got a 4xx or 5xx answer."""

    status: int
    method: str
    path: str


_API_FAILURES: dict[int, list[ApiFailure]] = {}


def _note_api_failure(failures: list[ApiFailure], response: Response) -> None:
    path = urlsplit(response.url).path
    if response.status >= 400 and path.startswith("/api/"):
        failures.append(ApiFailure(response.status, response.request.method, path))


def api_failures(page: Page) -> list[ApiFailure]:
    """The failed ``/api`` answers this page has seen so far (pages from ``open_page``)."""
    return list(_API_FAILURES.get(id(page), []))


def open_page(
    site: ServerProcess,
    browser: Browser,
    signed: Signed | None,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    """A fresh browser context (signed in as ``signed``, or logged out for None), its failed
    ``/api`` answers kept in ``api_failures(page)``; a screenshot lands in tmp_path on failure."""
    state = signed.storage_state if signed is not None else None
    context = browser.new_context(base_url=site.url, storage_state=state, accept_downloads=True)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    failures: list[ApiFailure] = []
    _API_FAILURES[id(page)] = failures
    page.on("response", lambda response: _note_api_failure(failures, response))
    try:
        yield page
        screenshot_on_failure(request, page, tmp_path)
    finally:
        _API_FAILURES.pop(id(page), None)
        context.close()


def upload_through_api(
    site: ServerProcess, browser: Browser, signed: Signed, data: bytes, name: str, mime: str, created: str
) -> str:
    """Upload ``data`` as ``signed`` through the API, as the web app's uploader does; the asset id
    once its thumbnails exist (a page opened before then shows Immich's "Error loading image")."""
    context = browser.new_context(base_url=site.url, storage_state=signed.storage_state)
    try:
        form = {
            "assetData": {"name": name, "mimeType": mime, "buffer": data},
            "deviceAssetId": f"browser-{name}",
            "deviceId": "browser",
            "fileCreatedAt": created,
            "fileModifiedAt": created,
        }
        response = context.request.post("/api/assets", multipart=form)
        assert response.status == 201, response.text()
        asset_id: str = response.json()["id"]
        wait_for_thumbhash(context, asset_id)
    finally:
        context.close()
    return asset_id


def wait_for_thumbhash(context: BrowserContext, asset_id: str, timeout_s: float = 90.0) -> None:
    """Poll the asset until its thumbnail job has set ``thumbhash`` (shared machines are slow)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        asset = context.request.get(f"/api/assets/{asset_id}")
        assert asset.status == 200, asset.text()
        if asset.json().get("thumbhash"):
            return
        time.sleep(0.2)
    raise AssertionError(f"asset {asset_id} has no thumbnail after {timeout_s} s")


def set_realtime_transcoding(site: ServerProcess, browser: Browser, signed: Signed, enabled: bool) -> None:
    """``ffmpeg.realtime.enabled`` in the system config (the web app plays over HLS when on)."""
    context = browser.new_context(base_url=site.url, storage_state=signed.storage_state)
    try:
        config = context.request.get("/api/system-config").json()
        config["ffmpeg"]["realtime"]["enabled"] = enabled
        saved = context.request.put("/api/system-config", data=config)
        assert saved.status == 200, saved.text()
    finally:
        context.close()


@pytest.fixture
def admin_page(
    site: ServerProcess,
    browser: Browser,
    admin: Signed,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    """A fresh browser context signed in as the admin; a screenshot lands in tmp_path on failure."""
    yield from open_page(site, browser, admin, tmp_path, request)


@pytest.fixture
def friend_page(
    site: ServerProcess,
    browser: Browser,
    friend: Signed,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    """A fresh browser context signed in as the second user."""
    yield from open_page(site, browser, friend, tmp_path, request)


@pytest.fixture
def guest_page(
    site: ServerProcess, browser: Browser, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh, logged-out browser context (a shared link's visitor)."""
    yield from open_page(site, browser, None, tmp_path, request)
