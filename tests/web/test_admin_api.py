"""The admin / token-broker API: authentication, every endpoint, every error answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.sandbox import CARRIER_EMAIL, SandboxServer
from cdconnect.testing import OffsetClock
from cdconnect.web import create_app
from tests.web.conftest import ADMIN, ADMIN_KEY, OTHER_ADMIN_KEY, ServiceDriver, web_settings_for

LISTINGS = "/marketplace/v2/listings"

ADMIN_ENDPOINTS = [
    ("POST", "/api/connect-sessions"),
    ("GET", "/api/connections"),
    ("GET", "/api/connections/acme"),
    ("POST", "/api/connections/acme/access-token"),
    ("POST", "/api/connections/acme/refresh"),
    ("DELETE", "/api/connections/acme"),
    ("GET", "/api/client-token"),
]


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


def listings_status(sandbox: SandboxServer, token: str) -> int:
    with httpx.Client(verify=sandbox.client_ssl_context()) as http:
        response = http.get(
            sandbox.issuer + LISTINGS,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.coxauto.v2+json",
            },
        )
    return response.status_code


# -- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ADMIN_ENDPOINTS)
def test_every_admin_endpoint_needs_a_key(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        f"Basic {ADMIN_KEY}",
        ADMIN_KEY,
        f"Bearer {ADMIN_KEY} extra",
        f"Token {ADMIN_KEY}",
        "Bearer \u00e9\u0000",
    ],
    ids=["empty", "no-key", "blank-key", "basic", "no-scheme", "two-words", "token", "control"],
)
def test_malformed_authorization_is_401(client: TestClient, header: str) -> None:
    response = client.get("/api/connections", headers={"Authorization": header.encode("utf-8")})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


@pytest.mark.parametrize(
    "key",
    [
        "wrong",
        ADMIN_KEY[:-1],
        ADMIN_KEY + "0",
        ADMIN_KEY.upper(),
        "x" + ADMIN_KEY[1:],
        f"{ADMIN_KEY},{OTHER_ADMIN_KEY}",
        ADMIN_KEY + OTHER_ADMIN_KEY,
    ],
    ids=["wrong", "prefix", "suffix", "case", "first-char", "both-keys", "joined"],
)
def test_wrong_and_almost_right_keys_are_403(client: TestClient, key: str) -> None:
    response = client.get("/api/connections", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"


def test_an_oversized_authorization_header_is_malformed(client: TestClient) -> None:
    response = client.get("/api/connections", headers={"Authorization": "Bearer " + "a" * 5000})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


@pytest.mark.parametrize("key", [ADMIN_KEY, OTHER_ADMIN_KEY])
def test_every_configured_key_works_and_the_scheme_is_case_insensitive(
    client: TestClient, key: str
) -> None:
    for scheme in ("Bearer", "bearer", "BEARER"):
        response = client.get("/api/connections", headers={"Authorization": f"{scheme} {key}"})
        assert response.status_code == 200


def test_without_configured_keys_the_admin_api_is_disabled(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    settings = web_settings_for(sandbox, tmp_path, admin_tokens=None)
    with open_manager(settings) as manager, TestClient(create_app(settings, manager)) as client:
        response = client.get("/api/connections", headers=ADMIN)
    assert response.status_code == 403
    assert error_of(response)["code"] == "admin_api_disabled"


# -- connections --------------------------------------------------------------------------------


def test_list_connections_pages_and_filters(driver: ServiceDriver, client: TestClient) -> None:
    for external_id in ("acme", "globex", "initech"):
        driver.connect(external_id)
    client.delete("/api/connections/globex", headers=ADMIN)
    first = client.get("/api/connections?limit=2", headers=ADMIN).json()
    assert [item["external_id"] for item in first["items"]] == ["acme", "globex"]
    assert first["next_cursor"]
    second = client.get(
        "/api/connections", params={"limit": 2, "cursor": first["next_cursor"]}, headers=ADMIN
    ).json()
    assert [item["external_id"] for item in second["items"]] == ["initech"]
    assert second["next_cursor"] is None
    active = client.get("/api/connections?status=active", headers=ADMIN).json()
    assert [item["external_id"] for item in active["items"]] == ["acme", "initech"]
    gone = client.get("/api/connections?status=disconnected", headers=ADMIN).json()
    assert [item["external_id"] for item in gone["items"]] == ["globex"]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "limit=abc", "status=bogus", "cursor=not-a-cursor"],
)
def test_list_connections_rejects_bad_parameters(client: TestClient, query: str) -> None:
    response = client.get(f"/api/connections?{query}", headers=ADMIN)
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_input"


def test_get_connection_shows_status_never_tokens(
    driver: ServiceDriver, client: TestClient, manager: ConnectionManager
) -> None:
    driver.connect("acme")
    token = manager.access_token("acme").access_token.get_secret_value()
    response = client.get("/api/connections/acme", headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["external_id"] == "acme"
    assert body["status"] == "active"
    assert body["scope"] == "marketplace offline_access"
    assert body["has_refresh_token"] is True
    assert body["generation"] == 1
    assert body["reauth_reason"] is None
    assert body["access_expires_at"] > body["created_at"] > 0
    assert token not in response.text
    assert "refresh_token" not in body and "access_token" not in body


def test_unknown_connections_are_404_everywhere(client: TestClient) -> None:
    for method, path in ADMIN_ENDPOINTS[2:6]:
        response = client.request(method, path.replace("acme", "nobody"), headers=ADMIN)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "connection_not_found"


def test_invalid_external_ids_are_422(client: TestClient) -> None:
    for external_id in ("x" * 256, "a%00b", "%20"):
        response = client.get(f"/api/connections/{external_id}", headers=ADMIN)
        assert response.status_code == 422, external_id
        assert error_of(response)["code"] == "invalid_input"


def test_external_ids_may_contain_slashes(driver: ServiceDriver, client: TestClient) -> None:
    driver.connect("tenant/acme")
    assert client.get("/api/connections/tenant/acme", headers=ADMIN).json()["status"] == "active"
    token = client.post("/api/connections/tenant%2Facme/access-token", headers=ADMIN)
    assert token.status_code == 200


# -- tokens -------------------------------------------------------------------------------------


def test_access_token_is_accepted_by_the_listings_api(
    driver: ServiceDriver, client: TestClient, sandbox: SandboxServer
) -> None:
    driver.connect("acme")
    response = client.post("/api/connections/acme/access-token", headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_at", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "marketplace offline_access"
    assert 0 < body["expires_in"] <= 3600
    assert listings_status(sandbox, body["access_token"]) == 200
    again = client.post("/api/connections/acme/access-token", headers=ADMIN).json()
    assert again["access_token"] == body["access_token"]
    assert sandbox.control.counters().calls("refresh_token") == 0


def test_refresh_rotates_and_returns_the_new_token(
    driver: ServiceDriver, client: TestClient, sandbox: SandboxServer
) -> None:
    driver.connect("acme")
    before = client.post("/api/connections/acme/access-token", headers=ADMIN).json()
    response = client.post("/api/connections/acme/refresh", headers=ADMIN)
    assert response.status_code == 200
    after = response.json()
    assert after["access_token"] != before["access_token"]
    assert listings_status(sandbox, after["access_token"]) == 200
    assert client.get("/api/connections/acme", headers=ADMIN).json()["generation"] == 2
    assert sandbox.control.counters().calls("refresh_token", "ok") == 1


def test_a_revoked_grant_is_409_reauth_required_with_the_reason(
    driver: ServiceDriver, client: TestClient, sandbox: SandboxServer
) -> None:
    driver.connect("acme")
    sandbox.control.revoke_account("broker@example.com")
    response = client.post("/api/connections/acme/refresh", headers=ADMIN)
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "reauth_required"
    assert error["reason"] == "grant_revoked"
    token = client.post("/api/connections/acme/access-token", headers=ADMIN)
    assert token.status_code == 409
    status = client.get("/api/connections/acme", headers=ADMIN).json()
    assert status["status"] == "reauth_required"
    assert status["reauth_reason"] == "grant_revoked"


def test_transient_refresh_failures_after_expiry_are_503(
    driver: ServiceDriver, client: TestClient, sandbox: SandboxServer, clock: OffsetClock
) -> None:
    driver.connect("acme")
    clock.advance(3600)
    sandbox.control.set_faults(error_rate=1.0, error_with_body=True)
    response = client.post("/api/connections/acme/access-token", headers=ADMIN)
    assert response.status_code == 503
    assert error_of(response)["code"] == "refresh_unavailable"
    assert response.headers["retry-after"]


def test_disconnect_forgets_the_tokens(driver: ServiceDriver, client: TestClient) -> None:
    driver.connect("acme")
    response = client.delete("/api/connections/acme", headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["status"] == "disconnected"
    assert response.json()["has_refresh_token"] is False
    token = client.post("/api/connections/acme/access-token", headers=ADMIN)
    assert token.status_code == 409
    assert error_of(token)["code"] == "disconnected"


def test_client_token(client: TestClient, sandbox: SandboxServer) -> None:
    response = client.get("/api/client-token", headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert "offline_access" not in body["scope"].split()
    assert listings_status(sandbox, body["access_token"]) == 200
    assert sandbox.control.counters().calls("client_credentials") == 1
    client.get("/api/client-token", headers=ADMIN)
    assert sandbox.control.counters().calls("client_credentials") == 1


def test_wrong_client_credentials_are_502_invalid_client(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    settings = web_settings_for(sandbox, tmp_path, service_client_secret="not-the-secret")
    with open_manager(settings) as manager, TestClient(create_app(settings, manager)) as client:
        response = client.get("/api/client-token", headers=ADMIN)
    assert response.status_code == 502
    assert error_of(response)["code"] == "invalid_client"
    assert "not-the-secret" not in response.text


# -- request validation -------------------------------------------------------------------------


def test_connect_session_validation(client: TestClient) -> None:
    cases: list[tuple[dict[str, Any] | str, int, str]] = [
        ("{not json", 400, "malformed_json"),
        ({}, 422, "invalid_input"),
        ({"external_id": 5}, 422, "invalid_input"),
        ({"external_id": "acme", "surprise": 1}, 422, "invalid_input"),
        ({"external_id": "x" * 256}, 422, "invalid_input"),
        ({"external_id": "  "}, 422, "invalid_input"),
        ({"external_id": "acme", "return_url": "https://x/" + "a" * 3000}, 422, "invalid_input"),
    ]
    for body, status, code in cases:
        if isinstance(body, str):
            response = client.post(
                "/api/connect-sessions",
                content=body,
                headers={**ADMIN, "Content-Type": "application/json"},
            )
        else:
            response = client.post("/api/connect-sessions", json=body, headers=ADMIN)
        assert response.status_code == status, body
        assert error_of(response)["code"] == code, body


def test_connect_session_scope_as_string_or_list(driver: ServiceDriver) -> None:
    for scope in ("marketplace offline_access", ["marketplace", "offline_access"]):
        url = driver.authorize_url(driver.session("acme", scope=scope)["connect_url"])
        assert (
            "scope=marketplace%20offline_access" in url or "scope=marketplace+offline_access" in url
        )


def test_validation_messages_never_echo_values(client: TestClient) -> None:
    response = client.post(
        "/api/connect-sessions", json={"external_id": ["s3cr3t-value"]}, headers=ADMIN
    )
    assert response.status_code == 422
    assert "s3cr3t-value" not in response.text


def test_oversized_bodies_are_413(client: TestClient) -> None:
    big = b'{"external_id": "' + b"a" * (70 * 1024) + b'"}'
    announced = client.post(
        "/api/connect-sessions",
        content=big,
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert announced.status_code == 413
    assert error_of(announced)["code"] == "request_too_large"
    assert announced.headers["x-request-id"]

    def chunks() -> Any:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    streamed = client.post(
        "/api/connect-sessions",
        content=chunks(),
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert error_of(streamed)["code"] == "request_too_large"


def test_unknown_routes_and_methods_answer_json(client: TestClient) -> None:
    missing = client.get("/api/nothing-here", headers=ADMIN)
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    wrong = client.put("/api/client-token", headers=ADMIN)
    assert wrong.status_code == 405
    assert error_of(wrong)["code"] == "method_not_allowed"


def test_another_customer_is_a_separate_connection(
    driver: ServiceDriver, client: TestClient
) -> None:
    driver.connect("acme")
    connect_url = driver.session("globex")["connect_url"]
    callback = driver.sign_in(driver.authorize_url(connect_url), email=CARRIER_EMAIL)
    assert driver.finish(callback).status_code == 200
    listed = client.get("/api/connections", headers=ADMIN).json()["items"]
    assert [item["external_id"] for item in listed] == ["acme", "globex"]
    assert listed[0]["claims"] != listed[1]["claims"]
