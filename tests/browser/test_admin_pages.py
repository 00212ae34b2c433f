"""The administration pages of Immich's web app against this server: the job queues, the system
settings and the external libraries (issue 13). What the admin sees: the page's own titles, no
red toast, and no failed ``/api`` call behind it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import Signed, api_failures, assert_no_error_toast
from tests.e2e.conftest import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e


def test_the_job_queues_page_lists_immichs_queues(admin_page: Page) -> None:
    admin_page.goto("/admin/queues")
    for title in ("Generate Thumbnails", "Extract Metadata", "Transcode Videos"):
        admin_page.get_by_text(title, exact=True).first.wait_for()
    assert_no_error_toast(admin_page)
    assert api_failures(admin_page) == []


def test_the_system_settings_page_opens_its_sections(admin_page: Page) -> None:
    admin_page.goto("/admin/system-settings")
    for title in ("Image Settings", "Job Settings", "Video Transcoding Settings", "External Library"):
        admin_page.get_by_text(title, exact=True).first.wait_for()
    assert_no_error_toast(admin_page)
    assert api_failures(admin_page) == []


@pytest.fixture(scope="module")
def library_name(site: ServerProcess, browser: Browser, admin: Signed, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An external library of the admin, made through the API, with one import folder."""
    folder: Path = tmp_path_factory.mktemp("family-archive")
    context = browser.new_context(base_url=site.url, storage_state=admin.storage_state)
    try:
        me = context.request.get("/api/users/me").json()
        made = context.request.post(
            "/api/libraries", data={"ownerId": me["id"], "name": "Family archive", "importPaths": [str(folder)]}
        )
        assert made.status == 201, made.text()
    finally:
        context.close()
    return "Family archive"


def test_the_library_page_lists_the_library(admin_page: Page, library_name: str) -> None:
    admin_page.goto("/admin/library-management")
    admin_page.get_by_text(library_name).first.wait_for()
    assert_no_error_toast(admin_page)
    assert api_failures(admin_page) == []
