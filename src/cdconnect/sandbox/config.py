"""What the sandbox knows before it starts: registered clients, test accounts and lifetimes.

Everything here is a frozen value. ``default_config()`` gives well-known, deterministic test
credentials so the demo, the CLI and the test suite agree on them without any setup.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"
GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS)

#: The scopes Central Dispatch's documentation names.
CD_SCOPES = (
    "marketplace",
    "fulfillment_api",
    "dispatchdocument_api",
    "membership",
    "event_api",
    "offline_access",
)

DEMO_CLIENT_ID = "cdconnect-demo"
# A well-known test secret: the sandbox is a local test tool and prints it on purpose.
DEMO_CLIENT_SECRET = "sandbox-demo-secret-0123456789abcdef"
SERVICE_CLIENT_ID = "cdconnect-service"
SERVICE_CLIENT_SECRET = "sandbox-service-secret-0123456789abcdef"

#: The service's callback (``cdconnect serve``) and the CLI's loopback login callback.
SERVICE_REDIRECT_URI = "https://127.0.0.1:8443/callback"
CLI_REDIRECT_URI = "http://127.0.0.1:8765/callback"
DEFAULT_REDIRECT_URIS = (
    SERVICE_REDIRECT_URI,
    "https://localhost:8443/callback",
    CLI_REDIRECT_URI,
    "http://localhost:8765/callback",
)

BROKER_EMAIL = "broker@example.com"
CARRIER_EMAIL = "carrier@example.com"
TEST_PASSWORD = "sandbox-password"

#: Where ``python -m cdconnect.sandbox`` listens unless told otherwise (8443 is the service's).
DEFAULT_PORT = 9443


@dataclass(frozen=True, slots=True)
class ClientRegistration:
    """An integrator's client as the identity server knows it."""

    client_id: str
    client_secret: str = field(repr=False)
    #: Compared byte for byte with the request's ``redirect_uri`` (no patterns, no port wildcard).
    redirect_uris: tuple[str, ...] = ()
    allowed_grant_types: tuple[str, ...] = (AUTHORIZATION_CODE, REFRESH_TOKEN)
    allowed_scopes: tuple[str, ...] = CD_SCOPES

    def with_redirect_uris(self, *uris: str) -> ClientRegistration:
        """A copy that also accepts ``uris`` (duplicates are ignored)."""
        merged = tuple(dict.fromkeys((*self.redirect_uris, *uris)))
        return dataclasses.replace(self, redirect_uris=merged)


@dataclass(frozen=True, slots=True)
class TestAccount:
    """A Central Dispatch user who can log in on the sandbox's login page."""

    __test__ = False  # not a pytest test class, despite the name

    email: str
    password: str = field(repr=False)
    #: Central Dispatch's id of the customer (company) the user belongs to.
    customer_id: str
    #: The user's stable subject id (the ``sub`` claim).
    subject: str
    display_name: str
    role: str


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """The sandbox's configuration. Build variants with ``dataclasses.replace`` or the helpers."""

    clients: tuple[ClientRegistration, ...]
    accounts: tuple[TestAccount, ...]
    #: Fixed issuer; ``None`` derives it from each request's scheme and host (IdentityServer does).
    issuer: str | None = None
    access_token_ttl: int = 3600
    code_ttl: int = 60
    #: Each new refresh token lives this long (IdentityServer's sliding lifetime) ...
    refresh_sliding_ttl: int = 15 * 24 * 3600
    #: ... but never beyond this long after the original login (absolute lifetime).
    refresh_absolute_ttl: int = 30 * 24 * 3600
    #: Presenting a consumed refresh token again also revokes the whole grant (off, like CD).
    revoke_grant_on_reuse: bool = False
    #: Seconds added to the injected clock from the start (the control API can change it).
    clock_offset: float = 0.0
    #: Mount the unauthenticated ``/_sandbox/...`` control API (a test tool, so on by default).
    control_api_enabled: bool = True
    #: List the test accounts on the login page (handy for the demo).
    show_test_accounts: bool = True
    #: How long a "hang after commit" request waits at most before giving up by itself.
    hang_seconds: float = 600.0

    def client(self, client_id: str) -> ClientRegistration | None:
        """The registered client with this id, if any."""
        return next((c for c in self.clients if c.client_id == client_id), None)

    def account(self, email: str) -> TestAccount | None:
        """The account with this e-mail address (case-insensitive), if any."""
        wanted = email.strip().casefold()
        return next((a for a in self.accounts if a.email.casefold() == wanted), None)

    def with_redirect_uris(self, *uris: str, client_id: str = DEMO_CLIENT_ID) -> SandboxConfig:
        """A copy in which client ``client_id`` also accepts ``uris``."""
        if self.client(client_id) is None:
            raise ValueError(f"no registered client {client_id!r}")
        clients = tuple(
            c.with_redirect_uris(*uris) if c.client_id == client_id else c for c in self.clients
        )
        return dataclasses.replace(self, clients=clients)

    def with_clients(self, clients: Iterable[ClientRegistration]) -> SandboxConfig:
        """A copy with ``clients`` added (a client with an existing id replaces it)."""
        extra = {c.client_id: c for c in clients}
        kept = tuple(c for c in self.clients if c.client_id not in extra)
        return dataclasses.replace(self, clients=(*kept, *extra.values()))


def default_clients() -> tuple[ClientRegistration, ...]:
    """The demo client (authorization code + refresh) and a separate client-credentials client.

    Central Dispatch may issue separate credentials for the two flows, so the defaults do too.
    """
    demo = ClientRegistration(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        redirect_uris=DEFAULT_REDIRECT_URIS,
        allowed_grant_types=(AUTHORIZATION_CODE, REFRESH_TOKEN),
        allowed_scopes=CD_SCOPES,
    )
    service = ClientRegistration(
        client_id=SERVICE_CLIENT_ID,
        client_secret=SERVICE_CLIENT_SECRET,
        redirect_uris=(),
        allowed_grant_types=(CLIENT_CREDENTIALS,),
        allowed_scopes=tuple(s for s in CD_SCOPES if s != "offline_access"),
    )
    return (demo, service)


def default_accounts() -> tuple[TestAccount, ...]:
    """A broker and a carrier, both with the password ``TEST_PASSWORD``."""
    broker = TestAccount(
        email=BROKER_EMAIL,
        password=TEST_PASSWORD,
        customer_id="100001",
        subject="3f1c2a9e-0000-4000-8000-000000000001",
        display_name="Sandbox Broker LLC",
        role="broker",
    )
    carrier = TestAccount(
        email=CARRIER_EMAIL,
        password=TEST_PASSWORD,
        customer_id="200002",
        subject="3f1c2a9e-0000-4000-8000-000000000002",
        display_name="Sandbox Carrier Inc.",
        role="carrier",
    )
    return (broker, carrier)


def default_config() -> SandboxConfig:
    """The well-known configuration the demo, the CLI and the tests share."""
    return SandboxConfig(clients=default_clients(), accounts=default_accounts())
