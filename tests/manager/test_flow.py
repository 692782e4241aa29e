"""The refresh algorithm, branch by branch, against an in-memory world (no I/O)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdconnect.errors import (
    CDConnectError,
    ConnectionDisconnected,
    ConnectionNotFound,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    LeaseTimeout,
    ReauthorizationRequired,
    RefreshUnavailable,
    RequestNotSent,
    ResponseLost,
    ServerError,
    TemporarilyUnavailable,
    TokenEndpointError,
)
from cdconnect.manager.effects import MarkReauth, RecordFailure, Sleep
from cdconnect.manager.flow import FlowGen, Outcome, RefreshPolicy, keepalive_flow, refresh_flow
from cdconnect.models import ConnectionStatus
from tests.manager.world import ME, NOW, POLICY, World, make_row, token_response


def flow_for(
    world: World,
    *,
    force: bool = False,
    newer_than: int | None = None,
    policy: RefreshPolicy = POLICY,
) -> FlowGen:
    return refresh_flow(
        "acme", clock=world.clock, policy=policy, force=force, newer_than=newer_than
    )


def test_fresh_stored_token_is_returned_without_a_refresh() -> None:
    world = World(make_row(access_expires_at=NOW + 3600))
    result = world.run(flow_for(world))
    assert result.outcome is Outcome.STORED
    assert result.token.access_token.get_secret_value() == "access-1"
    assert result.refresh_at == NOW + 3600 - POLICY.margin
    assert world.sends() == 0


def test_expired_token_is_rotated_under_the_lease_and_stored_before_returned() -> None:
    world = World(make_row(), [token_response(2)])
    result = world.run(flow_for(world))
    assert result.outcome is Outcome.ROTATED
    assert result.token.access_token.get_secret_value() == "access-2"
    assert result.token.generation == 2
    assert world.row is not None and world.row.generation == 2
    assert world.row.refresh_token is not None
    assert world.row.refresh_token.get_secret_value() == "refresh-2"
    assert world.row.lease_owner is None
    assert world.sent_with == ["refresh-1"]


def test_token_inside_the_margin_is_refreshed_early() -> None:
    world = World(make_row(access_expires_at=NOW + POLICY.margin - 1), [token_response(2)])
    assert world.run(flow_for(world)).outcome is Outcome.ROTATED


def test_waiter_adopts_another_workers_rotation_without_sending() -> None:
    world = World(make_row(lease_owner="other", lease_until=NOW + 30))

    def other_worker_rotates(w: World) -> None:
        if w.reads == 3:
            w.rotated_elsewhere("2")

    world.on_read = other_worker_rotates
    result = world.run(flow_for(world))
    assert result.outcome is Outcome.ADOPTED
    assert result.token.access_token.get_secret_value() == "access-2"
    assert world.sends() == 0
    assert any(isinstance(effect, Sleep) for effect in world.log)


def test_expired_lease_of_a_dead_worker_is_taken_over() -> None:
    world = World(make_row(lease_owner="dead", lease_until=NOW - 1), [token_response(2)])
    result = world.run(flow_for(world))
    assert result.outcome is Outcome.ROTATED
    assert world.sends() == 1


def test_invalid_grant_after_someone_else_rotated_is_a_lost_race_and_adopted() -> None:
    world = World(make_row(), [InvalidGrant(description="used")])

    world.on_send = lambda w: w.rotated_elsewhere("2")
    result = world.run(flow_for(world))
    assert result.outcome is Outcome.ADOPTED
    assert result.token.access_token.get_secret_value() == "access-2"
    assert world.marked() == []
    assert world.row is not None and world.row.status is ConnectionStatus.ACTIVE


def test_invalid_grant_without_a_rotation_means_the_grant_is_dead() -> None:
    world = World(make_row(), [InvalidGrant(description="revoked")])
    with pytest.raises(ReauthorizationRequired) as caught:
        world.run(flow_for(world))
    assert caught.value.reason == "grant_revoked"
    assert [m.reason for m in world.marked()] == ["grant_revoked"]
    assert world.row is not None and world.row.status is ConnectionStatus.REAUTH_REQUIRED


def test_lost_response_is_retried_once_then_reported_as_rotation_response_lost() -> None:
    world = World(make_row(), [ResponseLost("reset"), InvalidGrant(description="used")])
    with pytest.raises(ReauthorizationRequired) as caught:
        world.run(flow_for(world))
    assert caught.value.reason == "rotation_response_lost"
    # Exactly one retry, with the same token, under the same (renewed) lease.
    assert world.sent_with == ["refresh-1", "refresh-1"]


def test_lost_response_retry_that_succeeds_is_a_normal_rotation() -> None:
    world = World(make_row(), [ResponseLost("timeout"), token_response(2)])
    assert world.run(flow_for(world)).outcome is Outcome.ROTATED
    assert world.sends() == 2


def test_a_lost_response_is_not_resent_after_another_worker_took_over() -> None:
    # Our call outlived the lease; another worker took it and rotated. Resending our (now
    # consumed) token would only earn an invalid_grant, or on a revoke-on-reuse server kill the
    # grant: follow the newer rotation instead.
    world = World(make_row(), [ResponseLost("timeout")])
    world.on_send = lambda w: w.rotated_elsewhere("2")
    result = world.run(flow_for(world))
    assert result.outcome is Outcome.ADOPTED
    assert result.token.access_token.get_secret_value() == "access-2"
    assert world.sends() == 1
    assert world.marked() == []


def test_two_lost_responses_never_loop_and_degrade_while_the_token_is_valid() -> None:
    world = World(make_row(access_expires_at=NOW + 30), [ResponseLost("a"), ResponseLost("b")])
    result = world.run(flow_for(world))
    assert result.outcome is Outcome.DEGRADED
    assert result.token.access_token.get_secret_value() == "access-1"
    assert world.sends() == 2
    assert world.row is not None and world.row.failure_count == 1
    assert world.row.lease_owner is None
    assert result.refresh_at <= NOW + POLICY.degraded_retry_after


def test_two_lost_responses_with_an_expired_token_raise_refresh_unavailable() -> None:
    world = World(make_row(), [ResponseLost("a"), ResponseLost("b")])
    with pytest.raises(RefreshUnavailable):
        world.run(flow_for(world))
    assert world.sends() == 2
    assert world.marked() == []


@pytest.mark.parametrize(
    "error",
    [
        RequestNotSent("connect refused"),
        TemporarilyUnavailable(description="busy"),
        ServerError(description="oops"),
    ],
    ids=["not-sent", "temporarily-unavailable", "server-error"],
)
def test_transient_failures_keep_serving_the_still_valid_token(error: TokenEndpointError) -> None:
    world = World(make_row(access_expires_at=NOW + 30), [error])
    result = world.run(flow_for(world))
    assert result.outcome is Outcome.DEGRADED
    assert world.sends() == 1
    assert world.marked() == []
    assert any(isinstance(effect, RecordFailure) for effect in world.log)


@pytest.mark.parametrize(
    "error",
    [InvalidClient(description="bad secret"), InvalidRequest(description="?")],
    ids=["invalid-client", "invalid-request"],
)
def test_configuration_errors_fail_loudly_and_never_mark_the_connection(
    error: TokenEndpointError,
) -> None:
    world = World(make_row(access_expires_at=NOW + 30), [error])
    with pytest.raises(type(error)):
        world.run(flow_for(world))
    assert world.marked() == []
    assert world.row is not None and world.row.status is ConnectionStatus.ACTIVE
    assert world.row.lease_owner is None


def test_inherited_stale_lease_then_invalid_grant_reports_a_lost_rotation() -> None:
    world = World(
        make_row(lease_owner="dead", lease_until=NOW - 1), [InvalidGrant(description="used")]
    )
    with pytest.raises(ReauthorizationRequired) as caught:
        world.run(flow_for(world))
    assert caught.value.reason == "rotation_response_lost"


def test_force_rotates_a_fresh_token() -> None:
    world = World(make_row(access_expires_at=NOW + 3600), [token_response(2)])
    assert world.run(flow_for(world, force=True)).outcome is Outcome.ROTATED


def test_force_with_an_older_generation_adopts_the_newer_stored_token() -> None:
    world = World(make_row(generation=5, access_expires_at=NOW + 3600))
    result = world.run(flow_for(world, force=True, newer_than=4))
    assert result.outcome is Outcome.ADOPTED
    assert world.sends() == 0


def test_a_still_valid_token_is_served_while_another_worker_refreshes() -> None:
    world = World(make_row(access_expires_at=NOW + 50, lease_owner="other", lease_until=NOW + 30))
    result = world.run(flow_for(world))
    assert result.outcome is Outcome.WHILE_REFRESHING
    assert result.token.access_token.get_secret_value() == "access-1"
    assert NOW < result.refresh_at <= NOW + POLICY.poll_max
    assert world.sends() == 0
    assert not any(isinstance(effect, Sleep) for effect in world.log)


def test_waiting_past_the_budget_degrades_or_times_out() -> None:
    short_wait = dataclasses.replace(POLICY, wait_budget=10)
    held = {"lease_owner": "other", "lease_until": NOW + 10_000}
    valid = World(make_row(access_expires_at=NOW + 50, **held))
    assert valid.run(flow_for(valid, force=True, policy=short_wait)).outcome is Outcome.DEGRADED
    expired = World(make_row(**held))
    with pytest.raises(LeaseTimeout):
        expired.run(flow_for(expired))
    assert expired.sends() == 0


@pytest.mark.parametrize(
    ("row", "error"),
    [
        (None, ConnectionNotFound),
        (make_row(status=ConnectionStatus.DISCONNECTED), ConnectionDisconnected),
        (make_row(status=ConnectionStatus.REAUTH_REQUIRED), ReauthorizationRequired),
    ],
    ids=["missing", "disconnected", "reauth-required"],
)
def test_unusable_connections_raise_without_sending(
    row: object, error: type[CDConnectError]
) -> None:
    world = World(row)  # type: ignore[arg-type]
    with pytest.raises(error):
        world.run(flow_for(world))
    assert world.sends() == 0


def test_expired_connection_without_refresh_token_needs_reauth() -> None:
    world = World(make_row(refresh_token=None))
    with pytest.raises(ReauthorizationRequired) as caught:
        world.run(flow_for(world))
    assert caught.value.reason == "no_refresh_token"


def test_keepalive_flow_rotates_a_row_it_already_leased() -> None:
    world = World(make_row(lease_owner=ME, lease_until=NOW + 30), [token_response(2)])
    assert world.row is not None
    result = world.run(keepalive_flow(world.row, clock=world.clock, policy=POLICY))
    assert result.outcome is Outcome.ROTATED


OUTCOMES = st.sampled_from(
    [
        lambda n: token_response(n),
        lambda n: InvalidGrant(description="x"),
        lambda n: ResponseLost("x"),
        lambda n: RequestNotSent("x"),
        lambda n: TemporarilyUnavailable(description="x"),
        lambda n: InvalidClient(description="x"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    outcomes=st.lists(OUTCOMES, min_size=3, max_size=3),
    expires_in=st.sampled_from([-100.0, 20.0, 3600.0]),
    racer_at_send=st.booleans(),
)
def test_any_sequence_of_server_answers_keeps_the_invariants(
    outcomes: list[Callable[[int], Any]], expires_in: float, racer_at_send: bool
) -> None:
    world = World(
        make_row(access_expires_at=NOW + expires_in),
        [make(i + 2) for i, make in enumerate(outcomes)],
    )
    if racer_at_send:

        def racer(w: World) -> None:
            if w.sends() == 1:
                w.rotated_elsewhere("racer")

        world.on_send = racer
    try:
        result = world.run(flow_for(world, force=True))
    except CDConnectError:
        result = None
    # World._send asserts the lease is held on every send; and nothing ever loops.
    assert world.sends() <= 2
    assert len(world.marked()) <= 1
    if result is not None:
        assert result.token.expires_at > NOW
    if world.marked():
        mark: MarkReauth = world.marked()[0]
        assert mark.reason in ("grant_revoked", "rotation_response_lost")
        assert world.row is not None
        # A dead mark only ever lands on the generation that really failed.
        assert world.row.status is ConnectionStatus.REAUTH_REQUIRED or mark.generation != (
            world.row.generation
        )
