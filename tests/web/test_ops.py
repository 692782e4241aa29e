"""Operations endpoints: liveness, readiness, metrics, the OpenAPI document and the API page."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings
from cdconnect.vault.crypto import KeyRing
from cdconnect.web import create_app
from tests.web.conftest import ADMIN, ServiceDriver, web_settings_for


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {}}
    assert response.headers["cache-control"] == "no-store"


def test_readyz_when_everything_works(driver: ServiceDriver, client: TestClient) -> None:
    assert client.get("/readyz").json() == {
        "status": "ready",
        "checks": {"database": "ok", "key_ring": "ok"},
    }
    driver.connect("acme")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "key_ring": "ok"}


def test_readyz_fails_when_stored_tokens_do_not_decrypt(
    driver: ServiceDriver, sandbox: SandboxServer, tmp_path: Path
) -> None:
    driver.connect("acme")
    # The same database opened with another key ring: the tokens stored above are unreadable.
    settings = web_settings_for(sandbox, tmp_path, keys=KeyRing.generate().export())
    with open_manager(settings) as manager, TestClient(create_app(settings, manager)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "checks": {"database": "ok", "key_ring": "decryption_error"},
    }


def test_readyz_fails_when_the_schema_is_not_current(
    web_settings: Settings, manager: ConnectionManager, client: TestClient
) -> None:
    database = web_settings.effective_database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as raw:
        raw.execute("DELETE FROM alembic_version")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body == {"status": "not_ready", "checks": {"database": "store_error"}}
    assert database not in response.text


def test_metrics_exposes_library_counters_and_connections_by_status(
    driver: ServiceDriver, client: TestClient
) -> None:
    driver.connect("acme")
    driver.connect("globex")
    client.delete("/api/connections/globex", headers=ADMIN)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'cdconnect_connections{status="active"} 1.0' in text
    assert 'cdconnect_connections{status="disconnected"} 1.0' in text
    assert 'cdconnect_connections{status="reauth_required"} 0.0' in text
    assert "cdconnect_token_requests_total{" in text
    assert "cdconnect_events_total{" in text
    assert 'cdconnect_http_requests_total{method="GET",route="/callback",status="200"}' in text
    assert "acme" not in text and "globex" not in text


def test_metrics_still_answer_when_the_database_is_broken(
    web_settings: Settings, manager: ConnectionManager, client: TestClient
) -> None:
    database = web_settings.effective_database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as raw:
        raw.execute("DROP TABLE connections")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "cdconnect_connections{" not in response.text
    assert "cdconnect_http_requests_total" in response.text


def test_openapi_documents_every_endpoint_and_the_bearer_scheme(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operations = {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    expected_admin = {
        ("POST", "/api/connect-sessions"),
        ("GET", "/api/connections"),
        ("GET", "/api/connections/{external_id}"),
        ("DELETE", "/api/connections/{external_id}"),
        ("POST", "/api/connections/{external_id}/access-token"),
        ("POST", "/api/connections/{external_id}/refresh"),
        ("GET", "/api/client-token"),
    }
    public = {
        ("GET", "/callback"),
        ("GET", "/connect/{link}"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
    }
    assert expected_admin | public <= set(operations)
    for key in expected_admin:
        assert operations[key]["security"] == [{"HTTPBearer": []}], key
        assert "401" in operations[key]["responses"], key
    for key in public:
        assert "security" not in operations[key], key
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_docs_page_is_self_contained(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/api/connections/{external_id}/access-token" in response.text
    assert "admin key" in response.text
    assert "<script" not in response.text
    assert "cdn" not in response.text.lower()
    assert client.get("/redoc").status_code == 404
