"""The sandbox's hostile mode: what each kind answers, and what it commits before answering."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cdconnect.sandbox import SandboxServer, sandbox_state
from cdconnect.sandbox.hostile import HUGE_BODY_BYTES, HostileKind, commits_first
from cdconnect.sandbox.inprocess import in_process_client
from tests.sandbox.helpers import IN_PROCESS_BASE, connect, exchange, obtain_code, refresh


def _json(response: httpx.Response) -> Any:
    return json.loads(response.content)


def _is_malformed_json_with_real_tokens(response: httpx.Response) -> bool:
    try:
        json.loads(response.content)
    except ValueError:
        return b'"refresh_token": "' in response.content
    return False


#: Per kind: the media type it answers with, and what is wrong with its body.
EXPECTED: dict[HostileKind, tuple[str, Callable[[httpx.Response], bool]]] = {
    HostileKind.MALFORMED_JSON: ("application/json", _is_malformed_json_with_real_tokens),
    HostileKind.HTML_200: ("text/html", lambda r: r.text.startswith("<!DOCTYPE html>")),
    HostileKind.HUGE_BODY: (
        "application/json",
        lambda r: len(r.content) > HUGE_BODY_BYTES and _json(r)["token_type"] == "Bearer",
    ),
    HostileKind.EXPIRES_IN_TEXT: ("application/json", lambda r: _json(r)["expires_in"] == "soon"),
    HostileKind.ACCESS_TOKEN_NUMBER: (
        "application/json",
        lambda r: _json(r)["access_token"] == 123,
    ),
    HostileKind.TOKEN_TYPE_MAC: ("application/json", lambda r: _json(r)["token_type"] == "mac"),
    HostileKind.EXPIRES_IN_NEGATIVE: (
        "application/json",
        lambda r: _json(r)["expires_in"] == -3600,
    ),
    HostileKind.EXPIRES_IN_ZERO: ("application/json", lambda r: _json(r)["expires_in"] == 0),
    HostileKind.EXPIRES_IN_MISSING: (
        "application/json",
        lambda r: "expires_in" not in _json(r) and "access_token" in _json(r),
    ),
    HostileKind.OAUTH_ERROR_200: (
        "application/json",
        lambda r: _json(r)["error"] == "server_error",
    ),
    HostileKind.EMPTY_BODY: ("application/json", lambda r: r.content == b""),
    HostileKind.JSON_ARRAY: (
        "application/json",
        lambda r: _json(r)[0]["token_type"] == "Bearer",
    ),
}


@pytest.fixture
def http(sandbox_app: FastAPI) -> Iterator[httpx.Client]:
    with in_process_client(sandbox_app, IN_PROCESS_BASE) as client:
        yield client


def set_faults(http: httpx.Client, **switches: object) -> dict[str, Any]:
    response = http.post("/_sandbox/faults", json=switches)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def counters(http: httpx.Client) -> dict[str, Any]:
    result: dict[str, Any] = http.get("/_sandbox/counters").json()
    return result


def test_every_kind_is_listed_with_its_expectation() -> None:
    assert set(EXPECTED) == set(HostileKind)


@pytest.mark.parametrize("kind", list(HostileKind))
def test_each_kind_answers_a_refresh_with_200_and_its_garbage(
    http: httpx.Client, kind: HostileKind
) -> None:
    tokens = connect(http, IN_PROCESS_BASE)
    set_faults(http, hostile=kind.value, hostile_count=1)

    response = refresh(http, tokens["refresh_token"])

    media_type, is_expected_garbage = EXPECTED[kind]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["cache-control"] == "no-store"
    assert is_expected_garbage(response)
    assert counters(http)["token_calls"]["refresh_token"] == {"hostile": 1}
    assert set_faults(http)["hostile_count"] == 0


@pytest.mark.parametrize("kind", list(HostileKind))
def test_the_commit_decision_of_each_kind_is_visible_in_the_rotations(
    http: httpx.Client, kind: HostileKind
) -> None:
    tokens = connect(http, IN_PROCESS_BASE)
    set_faults(http, hostile=kind.value, hostile_count=1)
    refresh(http, tokens["refresh_token"])
    rotations = sum(counters(http)["refreshes_by_grant"].values())

    again = refresh(http, tokens["refresh_token"])

    if commits_first(kind, None):
        assert rotations == 1
        assert again.json()["error"] == "invalid_grant"
        assert counters(http)["refresh_reuse"] == 1
    else:
        assert rotations == 0
        assert again.status_code == 200


def test_committed_garbage_carries_the_real_new_refresh_token(http: httpx.Client) -> None:
    # The worst case: the garbage holds a working token, so a client that "salvages" fields
    # from a response it should refuse would get away with it until the next rotation.
    tokens = connect(http, IN_PROCESS_BASE)
    set_faults(http, hostile="expires_in_text", hostile_count=1)

    hidden = refresh(http, tokens["refresh_token"]).json()["refresh_token"]

    assert refresh(http, hidden).status_code == 200


def test_answer_first_garbage_carries_decoys_and_consumes_nothing(http: httpx.Client) -> None:
    tokens = connect(http, IN_PROCESS_BASE)
    set_faults(http, hostile="json_array", hostile_count=1, hostile_commit=False)

    decoy = refresh(http, tokens["refresh_token"]).json()[0]["refresh_token"]

    assert refresh(http, decoy).json()["error"] == "invalid_grant"
    assert refresh(http, tokens["refresh_token"]).status_code == 200
    assert counters(http)["refresh_reuse"] == 0


def test_hostile_commit_true_makes_an_oauth_error_lie(http: httpx.Client) -> None:
    tokens = connect(http, IN_PROCESS_BASE)
    set_faults(http, hostile="oauth_error_200", hostile_count=1, hostile_commit=True)

    assert refresh(http, tokens["refresh_token"]).json()["error"] == "server_error"

    assert refresh(http, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_the_count_runs_out(http: httpx.Client) -> None:
    tokens = connect(http, IN_PROCESS_BASE)
    set_faults(http, hostile="html_200", hostile_count=2, hostile_commit=False)

    outcomes = [refresh(http, tokens["refresh_token"]).status_code for _ in range(2)]
    last = refresh(http, tokens["refresh_token"])

    assert outcomes == [200, 200]
    assert last.headers["content-type"] == "application/json"
    assert "access_token" in last.json()
    assert counters(http)["token_calls"]["refresh_token"] == {"hostile": 2, "ok": 1}


def test_a_failing_refresh_does_not_use_up_a_commit_first_answer(http: httpx.Client) -> None:
    set_faults(http, hostile="html_200", hostile_count=1)

    failed = refresh(http, "0" * 64 + "-1")

    assert failed.json()["error"] == "invalid_grant"
    assert set_faults(http)["hostile_count"] == 1


def test_code_exchanges_are_answered_hostile_and_the_code_is_burned(
    http: httpx.Client, sandbox_app: FastAPI
) -> None:
    code = obtain_code(http, IN_PROCESS_BASE)
    set_faults(http, hostile="malformed_json", hostile_count=1)

    garbage = exchange(http, code)
    replay = exchange(http, code)

    assert garbage.status_code == 200
    assert _is_malformed_json_with_real_tokens(garbage)
    assert replay.json()["error"] == "invalid_grant"
    assert counters(http)["token_calls"]["authorization_code"] == {
        "hostile": 1,
        "invalid_grant": 1,
    }
    # The grant made from the code was revoked when the code was replayed.
    assert [g.revoked_reason for g in sandbox_state(sandbox_app).grants.values()] == [
        "authorization_code_reuse"
    ]


def test_client_credentials_are_never_hostile(http: httpx.Client) -> None:
    set_faults(http, hostile="html_200", hostile_count=1, hostile_commit=False)

    response = http.post(
        "/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "cdconnect-service",
            "client_secret": "sandbox-service-secret-0123456789abcdef",
        },
    )

    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"
    assert set_faults(http)["hostile_count"] == 1


def test_drop_after_commit_takes_precedence(http: httpx.Client) -> None:
    tokens = connect(http, IN_PROCESS_BASE)
    set_faults(http, hostile="html_200", hostile_count=1, drop_after_commit=1)

    with pytest.raises(httpx.RemoteProtocolError):
        refresh(http, tokens["refresh_token"])

    assert set_faults(http)["hostile_count"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"hostile": "teapot"},
        {"hostile": "html_200", "hostile_count": -1},
        {"hostile_count": 1},
        {"hostile_commit": "maybe"},
        {"hostile_count": None},
    ],
    ids=["unknown-kind", "negative-count", "count-without-kind", "commit-not-bool", "null-count"],
)
def test_bad_hostile_switches_are_422(http: httpx.Client, body: dict[str, Any]) -> None:
    response = http.post("/_sandbox/faults", json=body)

    assert response.status_code == 422
    assert set_faults(http)["hostile"] is None


def test_reset_switches_hostile_answers_off(http: httpx.Client) -> None:
    set_faults(http, hostile="empty_body", hostile_count=3, hostile_commit=True)

    http.post("/_sandbox/reset")

    faults = set_faults(http)
    assert (faults["hostile"], faults["hostile_count"], faults["hostile_commit"]) == (None, 0, None)


def test_null_switches_hostile_answers_off(http: httpx.Client) -> None:
    set_faults(http, hostile="empty_body", hostile_count=1, hostile_commit=False)

    faults = set_faults(http, hostile=None, hostile_count=0, hostile_commit=None)

    assert (faults["hostile"], faults["hostile_count"], faults["hostile_commit"]) == (None, 0, None)


def test_the_control_client_sets_hostile_answers_over_https(sandbox: SandboxServer) -> None:
    with sandbox.http_client() as http:
        tokens = connect(http, sandbox.issuer)
        switches = sandbox.control.set_faults(hostile="huge_body", hostile_count=1)
        assert (switches["hostile"], switches["hostile_count"]) == ("huge_body", 1)

        response = refresh(http, tokens["refresh_token"])

    assert response.status_code == 200
    assert len(response.content) > HUGE_BODY_BYTES
    assert sandbox.control.counters().calls("refresh_token", "hostile") == 1
