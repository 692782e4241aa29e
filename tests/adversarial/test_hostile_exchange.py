"""Every hostile answer against the code exchange: through the service's callback and the library.

Invariants: the browser gets an HTML error page (the library a typed error), no connection is
stored, the code is never sent twice, no token from the garbage is shown, and the service stays
healthy — the customer can simply start again.
"""

from __future__ import annotations

import httpx
import pytest

from cdconnect.errors import InvalidTokenResponse, ServerError, StateMismatch, TokenEndpointError
from cdconnect.sandbox import BROKER_EMAIL, TEST_PASSWORD, login
from cdconnect.sandbox.hostile import HostileKind
from tests.adversarial.helpers import Service, assert_no_token_shapes


def expected_error(kind: HostileKind) -> type[TokenEndpointError]:
    return ServerError if kind is HostileKind.OAUTH_ERROR_200 else InvalidTokenResponse


def exchange_outcomes(service: Service) -> dict[str, int]:
    return dict(service.sandbox.control.counters().token_calls.get("authorization_code", {}))


@pytest.mark.parametrize("kind", list(HostileKind))
def test_the_callback_shows_an_error_page_and_stores_nothing(
    service: Service, kind: HostileKind
) -> None:
    callback = service.driver.callback_url("acme")
    service.set_hostile(kind)

    response = service.driver.finish(callback)

    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "Central Dispatch did not complete the connection" in response.text
    assert f"<code>{expected_error(kind).code}</code>" in response.text
    assert_no_token_shapes(response.text)
    service.assert_nothing_stored("acme")
    assert list(service.manager.list_connections().items) == []
    assert exchange_outcomes(service) == {"hostile": 1}
    service.assert_healthy()
    assert service.driver.connect("acme").status_code == 200


@pytest.mark.parametrize("kind", list(HostileKind))
def test_the_library_raises_a_typed_error_and_stores_nothing(
    service: Service, kind: HostileKind
) -> None:
    start = service.manager.begin_connect("acme")
    with httpx.Client(verify=service.sandbox.client_ssl_context()) as browser:
        callback = login(browser, start.authorize_url, BROKER_EMAIL, TEST_PASSWORD)
    service.set_hostile(kind)

    with pytest.raises(TokenEndpointError) as caught:
        service.manager.complete_connect(callback)

    assert type(caught.value) is expected_error(kind)
    assert_no_token_shapes(f"{caught.value} {caught.value!r}")
    assert service.manager.store.get_connection("acme") is None
    # The authorization was used up: replaying the callback cannot reach the token endpoint.
    with pytest.raises(StateMismatch):
        service.manager.complete_connect(callback)
    assert exchange_outcomes(service) == {"hostile": 1}
