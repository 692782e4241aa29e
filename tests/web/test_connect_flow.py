"""The customer-facing connect flow through the service: links, callback, outcome pages."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.models import ConnectionStatus
from cdconnect.sandbox import SandboxServer
from cdconnect.web import create_app
from tests.web.conftest import ADMIN, VENDOR, ServiceDriver, path_of, web_settings_for


def replace_query(url: str, **changes: str | None) -> str:
    """``url`` with query parameters changed (None removes one)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in changes]
    query += [(k, v) for k, v in changes.items() if v is not None]
    return parts._replace(query=urlencode(query)).geturl()


def assert_nothing_stored(client: TestClient, external_id: str) -> None:
    response = client.get(f"/api/connections/{external_id}", headers=ADMIN)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "connection_not_found"


def assert_failure_page(response: httpx.Response, status: int, title: str, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert title in response.text
    assert f"<code>{code}</code>" in response.text
    # The reference on the page is the request id, also sent as a header (and logged).
    assert f'<code id="reference">{response.headers["x-request-id"]}</code>' in response.text


def test_connect_session_returns_a_link_on_this_service(driver: ServiceDriver) -> None:
    session = driver.session("acme")
    assert session["external_id"] == "acme"
    assert session["connect_url"].startswith("https://testserver/connect/")
    link = session["connect_url"].rsplit("/", 1)[1]
    assert len(link) >= 40
    assert session["expires_at"] > 0


def test_connect_without_return_url_shows_the_success_page(
    driver: ServiceDriver, manager: ConnectionManager
) -> None:
    response = driver.connect("acme")
    assert response.status_code == 200
    assert "Your Central Dispatch account is connected" in response.text
    assert 'id="outcome">Connected<' in response.text
    connection = manager.get_connection("acme")
    assert connection.status is ConnectionStatus.ACTIVE
    assert connection.has_refresh_token


def test_connect_with_return_url_redirects_with_the_outcome(driver: ServiceDriver) -> None:
    response = driver.connect("acme", return_url=VENDOR + "done?tab=integrations&cdconnect=x")
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == VENDOR + "done"
    assert parse_qs(location.query) == {
        "tab": ["integrations"],
        "cdconnect": ["connected"],
        "external_id": ["acme"],
    }


def test_reconnect_after_reauth_reports_recovered(
    driver: ServiceDriver, sandbox: SandboxServer, client: TestClient
) -> None:
    assert driver.connect("acme").status_code == 200
    sandbox.control.revoke_account("broker@example.com")
    refused = client.post("/api/connections/acme/refresh", headers=ADMIN)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "reauth_required"
    response = driver.connect("acme", return_url=VENDOR)
    assert response.status_code == 303
    assert "cdconnect=recovered" in response.headers["location"]
    page = driver.connect("acme")
    assert "connected" in page.text


def test_a_connect_link_works_once(driver: ServiceDriver) -> None:
    connect_url = driver.session("acme")["connect_url"]
    driver.authorize_url(connect_url)
    again = driver.client.get(path_of(connect_url))
    assert_failure_page(again, 400, "This connect link cannot be used", "state_mismatch")


def test_unknown_connect_link_is_refused(client: TestClient) -> None:
    response = client.get("/connect/" + secrets.token_urlsafe(32))
    assert_failure_page(response, 400, "This connect link cannot be used", "state_mismatch")


def test_head_does_not_spend_a_connect_link(driver: ServiceDriver) -> None:
    connect_url = driver.session("acme")["connect_url"]
    head = driver.client.head(path_of(connect_url))
    assert head.status_code == 200
    assert "location" not in head.headers
    driver.authorize_url(connect_url)


def test_a_replayed_callback_is_refused_and_exchanges_nothing(
    driver: ServiceDriver, sandbox: SandboxServer, manager: ConnectionManager
) -> None:
    callback = driver.callback_url("acme")
    assert driver.finish(callback).status_code == 200
    generation = manager.get_connection("acme").generation
    replay = driver.finish(callback)
    assert_failure_page(
        replay, 400, "This sign-in has expired or was already used", "state_mismatch"
    )
    assert manager.get_connection("acme").generation == generation
    assert sandbox.control.counters().calls("authorization_code") == 1


def test_a_forged_state_is_refused(driver: ServiceDriver, client: TestClient) -> None:
    callback = driver.callback_url("acme")
    forged = replace_query(callback, state=secrets.token_urlsafe(32))
    response = driver.finish(forged)
    assert_failure_page(
        response, 400, "This sign-in has expired or was already used", "state_mismatch"
    )
    assert_nothing_stored(client, "acme")


@pytest.mark.parametrize(
    "iss", ["https://evil.example", "https://127.0.0.1:1", None], ids=["other", "port", "missing"]
)
def test_issuer_mix_up_is_refused(
    driver: ServiceDriver, client: TestClient, iss: str | None
) -> None:
    callback = replace_query(driver.callback_url("acme"), iss=iss)
    response = driver.finish(callback)
    assert_failure_page(
        response, 400, "The answer did not come from Central Dispatch", "issuer_mismatch"
    )
    assert_nothing_stored(client, "acme")


def test_cancel_shows_access_not_granted(driver: ServiceDriver, client: TestClient) -> None:
    callback = driver.callback_url("acme", cancel=True, return_url=VENDOR)
    assert "error=access_denied" in callback
    response = driver.finish(callback)
    assert_failure_page(response, 403, "Central Dispatch access was not granted", "access_denied")
    assert_nothing_stored(client, "acme")


def test_an_error_answer_from_another_issuer_is_a_mix_up(
    driver: ServiceDriver, client: TestClient
) -> None:
    callback = driver.callback_url("acme", cancel=True)
    response = driver.finish(replace_query(callback, iss="https://evil.example"))
    assert_failure_page(
        response, 400, "The answer did not come from Central Dispatch", "issuer_mismatch"
    )


def test_other_error_answers_are_explained(driver: ServiceDriver, client: TestClient) -> None:
    callback = driver.callback_url("acme", cancel=True)
    response = driver.finish(replace_query(callback, error="invalid_scope"))
    assert_failure_page(response, 400, "Central Dispatch refused the sign-in", "invalid_scope")
    assert_nothing_stored(client, "acme")


@pytest.mark.parametrize(
    "query",
    ["", "?state=abc", "?code=abc", "?code=a&code=b&state=c", "?code=%ff&state=%fe"],
    ids=["empty", "no-code", "no-state", "duplicate", "bad-encoding"],
)
def test_malformed_callbacks_are_refused(client: TestClient, query: str) -> None:
    response = client.get("/callback" + query)
    assert_failure_page(
        response, 400, "The answer from Central Dispatch was incomplete", "malformed_callback"
    )


def test_a_failed_code_exchange_stores_nothing(
    driver: ServiceDriver, sandbox: SandboxServer, client: TestClient
) -> None:
    callback = driver.callback_url("acme")
    sandbox.control.set_faults(error_rate=1.0)
    response = driver.finish(callback)
    assert response.status_code == 502
    assert "Central Dispatch did not complete the connection" in response.text
    assert_nothing_stored(client, "acme")


def test_an_expired_code_fails_the_exchange(
    driver: ServiceDriver, sandbox: SandboxServer, client: TestClient
) -> None:
    callback = driver.callback_url("acme")
    sandbox.control.set_clock_offset(3600)
    response = driver.finish(callback)
    assert_failure_page(
        response, 502, "Central Dispatch did not complete the connection", "invalid_grant"
    )
    assert_nothing_stored(client, "acme")


def test_open_redirect_attempts_are_refused_before_anything_starts(client: TestClient) -> None:
    attempts = [
        "https://evil.example/cd/",
        "https://vendor.example.evil.example/cd/",
        "https://vendor.example/cdx",
        "https://vendor.example/",
        "http://vendor.example/cd/",
        "//evil.example/cd/",
        "/cd/",
        "https://vendor.example@evil.example/cd/",
        "https://user:pw@vendor.example/cd/",
        "https://vendor.example/cd/\\@evil.example",
        "javascript:alert(1)//vendor.example/cd/",
        "https://vendor.example/cd/\r\nLocation: https://evil.example",
    ]
    for url in attempts:
        response = client.post(
            "/api/connect-sessions",
            json={"external_id": "acme", "return_url": url},
            headers=ADMIN,
        )
        assert response.status_code == 422, url
        assert response.json()["error"]["code"] == "return_url_not_allowed", url


def test_failures_are_logged_with_the_reference_and_never_the_code(
    driver: ServiceDriver, caplog: pytest.LogCaptureFixture
) -> None:
    callback = driver.callback_url("acme")
    code = parse_qs(urlsplit(callback).query)["code"][0]
    state = parse_qs(urlsplit(callback).query)["state"][0]
    link = driver.session("globex")["connect_url"].rsplit("/", 1)[1]
    with caplog.at_level(logging.DEBUG):
        driver.finish(callback)
        replay = driver.finish(callback)
        driver.client.get(f"/connect/{link}")
    reference = replay.headers["x-request-id"]
    assert any(
        reference in record.getMessage() and "state_mismatch" in record.getMessage()
        for record in caplog.records
    )
    # The service's own records (the test's HTTP client logs its URLs itself).
    ours = [record for record in caplog.records if record.name.startswith("cdconnect")]
    logged = "\n".join(f"{record.getMessage()} {vars(record)}" for record in ours)
    assert code not in logged and state not in logged and link not in logged
    assert "/connect/{link}" in logged and "/callback" in logged


def test_pages_carry_the_security_headers(driver: ServiceDriver) -> None:
    session = driver.session("acme")
    redirect = driver.client.get(path_of(session["connect_url"]))
    failure = driver.client.get("/callback")
    for response in (redirect, failure):
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "style-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-request-id"]


def test_pages_load_no_external_assets(driver: ServiceDriver) -> None:
    failure = driver.client.get("/callback")
    assert 'href="/assets/cdconnect.css"' in failure.text
    assert "http://" not in failure.text and "https://" not in failure.text
    assert "<script" not in failure.text
    stylesheet = driver.client.get("/assets/cdconnect.css")
    assert stylesheet.status_code == 200
    assert stylesheet.headers["content-type"].startswith("text/css")
    assert "url(" not in stylesheet.text


def test_a_callback_path_under_connect_is_not_taken_for_a_link(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    callback = "https://testserver/connect/callback"
    settings = web_settings_for(sandbox, tmp_path, redirect_uri=callback)
    with (
        open_manager(settings) as manager,
        TestClient(
            create_app(settings, manager), base_url="https://testserver", follow_redirects=False
        ) as client,
    ):
        response = ServiceDriver(client, sandbox).connect("acme")
        assert response.status_code == 200, response.text
        assert manager.get_connection("acme").status is ConnectionStatus.ACTIVE
