from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from cdconnect.errors import (
    AccessDenied,
    CDConnectError,
    IssuerMismatch,
    MalformedCallback,
    OAuthError,
    StateMismatch,
)
from cdconnect.models import CallbackParams
from cdconnect.oauth import CallbackErrorParams, parse_callback, validate_callback
from tests.oauth.helpers import ISSUER

STATE = "s" * 43
CODE = "a" * 64 + "-1"


def callback_query(**params: str) -> str:
    return urlencode(params)


def good_query(**extra: str) -> str:
    return callback_query(
        code=CODE, scope="marketplace offline_access", iss=ISSUER, state=STATE, **extra
    )


def validate(params: CallbackParams | CallbackErrorParams, require_iss: bool = True) -> None:
    validate_callback(
        params, expected_state=SecretStr(STATE), expected_issuer=ISSUER, require_iss=require_iss
    )


# -- parse_callback ---------------------------------------------------------------------------


def test_parses_cds_documented_redirect() -> None:
    params = parse_callback(good_query())
    assert isinstance(params, CallbackParams)
    assert params.code.get_secret_value() == CODE
    assert params.state.get_secret_value() == STATE
    assert params.iss == ISSUER
    assert params.scope == ("marketplace", "offline_access")


def test_leading_question_mark_and_unknown_parameters_are_fine() -> None:
    params = parse_callback("?" + good_query(session_state="xyz"))
    assert isinstance(params, CallbackParams)
    assert params.code.get_secret_value() == CODE


def test_iss_and_scope_are_optional() -> None:
    params = parse_callback(callback_query(code=CODE, state=STATE))
    assert isinstance(params, CallbackParams)
    assert params.iss is None
    assert params.scope is None


@pytest.mark.parametrize("missing", ["code", "state"])
def test_missing_parameter_rejected(missing: str) -> None:
    params = {"code": CODE, "state": STATE, "iss": ISSUER}
    del params[missing]
    with pytest.raises(MalformedCallback, match=missing):
        parse_callback(urlencode(params))


@pytest.mark.parametrize("empty", ["code", "state"])
def test_empty_parameter_rejected(empty: str) -> None:
    params = {"code": CODE, "state": STATE, empty: ""}
    with pytest.raises(MalformedCallback, match=empty):
        parse_callback(urlencode(params))


@pytest.mark.parametrize("name", ["code", "state", "iss", "scope", "error"])
def test_duplicated_parameter_rejected(name: str) -> None:
    base = {"code": CODE, "state": STATE, "iss": ISSUER, "scope": "marketplace"}
    if name == "error":
        base = {"error": "access_denied", "state": STATE}
    query = urlencode(base) + f"&{name}=other"
    with pytest.raises(MalformedCallback, match="more than once"):
        parse_callback(query)


def test_code_and_error_together_rejected() -> None:
    with pytest.raises(MalformedCallback, match="both"):
        parse_callback(good_query(error="access_denied"))


def test_non_utf8_escape_rejected() -> None:
    with pytest.raises(MalformedCallback, match="decoded"):
        parse_callback(f"code=%FF%FE&state={STATE}")


def test_overlong_query_rejected() -> None:
    with pytest.raises(MalformedCallback, match="longer"):
        parse_callback(good_query(padding="x" * 9000))


def test_too_many_fields_rejected() -> None:
    with pytest.raises(MalformedCallback):
        parse_callback("&".join(f"f{i}=1" for i in range(100)))


def test_error_redirect_parsed() -> None:
    params = parse_callback(
        callback_query(
            error="access_denied",
            error_description="The user cancelled\r\nINJECTED log line",
            state=STATE,
            iss=ISSUER,
        )
    )
    assert isinstance(params, CallbackErrorParams)
    assert params.error == "access_denied"
    assert params.error_description == "The user cancelled  INJECTED log line"
    assert STATE not in repr(params)


def test_error_redirect_needs_state() -> None:
    with pytest.raises(MalformedCallback, match="state"):
        parse_callback(callback_query(error="access_denied"))


def test_malformed_error_value_rejected() -> None:
    with pytest.raises(MalformedCallback, match="error"):
        parse_callback(callback_query(error='bad"quote', state=STATE))


def test_params_repr_hides_code_and_state() -> None:
    params = parse_callback(good_query())
    assert CODE not in repr(params)
    assert STATE not in repr(params)


# -- validate_callback ------------------------------------------------------------------------


def test_valid_callback_returned() -> None:
    params = parse_callback(good_query())
    validated = validate_callback(
        params, expected_state=SecretStr(STATE), expected_issuer=ISSUER, require_iss=True
    )
    assert validated is params


