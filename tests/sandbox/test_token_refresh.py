"""``grant_type=refresh_token``: single-use rotation, replay, expiry, revocation."""

from __future__ import annotations

import httpx
import pytest

from cdconnect.sandbox import (
    BROKER_EMAIL,
    CARRIER_EMAIL,
    SERVICE_CLIENT_ID,
    SERVICE_CLIENT_SECRET,
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
    connect,
    refresh,
)

DAY = 24 * 3600


def _error(response: httpx.Response) -> str:
    error: str = response.json()["error"]
    return error


def test_every_refresh_rotates_the_refresh_token(client: httpx.Client, state: SandboxState) -> None:
    first = connect(client, IN_PROCESS_BASE)

    second = refresh(client, first["refresh_token"])

    assert second.status_code == 200
    body = second.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "refresh_token", "scope"}
    assert body["refresh_token"] != first["refresh_token"]
    assert body["access_token"] != first["access_token"]
    assert body["scope"] == "marketplace offline_access"
    assert second.headers["cache-control"] == "no-store"
    assert claims_of(body["access_token"])["sid"] == claims_of(first["access_token"])["sid"]
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_a_refresh_token_is_single_use(client: httpx.Client, state: SandboxState) -> None:
    first = connect(client, IN_PROCESS_BASE)
    second = refresh(client, first["refresh_token"]).json()

    replay = refresh(client, first["refresh_token"])

    assert replay.status_code == 400
    assert _error(replay) == "invalid_grant"
    assert first["refresh_token"] not in replay.text
    assert state.counters.refresh_reuse == 1
    # By default (like CD) a replay does not kill the chain: the newest token still works.
    assert refresh(client, second["refresh_token"]).status_code == 200


def test_revoke_grant_on_reuse_kills_the_whole_chain(
    make_app: AppFactory, open_client: ClientOpener
) -> None:
    client = open_client(make_app(revoke_grant_on_reuse=True))
    first = connect(client, IN_PROCESS_BASE)
    second = refresh(client, first["refresh_token"]).json()

    assert _error(refresh(client, first["refresh_token"])) == "invalid_grant"

    assert _error(refresh(client, second["refresh_token"])) == "invalid_grant"


def test_counters_count_rotations_per_grant(client: httpx.Client, state: SandboxState) -> None:
    broker = connect(client, IN_PROCESS_BASE)
    carrier = connect(client, IN_PROCESS_BASE, email=CARRIER_EMAIL)
    token = broker["refresh_token"]
    for _ in range(3):
        token = refresh(client, token).json()["refresh_token"]
    refresh(client, carrier["refresh_token"])
    refresh(client, carrier["refresh_token"])

    counters = state.counters.as_json()
    assert counters["token_calls"]["refresh_token"] == {"ok": 4, "invalid_grant": 1}
    assert counters["token_calls"]["authorization_code"] == {"ok": 2}
    assert counters["refresh_reuse"] == 1
    assert sorted(counters["refreshes_by_grant"].values()) == [1, 3]
    broker_grant = claims_of(broker["access_token"])["sid"]
    assert counters["refreshes_by_grant"][broker_grant] == 3


def test_sliding_lifetime(client: httpx.Client, clock: FakeClock) -> None:
    token = connect(client, IN_PROCESS_BASE)["refresh_token"]
    clock.advance(15 * DAY - 1)
    token = refresh(client, token).json()["refresh_token"]  # each new token gets 15 days again
    clock.advance(15 * DAY)

    assert _error(refresh(client, token)) == "invalid_grant"


def test_absolute_lifetime_caps_the_chain(client: httpx.Client, clock: FakeClock) -> None:
    token = connect(client, IN_PROCESS_BASE)["refresh_token"]
    for _ in range(2):
        clock.advance(14 * DAY)
        token = refresh(client, token).json()["refresh_token"]
    clock.advance(2 * DAY - 1)  # 30 days minus one second after the login
    token = refresh(client, token).json()["refresh_token"]
    clock.advance(1)

    assert _error(refresh(client, token)) == "invalid_grant"


def test_lifetimes_are_configurable(
    make_app: AppFactory, open_client: ClientOpener, clock: FakeClock
) -> None:
    client = open_client(make_app(refresh_sliding_ttl=100, access_token_ttl=30))
    body = connect(client, IN_PROCESS_BASE)
    assert body["expires_in"] == 30
    clock.advance(100)

    assert _error(refresh(client, body["refresh_token"])) == "invalid_grant"


def test_the_config_clock_offset_applies(
    make_app: AppFactory, open_client: ClientOpener, clock: FakeClock
) -> None:
    client = open_client(make_app(clock_offset=1000))

    body = connect(client, IN_PROCESS_BASE)

    assert claims_of(body["access_token"])["iat"] == int(clock.now) + 1000


def test_a_refresh_token_is_bound_to_its_client(
    make_app: AppFactory, open_client: ClientOpener, config: SandboxConfig
) -> None:
    other = ClientRegistration("cdconnect-other", "other-secret")
    client = open_client(make_app(clients=config.with_clients([other]).clients))
    token = connect(client, IN_PROCESS_BASE)["refresh_token"]

    stolen = refresh(client, token, auth=("cdconnect-other", "other-secret"))

    assert _error(stolen) == "invalid_grant"
    assert refresh(client, token).status_code == 200  # not consumed by the other client


def test_the_service_client_may_not_refresh(client: httpx.Client) -> None:
    token = connect(client, IN_PROCESS_BASE)["refresh_token"]

    response = refresh(client, token, auth=(SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET))

    assert _error(response) == "unauthorized_client"
    assert refresh(client, token).status_code == 200


def test_unknown_or_missing_refresh_token(client: httpx.Client) -> None:
    assert _error(refresh(client, "F" * 64 + "-1")) == "invalid_grant"
    assert _error(refresh(client, "")) == "invalid_request"


def test_a_refresh_may_narrow_the_scope_but_not_widen_it(client: httpx.Client) -> None:
    token = connect(client, IN_PROCESS_BASE)["refresh_token"]

    wider = refresh(client, token, scope="marketplace membership")
    narrower = refresh(client, token, scope="marketplace")

    assert _error(wider) == "invalid_scope"
    assert narrower.status_code == 200
    assert narrower.json()["scope"] == "marketplace"


def test_revoking_an_account_kills_its_grants_only(
    client: httpx.Client, state: SandboxState
) -> None:
    broker = connect(client, IN_PROCESS_BASE, email=BROKER_EMAIL)
    carrier = connect(client, IN_PROCESS_BASE, email=CARRIER_EMAIL)

    assert state.revoke_account(BROKER_EMAIL.upper()) == 1

    assert _error(refresh(client, broker["refresh_token"])) == "invalid_grant"
    assert refresh(client, carrier["refresh_token"]).status_code == 200
    assert state.revoke_account(BROKER_EMAIL) == 0  # already revoked


@pytest.mark.parametrize("reason", ["refresh_token_reuse", "revoked_by_sandbox"])
def test_a_revoked_grant_reports_invalid_grant(
    client: httpx.Client, state: SandboxState, reason: str
) -> None:
    body = connect(client, IN_PROCESS_BASE)
    assert state.revoke_grant(claims_of(body["access_token"])["sid"], reason)

    assert _error(refresh(client, body["refresh_token"])) == "invalid_grant"
