"""The refresh algorithm of DESIGN §4, written once as a generator of effects.

Invariants this code exists to keep:

* a refresh token is only ever presented by the holder of the lease on its generation;
* a waiter never presents a token it read before someone else's rotation (it re-reads, and the
  lease claim is conditional on the generation it read);
* new tokens are persisted (fenced on the generation) before they are handed out;
* ``invalid_grant`` is only fatal when the generation did not move (otherwise we lost a race and
  adopt the winner's token);
* an ambiguous failure (the server may have consumed the token) is retried once, never looped.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cdconnect.errors import (
    ConnectionDisconnected,
    ConnectionNotFound,
    Delivery,
    InvalidGrant,
    LeaseTimeout,
    OAuthError,
    ReauthorizationRequired,
    RefreshUnavailable,
    TokenEndpointError,
)
from cdconnect.manager.effects import (
    AcquireLease,
    Effect,
    MarkReauth,
    ReadRow,
    RecordFailure,
    RenewLease,
    SendRefresh,
    Sleep,
    StoreRotation,
)
from cdconnect.models import AccessToken, Clock, ConnectionStatus, ReauthReason, TokenResponse
from cdconnect.oauth import read_claims
from cdconnect.vault.api import ConnectionRow, NewTokens

log = logging.getLogger("cdconnect.manager")

#: A token this close to expiry is never handed out, even when degrading.
MIN_USEFUL_SECONDS = 5.0


class Outcome(StrEnum):
    """How a flow produced its token (metrics label)."""

    STORED = "stored"  # the stored token was still fresh (cold cache)
    ADOPTED = "adopted"  # another worker rotated while we waited or raced
    ROTATED = "rotated"  # we refreshed
    DEGRADED = "degraded"  # refresh failed transiently; the old, still valid token is served
    WHILE_REFRESHING = "while_refreshing"  # another worker is refreshing; old token still valid


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """Timing knobs of the algorithm (from settings)."""

    margin: float
    lease_seconds: float
    #: How long a caller waits for another worker's lease before giving up.
    wait_budget: float
    poll_initial: float = 0.02
    #: Waiters re-read at most this often apart (a read is cheap; a long gap is tail latency).
    poll_max: float = 0.2
    #: Pause before a retried refresh after a transient failure while the old token still works.
    degraded_retry_after: float = 5.0


@dataclass(frozen=True, slots=True)
class FlowResult:
    token: AccessToken
    outcome: Outcome
    #: When the caller should try refreshing again (the cache's refresh deadline).
    refresh_at: float


FlowGen = Generator[Effect, Any, FlowResult]


def token_of(row: ConnectionRow) -> AccessToken | None:
    """The row's access token as handed to callers, if it has one."""
    if row.access_token is None or row.access_expires_at is None:
        return None
    return AccessToken(
        access_token=row.access_token,
        expires_at=row.access_expires_at,
        scope=row.scope,
        external_id=row.external_id,
        generation=row.generation,
    )


def fresh_enough(row: ConnectionRow, now: float, margin: float) -> bool:
    return row.access_expires_at is not None and row.access_expires_at - margin > now


def still_valid(row: ConnectionRow, now: float) -> bool:
    return row.access_expires_at is not None and row.access_expires_at - MIN_USEFUL_SECONDS > now


def ensure_usable_status(row: ConnectionRow | None, external_id: str) -> ConnectionRow:
    if row is None:
        raise ConnectionNotFound(f"no connection for external id {external_id!r}")
    if row.status is ConnectionStatus.DISCONNECTED:
        raise ConnectionDisconnected(f"connection {external_id!r} is disconnected")
    if row.status is ConnectionStatus.REAUTH_REQUIRED:
        raise ReauthorizationRequired(external_id, row.reauth_reason)
    return row


def new_tokens(response: TokenResponse, previous_scope: tuple[str, ...]) -> NewTokens:
    return NewTokens(
        access_token=response.access_token,
        access_expires_at=response.expires_at,
        refresh_token=response.refresh_token,
        scope=response.scope if response.scope is not None else previous_scope,
        claims=read_claims(response.access_token),
    )


