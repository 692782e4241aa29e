"""The protected resource that imitates ``marketplace-api`` listings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cdconnect.sandbox import SandboxState, SigningKey
from tests.sandbox.helpers import (
    IN_PROCESS_BASE,
    FakeClock,
    claims_of,
    connect,
    exchange,
    obtain_code,
)

V2 = "application/vnd.coxauto.v2+json"
V1 = "application/vnd.coxauto.v1+json"


def _get(
    client: httpx.Client,
    token: str | None,
    path: str = "/marketplace/v2/listings",
    accept: str | None = V2,
) -> httpx.Response:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if accept is not None:
        headers["Accept"] = accept
    return client.get(path, headers=headers)


@pytest.fixture
def access_token(client: httpx.Client) -> str:
    token: str = connect(client, IN_PROCESS_BASE)["access_token"]
    return token


def test_a_valid_token_gets_a_cd_style_collection(client: httpx.Client, access_token: str) -> None:
    response = _get(client, access_token)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(V2)
    body = response.json()
    assert body["count"] == 60
    assert len(body["items"]) == 25
    assert body["href"] == IN_PROCESS_BASE + "/marketplace/v2/listings?limit(1,25)"
    assert body["next"] == IN_PROCESS_BASE + "/marketplace/v2/listings?limit(26,25)"
    assert "previous" not in body
    assert body["items"][0]["marketplaceId"] == 10000


def test_v1_has_its_own_media_type(client: httpx.Client, access_token: str) -> None:
    response = _get(client, access_token, "/marketplace/v1/listings", accept=V1)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(V1)
    assert "marketplaceId" not in response.json()["items"][0]


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", f"text/html, {V2};q=0.9"])
def test_generic_accept_values_are_fine(
    client: httpx.Client, access_token: str, accept: str | None
) -> None:
    assert _get(client, access_token, accept=accept).status_code == 200


def test_the_wrong_version_is_not_acceptable(client: httpx.Client, access_token: str) -> None:
    response = _get(client, access_token, accept=V1)

    assert response.status_code == 406
    assert response.json()["errors"][0]["code"] == "NOT_ACCEPTABLE"


def test_pagination_uses_the_literal_limit_token(client: httpx.Client, access_token: str) -> None:
    body = _get(client, access_token, "/marketplace/v2/listings?limit(51,25)").json()

    assert body["items"][0]["id"] == "sandbox-listing-0051"
    assert len(body["items"]) == 10
    assert body["previous"].endswith("?limit(26,25)")
    assert "next" not in body


@pytest.mark.parametrize("limit", ["limit(0,25)", "limit(1,0)", "limit(1,501)"])
def test_invalid_limits_are_400(client: httpx.Client, access_token: str, limit: str) -> None:
    response = _get(client, access_token, f"/marketplace/v2/listings?{limit}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_LIMIT"


@pytest.mark.parametrize("authorization", [None, "Basic abc", "Bearer "])
def test_no_bearer_token_is_401_without_error_code(
    client: httpx.Client, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = client.get("/marketplace/v2/listings", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="marketplace-api"'
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


def _assert_invalid_token(response: httpx.Response, problem: str) -> None:
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="marketplace-api", error="invalid_token"')
    assert problem in challenge


def test_a_garbage_token_is_invalid(client: httpx.Client) -> None:
    _assert_invalid_token(_get(client, "not-a-jwt"), "signature")


def test_a_token_signed_by_another_key_is_invalid(client: httpx.Client, access_token: str) -> None:
    forged = SigningKey.generate().sign(claims_of(access_token))

    _assert_invalid_token(_get(client, forged), "signature")


def test_a_tampered_token_is_invalid(client: httpx.Client, access_token: str) -> None:
    header, payload, signature = access_token.split(".")
    tampered = ".".join(
        (header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB"))
    )

    _assert_invalid_token(_get(client, tampered), "signature")


def _signed(state: SandboxState, access_token: str, **changes: Any) -> str:
    claims = {**claims_of(access_token), **changes}
    return state.signing_key.sign({k: v for k, v in claims.items() if v is not None})


def test_the_issuer_must_match(
    client: httpx.Client, state: SandboxState, access_token: str
) -> None:
    token = _signed(state, access_token, iss="https://id.centraldispatch.com")

    _assert_invalid_token(_get(client, token), "issuer")


def test_an_expired_token_is_invalid(
    client: httpx.Client, clock: FakeClock, access_token: str
) -> None:
    clock.advance(3599)
    assert _get(client, access_token).status_code == 200

    clock.advance(1)

    _assert_invalid_token(_get(client, access_token), "expired")


def test_the_control_clock_offset_expires_tokens(
    client: httpx.Client, state: SandboxState, access_token: str
) -> None:
    state.set_clock_offset(3600)

    _assert_invalid_token(_get(client, access_token), "expired")


def test_missing_exp_or_future_nbf_is_invalid(
    client: httpx.Client, state: SandboxState, access_token: str
) -> None:
    no_exp = _signed(state, access_token, exp=None)
    future = _signed(state, access_token, nbf=claims_of(access_token)["iat"] + 60)

    _assert_invalid_token(_get(client, no_exp), "expired")
    _assert_invalid_token(_get(client, future), "not valid yet")


def test_scope_marketplace_is_required(client: httpx.Client) -> None:
    token = exchange(
        client, obtain_code(client, IN_PROCESS_BASE, scope="membership offline_access")
    ).json()["access_token"]

    response = _get(client, token)

    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="marketplace"' in response.headers["www-authenticate"]


def test_a_space_delimited_scope_claim_is_understood(
    client: httpx.Client, state: SandboxState, access_token: str
) -> None:
    token = _signed(state, access_token, scope="marketplace offline_access")

    assert _get(client, token).status_code == 200
