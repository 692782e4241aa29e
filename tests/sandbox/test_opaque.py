"""Opaque values and the PKCE transform."""

from __future__ import annotations

import re

import pytest

from cdconnect.sandbox.opaque import (
    digest,
    is_pkce_value,
    new_authorization_code,
    new_id,
    new_refresh_token,
    s256_challenge,
    same_secret,
)


def test_codes_and_refresh_tokens_look_like_central_dispatchs_and_never_repeat() -> None:
    values = {new_authorization_code() for _ in range(100)} | {
        new_refresh_token() for _ in range(100)
    }

    assert len(values) == 200
    assert all(re.fullmatch(r"[0-9A-F]{64}-1", value) for value in values)
    assert re.fullmatch(r"[0-9a-f]{32}", new_id())


def test_digest_is_sha256_hex() -> None:
    assert digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_s256_matches_rfc_7636_appendix_b() -> None:
    assert s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("a" * 43, True),
        ("a" * 128, True),
        ("a" * 42, False),
        ("a" * 129, False),
        ("a" * 42 + "+", False),
        ("A-._~" * 9, True),
    ],
)
def test_pkce_value_grammar(value: str, valid: bool) -> None:
    assert is_pkce_value(value) is valid


def test_same_secret() -> None:
    assert same_secret("s3cret", "s3cret")
    assert not same_secret("s3cret", "s3cret ")
    assert same_secret("päss", "päss")
