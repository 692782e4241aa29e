"""Configuration: environment variables prefixed ``CDCONNECT_`` (and an optional ``.env`` file).

Use :func:`load_settings`: it turns every validation problem into one line of a
:class:`~cdconnect.errors.ConfigurationError` naming the environment variable, never a traceback.
Every setting is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from cdconnect.errors import ConfigurationError
from cdconnect.oauth.credentials import ClientCredentials, Endpoints
from cdconnect.oauth.scopes import invalid_scope_tokens, split_scope
from cdconnect.oauth.urls import check_https_url

ENV_PREFIX = "CDCONNECT_"
DEFAULT_ISSUER = "https://id.centraldispatch.com"
#: IdentityServer's usual sliding refresh-token lifetime is 15 days; a week leaves ample room.
DEFAULT_KEEPALIVE_INTERVAL = 7 * 24 * 3600.0
#: A refresh may be retried once after an ambiguous failure while the lease is held, so the lease
#: must cover two full connect+read cycles.
LEASE_TIMEOUT_FACTOR = 2

_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_KEY_BYTES = 32

Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
SecondsOrZero = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def env_name(field: str) -> str:
    """The environment variable of a setting, e.g. ``token_url`` → ``CDCONNECT_TOKEN_URL``."""
    return ENV_PREFIX + field.upper()


class Settings(BaseSettings):
    """cdconnect's configuration. Secrets are ``SecretStr``; URLs to CD must be ``https://``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    client_id: str
    client_secret: SecretStr
    service_client_id: str | None = None
    service_client_secret: SecretStr | None = None
    redirect_uri: str
    scope: str = "marketplace offline_access"
    issuer: str = DEFAULT_ISSUER
    authorize_url: str | None = None
    token_url: str | None = None
    revocation_url: str | None = None
    data_dir: Path = Path("cdconnect-data")
    # repr=False: a database URL or webhook URL may embed a password or token.
    database_url: str | None = Field(default=None, repr=False)
    encryption_keys: SecretStr | None = None
    key_file: Path | None = None
    pkce: bool = True
    require_iss: bool = True
    refresh_margin: SecondsOrZero = 120.0
    http_connect_timeout: Seconds = 5.0
    http_read_timeout: Seconds = 15.0
    lease_seconds: Seconds = 45.0
    state_ttl: Seconds = 600.0
    keepalive_interval: Seconds = DEFAULT_KEEPALIVE_INTERVAL
    ca_file: Path | None = None
    admin_tokens: SecretStr | None = None
    webhook_url: str | None = Field(default=None, repr=False)
    webhook_secret: SecretStr | None = None
    allowed_return_urls: str = ""
    log_json: bool = False

    # -- derived values -------------------------------------------------------------------------
    @property
    def scopes(self) -> tuple[str, ...]:
        return split_scope(self.scope)

    @property
    def authorize_endpoint(self) -> str:
        return self.authorize_url or f"{self.issuer}/connect/authorize"

    @property
    def token_endpoint(self) -> str:
        return self.token_url or f"{self.issuer}/connect/token"

    def endpoints(self) -> Endpoints:
        return Endpoints(
            issuer=self.issuer,
            authorize=self.authorize_endpoint,
            token=self.token_endpoint,
            revocation=self.revocation_url,
        )

    @property
    def effective_database_url(self) -> str:
        """``database_url``, or an SQLite file in ``data_dir``."""
        return self.database_url or f"sqlite:///{self.data_dir.as_posix()}/cdconnect.sqlite3"

    def connect_credentials(self) -> ClientCredentials:
        """The client for the authorization-code flow (and refreshes)."""
        return ClientCredentials(self.client_id, self.client_secret)

    def service_credentials(self) -> ClientCredentials:
        """The client-credentials client: the service pair if set, else the main pair."""
        if self.service_client_id is not None and self.service_client_secret is not None:
            return ClientCredentials(self.service_client_id, self.service_client_secret)
        return self.connect_credentials()

    def admin_token_list(self) -> tuple[SecretStr, ...]:
        """The accepted admin bearer keys (``admin_tokens`` split on commas)."""
        if self.admin_tokens is None:
            return ()
        return tuple(SecretStr(item) for item in _split_list(self.admin_tokens.get_secret_value()))

    # -- field checks (messages follow the variable name: "CDCONNECT_X <message>") -------------
    @field_validator("client_id", "service_client_id")
    @classmethod
    def _check_client_id(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or not value.isprintable()):
            raise ValueError("must be a non-empty printable string")
        return value

    @field_validator("client_secret", "service_client_secret", "webhook_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is empty")
        return value

    @field_validator("issuer")
    @classmethod
    def _check_issuer(cls, value: str) -> str:
        # RFC 9207 compares iss as an exact string; CD's issuer has no trailing slash.
        value = value.rstrip("/")
        _fail_if(check_https_url(value))
        if "?" in value or "#" in value:
            raise ValueError("must not contain a query or fragment")
        return value

    @field_validator("authorize_url", "token_url", "revocation_url")
    @classmethod
    def _check_cd_endpoint(cls, value: str | None) -> str | None:
        if value is not None:
            _fail_if(check_https_url(value))
        return value

    @field_validator("redirect_uri", "webhook_url")
    @classmethod
    def _check_own_url(cls, value: str | None) -> str | None:
        if value is not None:
            _fail_if(check_https_url(value, allow_loopback_http=True))
            if "#" in value:
                raise ValueError("must not contain a fragment")
        return value

    @field_validator("scope")
    @classmethod
    def _check_scope(cls, value: str) -> str:
        scopes = split_scope(value)
        if not scopes:
            raise ValueError("must name at least one scope")
        bad = invalid_scope_tokens(scopes)
        if bad:
            raise ValueError(f"contains invalid scope tokens: {bad!r}")
        return " ".join(scopes)

    @field_validator("encryption_keys")
    @classmethod
    def _check_encryption_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _fail_if(_key_ring_problem(value.get_secret_value()))
        return value

    @field_validator("ca_file")
    @classmethod
    def _check_ca_file(cls, value: Path | None) -> Path | None:
        try:
            readable = value is None or value.is_file()
        except (OSError, ValueError):
            readable = False
        if not readable:
            raise ValueError("does not name an existing file")
        return value

    @field_validator("admin_tokens")
    @classmethod
    def _check_admin_tokens(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _split_list(value.get_secret_value()):
            raise ValueError("holds no token")
        return value

    @field_validator("allowed_return_urls")
    @classmethod
    def _check_allowed_return_urls(cls, value: str) -> str:
        for number, entry in enumerate(_split_list(value), start=1):
            _fail_if(check_https_url(entry, allow_loopback_http=True), prefix=f"entry {number} ")
        return value

    # -- checks across fields (messages name their variables themselves) -------------------------
    @model_validator(mode="after")
    def _check_combinations(self) -> Self:
        problems = [
            *self._service_pair_problems(),
            *self._lease_problems(),
            *self._webhook_problems(),
        ]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _service_pair_problems(self) -> list[str]:
        has_id, has_secret = (
            self.service_client_id is not None,
            self.service_client_secret is not None,
        )
        if has_id == has_secret:
            return []
        missing, given = ("service_client_secret", "service_client_id")
        if has_secret:
            missing, given = given, missing
        return [f"{env_name(missing)} is missing (required when {env_name(given)} is set)"]

    def _lease_problems(self) -> list[str]:
        minimum = LEASE_TIMEOUT_FACTOR * (self.http_connect_timeout + self.http_read_timeout)
        if self.lease_seconds >= minimum:
            return []
        return [
            f"{env_name('lease_seconds')} must be at least {LEASE_TIMEOUT_FACTOR} × "
            f"({env_name('http_connect_timeout')} + {env_name('http_read_timeout')}) = "
            f"{minimum:g} seconds (got {self.lease_seconds:g})"
        ]

    def _webhook_problems(self) -> list[str]:
        if self.webhook_url is None or self.webhook_secret is not None:
            return []
        # Deliveries are signed (HMAC-SHA256); an unsigned webhook could be forged by anyone.
        return [
            f"{env_name('webhook_secret')} is missing (required when "
            f"{env_name('webhook_url')} is set)"
        ]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and ``.env``), with keyword ``overrides`` taking precedence.

    Raises :class:`ConfigurationError` whose ``problems`` hold one line per problem.
    """
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise ConfigurationError([f"unknown setting {name!r}" for name in unknown])
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(_problem_lines(exc)) from None
    except (SettingsError, OSError, UnicodeError) as exc:
        # A malformed or unreadable .env file.
        raise ConfigurationError(f"the settings cannot be read ({type(exc).__name__})") from None


def _problem_lines(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        location = error["loc"]
        cause = error.get("ctx", {}).get("error")
        message = str(cause) if error["type"] == "value_error" and cause else None
        if not location:
            lines.extend((message or error["msg"]).splitlines())
            continue
        variable = env_name(str(location[0]))
        if error["type"] == "missing":
            lines.append(f"{variable} is missing")
        elif message is not None:
            lines.append(f"{variable} {message}")
        else:
            lines.append(f"{variable} is invalid: {_lower_first(error['msg'])}")
    return lines


def _fail_if(problem: str | None, *, prefix: str = "") -> None:
    if problem is not None:
        raise ValueError(prefix + problem)


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _key_ring_problem(text: str) -> str | None:
    """Why ``kid:base64url-32-bytes,...`` is malformed (naming entries, never key material)."""
    entries = _split_list(text)
    if not entries:
        return "holds no key"
    kids: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        kid, colon, encoded = entry.partition(":")
        if not colon:
            return f"entry {number} must look like kid:base64url-key"
        if not _KEY_ID.fullmatch(kid):
            return f"entry {number}: the key id must be 1-64 characters from A-Z a-z 0-9 . _ -"
        if kid in kids:
            return f"entry {number}: key id {kid!r} appears more than once"
        kids.add(kid)
        if _decoded_length(encoded) != _KEY_BYTES:
            return f"entry {number} ({kid!r}): the key must be base64url of {_KEY_BYTES} bytes"
    return None


def _decoded_length(encoded: str) -> int | None:
    if not _BASE64URL.fullmatch(encoded):
        return None
    try:
        return len(base64.urlsafe_b64decode(encoded.rstrip("=") + "=" * (-len(encoded) % 4)))
    except ValueError:
        return None


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