def refresh_flow(
    external_id: str,
    *,
    clock: Clock,
    policy: RefreshPolicy,
    force: bool = False,
    newer_than: int | None = None,
) -> FlowGen:
    """Produce a valid access token for ``external_id``, refreshing under the lease if needed.

    ``force`` refreshes even when the stored token looks fresh, unless another worker rotated
    since ``newer_than`` (the generation the caller already has, e.g. of a token the API
    rejected with 401) or since this flow started.
    """
    started = clock()
    poll = policy.poll_initial
    first = ensure_usable_status((yield ReadRow(external_id)), external_id)
    baseline = first.generation if newer_than is None else newer_than
    row = first
    while True:
        now = clock()
        adopted = row.generation > baseline
        if (adopted or not force) and fresh_enough(row, now, policy.margin):
            outcome = Outcome.ADOPTED if adopted else Outcome.STORED
            return _result(row, outcome, policy)
        if row.refresh_token is None:
            return (yield from _no_refresh_token(row, now, policy))
        lease_free = row.lease_owner is None or (row.lease_until or 0.0) <= now
        if lease_free:
            until = now + policy.lease_seconds
            # A lease left behind unreleased means its holder died mid-refresh: the token may
            # already be spent, which decides the reason if the server now says invalid_grant.
            inherited = row.lease_owner is not None
            if (yield AcquireLease(row.id, row.generation, until)):
                done = yield from _rotate_under_lease(
                    row, clock=clock, policy=policy, inherited_stale_lease=inherited
                )
                if done is not None:
                    return done
                # Fenced out or adopted-but-stale: start over from a fresh read.
        elif not force and still_valid(row, now):
            # Refresh early, degrade late: someone else is refreshing and our token still works,
            # so serve it now instead of queueing behind their HTTP call; check back soon.
            return _while_refreshing(row, now, policy)
        elif now - started > policy.wait_budget:
            if still_valid(row, now):
                return _degraded(row, now, policy)
            raise LeaseTimeout(
                f"waited {policy.wait_budget:.0f}s for another worker's refresh of {external_id!r}"
            )
        else:
            yield Sleep(poll)
            poll = min(poll * 2, policy.poll_max)
        row = ensure_usable_status((yield ReadRow(external_id)), external_id)


def keepalive_flow(row: ConnectionRow, *, clock: Clock, policy: RefreshPolicy) -> FlowGen:
    """Rotate a row the keep-alive worker already leased (claimed with the lease)."""
    done = yield from _rotate_under_lease(
        row, clock=clock, policy=policy, inherited_stale_lease=False
    )
    if done is None:
        # Someone else rotated or re-connected meanwhile: their write is the keep-alive.
        latest = ensure_usable_status((yield ReadRow(row.external_id)), row.external_id)
        return _result(latest, Outcome.ADOPTED, policy)
    return done


def _rotate_under_lease(
    row: ConnectionRow, *, clock: Clock, policy: RefreshPolicy, inherited_stale_lease: bool
) -> Generator[Effect, Any, FlowResult | None]:
    """Refresh with the lease on ``row.generation`` held. None → re-read and start over."""
    assert row.refresh_token is not None
    retried_ambiguous = False
    response_maybe_lost = inherited_stale_lease
    while True:
        try:
            response: TokenResponse = yield SendRefresh(row.refresh_token)
        except InvalidGrant as exc:
            lost = response_maybe_lost or retried_ambiguous
            return (yield from _after_invalid_grant(row, exc, lost))
        except TokenEndpointError as exc:
            if exc.delivery is Delivery.AMBIGUOUS and not retried_ambiguous:
                # The server may have consumed the token: try exactly once more with the same
                # token, still under our lease (renewed so the retry cannot outlive it).
                retried_ambiguous = True
                log.warning(
                    "refresh response lost for %s (%s); retrying once",
                    row.external_id,
                    exc.code,
                )
                if not (yield RenewLease(row.id, clock() + policy.lease_seconds)):
                    # Our call outlived the lease and another worker holds it (or already
                    # rotated): resending a token that may be spent would only earn
                    # invalid_grant, or kill the grant on a revoke-on-reuse server. Re-read.
                    log.warning(
                        "lease on %s lost during the refresh; not resending", row.external_id
                    )
                    return None
                continue
            return (yield from _after_failure(row, exc, clock(), policy))
        tokens = new_tokens(response, row.scope)
        if not (yield StoreRotation(row.id, row.external_id, row.generation, tokens)):
            # Someone re-connected or disconnected this external id meanwhile: our tokens
            # belong to a superseded grant. Re-read and follow the newer state.
            log.warning(
                "rotation of %s fenced out at generation %d", row.external_id, row.generation
            )
            return None
        token = AccessToken(
            access_token=tokens.access_token,
            expires_at=tokens.access_expires_at,
            scope=tokens.scope,
            external_id=row.external_id,
            generation=row.generation + 1,
        )
        return FlowResult(token, Outcome.ROTATED, tokens.access_expires_at - policy.margin)


