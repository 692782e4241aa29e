"""The flows of the secret-hygiene test, and what they leave behind to be searched.

Each flow drives the product the way its users do — the customer's browser, the vendor's backend
on the admin API, the library — and hands every error body, exception and repr it meets to
``Scanned``; the secrets that travel are noted in the ``SecretNet`` on the way.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx

from cdconnect.errors import CDConnectError
from cdconnect.manager import ConnectionManager
from cdconnect.models import Event
from cdconnect.sandbox import BROKER_EMAIL, TEST_PASSWORD, SandboxServer, login
from cdconnect.settings import Settings
from cdconnect.testing import OffsetClock
from tests.adversarial.secret_net import SecretNet
from tests.web.conftest import ADMIN_KEY, OTHER_ADMIN_KEY, VENDOR
from tests.web.receiver import Receiver

T = TypeVar("T")
#: The library is called from this thread, never the test's own (see test_secret_hygiene).
LIBRARY_THREAD = "library-caller"
#: The outbox's events: connected (acme, globex, stark), reauth_required (globex), disconnected.
EXPECTED_WEBHOOKS = 5


@dataclass
class Scanned:
    """Texts to search, each labelled with where it came from."""

    texts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def add_exception(self, where: str, exc: BaseException) -> None:
        """The traceback (every chained message) and the repr of every exception in the chain."""
        reprs = []
        current: BaseException | None = exc
        while current is not None:
            reprs.append(repr(current))
            current = current.__cause__ or current.__context__
        self.add(where, "".join(traceback.format_exception(exc)) + "\n".join(reprs))

    def add_failure(self, where: str, response: httpx.Response) -> None:
        if response.status_code >= 400:
            self.add(f"{where} (HTTP {response.status_code} body)", response.text)


@dataclass
class World:
    """Everything the flows need."""

    sandbox: SandboxServer
    settings: Settings
    manager: ConnectionManager
    clock: OffsetClock
    browser: httpx.Client
    receiver: Receiver
    net: SecretNet
    scanned: Scanned
    library_pool: ThreadPoolExecutor
    events: list[Event] = field(default_factory=list)

    def library(self, where: str, call: Callable[[], T]) -> T | None:
        """Call the library from its own thread; its result's repr or its error is scanned."""
        try:
            result = self.library_pool.submit(call).result()
        except CDConnectError as exc:
            self.scanned.add_exception(where, exc)
            return None
        self.scanned.add(f"{where} (repr)", repr(result))
        return result

    def admin(self, method: str, path: str, *, key: str = ADMIN_KEY, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        response = self.browser.request(method, path, headers=headers, **kw)
        self.scanned.add_failure(f"{method} {path}", response)
        return response

    def open(self, url: str) -> httpx.Response:
        """What the customer's browser does with a link of the service; every page is scanned."""
        parts = urlsplit(url)
        response = self.browser.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        if response.headers.get("content-type", "").startswith("text/html"):
            self.scanned.add(f"page GET {parts.path} (HTTP {response.status_code})", response.text)
        else:
            self.scanned.add_failure(f"GET {parts.path}", response)
        return response

    def sign_in(self, authorize_url: str) -> str:
        """The sandbox's sign-in page, as the customer: returns the callback URL."""
        self.note_url(authorize_url)
        with self.sandbox.http_client() as browser:
            callback = login(browser, authorize_url, BROKER_EMAIL, TEST_PASSWORD)
        self.note_url(callback)
        return callback

    def callback_url(self, external_id: str, **body: Any) -> str:
        """Connect session → connect link → sign-in: the callback URL, not yet opened."""
        body = {"external_id": external_id, **body}
        connect_url = self.admin("POST", "/api/connect-sessions", json=body).json()["connect_url"]
        self.net.add("connect link", connect_url.rsplit("/", 1)[1])
        return self.sign_in(self.open(connect_url).headers["location"])

    def note_url(self, url: str) -> None:
        query = dict(parse_qsl(urlsplit(url).query))
        self.net.add("state", query.get("state"))
        self.net.add("authorization code", query.get("code"))


def net_for(sandbox: SandboxServer, settings: Settings) -> SecretNet:
    """A net holding the configured secrets; the flows add the ones that travel."""

    def issued() -> set[str]:
        with sandbox.state.lock:
            return set(sandbox.state.codes) | set(sandbox.state.refresh_tokens)

    net = SecretNet(issued)
    for kind, secret in [
        ("client secret", settings.client_secret),
        ("client secret", settings.service_client_secret),
        ("webhook secret", settings.webhook_secret),
    ]:
        net.add(kind, secret.get_secret_value() if secret is not None else None)
    for key in (ADMIN_KEY, OTHER_ADMIN_KEY):
        net.add("admin key", key)
    if settings.encryption_keys is not None:
        for entry in settings.encryption_keys.get_secret_value().split(","):
            net.add("encryption key", entry.partition(":")[2])
    net.add("customer password", TEST_PASSWORD)
    return net


# -- the flows ------------------------------------------------------------------------------------


def connect_customers(world: World) -> None:
    assert world.open(world.callback_url("acme")).status_code == 200
    returned = world.open(world.callback_url("globex", return_url=VENDOR + "done"))
    assert returned.status_code == 303
    world.scanned.add("redirect back to the vendor", returned.headers["location"])
    world.library("library connect start", lambda: world.manager.begin_connect("initech"))
    world.library("library session", lambda: world.manager.create_connect_session("initech"))


def use_tokens(world: World) -> None:
    assert world.admin("POST", "/api/connections/acme/access-token").status_code == 200
    world.library("library cached token", lambda: world.manager.access_token("acme"))
    world.clock.advance(3600)  # the access tokens expire: the next call refreshes
    assert world.admin("POST", "/api/connections/acme/access-token").status_code == 200
    # Back to real time: the webhook deliverer schedules by the real clock, so events stamped an
    # hour ahead would wait an hour.
    world.clock.advance(-3600)
    world.library("library refresh", lambda: world.manager.refresh("acme", force=True))
    assert world.admin("POST", "/api/connections/acme/refresh").status_code == 200
    world.library("library connection", lambda: world.manager.get_connection("acme"))
    assert world.admin("GET", "/api/client-token").status_code == 200
    world.library("library client token", world.manager.client_token)
    world.library("library auth", lambda: world.manager.auth("acme"))


def lose_a_rotation(world: World) -> None:
    world.sandbox.control.set_faults(drop_after_commit=1)
    lost = world.admin("POST", "/api/connections/globex/refresh")
    assert lost.status_code == 409 and lost.json()["error"]["reason"] == "rotation_response_lost"
    world.library("library after reauth", lambda: world.manager.access_token("globex"))


def meet_hostile_answers(world: World) -> None:
    """Garbage from the token endpoint, carrying real tokens, must not be echoed anywhere."""
    callback = world.callback_url("umbrella")
    world.sandbox.control.set_faults(hostile="malformed_json", hostile_count=1)
    assert world.open(callback).status_code == 502
    start = world.library("library start", lambda: world.manager.begin_connect("hooli"))
    assert start is not None
    library_callback = world.sign_in(start.authorize_url)
    world.sandbox.control.set_faults(hostile="expires_in_text", hostile_count=1)
    world.library("library exchange", lambda: world.manager.complete_connect(library_callback))
    world.sandbox.control.set_faults(hostile="json_array", hostile_count=2, hostile_commit=False)
    world.library("library degraded", lambda: world.manager.refresh("acme", force=True))


def fail_on_purpose(world: World) -> None:
    """Refusals: replayed and forged callbacks, wrong keys, unknown and invalid ids."""
    callback = world.callback_url("stark")
    assert world.open(callback).status_code == 200
    assert world.open(callback).status_code == 400
    world.library("library replay", lambda: world.manager.complete_connect(callback))
    forged = callback.replace("state=", "state=x")
    assert world.open(forged).status_code == 400
    assert world.admin("GET", "/api/connections", key=ADMIN_KEY[:-1] + "x").status_code == 403
    assert world.admin("GET", "/api/connections/nobody").status_code == 404
    assert world.admin("POST", "/api/connect-sessions", json={"external_id": "a\x00"}).is_error
    world.library("library unknown", lambda: world.manager.access_token("nobody"))


def read_connections(world: World) -> None:
    """The vendor's views of connections: status and metadata, never tokens."""
    for path in ("/api/connections", "/api/connections/acme", "/api/connections/globex"):
        world.scanned.add(f"GET {path}", world.admin("GET", path).text)
    for external_id in ("acme", "globex", "stark"):
        row = world.manager.store.get_connection(external_id)
        assert row is not None
        for kind, token in (
            ("access token", row.access_token),
            ("refresh token", row.refresh_token),
        ):
            world.net.add(kind, token.get_secret_value() if token is not None else None)


def disconnect(world: World) -> None:
    assert world.admin("DELETE", "/api/connections/acme").status_code == 200
    world.library("library disconnected", lambda: world.manager.access_token("acme"))


def collect_outputs(world: World) -> None:
    """Webhook deliveries, events, reprs of the configuration, and the metrics page."""
    for delivery in world.receiver.wait_for(EXPECTED_WEBHOOKS):
        world.scanned.add(f"webhook {delivery.path}", f"{delivery.headers!r}\n{delivery.body!r}")
    for event in world.events:
        world.scanned.add(f"event {event.type.value}", repr(event))
    world.scanned.add("settings repr", f"{world.settings!r} {world.settings}")
    world.scanned.add("store repr", repr(world.manager.store))
    metrics = world.browser.get("/metrics")
    assert metrics.status_code == 200
    world.scanned.add("/metrics", metrics.text)


def run_every_flow(world: World) -> None:
    connect_customers(world)
    use_tokens(world)
    lose_a_rotation(world)
    meet_hostile_answers(world)
    fail_on_purpose(world)
    read_connections(world)
    disconnect(world)
    collect_outputs(world)
