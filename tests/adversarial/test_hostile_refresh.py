"""Every hostile answer against the manager's refresh (SQLite vault, HTTPS sandbox).

Invariants, whatever the garbage: a clear typed error or the old token while it is valid;
nothing from the garbage is ever stored; the connection ends ``active`` (old token, or a genuine
new rotation) or ``reauth_required`` with ``rotation_response_lost`` when the refresh token was
consumed and the one retry met ``invalid_grant``; the service stays healthy.
"""

from __future__ import annotations

import pytest

from cdconnect.errors import ReauthorizationRequired, RefreshUnavailable
from cdconnect.models import ConnectionStatus, ReauthReason
from cdconnect.sandbox.hostile import HostileKind, commits_first
from cdconnect.sandbox.opaque import digest
from cdconnect.vault.api import ConnectionRow
from tests.adversarial.helpers import Service, assert_no_token_shapes
from tests.web.conftest import ADMIN

COMMIT_FIRST = [kind for kind in HostileKind if commits_first(kind, None)]
ANSWER_FIRST = [kind for kind in HostileKind if not commits_first(kind, None)]
#: Garbage the client cannot tell from a processed request: it retries once, never more.
AMBIGUOUS = [kind for kind in HostileKind if kind is not HostileKind.OAUTH_ERROR_200]
LOST = ReauthReason.ROTATION_RESPONSE_LOST.value


def assert_tokens_untouched(before: ConnectionRow, after: ConnectionRow) -> None:
    assert after.generation == before.generation
    assert after.access_token == before.access_token
    assert after.refresh_token == before.refresh_token
    assert after.access_expires_at == before.access_expires_at


def assert_genuine_rotation(service: Service, before: ConnectionRow, after: ConnectionRow) -> None:
    """One rotation, to tokens the sandbox really issued and currently honours."""
    assert after.generation == before.generation + 1
    assert after.status is ConnectionStatus.ACTIVE
    assert after.access_token is not None and after.refresh_token is not None
    assert after.access_token != before.access_token
    current = {grant.current_refresh for grant in service.sandbox.state.grants.values()}
    assert digest(after.refresh_token.get_secret_value()) in current
    assert service.listings_status(after.access_token.get_secret_value()) == 200


def refresh_outcomes(service: Service) -> dict[str, int]:
    return dict(service.sandbox.control.counters().token_calls.get("refresh_token", {}))


@pytest.fixture
def connected(service: Service) -> ConnectionRow:
    service.connect_library("acme")
    return service.row("acme")


# -- the library (sync driver) ------------------------------------------------------------------


@pytest.mark.parametrize("kind", COMMIT_FIRST)
def test_committed_garbage_ends_in_rotation_response_lost(
    service: Service, connected: ConnectionRow, kind: HostileKind
) -> None:
    service.set_hostile(kind)

    with pytest.raises(ReauthorizationRequired) as caught:
        service.manager.refresh("acme", force=True)

    assert caught.value.reason == LOST
    after = service.row("acme")
    assert after.status is ConnectionStatus.REAUTH_REQUIRED
    assert after.reauth_reason == LOST
    assert_tokens_untouched(connected, after)
    # One garbage answer, exactly one retry with the same token, then no more attempts.
    assert refresh_outcomes(service) == {"hostile": 1, "invalid_grant": 1}
    with pytest.raises(ReauthorizationRequired):
        service.manager.access_token("acme")
    assert refresh_outcomes(service) == {"hostile": 1, "invalid_grant": 1}
    service.assert_healthy()


@pytest.mark.parametrize("kind", ANSWER_FIRST)
def test_an_oauth_error_with_200_serves_the_old_token_and_recovers(
    service: Service, connected: ConnectionRow, kind: HostileKind
) -> None:
    service.set_hostile(kind)

    served = service.manager.refresh("acme", force=True)

    assert connected.access_token is not None
    assert served.access_token == connected.access_token
    after = service.row("acme")
    assert after.status is ConnectionStatus.ACTIVE
    assert after.failure_count == 1 and after.last_error == "server_error"
    assert_tokens_untouched(connected, after)
    service.manager.refresh("acme", force=True)
    assert_genuine_rotation(service, connected, service.row("acme"))
    service.assert_healthy()


@pytest.mark.parametrize("kind", AMBIGUOUS)
def test_uncommitted_garbage_once_is_survived_by_the_single_retry(
    service: Service, connected: ConnectionRow, kind: HostileKind
) -> None:
    service.set_hostile(kind, commit=False)

    token = service.manager.refresh("acme", force=True)

    after = service.row("acme")
    assert_genuine_rotation(service, connected, after)
    assert token.access_token == after.access_token
    assert refresh_outcomes(service) == {"hostile": 1, "ok": 1}
    service.assert_healthy()