def _after_invalid_grant(
    row: ConnectionRow, exc: InvalidGrant, response_maybe_lost: bool
) -> Generator[Effect, Any, FlowResult | None]:
    latest: ConnectionRow | None = yield ReadRow(row.external_id)
    if latest is not None and latest.generation != row.generation:
        # We lost a race (our lease had expired and another worker rotated): adopt.
        log.info(
            "lost refresh race for %s; adopting generation %d", row.external_id, latest.generation
        )
        return None
    lost = ReauthReason.ROTATION_RESPONSE_LOST
    reason = lost if response_maybe_lost else ReauthReason.GRANT_REVOKED
    yield MarkReauth(row.id, row.external_id, row.generation, reason.value, exc.code)
    raise ReauthorizationRequired(row.external_id, reason.value) from exc


def _after_failure(
    row: ConnectionRow, exc: TokenEndpointError, now: float, policy: RefreshPolicy
) -> Generator[Effect, Any, FlowResult]:
    yield RecordFailure(row.id, exc.code)
    if isinstance(exc, OAuthError) and not exc.transient:
        # invalid_client / unauthorized_client / invalid_request ...: our configuration is
        # wrong, not the customer's grant. Fail loudly; never mark the connection dead.
        raise exc
    if still_valid(row, now):
        log.warning(
            "refresh of %s failing (%s); serving the still-valid token", row.external_id, exc.code
        )
        return _degraded(row, now, policy)
    raise RefreshUnavailable(
        f"could not refresh {row.external_id!r} ({exc.code}) and its access token has expired"
    ) from exc


def _no_refresh_token(
    row: ConnectionRow, now: float, policy: RefreshPolicy
) -> Generator[Effect, Any, FlowResult]:
    if still_valid(row, now):
        return _degraded(row, now, policy)
    reason = ReauthReason.NO_REFRESH_TOKEN.value
    yield MarkReauth(row.id, row.external_id, row.generation, reason, None)
    raise ReauthorizationRequired(row.external_id, reason)


def _result(row: ConnectionRow, outcome: Outcome, policy: RefreshPolicy) -> FlowResult:
    token = token_of(row)
    assert token is not None and row.access_expires_at is not None
    return FlowResult(token, outcome, row.access_expires_at - policy.margin)


def _while_refreshing(row: ConnectionRow, now: float, policy: RefreshPolicy) -> FlowResult:
    token = token_of(row)
    assert token is not None and row.access_expires_at is not None
    recheck_at = min(now + policy.poll_max, row.access_expires_at - MIN_USEFUL_SECONDS)
    return FlowResult(token, Outcome.WHILE_REFRESHING, recheck_at)


def _degraded(row: ConnectionRow, now: float, policy: RefreshPolicy) -> FlowResult:
    token = token_of(row)
    assert token is not None and row.access_expires_at is not None
    retry_at = min(now + policy.degraded_retry_after, row.access_expires_at - MIN_USEFUL_SECONDS)
    return FlowResult(token, Outcome.DEGRADED, retry_at)
