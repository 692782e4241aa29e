"""Validation of caller input: external ids and return URLs (no open redirects)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from urllib.parse import urlsplit

from cdconnect.errors import InvalidInput, ReturnUrlNotAllowed

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


def parse_allow_list(raw: str) -> tuple[str, ...]:
    """``CDCONNECT_ALLOWED_RETURN_URLS``: comma-separated origins or URL prefixes."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def check_return_url(url: str, allowed: Sequence[str]) -> str:
    """Accept ``url`` only if it is an absolute https URL (http on loopback) on the allow-list.

    An entry without a path (``https://app.example.com``) allows that exact origin; an entry with
    a path allows URLs under that path (``https://app.example.com/cd/`` allows
    ``/cd/done`` but not ``/cdx``). Userinfo, backslashes and control characters are refused
    because browsers and parsers disagree about them (classic open-redirect tricks).
    """
    if len(url) > MAX_RETURN_URL or any(ch in url for ch in "\\\r\n\t\x00") or " " in url:
        raise ReturnUrlNotAllowed("return URL is malformed")
    parts = urlsplit(url)
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS
    )
    if not secure or not parts.netloc or parts.username is not None or parts.password is not None:
        raise ReturnUrlNotAllowed("return URL must be an absolute https:// URL without credentials")
    for entry in allowed:
        if _matches(parts.scheme, parts.netloc.lower(), parts.path or "/", entry):
            return url
    raise ReturnUrlNotAllowed("return URL is not on the allow-list (CDCONNECT_ALLOWED_RETURN_URLS)")


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
