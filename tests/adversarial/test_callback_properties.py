"""Hypothesis against the service's callback, beyond random queries: states that look valid but
were never issued, genuine states with hostile codes, duplicated parameters, huge values,
Unicode and invalid UTF-8.

Invariant: a failure page (400/403, or 502 when a genuine state's code was refused by Central
Dispatch), nothing stored, and no code exchange unless the state was genuinely issued.
"""

from __future__ import annotations

import string
from urllib.parse import parse_qsl, quote, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.adversarial.helpers import Service

FIXTURE_SETTINGS = settings(
    max_examples=100,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)

STATE_SHAPED = st.text(string.ascii_letters + string.digits + "-_", min_size=43, max_size=43)
CODE_SHAPED = st.text("0123456789ABCDEF", min_size=64, max_size=64).map(lambda h: h + "-1")
#: Values far beyond the callback's 8 KiB query limit, yet within the client's 64 KiB URL limit
#: once percent-encoded (up to 12 characters per code point).
HUGE = st.builds(
    lambda char, n: char * n,
    st.sampled_from(["A", "%", "é", "\U0001f69a"]),
    st.integers(1_000, 5_000),
)
#: Bytes that are not UTF-8: a lone continuation byte, an overlong "/", a CESU-8 surrogate.
INVALID_UTF8 = st.builds(
    lambda prefix, bad: prefix + bad,
    st.binary(max_size=6),
    st.sampled_from([b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xff", b"\xe2\x82"]),
)
#: A value as it appears in the query: percent-encoded UTF-8, or raw invalid bytes.
ENCODED_VALUE = st.one_of(STATE_SHAPED, CODE_SHAPED, st.text(max_size=60)).map(
    lambda text: quote(text, safe="")
) | INVALID_UTF8.map(lambda raw: quote(raw, safe=""))
#: At most one huge value per query keeps the URL within what an HTTP client sends.
ONE_HUGE_VALUE = st.lists(HUGE.map(lambda text: quote(text, safe="")), max_size=1)


def query(pairs: list[tuple[str, str]]) -> str:
    """Pairs whose values are already percent-encoded."""
    return "&".join(f"{name}={value}" for name, value in pairs)


def exchanges(service: Service) -> int:
    with service.sandbox.state.lock:
        return sum(service.sandbox.state.counters.token_calls["authorization_code"].values())


def issued_state(service: Service) -> str:
    start = service.manager.begin_connect("acme")
    return dict(parse_qsl(urlsplit(start.authorize_url).query))["state"]


def assert_failure_page(service: Service, path: str, statuses: tuple[int, ...]) -> str:
    response = service.client.get(path)
    assert response.status_code in statuses, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="reference"' in response.text
    assert service.manager.store.get_connection("acme") is None
    page: str = response.text
    return page


@FIXTURE_SETTINGS
@given(
    state=STATE_SHAPED,
    code=CODE_SHAPED,
    extra=st.lists(
        st.tuples(st.sampled_from(["scope", "session_state", "error_description"]), ENCODED_VALUE),
        max_size=3,
    ),
)
def test_valid_looking_states_never_issued_reach_no_token_endpoint(
    service: Service, state: str, code: str, extra: list[tuple[str, str]]
) -> None:
    issued_state(service)  # a genuine pending authorization exists, and must not be matched
    pairs = [
        ("code", code),
        ("state", state),
        ("iss", quote(service.sandbox.issuer, safe="")),
        *extra,
    ]

    page = assert_failure_page(service, f"/callback?{query(pairs)}", (400,))

    assert "<code>state_mismatch</code>" in page or "<code>malformed_callback</code>" in page
    assert exchanges(service) == 0


@FIXTURE_SETTINGS
@given(
    names=st.lists(st.sampled_from(["code", "state", "iss", "scope", "error", "x"]), max_size=6),
    values=st.lists(ENCODED_VALUE, min_size=5, max_size=5),
    huge=ONE_HUGE_VALUE,
)
def test_any_values_without_a_genuine_state_reach_no_token_endpoint(
    service: Service, names: list[str], values: list[str], huge: list[str]
) -> None:
    pairs = list(zip(names, [*huge, *values], strict=False))

    assert_failure_page(service, f"/callback?{query(pairs)}", (400, 403))

    assert exchanges(service) == 0


@settings(FIXTURE_SETTINGS, max_examples=40)
@given(code=st.one_of(st.text(max_size=80), HUGE, CODE_SHAPED))
def test_a_genuine_state_with_a_hostile_code_stores_nothing(service: Service, code: str) -> None:
    state = issued_state(service)
    pairs = [
        ("code", quote(code, safe="")),
        ("state", state),
        ("iss", quote(service.sandbox.issuer, safe="")),
    ]
    before = exchanges(service)

    page = assert_failure_page(service, f"/callback?{query(pairs)}", (400, 502))

    # A code the callback parser refuses is never sent; one it accepts is refused by CD.
    sent = exchanges(service) - before
    assert sent in (0, 1)
    assert ("<code>invalid_grant</code>" in page) == (sent == 1)
    assert service.sandbox.state.grants == {}


@FIXTURE_SETTINGS
@given(
    duplicated=st.sampled_from(["code", "state", "iss"]),
    same_value=st.booleans(),
    order=st.permutations(range(4)),
)
def test_a_duplicated_parameter_is_malformed_even_with_a_genuine_state(
    service: Service, duplicated: str, same_value: bool, order: list[int]
) -> None:
    genuine = {
        "code": "A" * 64 + "-1",
        "state": issued_state(service),
        "iss": quote(service.sandbox.issuer, safe=""),
    }
    copy = genuine[duplicated] if same_value else quote("https://evil.example", safe="")
    pairs = [*genuine.items(), (duplicated, copy)]

    page = assert_failure_page(service, f"/callback?{query([pairs[i] for i in order])}", (400,))

    assert "<code>malformed_callback</code>" in page
    assert exchanges(service) == 0
