"""Validation of caller input: external ids and return URLs (no open redirects)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from urllib.parse import urlsplit

from cdconnect.errors import InvalidInput, ReturnUrlNotAllowed
from cdconnect.oauth.scopes import invalid_scope_tokens

MAX_EXTERNAL_ID = 255
MAX_RETURN_URL = 2048
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def check_external_id(external_id: str) -> str:
    """The vendor's id for its customer: any printable text up to 255 characters."""
    if not isinstance(external_id, str) or not external_id.strip():
        raise InvalidInput("external_id must be a non-empty string")
    if len(external_id) > MAX_EXTERNAL_ID:
        raise InvalidInput(f"external_id is longer than {MAX_EXTERNAL_ID} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in external_id):
        raise InvalidInput("external_id contains control or invisible formatting characters")
    return external_id


def check_scope(scope: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """A scope a caller asked for (None: the configured one): RFC 6749 scope tokens only."""
    if scope is None:
        return None
    if isinstance(scope, str) or not scope:
        raise InvalidInput("scope must be a non-empty sequence of scope names")
    bad = invalid_scope_tokens([item if isinstance(item, str) else "" for item in scope])
    if bad:
        raise InvalidInput(f"scope contains invalid scope names: {bad!r}")
    return tuple(scope)


def parse_allow_list(raw: str) -> tuple[str, ...]:
    """``CDCONNECT_ALLOWED_RETURN_URLS``: comma-separated origins or URL prefixes."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def check_return_url(url: str, allowed: Sequence[str]) -> str:
    """Accept ``url`` only if it is an absolute https URL (http on loopback) on the allow-list.

    An entry without a path (``https://app.example.com``) allows that exact origin; an entry with
    a path allows URLs under that path (``https://app.example.com/cd/`` allows
    ``/cd/done`` but not ``/cdx``). Refused because browsers and parsers disagree about them
    (classic open-redirect tricks): userinfo, backslashes, whitespace and control characters,
    anything non-ASCII (international host names must be given in punycode), and dot segments
    (``/cd/../admin``, also percent-encoded), which a browser resolves out of the allowed path.
    """
    if len(url) > MAX_RETURN_URL or not url.isascii() or any(_unsafe(ch) for ch in url):
        raise ReturnUrlNotAllowed("return URL is malformed")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ReturnUrlNotAllowed("return URL is malformed") from None
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)
    if not secure or not parts.netloc or parts.username is not None or parts.password is not None:
        raise ReturnUrlNotAllowed("return URL must be an absolute https:// URL without credentials")
    if _has_dot_segment(parts.path):
        raise ReturnUrlNotAllowed("return URL must not contain . or .. path segments")
    for entry in allowed:
        if _matches(parts.scheme, parts.netloc.lower(), parts.path or "/", entry):
            return url
    raise ReturnUrlNotAllowed("return URL is not on the allow-list (CDCONNECT_ALLOWED_RETURN_URLS)")


def _unsafe(ch: str) -> bool:
    """Backslash, space, and every control character (tab, CR, LF, NUL, DEL, ...)."""
    return ch == "\\" or ch <= " " or ch == "\x7f"


def _has_dot_segment(path: str) -> bool:
    decoded = path.replace("%2e", ".").replace("%2E", ".")
    return any(segment in (".", "..") for segment in decoded.split("/"))


def _matches(scheme: str, netloc: str, path: str, entry: str) -> bool:
    allowed = urlsplit(entry)
    if allowed.scheme != scheme or allowed.netloc.lower() != netloc:
        return False
    prefix = allowed.path or "/"
    if prefix == "/":
        return True
    if not prefix.endswith("/"):
        return path == prefix or path.startswith(prefix + "/")
    return path.startswith(prefix)
