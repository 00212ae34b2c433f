"""The web app's OAuth login button, through a real OpenID Connect provider, in a real browser.

The admin turns OAuth on (``PUT /api/system-config``); a logged-out visitor clicks the login
page's OAuth button, signs in on the provider's page and comes back signed in: a new user,
registered from the provider's claims, on Immich's onboarding pages. The admin links the
account to the provider from the account settings, and unlinks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.browser.conftest import Signed, api_failures, open_page
from tests.e2e.conftest import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

BUTTON_TEXT = "Sign in with Family SSO"
SUBJECT = "browser-sub"
EMAIL = "sso-user@immich.app"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def oauth_on(site: ServerProcess, browser: Browser, admin: Signed, provider: str) -> str:
    """OAuth enabled by the admin through the API the settings page uses; the provider URL."""
    context = browser.new_context(base_url=site.url, storage_state=admin.storage_state)
    try:
        config: dict[str, Any] = context.request.get("/api/system-config").json()
        config["oauth"].update(
            enabled=True,
            issuerUrl=provider,
            clientId="immich-web",
            clientSecret="secret",
            allowInsecureRequests=True,
            autoRegister=True,
            buttonText=BUTTON_TEXT,
        )
        saved = context.request.put("/api/system-config", data=config)
        assert saved.status == 200, saved.text()
    finally:
        context.close()
    claims = {"email": EMAIL, "name": "Sso User", "immich_role": "user"}
    assert httpx.put(f"{provider}/users/{SUBJECT}", json=claims).status_code == 204
    return provider


@pytest.fixture
def visitor_page(
    site: ServerProcess, browser: Browser, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Page]:
    yield from open_page(site, browser, None, tmp_path, request)


def test_login_button_signs_in_through_the_provider(
    visitor_page: Page, oauth_on: str, site: ServerProcess
) -> None:
    page = visitor_page
    page.goto("/auth/login")
    page.get_by_role("button", name=BUTTON_TEXT).click()
    # The provider's own sign-in page.
    page.wait_for_url(f"{oauth_on}/oauth2/authorize**")
    page.locator("input[name=sub]").fill(SUBJECT)
    page.get_by_role("button", name="Authorize").click()
    # Back at Immich: a first sign-in goes to onboarding.
    page.wait_for_url("**/auth/onboarding**")
    me = page.request.get("/api/users/me")
    assert me.status == 200
    assert (me.json()["email"], me.json()["name"]) == (EMAIL, "Sso User")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies["immich_auth_type"] == "oauth"
    assert "immich_oauth_state" not in cookies  # spent by the callback


def test_account_settings_link_and_unlink(admin_page: Page, oauth_on: str) -> None:
    page = admin_page
    claims = {"email": "someone-else@immich.app", "name": "Admin At Sso"}
    assert httpx.put(f"{oauth_on}/users/admin-sub", json=claims).status_code == 204
    page.goto("/user-settings?isOpen=oauth")
    page.get_by_role("button", name="Link to OAuth").click()
    page.wait_for_url(f"{oauth_on}/oauth2/authorize**")
    page.locator("input[name=sub]").fill("admin-sub")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url("**/user-settings**")
    for _ in range(50):  # the page sends POST /api/oauth/link once it is back
        if page.request.get("/api/users/me").json()["oauthId"]:
            break
        page.wait_for_timeout(200)
    assert api_failures(page) == []
    assert page.request.get("/api/users/me").json()["oauthId"] == "admin-sub"
    page.goto("/user-settings?isOpen=oauth")
    page.get_by_role("button", name="Unlink OAuth").click()
    page.get_by_role("button", name="Link to OAuth").wait_for()
    assert page.request.get("/api/users/me").json()["oauthId"] == ""
