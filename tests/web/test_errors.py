"""Error answers: the status of every library error, and crashes answered like everything else."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cdconnect.errors import (
    AccessDenied,
    BrowserMismatch,
    CDConnectError,
    ConfigurationError,
    ConnectionDisconnected,
    ConnectionNotFound,
    DecryptionError,
    InvalidClient,
    InvalidGrant,
    InvalidInput,
    IssuerMismatch,
    LeaseTimeout,
    ReauthorizationRequired,
    RequestNotSent,
    ResponseLost,
    ReturnUrlNotAllowed,
    StateMismatch,
    StoreError,
    TemporarilyUnavailable,
    UnauthorizedClient,
)
from cdconnect.web.errors import library_error_response, status_for


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInput("x"), 422),
        (ReturnUrlNotAllowed("x"), 422),
        (ConnectionNotFound("x"), 404),
        (ReauthorizationRequired("acme", "grant_revoked"), 409),
        (ConnectionDisconnected("x"), 409),
        (LeaseTimeout("x"), 503),
        (StateMismatch("x"), 400),
        (IssuerMismatch("x"), 400),
        (AccessDenied(), 403),
        (BrowserMismatch("x"), 403),
        (InvalidClient(), 502),
        (UnauthorizedClient(), 502),
        (InvalidGrant(), 502),
        (TemporarilyUnavailable(), 503),
        (RequestNotSent("x"), 503),
        (ResponseLost("x"), 503),
        (StoreError("x"), 503),
        (DecryptionError("x"), 500),
        (ConfigurationError("x"), 500),
        (CDConnectError("x"), 500),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_every_library_error_has_its_status_and_code(error: CDConnectError, status: int) -> None:
    assert status_for(error) == status
    response = library_error_response(error)
    assert response.status_code == status
    assert (response.headers.get("retry-after") is not None) == (status == 503)


def test_reauth_required_carries_its_reason() -> None:
    response = library_error_response(ReauthorizationRequired("acme", "rotation_response_lost"))
    assert b'"reason":"rotation_response_lost"' in response.body
    assert b'"code":"reauth_required"' in response.body


def test_a_crash_is_a_json_500_with_a_reference_and_the_usual_headers(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    def crash() -> None:
        raise RuntimeError("an unexpected bug")

    app.add_api_route("/crash", crash)
    with TestClient(app) as client, caplog.at_level(logging.ERROR):
        response = client.get("/crash")
    assert response.status_code == 500
    reference = response.headers["x-request-id"]
    assert response.json() == {
        "error": {"code": "internal_error", "message": f"internal error (reference {reference})"}
    }
    assert "an unexpected bug" not in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["cache-control"] == "no-store"
    assert any(reference in record.getMessage() for record in caplog.records)
