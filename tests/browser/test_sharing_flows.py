"""Sharing flows in Immich's own web app against this server, in a real browser (issue 8).

The admin creates an album from the timeline selection, invites a second user, who finds it
under Sharing and comments and likes in its activity panel; the admin shares one photo by a
link (with and without a password) that a logged-out visitor opens, and downloads the album as
a ZIP. Assertions are on what the user sees: text, images whose pixels loaded, the downloaded
file's bytes; and no red toast. Module fixtures build the shared state once, through the UI.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs
import pytest

from tests.browser.conftest import (
    ACTION_TIMEOUT_MS,
    ADMIN_NAME,
    DANGER_TOAST,
    FRIEND_NAME,
    Signed,
    api_failures,
    assert_no_error_toast,
    upload_through_api,
    wait_for_thumbnails,
)
from tests.e2e.conftest import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Response

pytestmark = pytest.mark.e2e

PHOTO = "albums/nature/prairie_falcon.jpg"
ALBUM_TITLE = "Falcons of the prairie"
COMMENT = "What a bird!"
LINK_PASSWORD = "falcon-secret"
# Operations of other issues the web app calls on these pages (memories, faces, OCR) answer 501
# until they are built; every other failed /api answer is a bug.
NOT_YET_BUILT = 501


@attrs.frozen
class Photo:
    name: str
    data: bytes


def assert_api_answered(page: Page, *allowed: tuple[int, str]) -> None:
    """No failed ``/api`` answer on this page, except 501s and the ``(status, path)`` allowed."""
    failed = [
        f
        for f in api_failures(page)
        if f.status != NOT_YET_BUILT and (f.status, f.path) not in allowed
    ]
    assert not failed, f"the web app's API calls failed: {failed}"


@contextmanager
def signed_page(
    site: ServerProcess, browser: Browser, signed: Signed, folder: Path
) -> Iterator[Page]:
    """A context for a module fixture's UI steps; a screenshot lands in ``folder`` on failure."""
    context = browser.new_context(base_url=site.url, storage_state=signed.storage_state)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    except Exception:
        page.screenshot(path=str(folder / "failure.png"), full_page=True)
        print(
            f"screenshot of the failed step: {folder / 'failure.png'}\nserver log:\n{site.log_tail()}"
        )
        raise
    finally:
        context.close()


def answered(method: str, path_part: str) -> Callable[[Response], bool]:
    """A predicate for ``page.expect_response``: the API call the UI step makes."""

    def matches(response: Response) -> bool:
        return response.request.method == method and path_part in response.url

    return matches


@pytest.fixture(scope="module")
def photo(site: ServerProcess, browser: Browser, admin: Signed, test_assets: Path) -> Photo:
    """The admin's one photo, uploaded through the API (the upload button has its own test)."""
    path = test_assets / PHOTO
    data = path.read_bytes()
    upload_through_api(site, browser, admin, data, path.name, "image/jpeg", "2022-03-31T12:00:00.000Z")
    return Photo(path.name, data)


