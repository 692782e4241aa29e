"""JSON shapes of the HTTP API (request bodies and responses). Times are Unix seconds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cdconnect.models import AccessToken, Connection
from cdconnect.oauth.scopes import split_scope


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. connection_not_found")
    message: str = Field(description="Human-readable explanation (never contains secrets)")
    reason: str | None = Field(
        default=None, description="For reauth_required: why the connection needs a new login"
    )


class ErrorBody(BaseModel):
    error: ErrorDetail


class ConnectSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(description="Your id for the customer (1-255 printable chars)")
    return_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Where to send the browser after the connect; must be on the allow-list",
    )
    scope: str | list[str] | None = Field(
        default=None,
        description="Scopes to request (space-delimited or a list); default: the "
        "configured CDCONNECT_SCOPE",
    )

    def scope_tuple(self) -> tuple[str, ...] | None:
        if self.scope is None:
            return None
        text = self.scope if isinstance(self.scope, str) else " ".join(self.scope)
        return split_scope(text) or None


class ConnectSessionResponse(BaseModel):
    connect_url: str = Field(description="Send the customer's browser here (works once)")
    external_id: str
    expires_at: float = Field(description="The link stops working at this time")


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_at: float
    expires_in: int = Field(description="Seconds until expires_at, at the time of the answer")
    scope: str = Field(description="Space-delimited granted scope")

    @classmethod
    def of(cls, token: AccessToken, now: float) -> TokenOut:
        return cls(
            access_token=token.access_token.get_secret_value(),
            token_type=token.token_type,
            expires_at=token.expires_at,
            expires_in=max(0, int(token.expires_at - now)),
            scope=" ".join(token.scope),
        )


class ConnectionOut(BaseModel):
    id: str
    external_id: str
    status: str = Field(description="active, reauth_required or disconnected")
    scope: str
    generation: int = Field(description="Counts token rotations and new logins")
    access_expires_at: float | None
    has_refresh_token: bool
    created_at: float
    updated_at: float
    last_refresh_at: float | None
    failure_count: int
    last_error: str | None
    reauth_reason: str | None
    claims: dict[str, Any] = Field(
        description="Unverified claims of the last access token (metadata, not identity)"
    )

    @classmethod
    def of(cls, connection: Connection) -> ConnectionOut:
        return cls(
            id=connection.id,
            external_id=connection.external_id,
            status=connection.status.value,
            scope=" ".join(connection.scope),
            generation=connection.generation,
            access_expires_at=connection.access_expires_at,
            has_refresh_token=connection.has_refresh_token,
            created_at=connection.created_at,
            updated_at=connection.updated_at,
            last_refresh_at=connection.last_refresh_at,
            failure_count=connection.failure_count,
            last_error=connection.last_error,
            reauth_reason=connection.reauth_reason,
            claims=dict(connection.claims),
        )


class ConnectionPageOut(BaseModel):
    items: list[ConnectionOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class HealthOut(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
