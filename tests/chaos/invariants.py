"""The invariants every chaos trial must keep (DESIGN §4 and §6.4), as checks over its facts.

``violations(facts)`` returns one line per broken invariant; an empty list is a pass.
"""

from __future__ import annotations

from tests.chaos.facts import ConnectionFacts, TrialFacts

ACTIVE = "active"
REAUTH_REQUIRED = "reauth_required"
LOST = "rotation_response_lost"
OK = 200


def violations(facts: TrialFacts) -> list[str]:
    found: list[str] = []
    for connection in facts.connections:
        found += _one_refresh_per_generation(connection)
        found += _usable_or_reported(connection)
    found += _losses_explained(facts)
    found += _no_races(facts)
    found += [f"unexpected exception in a worker: {text}" for text in facts.unexpected]
    found += [f"secret in a log: {where}" for where in facts.leaks]
    return found


def _one_refresh_per_generation(c: ConnectionFacts) -> list[str]:
    """Every committed rotation but (at most) the last lost one advanced the generation."""
    if c.unstored_rotations in (0, 1):
        return []
    return [
        f"{c.external_id}: the sandbox committed {c.rotations} rotations for a generation "
        f"advance of {c.advance} (a refresh token was spent twice or a rotation vanished)"
    ]


def _usable_or_reported(c: ConnectionFacts) -> list[str]:
    """Active means usable now and refreshable later; otherwise reauth with the true reason."""
    if c.status == ACTIVE:
        return _usable(c)
    if c.status == REAUTH_REQUIRED:
        return _lost_for_a_reason(c)
    return [f"{c.external_id}: unexpected status {c.status!r}"]


def _usable(c: ConnectionFacts) -> list[str]:
    problems = []
    if c.unstored_rotations:
        problems.append(f"{c.external_id}: active although its last rotation was lost")
    if not c.chain_current:
        problems.append(
            f"{c.external_id}: silently broken: active, but the sandbox no longer accepts its "
            f"stored refresh token"
        )
    if c.resource_status != OK:
        problems.append(
            f"{c.external_id}: active, but the listings resource answered "
            f"{c.resource_status} to its stored access token"
        )
    if c.survivor.outcome != "token":
        problems.append(
            f"{c.external_id}: active, but the survivor's refresh ended in {c.survivor.outcome}"
        )
    return problems


def _lost_for_a_reason(c: ConnectionFacts) -> list[str]:
    # No trial revokes anything, so the only legitimate death is a lost rotation response.
    if c.reason != LOST:
        return [
            f"{c.external_id}: reauth_required with reason {c.reason!r} in a trial that "
            f"revoked nothing"
        ]
    if c.unstored_rotations != 1:
        return [f"{c.external_id}: reported {LOST} but no committed rotation was lost"]
    return []


def _losses_explained(facts: TrialFacts) -> list[str]:
    """A rotation may only be lost where its answer really died: dropped or hung by the
    sandbox, timed out in the client, or in flight to a process we killed."""
    unstored = facts.answered_but_unstored
    if unstored < 0:
        return [
            f"the sandbox dropped or hung {facts.sandbox.dropped + facts.sandbox.hung} "
            f"rotations but only {facts.lost_rotations} are missing from the store"
        ]
    # A hang also shows up as a client read timeout: only the excess explains an answered one.
    timeouts = max(0, facts.read_timeouts - facts.sandbox.hung)
    if unstored > facts.kills * _in_flight_per_worker(facts) + timeouts:
        return [
            f"{unstored} rotations were answered but never stored, with only {facts.kills} "
            f"kills and {timeouts} read timeouts to explain them"
        ]
    return []


def _in_flight_per_worker(facts: TrialFacts) -> int:
    """The most refresh requests one worker can have in flight: one per thread, and (its
    single flight per connection) one per connection."""
    return min(facts.plan.threads, facts.plan.connections)


def _no_races(facts: TrialFacts) -> list[str]:
    """Consumed refresh tokens are only presented to find out that a rotation was lost."""
    lost = sum(1 for c in facts.connections if c.reason == LOST)
    reuse, invalid_grant = facts.sandbox.reuse, facts.sandbox.invalid_grant
    problems = []
    if invalid_grant != reuse:
        problems.append(
            f"{invalid_grant} invalid_grant answers but {reuse} of them replays: a token was "
            f"presented that the sandbox never issued or had revoked"
        )
    if reuse < lost:
        problems.append(f"{lost} connections reported lost but only {reuse} replays detected it")
    # Each loss is found by one replay; another one is only possible when the finder was
    # killed before it could record the loss (a worker finds for each thread at most).
    if reuse > lost + facts.kills * _in_flight_per_worker(facts):
        problems.append(
            f"{reuse} consumed refresh tokens presented for {lost} lost connections and "
            f"{facts.kills} kills: our own workers raced each other"
        )
    return problems
