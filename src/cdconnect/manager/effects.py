"""The I/O requests a refresh flow yields to its driver.

The refresh algorithm (``flow.py``) is one generator; it never performs I/O itself. It yields
these effects and a sync or async driver (``drivers.py``) carries them out and sends back the
result (or throws the exception in). That is how the algorithm is written once for both worlds.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from cdconnect.vault.api import NewTokens


@dataclass(frozen=True, slots=True)
class ReadRow:
    """Read the connection row afresh → ``ConnectionRow | None``."""

    external_id: str


@dataclass(frozen=True, slots=True)
class AcquireLease:
    """Conditional lease claim → ``bool``."""

    connection_id: str
    generation: int
    until: float


@dataclass(frozen=True, slots=True)
class RenewLease:
    """Extend our lease before a call that could outlive it → ``bool``."""

    connection_id: str
    until: float


@dataclass(frozen=True, slots=True)
class ReleaseLease:
    """Give the lease back without a rotation → ``None``."""

    connection_id: str


@dataclass(frozen=True, slots=True)
class SendRefresh:
    """POST the refresh grant → ``TokenResponse`` or a ``TokenEndpointError`` thrown in."""

    refresh_token: SecretStr

    def __repr__(self) -> str:
        return "SendRefresh()"


@dataclass(frozen=True, slots=True)
class StoreRotation:
    """Fenced write of the new tokens → ``bool`` (False: fenced out)."""

    connection_id: str
    external_id: str
    generation: int
    tokens: NewTokens


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """Count a failed attempt and release our lease → ``None``."""

    connection_id: str
    error: str


@dataclass(frozen=True, slots=True)
class MarkReauth:
    """Move to ``reauth_required`` iff the generation is unchanged → ``bool``."""

    connection_id: str
    external_id: str
    generation: int
    reason: str
    error: str | None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait before polling again → ``None``."""

    seconds: float


Effect = (
    ReadRow
    | AcquireLease
    | RenewLease
    | ReleaseLease
    | SendRefresh
    | StoreRotation
    | RecordFailure
    | MarkReauth
    | Sleep
)
