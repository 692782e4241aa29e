"""The whole connect flow in a real headless Chromium, every server over HTTPS.

vendor page → "Connect Central Dispatch" → the service's connect link → the sandbox's login page
→ the service's callback → back to the vendor page showing "connected"; then the token API hands
out a token that the sandbox's protected listings resource accepts. The browser-binding cookie
set by the connect link survives the cross-site trip through the login page; a sign-in finished
in another browser (a forwarded authorize URL) is refused.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Cookie, Page

from cdconnect.models import ConnectionStatus
from cdconnect.sandbox import BROKER_EMAIL, TEST_PASSWORD
from tests.web.browser.conftest import Stack
from tests.web.conftest import ADMIN

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]
BINDING_COOKIE = "__Host-cdconnect_connect"


def binding_cookies(page: Page, stack: Stack) -> list[Cookie]:
    return [c for c in page.context.cookies(stack.public_url) if c["name"] == BINDING_COOKIE]


def new_connect_url(stack: Stack, external_id: str) -> str:
    with httpx.Client(verify=ssl.create_default_context(cafile=stack.service_ca)) as service:
        response = service.post(
            f"{stack.service.url}/api/connect-sessions",
            json={"external_id": external_id},
            headers=ADMIN,
        )
    connect_url: str = response.json()["connect_url"]
    return connect_url


def sign_in(page: Page, stack: Stack, screenshot: Screenshot | None = None) -> None:
    page.wait_for_url(f"{stack.sandbox.issuer}/connect/authorize**")
    page.get_by_label("Email").fill(BROKER_EMAIL)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    if screenshot is not None:
        screenshot(page, "login-page")
    page.get_by_role("button", name="Sign in").click()


def csp_violations(page: Page) -> list[str]:
    violations: list[str] = []

    def collect(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(message.text)

    page.on("console", collect)
    return violations


def test_connect_from_the_vendor_page_and_use_the_token(
    stack: Stack, page: Page, screenshot: Screenshot
) -> None:
    page.goto(f"{stack.vendor.url}/?customer=acme")
    page.get_by_role("link", name="Connect Central Dispatch").click()
    page.wait_for_url(f"{stack.sandbox.issuer}/connect/authorize**")
    (cookie,) = binding_cookies(page, stack)
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "Lax")
    assert (cookie["domain"], cookie["path"]) == ("cdconnect-service.test", "/")
    sign_in(page, stack, screenshot)
    page.wait_for_url(f"{stack.vendor.url}/done?**")
    assert page.locator("#status").inner_text() == "Central Dispatch: connected"
    assert binding_cookies(page, stack) == []
    screenshot(page, "vendor-connected")
    assert stack.manager.get_connection("acme").status is ConnectionStatus.ACTIVE

    with httpx.Client(verify=ssl.create_default_context(cafile=stack.service_ca)) as service:
        token = service.post(
            f"{stack.service.url}/api/connections/acme/access-token", headers=ADMIN
        ).json()
    with httpx.Client(verify=stack.sandbox.client_ssl_context()) as sandbox:
        listings = sandbox.get(
            f"{stack.sandbox.issuer}/marketplace/v2/listings",
            headers={
                "Authorization": f"Bearer {token['access_token']}",
                "Accept": "application/vnd.coxauto.v2+json",
            },
        )
    assert listings.status_code == 200
    assert listings.json()["count"] > 0


def test_without_a_return_url_the_service_shows_its_success_page(
    stack: Stack, page: Page, screenshot: Screenshot
) -> None:
    violations = csp_violations(page)
    page.goto(new_connect_url(stack, "acme"))
    sign_in(page, stack)
    page.wait_for_url(f"{stack.public_url}/callback?**")
    assert page.get_by_role("heading").inner_text() == "Your Central Dispatch account is connected"
    # The stylesheet loaded under the strict CSP (the status badge has its green background).
    badge = page.locator("#outcome")
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(227, 244, 232)"
    assert violations == []
    screenshot(page, "service-success")


def test_cancel_on_the_login_page_shows_the_failure(
    stack: Stack, page: Page, screenshot: Screenshot
) -> None:
    page.goto(f"{stack.vendor.url}/?customer=globex")
    page.get_by_role("link", name="Connect Central Dispatch").click()
    page.wait_for_url(f"{stack.sandbox.issuer}/connect/authorize**")
    with page.expect_response(lambda response: "/callback?" in response.url) as answer:
        page.get_by_role("button", name="Cancel").click()
    assert answer.value.status == 403
    assert page.get_by_role("heading").inner_text() == "Central Dispatch access was not granted"
    assert "nothing was connected" in page.get_by_role("alert").inner_text()
    assert page.locator("#reference").inner_text() == answer.value.headers["x-request-id"]
    screenshot(page, "service-cancelled")
    with httpx.Client(verify=ssl.create_default_context(cafile=stack.service_ca)) as service:
        missing = service.get(f"{stack.service.url}/api/connections/globex", headers=ADMIN)
    assert missing.status_code == 404


def test_a_sign_in_finished_in_another_browser_is_refused(
    stack: Stack, page: Page, browser: Browser, screenshot: Screenshot
) -> None:
    # The customer opens the link, then forwards the sign-in page's address to someone else.
    page.goto(new_connect_url(stack, "acme"))
    page.wait_for_url(f"{stack.sandbox.issuer}/connect/authorize**")
    forwarded = page.url
    other = browser.new_context()
    try:
        elsewhere = other.new_page()
        elsewhere.goto(forwarded)
        with elsewhere.expect_response(lambda response: "/callback?" in response.url) as answer:
            sign_in(elsewhere, stack)
        assert answer.value.status == 403
        heading = elsewhere.get_by_role("heading").inner_text()
        assert heading == "This sign-in was started in another browser"
        assert "nothing was connected" in elsewhere.get_by_role("alert").inner_text()
        screenshot(elsewhere, "service-browser-mismatch")
    finally:
        other.close()
    with httpx.Client(verify=ssl.create_default_context(cafile=stack.service_ca)) as service:
        missing = service.get(f"{stack.service.url}/api/connections/acme", headers=ADMIN)
    assert missing.status_code == 404
