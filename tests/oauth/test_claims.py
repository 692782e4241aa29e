from __future__ import annotations

import base64
import json

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from cdconnect.oauth import read_claims


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_reads_payload_without_verifying() -> None:
    token = jwt.encode({"sub": "u1", "scope": ["marketplace"]}, "not-the-real-key-" * 2, "HS256")
    claims = read_claims(SecretStr(token))
    assert claims["sub"] == "u1"
    assert claims["scope"] == ["marketplace"]


def test_expired_token_claims_still_readable() -> None:
    token = jwt.encode({"exp": 1, "sub": "u"}, "k" * 32, "HS256")
    assert read_claims(SecretStr(token))["exp"] == 1


def test_claims_are_read_only() -> None:
    claims = read_claims(SecretStr(jwt.encode({"a": 1}, "k" * 32, "HS256")))
    with pytest.raises(TypeError):
        claims["a"] = 2  # type: ignore[index]


@pytest.mark.parametrize(
    "token",
    [
        "",
        "opaque-token",
        "a.b.c",
        f"{b64(b'{}')}.{b64(b'[1,2]')}.sig",  # payload not an object
        f"{b64(b'{}')}.{b64(b'not json')}.sig",
        f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(b'{')}.",
    ],
)
def test_non_jwt_gives_empty_mapping(token: str) -> None:
    assert dict(read_claims(SecretStr(token))) == {}


@given(st.text(max_size=200))
def test_never_raises(token: str) -> None:
    claims = read_claims(SecretStr(token))
    assert isinstance(dict(claims), dict)
