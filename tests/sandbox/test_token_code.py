"""``POST /connect/token`` with ``grant_type=authorization_code`` and client authentication."""

from __future__ import annotations

import base64
import re

import httpx
import jwt
import pytest

from cdconnect.sandbox import (
    CARRIER_EMAIL,
    CLI_REDIRECT_URI,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SERVICE_CLIENT_ID,
    SERVICE_CLIENT_SECRET,
    SERVICE_REDIRECT_URI,
    ClientRegistration,
    SandboxConfig,
    SandboxState,
)
from tests.sandbox.helpers import (
    IN_PROCESS_BASE,
    AppFactory,
    ClientOpener,
    FakeClock,
    claims_of,
    exchange,
    obtain_code,
    pkce_pair,
    refresh,
)

REFRESH_SHAPE = re.compile(r"[0-9A-F]{64}-1")


def _error(response: httpx.Response) -> str:
    error: str = response.json()["error"]
    return error


def test_exchange_answers_like_central_dispatch(client: httpx.Client, state: SandboxState) -> None:
    response = exchange(client, obtain_code(client, IN_PROCESS_BASE))

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "refresh_token", "scope"}
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "marketplace offline_access"
    assert REFRESH_SHAPE.fullmatch(body["refresh_token"])
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    assert header["kid"] == state.signing_key.kid


def test_access_token_claims(client: httpx.Client, clock: FakeClock) -> None:
    body = exchange(client, obtain_code(client, IN_PROCESS_BASE, email=CARRIER_EMAIL)).json()

    claims = claims_of(body["access_token"])
    assert claims["iss"] == IN_PROCESS_BASE
    assert claims["sub"] == "3f1c2a9e-0000-4000-8000-000000000002"
    assert claims["customer_id"] == "200002"
    assert claims["client_id"] == DEMO_CLIENT_ID
    assert claims["scope"] == ["marketplace", "offline_access"]
    assert claims["iat"] == int(clock.now)
    assert claims["exp"] == int(clock.now) + 3600
    assert claims["jti"] and claims["sid"]


def test_nothing_secret_is_kept_in_plain_text(client: httpx.Client, state: SandboxState) -> None:
    code = obtain_code(client, IN_PROCESS_BASE)
    body = exchange(client, code).json()

    dump = repr((state.codes, state.grants, state.refresh_tokens))
    assert code not in dump
    assert body["refresh_token"] not in dump


def test_client_secret_basic_works_too(client: httpx.Client) -> None:
    code = obtain_code(client, IN_PROCESS_BASE)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "https://127.0.0.1:8443/callback",
    }

    response = client.post("/connect/token", data=form, auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET))

    assert response.status_code == 200


def test_basic_credentials_are_base64_of_id_colon_secret(client: httpx.Client) -> None:
    raw = base64.b64encode(f"{SERVICE_CLIENT_ID}:{SERVICE_CLIENT_SECRET}".encode()).decode()
    form = {"grant_type": "client_credentials"}

    response = client.post("/connect/token", data=form, headers={"Authorization": f"Basic {raw}"})

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("auth", "form_auth"),
    [
        (None, {}),
        (None, {"client_id": DEMO_CLIENT_ID}),
        (None, {"client_id": DEMO_CLIENT_ID, "client_secret": "wrong"}),
        (None, {"client_id": "nobody", "client_secret": DEMO_CLIENT_SECRET}),
        (None, {"client_secret": DEMO_CLIENT_SECRET}),
        ((DEMO_CLIENT_ID, "wrong"), {}),
        ((DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), {"client_id": SERVICE_CLIENT_ID}),
    ],
)
def test_bad_client_authentication_is_401_invalid_client(
    client: httpx.Client, auth: tuple[str, str] | None, form_auth: dict[str, str]
) -> None:
    form = {"grant_type": "client_credentials", **form_auth}

    response = client.post("/connect/token", data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)

    assert response.status_code == 401
    assert _error(response) == "invalid_client"
    assert response.json()["error_description"]
    assert ("www-authenticate" in response.headers) == (auth is not None)


def test_basic_credentials_are_form_urldecoded_first(
    make_app: AppFactory, open_client: ClientOpener, config: SandboxConfig
) -> None:
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before base64 ("+" is a space).
    odd = ClientRegistration(
        "odd client", "p@ss:word+", allowed_grant_types=("client_credentials",)
    )
    client = open_client(make_app(clients=config.with_clients([odd]).clients))
    raw = base64.b64encode(b"odd+client:p%40ss%3Aword%2B").decode()

    response = client.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "scope": "marketplace"},
        headers={"Authorization": f"Basic {raw}"},
    )

    assert response.status_code == 200


def test_malformed_basic_header_is_invalid_client(client: httpx.Client) -> None:
    for value in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()):
        response = client.post(
            "/connect/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": value},
        )
        assert response.status_code == 401
        assert _error(response) == "invalid_client"


def test_two_authentication_methods_are_an_invalid_request(client: httpx.Client) -> None:
    form = {"grant_type": "client_credentials", "client_secret": DEMO_CLIENT_SECRET}

    response = client.post("/connect/token", data=form, auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET))

    assert response.status_code == 400
    assert _error(response) == "invalid_request"


def test_a_code_works_once_and_a_replay_revokes_what_it_issued(
    client: httpx.Client, state: SandboxState
) -> None:
    code = obtain_code(client, IN_PROCESS_BASE)
    first = exchange(client, code).json()

    replay = exchange(client, code)

    assert replay.status_code == 400
    assert _error(replay) == "invalid_grant"
    assert _error(refresh(client, first["refresh_token"])) == "invalid_grant"
    assert state.counters.code_reuse == 1
    [grant] = state.grants_json()
    assert grant["revoked_reason"] == "authorization_code_reuse"


