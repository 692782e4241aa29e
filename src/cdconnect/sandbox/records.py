"""The sandbox's server-side records and the values its grant logic returns.

Codes and refresh tokens are keyed by their SHA-256 digest (see ``opaque.digest``); the records
themselves hold no usable secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdconnect.sandbox.config import TestAccount


@dataclass(frozen=True, slots=True)
class CodeRecord:
    """An authorization code handed to a client after a login."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    account_email: str
    code_challenge: str | None
    expires_at: float
    used: bool = False
    #: The grant created when the code was redeemed (revoked if the code is replayed).
    grant_id: str | None = None


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """One customer's consent for one client: the chain of refresh tokens hangs off it."""

    grant_id: str
    client_id: str
    account_email: str
    scope: tuple[str, ...]
    created_at: float
    #: Digest of the refresh token that is currently valid (``None``: no offline access).
    current_refresh: str | None
    rotations: int = 0
    revoked_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    """One refresh token of a grant; kept after use so a replay can be recognised."""

    grant_id: str
    client_id: str
    issued_at: float
    expires_at: float
    consumed: bool = False


@dataclass(frozen=True, slots=True)
class TokenFailure:
    """An RFC 6749 §5.2 error answer."""

    error: str
    description: str
    status: int = 400


@dataclass(frozen=True, slots=True)
class Issuance:
    """What the token endpoint must answer after a grant succeeded (signing happens outside
    the state lock, so this carries the inputs of the access token, not the token)."""

    client_id: str
    scope: tuple[str, ...]
    account: TestAccount | None
    grant_id: str | None
    refresh_token: str | None
    issued_at: float
    #: ``"drop"`` or ``"hang"`` when a fault switch claims this (already committed) answer.
    after_commit: str | None = None

    def __repr__(self) -> str:
        return (
            f"Issuance(client_id={self.client_id!r}, scope={self.scope!r}, "
            f"grant_id={self.grant_id!r}, after_commit={self.after_commit!r})"
        )
