"""Rendering helpers: times, durations, abbreviations, JSON of a connection, error lines."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from cdconnect.cli.exits import ExitCode, error_lines, exit_code_for
from cdconnect.cli.output import abbreviate, connection_json, duration, iso, relative
from cdconnect.errors import (
    CDConnectError,
    ConfigurationError,
    ConnectionDisconnected,
    ConnectionNotFound,
    InvalidInput,
    ReauthorizationRequired,
    StoreError,
)
from cdconnect.models import Connection, ConnectionStatus


def test_iso_is_utc_with_a_z() -> None:
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(1_750_000_000.75) == "2025-06-15T15:06:40Z"
    assert iso(None) is None


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0s"), (59.9, "59s"), (60, "1m"), (7200, "2h"), (-3 * 86400, "3d")]
)
def test_duration(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_relative() -> None:
    assert relative(1000, now=400) == "in 10m"
    assert relative(400, now=1000) == "10m ago"
    assert relative(None) == "-"


def test_abbreviate_keeps_twelve_characters() -> None:
    assert abbreviate("eyJhbGciOiJSUzI1NiJ9.payload.signature") == "eyJhbGciOiJS…"


def test_connection_json_holds_no_secret_fields() -> None:
    connection = Connection(
        id="c1",
        external_id="acme",
        status=ConnectionStatus.ACTIVE,
        scope=("marketplace", "offline_access"),
        generation=3,
        access_expires_at=1_750_000_000.0,
        has_refresh_token=True,
        created_at=1_749_000_000.0,
        updated_at=1_750_000_000.0,
        claims=MappingProxyType({"sub": "u1"}),
    )
    data = connection_json(connection, claims=True)
    assert data["scope"] == ["marketplace", "offline_access"]
    assert data["access_expires_at"] == "2025-06-15T15:06:40Z"
    assert data["claims"] == {"sub": "u1"}
    assert "claims" not in connection_json(connection)
    assert not {k for k in data if "token" in k} - {"has_refresh_token"}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ReauthorizationRequired("acme", "grant_revoked"), ExitCode.REAUTH_REQUIRED),
        (ConnectionDisconnected("gone"), ExitCode.REAUTH_REQUIRED),
        (ConnectionNotFound("nope"), ExitCode.NOT_FOUND),
        (InvalidInput("bad id"), ExitCode.USAGE),
        (StoreError("down"), ExitCode.ERROR),
        (ConfigurationError("x"), ExitCode.ERROR),
    ],
)
def test_exit_codes(error: CDConnectError, code: ExitCode) -> None:
    assert exit_code_for(error) == code


def test_error_lines() -> None:
    assert error_lines(StoreError("database down")) == ["error: database down [store_error]"]
    assert error_lines(ConfigurationError(["A is missing", "B is bad"])) == [
        "error: A is missing [configuration_error]",
        "error: B is bad [configuration_error]",
    ]