def test_state_mismatch() -> None:
    params = parse_callback(callback_query(code=CODE, state="t" * 43, iss=ISSUER))
    with pytest.raises(StateMismatch):
        validate(params)


def test_non_ascii_state_is_a_mismatch_not_a_crash() -> None:
    params = parse_callback(callback_query(code=CODE, state="é" * 10, iss=ISSUER))
    with pytest.raises(StateMismatch):
        validate(params)


def test_issuer_mismatch() -> None:
    params = parse_callback(callback_query(code=CODE, state=STATE, iss="https://evil.example"))
    with pytest.raises(IssuerMismatch, match="evil"):
        validate(params)


def test_issuer_with_trailing_slash_is_another_issuer() -> None:
    params = parse_callback(callback_query(code=CODE, state=STATE, iss=ISSUER + "/"))
    with pytest.raises(IssuerMismatch):
        validate(params)


def test_missing_iss_rejected_when_required() -> None:
    params = parse_callback(callback_query(code=CODE, state=STATE))
    with pytest.raises(IssuerMismatch, match="no 'iss'"):
        validate(params, require_iss=True)


def test_missing_iss_accepted_when_not_required() -> None:
    params = parse_callback(callback_query(code=CODE, state=STATE))
    assert (
        validate_callback(
            params, expected_state=SecretStr(STATE), expected_issuer=ISSUER, require_iss=False
        ).code.get_secret_value()
        == CODE
    )


def test_wrong_iss_rejected_even_when_not_required() -> None:
    params = parse_callback(callback_query(code=CODE, state=STATE, iss="https://other"))
    with pytest.raises(IssuerMismatch):
        validate(params, require_iss=False)


def test_error_response_mapped_with_description() -> None:
    params = parse_callback(
        callback_query(
            error="access_denied", error_description="cancelled", state=STATE, iss=ISSUER
        )
    )
    with pytest.raises(AccessDenied) as caught:
        validate(params)
    assert caught.value.error == "access_denied"
    assert caught.value.description == "cancelled"


def test_unknown_error_value_gives_generic_oauth_error() -> None:
    params = parse_callback(callback_query(error="login_required", state=STATE, iss=ISSUER))
    with pytest.raises(OAuthError) as caught:
        validate(params)
    assert type(caught.value) is OAuthError
    assert caught.value.error == "login_required"


def test_issuer_checked_before_error_is_acted_on() -> None:
    # RFC 9207: an error claimed by another issuer is a mix-up, not a denial.
    params = parse_callback(
        callback_query(error="access_denied", state=STATE, iss="https://evil.example")
    )
    with pytest.raises(IssuerMismatch):
        validate(params)


def test_state_checked_before_error_is_acted_on() -> None:
    params = parse_callback(callback_query(error="access_denied", state="forged", iss=ISSUER))
    with pytest.raises(StateMismatch):
        validate(params)


# -- properties -------------------------------------------------------------------------------


def outcome_of(
    parse: Callable[[str], CallbackParams | CallbackErrorParams], query: str
) -> CallbackParams | CallbackErrorParams | CDConnectError:
    try:
        return parse(query)
    except CDConnectError as exc:
        return exc


NAMES = st.sampled_from(
    ["code", "state", "iss", "scope", "error", "error_description", "error_uri", "other", ""]
)
VALUES = st.one_of(st.text(max_size=40), st.sampled_from([CODE, STATE, ISSUER, "access_denied"]))


@st.composite
def structured_queries(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(NAMES, VALUES), max_size=8))
    return urlencode(pairs)


@given(st.one_of(st.text(max_size=300), structured_queries()))
def test_any_query_parses_or_raises_callback_error(query: str) -> None:
    params = outcome_of(parse_callback, query)
    if isinstance(params, CDConnectError):
        assert isinstance(params, MalformedCallback)
        return
    assert isinstance(params, CallbackParams | CallbackErrorParams)
    assert params.state.get_secret_value()
    if isinstance(params, CallbackParams):
        assert params.code.get_secret_value()


@given(st.one_of(st.text(max_size=300), structured_queries()), st.booleans())
def test_validate_accepts_only_matching_state_and_issuer(query: str, require_iss: bool) -> None:
    try:
        params = parse_callback(query)
        validated = validate_callback(
            params,
            expected_state=SecretStr(STATE),
            expected_issuer=ISSUER,
            require_iss=require_iss,
        )
    except CDConnectError:
        return
    assert isinstance(validated, CallbackParams)
    assert validated.state.get_secret_value() == STATE
    assert validated.iss == ISSUER or (validated.iss is None and not require_iss)
