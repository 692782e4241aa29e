"""``/connect/authorize``: the login page, its errors, and the redirect back to the client."""

from __future__ import annotations

import re

import httpx
import pytest

from cdconnect.sandbox import (
    BROKER_EMAIL,
    CARRIER_EMAIL,
    CLI_REDIRECT_URI,
    SERVICE_REDIRECT_URI,
    TEST_PASSWORD,
    LoginPageError,
    SandboxState,
    login,
)
from tests.sandbox.helpers import (
    IN_PROCESS_BASE,
    AppFactory,
    ClientOpener,
    authorize_params,
    authorize_url,
    query_of,
)

CODE_SHAPE = re.compile(r"[0-9A-F]{64}-1")


def _form(
    overrides: dict[str, str | None] | None = None,
    *,
    email: str = BROKER_EMAIL,
    password: str = TEST_PASSWORD,
) -> dict[str, str]:
    return {**authorize_params(**(overrides or {})), "email": email, "password": password}


def test_login_page_is_an_accessible_form_that_carries_the_request(client: httpx.Client) -> None:
    response = client.get(authorize_url(IN_PROCESS_BASE))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert '<html lang="en">' in html
    assert '<label for="email">' in html and '<label for="password">' in html
    assert 'autocomplete="current-password"' in html
    assert 'value="login">Sign in</button>' in html
    assert 'value="cancel" formnovalidate>Cancel</button>' in html
    assert '<input type="hidden" name="state" value="state-123">' in html
    assert "<script" not in html and "http://" not in html.split("</style>")[0]


def test_login_hint_prefills_the_email(client: httpx.Client) -> None:
    response = client.get(authorize_url(IN_PROCESS_BASE, login_hint=CARRIER_EMAIL))

    assert f'value="{CARRIER_EMAIL}"' in response.text


def test_page_values_are_html_escaped(client: httpx.Client) -> None:
    response = client.get(authorize_url(IN_PROCESS_BASE, state='"><script>x</script>'))

    assert "<script>x" not in response.text
    assert "&#34;&gt;&lt;script&gt;" in response.text


def test_successful_login_redirects_with_code_scope_state_and_iss(client: httpx.Client) -> None:
    location = login(client, authorize_url(IN_PROCESS_BASE), BROKER_EMAIL, TEST_PASSWORD)

    assert location.startswith(SERVICE_REDIRECT_URI + "?")
    params = query_of(location)
    assert CODE_SHAPE.fullmatch(params["code"])
    assert params["scope"] == "marketplace offline_access"
    assert params["state"] == "state-123"
    assert params["iss"] == IN_PROCESS_BASE
    assert "scope=marketplace%20offline_access" in location


def test_login_is_case_insensitive_on_email_and_state_is_optional(client: httpx.Client) -> None:
    url = authorize_url(IN_PROCESS_BASE, state=None, redirect_uri=CLI_REDIRECT_URI)

    location = login(client, url, BROKER_EMAIL.upper(), TEST_PASSWORD)

    assert location.startswith(CLI_REDIRECT_URI + "?")
    assert "state" not in query_of(location)


def test_redirect_uri_with_a_query_keeps_it(client: httpx.Client, state: SandboxState) -> None:
    uri = "https://app.example.com/cb?tenant=7"
    state.add_redirect_uri("cdconnect-demo", uri)

    location = login(
        client, authorize_url(IN_PROCESS_BASE, redirect_uri=uri), BROKER_EMAIL, TEST_PASSWORD
    )

    assert location.startswith(uri + "&code=")


@pytest.mark.parametrize("password", ["wrong", ""])
def test_wrong_password_shows_the_page_again_with_an_error(
    client: httpx.Client, password: str
) -> None:
    response = client.post("/connect/authorize", data=_form(password=password))

    assert response.status_code == 200
    assert 'role="alert"' in response.text
    assert "email or password is incorrect" in response.text
    assert f'value="{BROKER_EMAIL}"' in response.text
    with pytest.raises(LoginPageError, match="incorrect"):
        login(client, authorize_url(IN_PROCESS_BASE), BROKER_EMAIL, password or "x")


def test_unknown_account_cannot_log_in(client: httpx.Client) -> None:
    response = client.post("/connect/authorize", data=_form(email="nobody@example.com"))

    assert response.status_code == 200
    assert "incorrect" in response.text


