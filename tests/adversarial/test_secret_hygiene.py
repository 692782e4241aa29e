"""Secret hygiene: every flow with DEBUG logging on for everything, then a search for secrets.

The service runs under a real uvicorn server; a customer's browser (httpx plus the sandbox's
login driver) connects through it; the vendor's backend uses the admin API; the library is called
directly too. Every secret that travels is collected (client secrets, admin keys, webhook secret,
encryption keys, the customer's password, connect links, states, codes, PKCE verifiers, refresh
and access tokens) and looked for in: log records (message, arguments, extras, exceptions) of
the whole process, HTML error pages, JSON error bodies, exception messages, reprs and tracebacks,
webhook deliveries, and ``/metrics``.

Whose log records count: all of them except two sources that are not the product and
legitimately see secrets —

* the sandbox's server thread: it stands in for Central Dispatch, which receives them all;
* ``httpx``/``httpcore`` records of the test's own thread: that thread plays the customer's
  browser and the vendor's backend, and at DEBUG httpcore logs response headers, so it logs the
  code in the sandbox's ``Location`` header and the tokens the admin API hands the vendor.

So that the manager's own HTTP logs are not mistaken for the browser's, the test calls the
library from a separate thread.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from cdconnect.manager import ConnectionManager, open_store
from cdconnect.oauth import build_async_http_client, build_http_client
from cdconnect.oauth.transport import ssl_context
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings
from cdconnect.testing import OffsetClock
from cdconnect.web import create_app
from tests.adversarial.conftest import service_settings
from tests.adversarial.hygiene import LIBRARY_THREAD, Scanned, World, net_for, run_every_flow
from tests.adversarial.live_service import SERVICE_THREAD, base_url_of, bind_loopback, serving
from tests.adversarial.log_capture import RecordCollector, capturing_everything, record_text
from tests.adversarial.recording import AsyncRecordingTransport, RecordingTransport
from tests.adversarial.secret_net import SecretNet
from tests.web.receiver import running_receiver

#: Every kind of secret the flows must have handled (so the search cannot pass vacuously).
KINDS = (
    "client secret",
    "admin key",
    "webhook secret",
    "encryption key",
    "customer password",
    "connect link",
    "state",
    "authorization code",
    "PKCE verifier",
    "refresh token",
    "access token",
)


def recording_manager(
    stack: ExitStack, settings: Settings, net: SecretNet, clock: OffsetClock
) -> ConnectionManager:
    """A manager whose token-endpoint traffic is noted in ``net`` (sync and async alike)."""
    tls = ssl_context(settings)
    http = stack.enter_context(
        build_http_client(settings, transport=RecordingTransport(net, verify=tls))
    )
    manager = ConnectionManager(
        settings,
        open_store(settings),
        http=http,
        async_http=lambda: build_async_http_client(
            settings, transport=AsyncRecordingTransport(net, verify=tls)
        ),
        clock=clock,
    )
    return stack.enter_context(manager)


@pytest.fixture
def world(sandbox: SandboxServer, tmp_path: Path) -> Iterator[tuple[World, RecordCollector]]:
    with ExitStack() as stack:
        records = stack.enter_context(capturing_everything())
        receiver = stack.enter_context(running_receiver())
        sock = bind_loopback()
        base_url = base_url_of(sock)
        sandbox.control.add_redirect_uri(f"{base_url}/callback")
        settings = service_settings(
            sandbox,
            tmp_path,
            redirect_uri=f"{base_url}/callback",
            revocation_url=f"{sandbox.issuer}/connect/revocation",
            webhook_url=receiver.url,
            webhook_secret="whsec-" + secrets.token_hex(16),
        )
        net = net_for(sandbox, settings)
        clock = OffsetClock()
        manager = recording_manager(stack, settings, net, clock)
        stack.enter_context(serving(create_app(settings, manager), sock))
        world = World(
            sandbox=sandbox,
            settings=settings,
            manager=manager,
            clock=clock,
            browser=stack.enter_context(httpx.Client(base_url=base_url, follow_redirects=False)),
            receiver=receiver,
            net=net,
            scanned=Scanned(),
            library_pool=stack.enter_context(
                ThreadPoolExecutor(1, thread_name_prefix=LIBRARY_THREAD)
            ),
        )
        manager.on_event(world.events.append)
        yield world, records


def is_product_record(record: logging.LogRecord, main_thread: int) -> bool:
    """False for the sandbox's records and for the test's own HTTP clients' records."""
    if record.threadName and record.threadName.startswith("cdconnect-sandbox-"):
        return False
    test_client = record.name.split(".")[0] in ("httpx", "httpcore")
    return not (test_client and record.thread == main_thread)


def leaks_in(net: SecretNet, scanned: Scanned, records: Iterable[logging.LogRecord]) -> list[str]:
    """``"<where>: <kind of secret>"`` for every secret found (never the secret itself)."""
    main_thread = threading.main_thread().ident or 0
    leaks = []
    for record in records:
        if is_product_record(record, main_thread):
            for kind in net.leaks(record_text(record)):
                leaks.append(f"log record of {record.name} ({record.levelname}): {kind}")
    for where, text in scanned.texts:
        leaks += [f"{where}: {kind}" for kind in net.leaks(text)]
    return sorted(set(leaks))


def test_no_secret_appears_anywhere(world: tuple[World, RecordCollector]) -> None:
    flows, records = world

    run_every_flow(flows)

    assert leaks_in(flows.net, flows.scanned, records.records) == []
    # The search was real: every kind of secret was handled, and the product logged (the
    # manager's HTTP client included) from the service's threads.
    assert {kind: flows.net.count(kind) > 0 for kind in KINDS} == dict.fromkeys(KINDS, True)
    main_thread = threading.main_thread().ident or 0
    product = [r for r in records.records if is_product_record(r, main_thread)]
    assert any(r.name.startswith("cdconnect") for r in product)
    assert any(r.name == "httpx" and "/connect/token" in r.getMessage() for r in product)
    assert any(r.threadName == SERVICE_THREAD for r in product)
    for kind in KINDS:
        assert kind in flows.net.leaks(f"... {next(iter(flows.net.known[kind]))} ...")


def test_the_search_reports_product_records_and_only_skips_the_stand_ins() -> None:
    net = SecretNet(lambda: set())
    net.add("refresh token", "R" * 40)
    main_thread = threading.main_thread().ident or 0

    def record(name: str, thread: int, thread_name: str) -> logging.LogRecord:
        made = logging.makeLogRecord(
            {"name": name, "levelname": "INFO", "msg": "token %s", "args": ("R" * 40,)}
        )
        made.thread, made.threadName = thread, thread_name
        return made

    records = [
        record("cdconnect.manager", main_thread, "MainThread"),
        record("httpx", 1, "cdconnect-service"),
        record("uvicorn.error", 2, "cdconnect-sandbox-443"),
        record("httpcore.http11", main_thread, "MainThread"),
    ]
    jwt_shaped = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXZhbHVl"
    scanned = Scanned([("an error page", jwt_shaped)])

    assert leaks_in(net, scanned, records) == [
        "an error page: an access token (JWT shape)",
        "log record of cdconnect.manager (INFO): refresh token",
        "log record of httpx (INFO): refresh token",
    ]
