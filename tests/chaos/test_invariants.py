"""The invariant checker catches each kind of breakage (and passes healthy trials)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.chaos.facts import ConnectionFacts, SandboxFacts, TrialFacts
from tests.chaos.invariants import violations
from tests.chaos.messages import Resolution
from tests.chaos.plan import Fault, FaultKind, RefreshMode, TrialPlan

PLAN = TrialPlan(
    number=0,
    seed=1,
    fault=Fault(FaultKind.NONE),
    mode=RefreshMode.EXPIRED,
    connections=1,
    workers=3,
    threads=2,
    rounds=2,
    kills=(),
)


def active(rotations: int = 2, **changes: object) -> ConnectionFacts:
    facts = ConnectionFacts(
        external_id="acme",
        generation_before=1,
        generation_after=1 + rotations,
        rotations=rotations,
        status="active",
        reason=None,
        chain_current=True,
        resource_status=200,
        survivor=Resolution("acme", "token", generation=1 + rotations),
    )
    return dataclasses.replace(facts, **changes)  # type: ignore[arg-type]


def lost(
    rotations: int = 1, unstored: int = 1, reason: str = "rotation_response_lost"
) -> ConnectionFacts:
    return ConnectionFacts(
        external_id="acme",
        generation_before=1,
        generation_after=1 + rotations - unstored,
        rotations=rotations,
        status="reauth_required",
        reason=reason,
        chain_current=False,
        resource_status=None,
        survivor=Resolution("acme", "ReauthorizationRequired", reason=reason),
    )


def trial(*connections: ConnectionFacts, **changes: object) -> TrialFacts:
    facts = TrialFacts(
        plan=PLAN,
        connections=connections,
        sandbox=SandboxFacts(ok=sum(c.rotations for c in connections)),
        kills=0,
        read_timeouts=0,
    )
    return dataclasses.replace(facts, **changes)  # type: ignore[arg-type]


def test_a_healthy_trial_passes() -> None:
    assert violations(trial(active())) == []


def test_a_dropped_rotation_reported_as_lost_passes() -> None:
    facts = trial(lost(), sandbox=SandboxFacts(dropped=1, invalid_grant=1, reuse=1))
    assert violations(facts) == []


def test_a_rotation_killed_in_flight_passes_when_a_kill_explains_it() -> None:
    facts = trial(lost(), sandbox=SandboxFacts(ok=1, invalid_grant=1, reuse=1), kills=1)
    assert violations(facts) == []


def test_one_kill_explains_one_lost_answer_per_thread_and_connection() -> None:
    # Two threads of the killed worker were each refreshing another connection.
    plan = dataclasses.replace(PLAN, connections=2, threads=2)
    facts = trial(
        lost(), lost(), plan=plan, sandbox=SandboxFacts(ok=2, invalid_grant=2, reuse=2), kills=1
    )
    assert violations(facts) == []
    single_threaded = dataclasses.replace(facts, plan=dataclasses.replace(plan, threads=1))
    assert any("answered but never stored" in v for v in violations(single_threaded))


def test_a_rotation_lost_to_a_client_timeout_passes() -> None:
    facts = trial(lost(), sandbox=SandboxFacts(ok=1, invalid_grant=1, reuse=1), read_timeouts=1)
    assert violations(facts) == []


def test_a_double_spend_is_caught() -> None:
    # Two committed rotations missing from the store: a stale writer won, or a token was spent
    # by two holders (the sandbox's single use makes the second one a new rotation).
    found = violations(trial(active(rotations=4, generation_after=3), kills=2))
    assert any("4 rotations for a generation advance of 2" in v for v in found)


def test_a_silently_broken_connection_is_caught() -> None:
    found = violations(trial(active(chain_current=False)))
    assert any("silently broken" in v for v in found)


def test_an_active_connection_with_a_rejected_token_is_caught() -> None:
    found = violations(trial(active(resource_status=401)))
    assert any("answered 401" in v for v in found)


def test_an_active_connection_whose_last_rotation_was_lost_is_caught() -> None:
    facts = trial(active(rotations=2, generation_after=2), sandbox=SandboxFacts(dropped=1), kills=1)
    assert any("its last rotation was lost" in v for v in violations(facts))


def test_a_loss_reported_without_a_lost_rotation_is_caught() -> None:
    facts = trial(lost(rotations=0, unstored=0), sandbox=SandboxFacts(invalid_grant=1, reuse=1))
    assert any("no committed rotation was lost" in v for v in violations(facts))


def test_a_connection_declared_revoked_in_a_trial_without_revocation_is_caught() -> None:
    facts = trial(lost(rotations=0, unstored=0, reason="grant_revoked"), sandbox=SandboxFacts())
    assert any("revoked nothing" in v for v in violations(facts))


def test_an_unexplained_lost_answer_is_caught() -> None:
    facts = trial(lost(), sandbox=SandboxFacts(ok=1, invalid_grant=1, reuse=1))
    assert any("answered but never stored" in v for v in violations(facts))


def test_a_hang_does_not_also_count_as_a_timeout_explanation() -> None:
    # One hung rotation shows up as one client timeout; it cannot explain a second loss.
    facts = trial(
        lost(),
        lost(),
        sandbox=SandboxFacts(ok=1, hung=1, invalid_grant=2, reuse=2),
        read_timeouts=1,
    )
    assert any("answered but never stored" in v for v in violations(facts))


def test_our_own_race_is_caught() -> None:
    facts = trial(active(), sandbox=SandboxFacts(ok=2, invalid_grant=1, reuse=1))
    assert any("raced each other" in v for v in violations(facts))


def test_an_invalid_grant_that_is_not_a_replay_is_caught() -> None:
    facts = trial(active(), sandbox=SandboxFacts(ok=2, invalid_grant=1))
    assert any("never issued or had revoked" in v for v in violations(facts))


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"unexpected": ("KeyError\nTraceback ...",)}, "unexpected exception"),
        ({"leaks": ("trial-0-worker-1.log: a client secret",)}, "secret in a log"),
    ],
)
def test_worker_failures_and_leaks_are_caught(changes: dict[str, object], needle: str) -> None:
    assert any(needle in v for v in violations(trial(active(), **changes)))
