"""The log scanner finds every kind of secret and names where, never what."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.chaos.logscan import (
    KnownSecrets,
    count_read_timeouts,
    find_leaks,
    scan_logs,
    sha256_hex,
)

ISSUED = secrets.token_hex(32).upper() + "-1"
NEVER_ISSUED = secrets.token_hex(32).upper() + "-1"
JWT_LIKE = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
KNOWN = KnownSecrets(
    exact={"a client secret": {"sandbox-demo-secret"}}, issued_digests={sha256_hex(ISSUED)}
)


def test_clean_text_has_no_leak() -> None:
    clean = "token request refresh_token succeeded: HTTP 200 (12.0 ms) generation 3"
    assert find_leaks(clean, KNOWN) == []


def test_an_exact_secret_is_found_by_kind() -> None:
    assert find_leaks("form: client_secret=sandbox-demo-secret", KNOWN) == ["a client secret"]


def test_an_issued_refresh_token_is_found_by_its_digest() -> None:
    assert find_leaks(f"refresh_token={ISSUED}&x=1", KNOWN) == [
        "a refresh token or code the sandbox issued"
    ]


def test_a_token_shaped_value_the_sandbox_never_issued_is_not_a_leak() -> None:
    assert find_leaks(NEVER_ISSUED, KNOWN) == []


def test_a_jwt_is_found() -> None:
    assert find_leaks(f"Authorization: Bearer {JWT_LIKE}", KNOWN) == ["a JWT (access token)"]


def test_scan_names_files_and_kinds_not_secrets(tmp_path: Path) -> None:
    (tmp_path / "w0.log").write_text("all quiet\n", encoding="utf-8")
    (tmp_path / "w1.log").write_text(f"oops {ISSUED}\n", encoding="utf-8")
    leaks = scan_logs([tmp_path / "w0.log", tmp_path / "w1.log", tmp_path / "gone.log"], KNOWN)
    assert leaks == ["w1.log: a refresh token or code the sandbox issued"]
    assert ISSUED not in repr(KNOWN) and "sandbox-demo-secret" not in repr(KNOWN)


def test_read_timeouts_are_counted_from_cdconnect_lines(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text(
        "t 1 caller-0 cdconnect.oauth WARNING token request refresh_token attempt 1: the token "
        "response was lost (ReadTimeout); the request may have been processed\n"
        "t 1 caller-0 cdconnect.oauth WARNING token request refresh_token attempt 1: the token "
        "response was lost (RemoteProtocolError); the request may have been processed\n"
        "t 1 caller-0 httpcore.http11 DEBUG receive_response_headers.failed (ReadTimeout)\n",
        encoding="utf-8",
    )
    assert count_read_timeouts([log, tmp_path / "missing.log"]) == 1