@pytest.fixture(scope="module")
def album(
    site: ServerProcess,
    browser: Browser,
    admin: Signed,
    photo: Photo,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """Flow 1: select the photo in the timeline, Add to album -> New Album, open it from the
    toast, type its title. The album page's path."""
    with signed_page(site, browser, admin, tmp_path_factory.mktemp("album")) as page:
        page.goto("/photos")
        wait_for_thumbnails(page)
        thumbnail = page.locator("[data-asset]").first
        thumbnail.hover()
        thumbnail.get_by_role("checkbox").click()
        page.get_by_text("1 selected").wait_for()
        page.get_by_role("button", name="Add to album", exact=True).click()
        with page.expect_response(answered("POST", "/api/albums")) as created:
            page.get_by_role("dialog").get_by_text("New Album").click()
        assert created.value.status == 201
        album_id = created.value.json()["id"]
        page.get_by_role("button", name="View Album").click()  # in the "Added 1 asset" toast
        page.wait_for_url(f"**/albums/{album_id}")
        title = page.get_by_placeholder("Add a title")
        with page.expect_response(answered("PATCH", "/api/albums/")) as renamed:
            title.fill(ALBUM_TITLE)
            title.press("Enter")
        assert renamed.value.status == 200
        return urlsplit(page.url).path


@pytest.fixture(scope="module")
def shared_album(
    site: ServerProcess,
    browser: Browser,
    admin: Signed,
    friend: Signed,
    album: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """Flow 2, the owner's half: the album's Share button -> Invite People -> the second user."""
    with signed_page(site, browser, admin, tmp_path_factory.mktemp("invite")) as page:
        page.goto(album)
        wait_for_thumbnails(page)
        page.get_by_role("button", name="Share").click()
        page.get_by_role("dialog").get_by_text("Invite People").click()
        users = page.get_by_role("dialog").last
        users.get_by_text(FRIEND_NAME, exact=True).click()
        with page.expect_response(answered("PUT", "/users")) as invited:
            users.get_by_role("button", name="Add", exact=True).click()
        assert invited.value.status == 200
        page.get_by_role("dialog").get_by_text("Editor").wait_for()
        return album


def open_album(page: Page, path: str) -> None:
    page.goto(path)
    page.wait_for_url(f"**{path}")
    page.get_by_placeholder("Add a title").or_(page.get_by_text(ALBUM_TITLE)).first.wait_for()
    wait_for_thumbnails(page)


def activity_buttons(page: Page) -> Locator:
    """The album's like and comment buttons (the pill at the bottom right; no accessible names)."""
    return (
        page.locator("div.rounded-full.border")
        .filter(has=page.locator("button"))
        .last.locator("button")
    )


def open_activity_panel(page: Page) -> Locator:
    """The comment button opens the Activity panel (with its "Say something" box)."""
    activity_buttons(page).last.click()
    page.get_by_placeholder("Say something").wait_for()
    return page.locator("body")


def share_photo_by_link(page: Page, password: str | None = None) -> str:
    """The photo viewer's Share button -> Create link (with a password if given); the link."""
    page.goto("/photos")
    wait_for_thumbnails(page)
    page.locator("[data-asset]").first.click()
    page.wait_for_url("**/photos/*")
    page.get_by_role("button", name="Share").click()
    dialog = page.get_by_role("dialog").last
    dialog.get_by_text("Create link to share").wait_for()
    if password is not None:
        dialog.get_by_label("Password").fill(password)
    with page.expect_response(answered("POST", "/api/shared-links")) as created:
        dialog.get_by_role("button", name="Create link").click()
    assert created.value.status == 201
    link = page.get_by_role("dialog").last.locator("input").first
    page.wait_for_function(
        "() => [...document.querySelectorAll('[role=dialog] input')].some((i) => i.value.includes('/share/'))"
    )
    url = link.input_value()
    assert "/share/" in url
    return url


def test_album_made_from_the_timeline_selection_shows_its_title_and_photo(
    admin_page: Page, album: str
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    open_album(admin_page, album)
    sync_api.expect(admin_page.get_by_placeholder("Add a title")).to_have_value(ALBUM_TITLE)
    admin_page.get_by_text("1 item").first.wait_for()
    assert_no_error_toast(admin_page)
    assert_api_answered(admin_page)
    admin_page.goto("/albums")
    admin_page.get_by_text(ALBUM_TITLE).first.wait_for()
    assert_no_error_toast(admin_page)
    assert_api_answered(admin_page)


def test_the_invited_user_finds_the_album_under_sharing(
    friend_page: Page, shared_album: str
) -> None:
    friend_page.goto("/sharing")
    card = (
        friend_page.get_by_role("link")
        .filter(has_text=ALBUM_TITLE)
        .filter(has_text=f"Shared by {ADMIN_NAME}")
    )
    card.wait_for()
    assert_no_error_toast(friend_page)
    card.click()
    friend_page.wait_for_url(f"**{shared_album}")
    wait_for_thumbnails(friend_page)
    friend_page.get_by_text(ALBUM_TITLE).first.wait_for()
    assert_no_error_toast(friend_page)
    assert_api_answered(friend_page)


def test_comment_and_like_show_in_the_activity_panel_and_stay(
    friend_page: Page, admin_page: Page, shared_album: str
) -> None:
    open_album(friend_page, shared_album)
    with friend_page.expect_response(answered("POST", "/api/activities")) as liked:
        activity_buttons(friend_page).first.click()
    assert liked.value.status == 201
    panel = open_activity_panel(friend_page)
    box = panel.get_by_placeholder("Say something")
    with friend_page.expect_response(answered("POST", "/api/activities")) as commented:
        box.fill(COMMENT)
        box.press("Enter")
    assert commented.value.status == 201
    panel.get_by_text(f"{FRIEND_NAME} liked it").wait_for()
    panel.get_by_text(COMMENT).wait_for()
    assert_no_error_toast(friend_page)

    friend_page.reload()
    wait_for_thumbnails(friend_page)
    panel = open_activity_panel(friend_page)
    panel.get_by_text(f"{FRIEND_NAME} liked it").wait_for()
    panel.get_by_text(COMMENT).wait_for()
    assert_no_error_toast(friend_page)
    assert_api_answered(friend_page)

    # The owner sees them too.
    open_album(admin_page, shared_album)
    panel = open_activity_panel(admin_page)
    panel.get_by_text(f"{FRIEND_NAME} liked it").wait_for()
    panel.get_by_text(COMMENT).wait_for()
    assert_no_error_toast(admin_page)
    assert_api_answered(admin_page)


def test_a_shared_link_to_one_photo_opens_logged_out(
    admin_page: Page, guest_page: Page, photo: Photo
) -> None:
    url = share_photo_by_link(admin_page)
    assert_no_error_toast(admin_page)
    assert_api_answered(admin_page)
    guest_page.goto(url)
    wait_for_thumbnails(guest_page)
    assert_no_error_toast(guest_page)
    assert_api_answered(guest_page)


def test_a_password_shared_link_asks_for_the_password(
    admin_page: Page, guest_page: Page, photo: Photo
) -> None:
    url = share_photo_by_link(admin_page, password=LINK_PASSWORD)
    assert_api_answered(admin_page)
    key_path = urlsplit(url).path
    guest_page.goto(url)
    guest_page.get_by_text("Password Required").wait_for()
    password = guest_page.get_by_placeholder("Password")
    password.fill("not-the-password")
    guest_page.get_by_role("button", name="Submit").click()
    guest_page.locator(DANGER_TOAST).filter(has_text="Invalid password").wait_for()
    password.fill(LINK_PASSWORD)
    guest_page.get_by_role("button", name="Submit").click()
    wait_for_thumbnails(guest_page)
    assert guest_page.get_by_text("Password Required").count() == 0
    assert urlsplit(guest_page.url).path == key_path
    # Before the password, the link's own details answer 401; the wrong password too.
    assert_api_answered(guest_page, (401, "/api/shared-links/me"), (401, "/api/shared-links/login"))


def test_an_album_downloads_as_a_zip_holding_the_photo(
    admin_page: Page, album: str, photo: Photo
) -> None:
    open_album(admin_page, album)
    with admin_page.expect_download() as download:
        admin_page.get_by_role("button", name="Download").click()
    saved = download.value.path()
    assert download.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(saved) as archive:
        assert archive.namelist() == [photo.name]
        assert archive.read(photo.name) == photo.data
    assert_no_error_toast(admin_page)
    assert_api_answered(admin_page)


def test_the_server_logged_no_error_during_these_flows(site: ServerProcess) -> None:
    """Runs last: whatever the web app asked for above, the server raised nothing unexpected."""
    log = site.log_path.read_text(errors="replace")
    bad = [line for line in log.splitlines() if "Traceback" in line or " ERROR " in line or " CRITICAL " in line]
    assert not bad, "\n".join(bad[:20])
