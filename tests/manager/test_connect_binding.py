"""Connect links bind their pending authorization to the browser that opened them.

The browser is played by an httpx client; its "cookie" is the ``browser_secret`` handed out by
``open_connect_session`` and given back (or not) to ``complete_connect``.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import select

from cdconnect.errors import BrowserMismatch, ConnectionNotFound, StateMismatch
from cdconnect.manager import ConnectionManager, OpenedConnect
from cdconnect.manager.connect import check_browser
from cdconnect.models import ConnectionStatus
from cdconnect.sandbox import SandboxServer, login
from cdconnect.settings import Settings
from cdconnect.vault.api import PendingAuthorization, secret_hash
from cdconnect.vault.schema import pending_authorizations
from tests.manager.conftest import BROKER, CARRIER
from tests.vault.helpers import raw_connection


def open_link(manager: ConnectionManager, external_id: str = "acme") -> OpenedConnect:
    session = manager.create_connect_session(external_id)
    return manager.open_connect_session(session.link.get_secret_value())


def sign_in(sandbox: SandboxServer, authorize_url: str, email: str = BROKER) -> str:
    """The callback URL Central Dispatch sends the (any) browser back to after a login."""
    account = sandbox.config.account(email)
    assert account is not None
    with httpx.Client(verify=sandbox.client_ssl_context()) as http:
        return login(http, authorize_url, email, account.password)


def assert_nothing_exchanged_or_stored(
    manager: ConnectionManager, sandbox: SandboxServer, external_id: str = "acme"
) -> None:
    with pytest.raises(ConnectionNotFound):
        manager.get_connection(external_id)
    assert sandbox.control.counters().calls("authorization_code") == 0


def test_the_browser_that_opened_the_link_finishes_the_connect(
    manager: ConnectionManager, sandbox: SandboxServer, settings: Settings
) -> None:
    opened = open_link(manager)
    assert 0 < opened.expires_in <= settings.state_ttl
    callback = sign_in(sandbox, opened.authorize_url)
    result = manager.complete_connect(
        callback, browser_secret=opened.browser_secret.get_secret_value()
    )
    assert result.connection.external_id == "acme"
    assert manager.get_connection("acme").status is ConnectionStatus.ACTIVE


@pytest.mark.parametrize("presented", [None, "", "another-browser's-secret"])
def test_a_callback_in_another_browser_is_refused_and_spends_the_authorization(
    manager: ConnectionManager, sandbox: SandboxServer, presented: str | None
) -> None:
    opened = open_link(manager)
    # The customer forwards the authorize URL; someone else logs in and comes back.
    callback = sign_in(sandbox, opened.authorize_url, CARRIER)
    with pytest.raises(BrowserMismatch, match="another browser") as refused:
        manager.complete_connect(callback, browser_secret=presented)
    assert refused.value.code == "browser_mismatch"
    assert_nothing_exchanged_or_stored(manager, sandbox)
    # Single use all the same: not even the right browser can finish it now.
    with pytest.raises(StateMismatch):
        manager.complete_connect(callback, browser_secret=opened.browser_secret.get_secret_value())
    assert_nothing_exchanged_or_stored(manager, sandbox)


def test_a_finished_connect_cannot_be_replayed_from_the_same_browser(
    manager: ConnectionManager, sandbox: SandboxServer
) -> None:
    opened = open_link(manager)
    callback = sign_in(sandbox, opened.authorize_url)
    secret = opened.browser_secret.get_secret_value()
    manager.complete_connect(callback, browser_secret=secret)
    generation = manager.get_connection("acme").generation
    with pytest.raises(StateMismatch):
        manager.complete_connect(callback, browser_secret=secret)
    assert manager.get_connection("acme").generation == generation
    assert sandbox.control.counters().calls("authorization_code") == 1


def test_each_opening_gets_its_own_secret_and_a_link_opens_once(
    manager: ConnectionManager,
) -> None:
    session = manager.create_connect_session("acme")
    first = manager.open_connect_session(session.link.get_secret_value())
    with pytest.raises(StateMismatch):
        manager.open_connect_session(session.link.get_secret_value())
    second = open_link(manager, "globex")
    assert first.browser_secret.get_secret_value() != second.browser_secret.get_secret_value()
    assert len(first.browser_secret.get_secret_value()) >= 40


def test_only_a_hash_of_the_browser_secret_is_stored(
    manager: ConnectionManager, settings: Settings
) -> None:
    opened = open_link(manager)
    secret = opened.browser_secret.get_secret_value()
    with raw_connection(settings.effective_database_url) as conn:
        row = conn.execute(select(pending_authorizations)).one()
    assert row.browser_binding_hash == secret_hash(opened.browser_secret)
    stored = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row if v is not None)
    assert secret.encode() not in stored


def test_the_opened_link_keeps_its_secrets_out_of_reprs(manager: ConnectionManager) -> None:
    opened = open_link(manager)
    text = f"{opened!r} {opened}"
    assert opened.browser_secret.get_secret_value() not in text
    assert "state=" not in text and "authorize" not in text


def test_begin_connect_is_not_bound_to_a_browser(
    manager: ConnectionManager, sandbox: SandboxServer
) -> None:
    # Library users bind the browser in their own application; any secret is ignored.
    start = manager.begin_connect("acme")
    callback = sign_in(sandbox, start.authorize_url)
    manager.complete_connect(callback, browser_secret="whatever the app had")
    assert manager.get_connection("acme").status is ConnectionStatus.ACTIVE


def test_a_refusal_is_logged_with_the_external_id_and_never_a_secret(
    manager: ConnectionManager, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    opened = open_link(manager, "globex")
    callback = sign_in(sandbox, opened.authorize_url)
    wrong = "wrong-browser-secret-0123456789abcdef"
    with caplog.at_level(logging.DEBUG), pytest.raises(BrowserMismatch) as refused:
        manager.complete_connect(callback, browser_secret=wrong)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "'globex'" in logged and "another browser" in logged
    for secret in (opened.browser_secret.get_secret_value(), wrong, callback.split("?", 1)[1]):
        assert secret not in logged
        assert secret not in str(refused.value)


def pending_bound_to(secret: str | None) -> PendingAuthorization:
    return PendingAuthorization(
        id="p1",
        external_id="acme",
        redirect_uri="https://vendor.example/callback",
        scope=(),
        issuer="https://id.centraldispatch.com",
        code_verifier=None,
        return_url=None,
        created_at=0.0,
        expires_at=600.0,
        browser_binding_hash=None if secret is None else secret_hash(SecretStr(secret)),
    )


#: Any str, lone surrogates included: a library caller may pass anything.
ANY_TEXT = st.text(st.characters(exclude_categories=()))


@given(bound=st.text(min_size=1), presented=st.one_of(st.none(), ANY_TEXT))
def test_only_the_bound_secret_passes_the_browser_check(bound: str, presented: str | None) -> None:
    pending = pending_bound_to(bound)
    check_browser(pending, bound)
    if presented != bound:
        with pytest.raises(BrowserMismatch):
            check_browser(pending, presented)


@given(presented=st.one_of(st.none(), ANY_TEXT))
def test_an_unbound_authorization_accepts_any_browser(presented: str | None) -> None:
    check_browser(pending_bound_to(None), presented)
