"""The ``login`` test driver (standing in for a customer's browser)."""

from __future__ import annotations

import httpx
import pytest

from cdconnect.sandbox import BROKER_EMAIL, TEST_PASSWORD, LoginPageError, SandboxServer, login
from tests.sandbox.helpers import IN_PROCESS_BASE, authorize_url, query_of


def test_login_returns_the_callback_without_following_it(sandbox: SandboxServer) -> None:
    with sandbox.http_client() as http:
        location = login(http, authorize_url(sandbox.issuer), BROKER_EMAIL, TEST_PASSWORD)

    assert location.startswith("https://127.0.0.1:8443/callback?code=")
    assert query_of(location)["iss"] == sandbox.issuer


def test_cancel(client: httpx.Client) -> None:
    location = login(client, authorize_url(IN_PROCESS_BASE), BROKER_EMAIL, "", cancel=True)

    assert query_of(location)["error"] == "access_denied"


def test_an_error_redirect_is_returned_as_is(client: httpx.Client) -> None:
    location = login(
        client, authorize_url(IN_PROCESS_BASE, scope="admin"), BROKER_EMAIL, TEST_PASSWORD
    )

    assert query_of(location)["error"] == "invalid_scope"


def test_wrong_password_raises_with_the_page_message(client: httpx.Client) -> None:
    with pytest.raises(LoginPageError) as caught:
        login(client, authorize_url(IN_PROCESS_BASE), BROKER_EMAIL, "wrong")

    assert caught.value.status == 200
    assert caught.value.message == "The email or password is incorrect."
    assert "wrong" not in str(caught.value)


def test_an_error_page_raises(client: httpx.Client) -> None:
    with pytest.raises(LoginPageError) as caught:
        login(
            client, authorize_url(IN_PROCESS_BASE, client_id="nobody"), BROKER_EMAIL, TEST_PASSWORD
        )

    assert caught.value.status == 400
    assert "not registered" in caught.value.message


def test_a_page_without_the_wanted_button_raises() -> None:
    page = (
        '<form action="/x" method="post"><input name="email">'
        '<button name="go" value="login">Go</button></form>'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html=page)

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        pytest.raises(LoginPageError, match="cancel"),
    ):
        login(http, "https://idp.test/authorize", BROKER_EMAIL, TEST_PASSWORD, cancel=True)


def test_the_form_action_is_resolved_against_the_page_url() -> None:
    page = (
        '<form action="submit" method="post"><input type="hidden" name="k" value="v">'
        '<input type="submit" name="action" value="login"></form>'
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, html=page)
        return httpx.Response(302, headers={"Location": "https://app.test/cb?code=abc"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        location = login(http, "https://idp.test/login/start", BROKER_EMAIL, TEST_PASSWORD)

    assert location == "https://app.test/cb?code=abc"
    assert str(seen[1].url) == "https://idp.test/login/submit"
    assert dict(httpx.QueryParams(seen[1].content.decode())) == {
        "k": "v",
        "email": BROKER_EMAIL,
        "password": TEST_PASSWORD,
        "action": "login",
    }
