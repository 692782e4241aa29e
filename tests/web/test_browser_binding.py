"""The connect flow is bound to the browser that opened the connect link (a cookie).

A ``TestClient`` is one browser: it keeps cookies across requests. "Another browser" is a second
client of the same app, with its own (empty) cookie jar.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from http.cookies import Morsel, SimpleCookie
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.models import ConnectionStatus
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings
from cdconnect.web import create_app
from tests.web.conftest import VENDOR, ServiceDriver, path_of, web_settings_for
from tests.web.test_connect_flow import assert_failure_page, assert_nothing_stored

COOKIE = "__Host-cdconnect_connect"
MISMATCH_TITLE = "This sign-in was started in another browser"


def set_cookie(response: httpx.Response, name: str = COOKIE) -> Morsel[str]:
    """The one ``Set-Cookie`` for ``name`` in ``response``, parsed."""
    headers = [value for value in response.headers.get_list("set-cookie") if name in value]
    assert len(headers) == 1, headers
    parsed: SimpleCookie = SimpleCookie()
    parsed.load(headers[0])
    return parsed[name]


def assert_cleared(response: httpx.Response, name: str = COOKIE) -> None:
    cookie = set_cookie(response, name)
    assert cookie.value == "" and cookie["max-age"] == "0"
    assert cookie["path"] == "/"


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def test_opening_a_link_sets_a_host_only_secure_cookie(
    driver: ServiceDriver, web_settings: Settings
) -> None:
    response = driver.client.get(path_of(driver.session("acme")["connect_url"]))
    assert response.status_code == 302
    cookie = set_cookie(response)
    assert len(cookie.value) >= 40
    assert cookie["secure"] is True and cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/" and cookie["domain"] == ""
    assert 0 < int(cookie["max-age"]) <= web_settings.state_ttl
    # The secret is not in the URL the browser is sent to.
    assert cookie.value not in response.headers["location"]


def test_the_same_browser_connects_and_the_cookie_is_cleared(
    driver: ServiceDriver, manager: ConnectionManager
) -> None:
    response = driver.connect("acme", return_url=VENDOR)
    assert response.status_code == 303
    assert_cleared(response)
    assert COOKIE not in driver.client.cookies
    assert manager.get_connection("acme").status is ConnectionStatus.ACTIVE


def test_a_callback_in_another_browser_shows_the_mismatch_page(
    driver: ServiceDriver, other_browser: TestClient, sandbox: SandboxServer
) -> None:
    callback = driver.callback_url("acme")
    response = other_browser.get(path_of(callback))
    assert_failure_page(response, 403, MISMATCH_TITLE, "browser_mismatch")
    assert "open the connect link again from the same browser" in response.text
    assert_cleared(response)
    assert_nothing_stored(driver.client, "acme")
    assert sandbox.control.counters().calls("authorization_code") == 0
    # The authorization is spent: the browser that opened the link cannot finish it either.
    late = driver.finish(callback)
    assert_failure_page(late, 400, "This sign-in has expired or was already used", "state_mismatch")
    assert_nothing_stored(driver.client, "acme")


def test_a_callback_with_another_browsers_cookie_is_refused(
    driver: ServiceDriver, other_browser: TestClient
) -> None:
    # The other browser opened a link of its own, so it holds a cookie: just not this one.
    other_browser.get(path_of(driver.session("globex")["connect_url"]))
    assert other_browser.cookies.get(COOKIE)
    callback = driver.callback_url("acme")
    response = other_browser.get(path_of(callback))
    assert_failure_page(response, 403, MISMATCH_TITLE, "browser_mismatch")
    assert_nothing_stored(driver.client, "acme")


def test_the_cookie_is_cleared_on_failures_too(driver: ServiceDriver) -> None:
    cancelled = driver.connect("acme", cancel=True)
    assert_failure_page(cancelled, 403, "Central Dispatch access was not granted", "access_denied")
    assert_cleared(cancelled)
    malformed = driver.client.get("/callback?state=only")
    assert malformed.status_code == 400
    assert_cleared(malformed)


def test_refused_links_and_head_requests_leave_the_cookie_alone(driver: ServiceDriver) -> None:
    connect_url = driver.session("acme")["connect_url"]
    head = driver.client.head(path_of(connect_url))
    assert "set-cookie" not in head.headers
    driver.authorize_url(connect_url)
    secret = driver.client.cookies.get(COOKIE)
    again = driver.client.get(path_of(connect_url))
    assert again.status_code == 400
    assert "set-cookie" not in again.headers
    assert driver.client.cookies.get(COOKIE) == secret


def test_a_browser_finishes_the_link_it_opened_last(
    driver: ServiceDriver, manager: ConnectionManager
) -> None:
    # One cookie per browser: opening a second link replaces the first one's binding.
    first = driver.sign_in(driver.authorize_url(driver.session("acme")["connect_url"]))
    second = driver.sign_in(driver.authorize_url(driver.session("globex")["connect_url"]))
    assert driver.finish(second).status_code == 200
    assert_failure_page(driver.finish(first), 403, MISMATCH_TITLE, "browser_mismatch")
    assert manager.get_connection("globex").status is ConnectionStatus.ACTIVE
    assert_nothing_stored(driver.client, "acme")


def test_on_plain_http_loopback_the_cookie_has_no_prefix_and_no_secure_flag(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    callback = "http://127.0.0.1/callback"
    sandbox.control.add_redirect_uri(callback)
    settings = web_settings_for(sandbox, tmp_path, redirect_uri=callback)
    with (
        open_manager(settings) as manager,
        TestClient(
            create_app(settings, manager), base_url="http://127.0.0.1", follow_redirects=False
        ) as client,
    ):
        driver = ServiceDriver(client, sandbox)
        connect_url = driver.session("acme")["connect_url"]
        assert connect_url.startswith("http://127.0.0.1/connect/")
        opened = client.get(path_of(connect_url))
        cookie = set_cookie(opened, "cdconnect_connect")
        assert cookie["secure"] == "" and cookie["httponly"] is True
        assert COOKIE not in opened.headers["set-cookie"]
        response = driver.finish(driver.sign_in(opened.headers["location"]))
        assert response.status_code == 200, response.text
        assert_cleared(response, "cdconnect_connect")
        assert manager.get_connection("acme").status is ConnectionStatus.ACTIVE


def test_the_browser_secret_is_never_logged(
    driver: ServiceDriver, other_browser: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        callback = driver.callback_url("acme")
        secret = driver.client.cookies[COOKIE]
        other_browser.cookies.set(COOKIE, "forged-" + secret, domain="testserver")
        refused = other_browser.get(path_of(callback))
    assert refused.status_code == 403
    ours = [record for record in caplog.records if record.name.startswith("cdconnect")]
    logged = "\n".join(f"{record.getMessage()} {vars(record)}" for record in ours)
    assert "browser_mismatch" in logged
    assert secret not in logged
    assert secret not in refused.text
