"""Open-redirect attempts on return URLs, state replay and swaps, issuer mix-up.

Return URLs are checked when the connect starts: a trick is refused with 422
``return_url_not_allowed`` (never a 500); an accepted URL must send the browser back to the
vendor's origin under the allowed path. A callback whose state or issuer is wrong never reaches
the token endpoint: the code is not sent anywhere.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from cdconnect.errors import ReturnUrlNotAllowed
from tests.adversarial.helpers import Service
from tests.web.conftest import ADMIN, VENDOR

#: "vеndor.example" with a Cyrillic "е": looks like the vendor, is another host.
CYRILLIC_VENDOR = "v\u0435ndor.example"

REFUSED = {
    "protocol-relative": "//evil.example/cd/",
    "protocol-relative-vendor-path": "//evil.example/vendor.example/cd/",
    "scheme-without-slashes": "https:evil.example/cd/",
    "scheme-one-slash": "https:/evil.example/cd/",
    "backslashes": "\\\\evil.example\\cd\\",
    "https-backslashes": "https:\\\\evil.example\\cd\\",
    "slash-backslash": "/\\evil.example/cd/",
    "userinfo-vendor-as-user": "https://vendor.example@evil.example/cd/",
    "userinfo-vendor-as-password": "https://x:vendor.example@evil.example/cd/",
    "userinfo-on-vendor": "https://evil.example@vendor.example/cd/",
    "encoded-at": "https://vendor.example%40evil.example/cd/",
    "fragment-before-at": "https://evil.example#@vendor.example/cd/",
    "query-before-at": "https://evil.example?@vendor.example/cd/",
    "idn-look-alike": f"https://{CYRILLIC_VENDOR}/cd/",
    "punycode-look-alike": f"https://{CYRILLIC_VENDOR.encode('idna').decode()}/cd/",
    "evil-subdomain-suffix": "https://vendor.example.evil.example/cd/",
    "other-port": "https://vendor.example:8443/cd/",
    "http-downgrade": "http://vendor.example/cd/",
    "mixed-case-http": "HTTP://vendor.example/cd/",
    "javascript": "javascript://vendor.example/cd/%0aalert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "sibling-path": "https://vendor.example/cdx/",
    # Characters that NFKC-normalise to "/" or "#" inside the host: Python's URL parser raises.
    "fullwidth-solidus-in-host": "https://vendor.example\uff0fevil.example/cd/",
    "fullwidth-number-sign-in-host": "https://evil.example\uff03@vendor.example/cd/",
    "unclosed-ipv6-bracket": "https://[vendor.example/cd/",
    # Browsers resolve dot segments (also percent-encoded ones) before requesting the page.
    "dot-segments": "https://vendor.example/cd/../admin",
    "encoded-dot-segments": "https://vendor.example/cd/%2e%2e/admin",
    "mixed-encoded-dot-segments": "https://vendor.example/cd/.%2E/admin",
}

#: Odd but harmless: the browser stays on the vendor's origin, under the allowed path.
ACCEPTED = {
    "mixed-case-scheme": "HTTPS://vendor.example/cd/done",
    "mixed-case-host": "https://VENDOR.example/cd/done",
    "encoded-slashes": "https://vendor.example/cd/%2F%2Fevil.example",
    "evil-url-in-query": "https://vendor.example/cd/done?next=https://evil.example/",
    "at-in-path": "https://vendor.example/cd/@evil.example",
}


def start(service: Service, return_url: str) -> tuple[int, str]:
    response = service.client.post(
        "/api/connect-sessions",
        json={"external_id": "acme", "return_url": return_url},
        headers=ADMIN,
    )
    return response.status_code, response.text


def replace_query(url: str, pairs: list[tuple[str, str]]) -> str:
    return urlsplit(url)._replace(query=urlencode(pairs)).geturl()


def query_pairs(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def changed(url: str, **values: str) -> str:
    pairs = [(name, values.get(name, value)) for name, value in query_pairs(url)]
    return replace_query(url, pairs)


def exchanges(service: Service) -> dict[str, int]:
    return dict(service.sandbox.control.counters().token_calls.get("authorization_code", {}))


def assert_refused_page(service: Service, callback: str, code: str) -> None:
    response = service.driver.finish(callback)
    assert response.status_code == 400, response.text
    assert f"<code>{code}</code>" in response.text


# -- return URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", REFUSED.values(), ids=REFUSED.keys())
def test_open_redirect_tricks_are_refused_before_anything_starts(
    service: Service, url: str
) -> None:
    status, body = start(service, url)

    assert status == 422, body
    assert '"return_url_not_allowed"' in body
    service.assert_healthy()


@pytest.mark.parametrize(
    "name", ["fullwidth-solidus-in-host", "fullwidth-number-sign-in-host", "unclosed-ipv6-bracket"]
)
def test_the_library_refuses_unparseable_return_urls_with_its_typed_error(
    service: Service, name: str
) -> None:
    with pytest.raises(ReturnUrlNotAllowed):
        service.manager.begin_connect("acme", return_url=REFUSED[name])


@pytest.mark.parametrize("url", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_odd_return_urls_lead_back_to_the_vendor_only(service: Service, url: str) -> None:
    response = service.driver.connect("acme", return_url=url)

    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.hostname) == ("https", "vendor.example")
    assert location.port is None and location.username is None
    assert location.path.startswith("/cd/")
    assert ("cdconnect", "connected") in parse_qsl(location.query)


# -- state ----------------------------------------------------------------------------------------


def test_a_callback_replayed_after_a_failed_exchange_exchanges_nothing(service: Service) -> None:
    callback = service.driver.callback_url("acme")
    service.sandbox.control.set_faults(error_rate=1.0)
    assert service.driver.finish(callback).status_code == 502
    service.sandbox.control.set_faults(error_rate=0.0)

    assert_refused_page(service, callback, "state_mismatch")

    assert exchanges(service) == {"fault_5xx": 1}
    service.assert_nothing_stored("acme")


def test_a_code_injected_under_another_sessions_state_is_refused(service: Service) -> None:
    victim = service.driver.callback_url("acme")
    attacker = service.driver.callback_url("globex")
    injected = changed(attacker, code=dict(query_pairs(victim))["code"])

    response = service.driver.finish(injected)

    # The state is genuine, so the exchange happens, but PKCE binds the code to its own
    # session's verifier: Central Dispatch refuses it and nothing is stored under either id.
    assert response.status_code == 502
    assert "<code>invalid_grant</code>" in response.text
    service.assert_nothing_stored("globex")
    service.assert_nothing_stored("acme")
    assert exchanges(service) == {"invalid_grant": 1}


def test_an_expired_state_is_refused_without_exchanging(service: Service) -> None:
    callback = service.driver.callback_url("acme")
    service.clock.advance(service.settings.state_ttl + 1)

    assert_refused_page(service, callback, "state_mismatch")

    assert exchanges(service) == {}
    service.assert_nothing_stored("acme")


@pytest.mark.parametrize("variant", ["swapcase", "padded", "truncated", "extended"])
def test_near_miss_states_are_refused_without_exchanging(service: Service, variant: str) -> None:
    callback = service.driver.callback_url("acme")
    state = dict(query_pairs(callback))["state"]
    near_miss = {
        "swapcase": state.swapcase(),
        "padded": state + "=",
        "truncated": state[:-1],
        "extended": state + "A",
    }[variant]

    assert_refused_page(service, changed(callback, state=near_miss), "state_mismatch")

    assert exchanges(service) == {}
    service.assert_nothing_stored("acme")


# -- issuer mix-up ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    ["trailing-slash", "upper-case-scheme", "http", "with-path", "userinfo", "longer-host"],
)
def test_issuer_look_alikes_are_refused_before_the_code_is_sent(
    service: Service, variant: str
) -> None:
    issuer = service.sandbox.issuer
    host = urlsplit(issuer).netloc
    look_alike = {
        "trailing-slash": issuer + "/",
        "upper-case-scheme": "HTTPS://" + host,
        "http": "http://" + host,
        "with-path": issuer + "/evil",
        "userinfo": f"https://evil@{host}",
        "longer-host": issuer + ".evil.example",
    }[variant]
    callback = service.driver.callback_url("acme")

    assert_refused_page(service, changed(callback, iss=look_alike), "issuer_mismatch")

    assert exchanges(service) == {}
    service.assert_nothing_stored("acme")


@pytest.mark.parametrize("order", ["genuine-first", "evil-first"])
def test_a_duplicated_iss_is_malformed_and_sends_no_code(service: Service, order: str) -> None:
    callback = service.driver.callback_url("acme")
    pairs = query_pairs(callback)
    evil = ("iss", "https://evil.example")
    pairs = [*pairs, evil] if order == "genuine-first" else [evil, *pairs]

    assert_refused_page(service, replace_query(callback, pairs), "malformed_callback")

    assert exchanges(service) == {}


def test_an_empty_iss_counts_as_missing(service: Service) -> None:
    callback = service.driver.callback_url("acme")

    response = service.driver.finish(changed(callback, iss=""))

    assert response.status_code == 400
    assert "<code>issuer_mismatch</code>" in response.text or (
        "<code>malformed_callback</code>" in response.text
    )
    assert exchanges(service) == {}
    assert VENDOR not in response.text
