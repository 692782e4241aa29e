"""The grant logic of the token endpoint: codes, single-use refresh tokens, client credentials.

Every function checks and commits inside one critical section of the state lock, so concurrent
requests presenting the same code or refresh token see exactly one winner.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cdconnect.sandbox.config import (
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    REFRESH_TOKEN,
    ClientRegistration,
    TestAccount,
)
from cdconnect.sandbox.opaque import (
    digest,
    is_pkce_value,
    new_authorization_code,
    new_id,
    new_refresh_token,
    s256_challenge,
    same_secret,
)
from cdconnect.sandbox.records import (
    CodeRecord,
    GrantRecord,
    Issuance,
    RefreshRecord,
    TokenFailure,
)
from cdconnect.sandbox.state import SandboxState

OFFLINE_ACCESS = "offline_access"
Form = Mapping[str, str]


def _invalid_grant(description: str) -> TokenFailure:
    return TokenFailure("invalid_grant", description)


def issue_code(
    state: SandboxState,
    *,
    client: ClientRegistration,
    redirect_uri: str,
    scope: tuple[str, ...],
    account: TestAccount,
    code_challenge: str | None,
) -> str:
    """Record a new authorization code after a successful login and return it."""
    code = new_authorization_code()
    with state.lock:
        state.codes[digest(code)] = CodeRecord(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            account_email=account.email,
            code_challenge=code_challenge,
            expires_at=state.now() + state.config.code_ttl,
        )
    return code


def exchange_code(
    state: SandboxState, client: ClientRegistration, form: Form
) -> Issuance | TokenFailure:
    """``grant_type=authorization_code``: redeem a code once, bound to client, URI and PKCE."""
    code = form.get("code", "")
    if not code:
        return TokenFailure("invalid_request", "code is required")
    key = digest(code)
    with state.lock:
        record = state.codes.get(key)
        if record is None:
            return _invalid_grant("unknown authorization code")
        if record.used:
            return _replayed_code(state, record)
        # Any presentation burns the code, even a failing one (IdentityServer does the same).
        state.codes[key] = dataclasses.replace(record, used=True)
        failure = _code_mismatch(state, record, client, form)
        if failure is not None:
            return failure
        return _start_grant(state, key, record, client)


def _replayed_code(state: SandboxState, record: CodeRecord) -> TokenFailure:
    # RFC 6749 §4.1.2 / OAuth BCP: a replayed code revokes what was issued from it.
    state.counters.code_reuse += 1
    if record.grant_id is not None:
        state.revoke_grant(record.grant_id, "authorization_code_reuse")
    return _invalid_grant("authorization code was already used")


def _code_mismatch(
    state: SandboxState, record: CodeRecord, client: ClientRegistration, form: Form
) -> TokenFailure | None:
    if state.now() >= record.expires_at:
        return _invalid_grant("authorization code expired")
    if record.client_id != client.client_id:
        return _invalid_grant("authorization code was issued to another client")
    if form.get("redirect_uri", "") != record.redirect_uri:
        return _invalid_grant("redirect_uri does not match the authorization request")
    verifier = form.get("code_verifier")
    if record.code_challenge is None:
        if verifier is not None:
            return _invalid_grant("code_verifier sent but no code_challenge was")
        return None
    if verifier is None or not is_pkce_value(verifier):
        return _invalid_grant("a valid code_verifier is required")
    if not same_secret(s256_challenge(verifier), record.code_challenge):
        return _invalid_grant("code_verifier does not match code_challenge")
    return None


def _start_grant(
    state: SandboxState, code_key: str, record: CodeRecord, client: ClientRegistration
) -> Issuance:
    now = state.now()
    grant_id = new_id()
    refresh_token = None
    if OFFLINE_ACCESS in record.scope and REFRESH_TOKEN in client.allowed_grant_types:
        refresh_token = new_refresh_token()
    grant = GrantRecord(
        grant_id=grant_id,
        client_id=client.client_id,
        account_email=record.account_email,
        scope=record.scope,
        created_at=now,
        current_refresh=None,
    )
    state.grants[grant_id] = grant
    state.codes[code_key] = dataclasses.replace(state.codes[code_key], grant_id=grant_id)
    if refresh_token is not None:
        _store_refresh(state, grant, refresh_token, now)
    return Issuance(
        client_id=client.client_id,
        scope=record.scope,
        account=state.config.account(record.account_email),
        grant_id=grant_id,
        refresh_token=refresh_token,
        issued_at=now,
    )


def _store_refresh(state: SandboxState, grant: GrantRecord, token: str, now: float) -> None:
    config = state.config
    expires_at = min(
        now + config.refresh_sliding_ttl, grant.created_at + config.refresh_absolute_ttl
    )
    key = digest(token)
    state.refresh_tokens[key] = RefreshRecord(
        grant_id=grant.grant_id, client_id=grant.client_id, issued_at=now, expires_at=expires_at
    )
    state.grants[grant.grant_id] = dataclasses.replace(grant, current_refresh=key)


def refresh(state: SandboxState, client: ClientRegistration, form: Form) -> Issuance | TokenFailure:
    """``grant_type=refresh_token``: consume a single-use refresh token, issue a new one."""
    token = form.get("refresh_token", "")
    if not token:
        return TokenFailure("invalid_request", "refresh_token is required")
    key = digest(token)
    with state.lock:
        record = state.refresh_tokens.get(key)
        if record is None or record.client_id != client.client_id:
            return _invalid_grant("unknown refresh token")
        grant = state.grants[record.grant_id]
        if record.consumed:
            return _replayed_refresh(state, grant)
        if grant.revoked_reason is not None:
            return _invalid_grant("the grant was revoked")
        if state.now() >= record.expires_at:
            return _invalid_grant("refresh token expired")
        scope = _narrowed_scope(grant.scope, form.get("scope"))
        if isinstance(scope, TokenFailure):
            return scope
        return _rotate(state, key, record, grant, scope)


def _replayed_refresh(state: SandboxState, grant: GrantRecord) -> TokenFailure:
    state.counters.refresh_reuse += 1
    if state.config.revoke_grant_on_reuse:
        state.revoke_grant(grant.grant_id, "refresh_token_reuse")
    return _invalid_grant("refresh token was already used")


def _narrowed_scope(
    granted: tuple[str, ...], requested: str | None
) -> tuple[str, ...] | TokenFailure:
    # RFC 6749 §6: a refresh may ask for less than was granted, never more.
    if requested is None:
        return granted
    wanted = tuple(dict.fromkeys(requested.split()))
    if not wanted or not set(wanted) <= set(granted):
        return TokenFailure("invalid_scope", "requested scope exceeds the granted scope")
    return wanted


def _rotate(
    state: SandboxState,
    key: str,
    record: RefreshRecord,
    grant: GrantRecord,
    scope: tuple[str, ...],
) -> Issuance:
    now = state.now()
    state.refresh_tokens[key] = dataclasses.replace(record, consumed=True)
    grant = dataclasses.replace(grant, rotations=grant.rotations + 1)
    new_token = new_refresh_token()
    _store_refresh(state, grant, new_token, now)
    state.counters.refreshes_by_grant[grant.grant_id] += 1
    return Issuance(
        client_id=grant.client_id,
        scope=scope,
        account=state.config.account(grant.account_email),
        grant_id=grant.grant_id,
        refresh_token=new_token,
        issued_at=now,
        after_commit=state.claim_after_commit_fault(),
    )


def client_credentials(
    state: SandboxState, client: ClientRegistration, form: Form
) -> Issuance | TokenFailure:
    """``grant_type=client_credentials``: a token for the integrator itself, no refresh token."""
    requested = form.get("scope")
    if requested is None:
        scope = client.allowed_scopes  # IdentityServer grants every allowed scope by default
    else:
        scope = tuple(dict.fromkeys(requested.split()))
        if not scope or not set(scope) <= set(client.allowed_scopes) or OFFLINE_ACCESS in scope:
            return TokenFailure("invalid_scope", "scope not allowed for this client")
    return Issuance(
        client_id=client.client_id,
        scope=scope,
        account=None,
        grant_id=None,
        refresh_token=None,
        issued_at=state.now(),
    )


def revoke_token(state: SandboxState, client: ClientRegistration, token: str) -> bool:
    """RFC 7009: revoking a refresh token revokes its whole grant. Tokens that are unknown, not
    the client's, or access tokens (self-contained JWTs) are ignored; returns whether a grant
    was revoked."""
    with state.lock:
        record = state.refresh_tokens.get(digest(token))
        if record is None or record.client_id != client.client_id:
            return False
        return state.revoke_grant(record.grant_id, "revoked_by_client")


GRANT_HANDLERS = {
    AUTHORIZATION_CODE: exchange_code,
    REFRESH_TOKEN: refresh,
    CLIENT_CREDENTIALS: client_credentials,
}
