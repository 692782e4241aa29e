"""Fixtures for the end-to-end tests in headless Chromium (Debian's ``/usr/bin/chromium``).

How Chromium trusts the test servers: each server's certificate comes from a test CA
(``trustme``); Chromium is started with ``--ignore-certificate-errors-spki-list`` holding the
SHA-256 pins of exactly those servers' public keys (read over connections verified against the
test CAs). Certificate checking stays on for everything else — this is not
``ignore_https_errors``.

The service is reached by the browser under its own host name (``SERVICE_HOST``, mapped to
127.0.0.1 by Chromium's ``--host-resolver-rules``), while the sandbox and the vendor app stay on
127.0.0.1: coming back from the sandbox to the callback is then a cross-site navigation, as it
is from Central Dispatch, so the tests show the browser-binding cookie (``SameSite=Lax``)
survives it. Cookies ignore ports, so with everything on 127.0.0.1 they would prove nothing.

The tests skip, with the reason shown, when Chromium is not installed, unless
``CDCONNECT_REQUIRE_BROWSER=1`` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from playwright.sync_api import Browser, Page, sync_playwright

from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings
from cdconnect.web import create_app
from tests.web.browser.servers import ThreadedServer, served_certificate, spki_pin
from tests.web.browser.vendor import vendor_app
from tests.web.conftest import ADMIN_KEY, web_settings_for

CHROMIUM = Path("/usr/bin/chromium")
#: The service's host name as the browser knows it (resolved to 127.0.0.1 by Chromium only).
SERVICE_HOST = "cdconnect-service.test"
REQUIRE_BROWSER_ENV = "CDCONNECT_REQUIRE_BROWSER"
#: Where to also keep screenshots for a human to look at (never committed).
SCREENSHOT_DIR_ENV = "CDCONNECT_SCREENSHOT_DIR"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class TestCA:
    __test__ = False

    ca_file: Path
    leaf: Any  # trustme.LeafCert for 127.0.0.1

    @property
    def pin(self) -> str:
        return spki_pin(self.leaf.cert_chain_pems[0].bytes())


@dataclass(frozen=True)
class Stack:
    """The sandbox, the service and the vendor app, all over HTTPS on loopback."""

    sandbox: SandboxServer
    service: ThreadedServer
    vendor: ThreadedServer
    settings: Settings
    manager: ConnectionManager
    service_ca: Path

    @property
    def public_url(self) -> str:
        """The service's origin as browsers see it (test code talks to ``service.url``)."""
        return f"https://{SERVICE_HOST}:{self.service.port}"


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    if CHROMIUM.is_file():
        return CHROMIUM
    reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
    if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_BROWSER_ENV}=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def service_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    ca = trustme.CA(organization_name="cdconnect service tests")
    ca_file = tmp_path_factory.mktemp("service-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return TestCA(ca_file, ca.issue_cert("127.0.0.1", SERVICE_HOST))


@pytest.fixture(scope="module")
def browser(
    chromium_executable: Path, sandbox_server: SandboxServer, service_ca: TestCA
) -> Iterator[Browser]:
    sandbox_certificate = served_certificate(
        "127.0.0.1", sandbox_server.port, str(sandbox_server.ca_file)
    )
    pins = ",".join([spki_pin(sandbox_certificate), service_ca.pin])
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium_executable),
            args=[
                *LAUNCH_ARGS,
                f"--ignore-certificate-errors-spki-list={pins}",
                f"--host-resolver-rules=MAP {SERVICE_HOST} 127.0.0.1",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def stack(sandbox: SandboxServer, service_ca: TestCA, tmp_path: Path) -> Iterator[Stack]:
    service, vendor = ThreadedServer(service_ca.leaf), ThreadedServer(service_ca.leaf)
    callback = f"https://{SERVICE_HOST}:{service.port}/callback"
    sandbox.control.add_redirect_uri(callback)
    settings = web_settings_for(
        sandbox, tmp_path, redirect_uri=callback, allowed_return_urls=f"{vendor.url}/"
    )
    manager = open_manager(settings)
    try:
        service.start(create_app(settings, manager))
        vendor.start(vendor_app(service.url, ADMIN_KEY, str(service_ca.ca_file), vendor.url))
        yield Stack(sandbox, service, vendor, settings, manager, service_ca.ca_file)
    finally:
        vendor.stop()
        service.stop()
        manager.close()


@pytest.fixture
def screenshot(tmp_path: Path) -> Any:
    """``screenshot(page, name)``: keep a PNG in tmp_path (and in $CDCONNECT_SCREENSHOT_DIR)."""

    def take(page: Page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        extra = os.environ.get(SCREENSHOT_DIR_ENV)
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            (Path(extra) / path.name).write_bytes(path.read_bytes())
        return path

    return take
