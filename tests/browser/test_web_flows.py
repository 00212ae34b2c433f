"""Users' flows in Immich's own web app against this server, in a real browser (issue 8).

One server and one browser for the module; the admin signs up through the first-run pages
once (the ``admin`` fixture) and each test opens a fresh signed-in context. Assertions are
on what the user sees: text, and images whose pixels loaded (``naturalWidth > 0``).
Albums, sharing, activity, shared links and downloads: test_sharing_flows.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import (
    DANGER_TOAST,
    Signed,
    assert_no_error_toast,
    loaded_thumbnails,
    wait_for_thumbnails,
)
from tests.e2e.conftest import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

PHOTO = "albums/nature/prairie_falcon.jpg"


@pytest.fixture(scope="module")
def uploaded(site: ServerProcess, browser: object, admin: Signed, test_assets: Path) -> str:
    """One photo uploaded through the web app's Upload button; its file name."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(base_url=site.url, storage_state=admin.storage_state)
    page = context.new_page()
    try:
        page.goto("/photos")
        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name="Upload").first.click()
        chooser.value.set_files(str(test_assets / PHOTO))
        wait_for_thumbnails(page)
    finally:
        context.close()
    return Path(PHOTO).name


def test_first_run_sign_up_lands_on_the_timeline(admin_page: Page, admin: Signed) -> None:
    admin_page.goto("/photos")
    admin_page.wait_for_url("**/photos")
    admin_page.get_by_role("link", name="Photos").first.wait_for()
    assert admin.storage_state["cookies"], "signing in set the session cookies"


def test_error_toasts_are_detected(admin_page: Page) -> None:
    """The no-error-toast checks below look for the right element: a failing layout request
    (a 500 for the bell's notifications) shows one."""
    admin_page.route(
        "**/api/notifications**",
        lambda route: route.fulfill(status=500, content_type="application/json", body='{"message":"boom"}'),
    )
    admin_page.goto("/photos")
    admin_page.locator(DANGER_TOAST).first.wait_for()


def test_uploaded_photo_shows_in_the_timeline(admin_page: Page, uploaded: str) -> None:
    admin_page.goto("/photos")
    wait_for_thumbnails(admin_page)
    assert loaded_thumbnails(admin_page) >= 1
    assert_no_error_toast(admin_page)


def test_albums_page_opens(admin_page: Page) -> None:
    admin_page.goto("/albums")
    admin_page.wait_for_url("**/albums")
    admin_page.get_by_role("button", name="Create album").first.wait_for()
    assert_no_error_toast(admin_page)


def test_sharing_page_opens(admin_page: Page) -> None:
    admin_page.goto("/sharing")
    admin_page.wait_for_url("**/sharing")
    admin_page.get_by_text("Create an album to share photos and videos with people in your network").wait_for()
    assert_no_error_toast(admin_page)