@pytest.mark.parametrize("kind", AMBIGUOUS)
def test_uncommitted_garbage_twice_degrades_to_the_old_token(
    service: Service, connected: ConnectionRow, kind: HostileKind
) -> None:
    service.set_hostile(kind, count=2, commit=False)

    served = service.manager.refresh("acme", force=True)

    assert served.access_token == connected.access_token
    after = service.row("acme")
    assert after.status is ConnectionStatus.ACTIVE
    assert after.last_error == "invalid_token_response"
    assert_tokens_untouched(connected, after)
    # Never a loop: the garbage answer and the one retry.
    assert refresh_outcomes(service) == {"hostile": 2}
    service.manager.refresh("acme", force=True)
    assert_genuine_rotation(service, connected, service.row("acme"))
    service.assert_healthy()


@pytest.mark.parametrize("kind", [HostileKind.HTML_200, HostileKind.HUGE_BODY])
def test_garbage_after_the_old_token_expired_is_refresh_unavailable(
    service: Service, connected: ConnectionRow, kind: HostileKind
) -> None:
    service.clock.advance(3600)
    service.set_hostile(kind, count=2, commit=False)

    with pytest.raises(RefreshUnavailable) as caught:
        service.manager.access_token("acme")

    assert_no_token_shapes(str(caught.value))
    after = service.row("acme")
    assert after.status is ConnectionStatus.ACTIVE
    assert_tokens_untouched(connected, after)
    assert service.manager.access_token("acme").generation == connected.generation + 1
    service.assert_healthy()


def test_an_oauth_error_that_lies_after_committing_is_reported_at_the_next_refresh(
    service: Service, connected: ConnectionRow
) -> None:
    # A well-formed error after the server consumed the token is indistinguishable from a real
    # refusal: the client keeps serving the old token, and the next refresh finds the grant dead.
    # What matters is that this is reported, never silent, and nothing bogus is stored.
    service.set_hostile(HostileKind.OAUTH_ERROR_200, commit=True)
    assert service.manager.refresh("acme", force=True).access_token == connected.access_token

    with pytest.raises(ReauthorizationRequired) as caught:
        service.manager.refresh("acme", force=True)

    assert caught.value.reason == ReauthReason.GRANT_REVOKED.value
    after = service.row("acme")
    assert after.status is ConnectionStatus.REAUTH_REQUIRED
    assert_tokens_untouched(connected, after)
    service.assert_healthy()


@pytest.mark.parametrize("kind", [HostileKind.MALFORMED_JSON, HostileKind.EXPIRES_IN_ZERO])
def test_the_keepalive_worker_never_stores_garbage(
    service: Service, connected: ConnectionRow, kind: HostileKind
) -> None:
    service.set_hostile(kind)

    summary = service.manager.keepalive_once(interval=0)

    assert (summary.claimed, summary.reauth_required) == (1, 1)
    after = service.row("acme")
    assert after.reauth_reason == LOST
    assert_tokens_untouched(connected, after)
    service.assert_healthy()


# -- the service (async driver) -----------------------------------------------------------------


@pytest.mark.parametrize("kind", list(HostileKind))
def test_the_refresh_api_answers_every_kind_with_a_clear_status(
    service: Service, connected: ConnectionRow, kind: HostileKind
) -> None:
    service.set_hostile(kind)

    response = service.client.post("/api/connections/acme/refresh", headers=ADMIN)

    if commits_first(kind, None):
        assert response.status_code == 409
        assert_no_token_shapes(response.text)
        error = response.json()["error"]
        assert (error["code"], error["reason"]) == ("reauth_required", LOST)
    else:
        assert response.status_code == 200
        assert connected.access_token is not None
        assert response.json()["access_token"] == connected.access_token.get_secret_value()
    assert_tokens_untouched(connected, service.row("acme"))
    status = service.client.get("/api/connections/acme", headers=ADMIN).json()
    assert status["generation"] == connected.generation
    service.assert_healthy()


def test_the_access_token_api_after_expiry_and_garbage_is_503(
    service: Service, connected: ConnectionRow
) -> None:
    service.clock.advance(3600)
    service.set_hostile(HostileKind.EMPTY_BODY, count=2, commit=False)

    response = service.client.post("/api/connections/acme/access-token", headers=ADMIN)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "refresh_unavailable"
    assert response.headers["retry-after"]
    assert_no_token_shapes(response.text)
    assert_tokens_untouched(connected, service.row("acme"))
    service.assert_healthy()