def test_a_code_is_bound_to_its_client(
    make_app: AppFactory, open_client: ClientOpener, config: SandboxConfig
) -> None:
    other = ("cdconnect-other", "other-secret")
    registration = ClientRegistration(other[0], other[1], redirect_uris=(SERVICE_REDIRECT_URI,))
    client = open_client(make_app(clients=config.with_clients([registration]).clients))
    code = obtain_code(client, IN_PROCESS_BASE)

    stolen = exchange(client, code, auth=other)

    assert stolen.status_code == 400
    assert _error(stolen) == "invalid_grant"
    # A failed presentation burns the code (as IdentityServer does).
    assert _error(exchange(client, code)) == "invalid_grant"


@pytest.mark.parametrize("redirect_uri", [CLI_REDIRECT_URI, ""])
def test_a_code_is_bound_to_its_redirect_uri(client: httpx.Client, redirect_uri: str) -> None:
    code = obtain_code(client, IN_PROCESS_BASE)

    response = exchange(client, code, redirect_uri=redirect_uri)

    assert _error(response) == "invalid_grant"


def test_a_code_expires_after_its_ttl(client: httpx.Client, clock: FakeClock) -> None:
    code = obtain_code(client, IN_PROCESS_BASE)
    clock.advance(60)

    assert _error(exchange(client, code)) == "invalid_grant"


def test_a_code_is_good_just_before_its_ttl(client: httpx.Client, clock: FakeClock) -> None:
    code = obtain_code(client, IN_PROCESS_BASE)
    clock.advance(59)

    assert exchange(client, code).status_code == 200


def test_unknown_or_missing_code(client: httpx.Client) -> None:
    assert _error(exchange(client, "0" * 64 + "-1")) == "invalid_grant"
    assert _error(exchange(client, "")) == "invalid_request"


def test_pkce_s256_round_trip(client: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    code = obtain_code(
        client, IN_PROCESS_BASE, code_challenge=challenge, code_challenge_method="S256"
    )

    assert exchange(client, code, verifier=verifier).status_code == 200


@pytest.mark.parametrize("verifier", [None, "x" * 43, "short", "y" * 129])
def test_pkce_rejects_a_missing_or_wrong_verifier(
    client: httpx.Client, verifier: str | None
) -> None:
    _, challenge = pkce_pair()
    code = obtain_code(
        client, IN_PROCESS_BASE, code_challenge=challenge, code_challenge_method="S256"
    )

    assert _error(exchange(client, code, verifier=verifier)) == "invalid_grant"


def test_a_verifier_without_a_challenge_is_refused(client: httpx.Client) -> None:
    verifier, _ = pkce_pair()
    code = obtain_code(client, IN_PROCESS_BASE)

    assert _error(exchange(client, code, verifier=verifier)) == "invalid_grant"


def test_without_offline_access_there_is_no_refresh_token(client: httpx.Client) -> None:
    code = obtain_code(client, IN_PROCESS_BASE, scope="marketplace")

    body = exchange(client, code).json()

    assert "refresh_token" not in body
    assert body["scope"] == "marketplace"


def test_the_granted_scope_is_what_the_token_response_reports(
    client: httpx.Client, state: SandboxState
) -> None:
    state.update_faults({"granted_scope": "listing_service offline_access"})

    body = exchange(client, obtain_code(client, IN_PROCESS_BASE)).json()

    assert body["scope"] == "listing_service offline_access"
    assert "refresh_token" in body


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, 400, "unauthorized_client"),
    ],
)
def test_grant_type_problems(
    client: httpx.Client, form: dict[str, str], status: int, error: str
) -> None:
    credentials = {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}

    response = client.post("/connect/token", data={**credentials, **form})

    assert response.status_code == status
    assert _error(response) == error


def test_the_service_client_may_not_redeem_codes(client: httpx.Client) -> None:
    code = obtain_code(client, IN_PROCESS_BASE)

    response = exchange(client, code, auth=(SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET))

    assert _error(response) == "unauthorized_client"


def test_only_url_encoded_forms_are_accepted(client: httpx.Client) -> None:
    body = {
        "grant_type": "client_credentials",
        "client_id": SERVICE_CLIENT_ID,
        "client_secret": SERVICE_CLIENT_SECRET,
    }

    response = client.post("/connect/token", json=body)

    assert response.status_code == 400
    assert _error(response) == "invalid_request"


def test_repeated_parameters_are_an_invalid_request(client: httpx.Client) -> None:
    content = (
        f"grant_type=client_credentials&client_id={SERVICE_CLIENT_ID}"
        f"&client_secret={SERVICE_CLIENT_SECRET}&scope=marketplace&scope=membership"
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    response = client.post("/connect/token", content=content, headers=headers)

    assert _error(response) == "invalid_request"
    assert "scope" in response.json()["error_description"]


def test_a_body_that_is_not_utf8_is_an_invalid_request(client: httpx.Client) -> None:
    response = client.post(
        "/connect/token",
        content=b"grant_type=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert _error(response) == "invalid_request"


def test_errors_never_echo_secrets(client: httpx.Client) -> None:
    code = obtain_code(client, IN_PROCESS_BASE)
    exchange(client, code)

    replay = exchange(client, code)
    wrong = client.post(
        "/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": "s3cr3t-value",
        },
    )

    assert code not in replay.text
    assert "s3cr3t-value" not in wrong.text