def test_cancel_redirects_with_access_denied(client: httpx.Client) -> None:
    location = login(client, authorize_url(IN_PROCESS_BASE), "", "", cancel=True)

    params = query_of(location)
    assert params["error"] == "access_denied"
    assert params["error_description"]
    assert params["state"] == "state-123"
    assert params["iss"] == IN_PROCESS_BASE
    assert "code" not in params


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"client_id": None}, "no client_id"),
        ({"client_id": "someone-else"}, "not registered"),
        ({"redirect_uri": None}, "no redirect_uri"),
        ({"redirect_uri": "https://evil.example.com/callback"}, "not registered"),
        # exact match only: no prefix, case or trailing-slash leniency
        ({"redirect_uri": SERVICE_REDIRECT_URI + "/"}, "not registered"),
        ({"redirect_uri": "https://127.0.0.1:8444/callback"}, "not registered"),
    ],
)
def test_untrusted_client_or_redirect_gets_an_error_page_never_a_redirect(
    client: httpx.Client, overrides: dict[str, str | None], message: str
) -> None:
    for response in (
        client.get(authorize_url(IN_PROCESS_BASE, **overrides)),
        client.post("/connect/authorize", data=_form(overrides)),
    ):
        assert response.status_code == 400
        assert "location" not in response.headers
        assert response.headers["content-type"].startswith("text/html")
        assert message in response.text


def test_repeated_redirect_uri_gets_an_error_page(client: httpx.Client) -> None:
    url = authorize_url(IN_PROCESS_BASE) + "&redirect_uri=" + CLI_REDIRECT_URI

    response = client.get(url)

    assert response.status_code == 400
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"grant_type": None}, "invalid_request"),
        ({"grant_type": "client_credentials"}, "invalid_request"),
        ({"scope": None}, "invalid_request"),
        ({"scope": "marketplace admin"}, "invalid_scope"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "a" * 43}, "invalid_request"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
        ({"code_challenge_method": "S256"}, "invalid_request"),
    ],
)
def test_other_errors_redirect_with_error_state_and_iss(
    client: httpx.Client, overrides: dict[str, str | None], error: str
) -> None:
    response = client.get(authorize_url(IN_PROCESS_BASE, **overrides))

    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(SERVICE_REDIRECT_URI + "?")
    params = query_of(location)
    assert params["error"] == error
    assert params["error_description"]
    assert params["state"] == "state-123"
    assert params["iss"] == IN_PROCESS_BASE


def test_missing_grant_type_names_central_dispatchs_requirement(client: httpx.Client) -> None:
    response = client.get(authorize_url(IN_PROCESS_BASE, grant_type=None))

    assert (
        "grant_type=authorization_code is required"
        in query_of(response.headers["location"])["error_description"]
    )


def test_repeated_parameter_is_an_invalid_request(client: httpx.Client) -> None:
    response = client.get(authorize_url(IN_PROCESS_BASE) + "&scope=marketplace")

    assert query_of(response.headers["location"])["error"] == "invalid_request"


def test_client_without_the_code_flow_is_unauthorized(
    client: httpx.Client, state: SandboxState
) -> None:
    state.add_redirect_uri("cdconnect-service", SERVICE_REDIRECT_URI)

    response = client.get(
        authorize_url(IN_PROCESS_BASE, client_id="cdconnect-service", scope="marketplace")
    )

    assert query_of(response.headers["location"])["error"] == "unauthorized_client"


def test_the_post_is_validated_again(client: httpx.Client) -> None:
    response = client.post("/connect/authorize", data=_form({"scope": "marketplace admin"}))

    assert query_of(response.headers["location"])["error"] == "invalid_scope"


def test_unreadable_form_gets_an_error_page(client: httpx.Client) -> None:
    response = client.post("/connect/authorize", json={"email": BROKER_EMAIL})

    assert response.status_code == 400
    assert "location" not in response.headers


def test_granted_scope_override_changes_what_the_callback_reports(
    client: httpx.Client, state: SandboxState
) -> None:
    state.update_faults({"granted_scope": "listing_service offline_access"})

    location = login(client, authorize_url(IN_PROCESS_BASE), BROKER_EMAIL, TEST_PASSWORD)

    assert query_of(location)["scope"] == "listing_service offline_access"


def test_test_accounts_can_be_hidden(make_app: AppFactory, open_client: ClientOpener) -> None:
    shown = open_client(make_app()).get(authorize_url(IN_PROCESS_BASE)).text
    quiet_app = make_app(show_test_accounts=False)
    hidden = open_client(quiet_app).get(authorize_url(IN_PROCESS_BASE)).text

    assert CARRIER_EMAIL in shown
    assert CARRIER_EMAIL not in hidden
