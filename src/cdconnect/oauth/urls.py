"""URL safety rules shared by the settings and the protocol layer.

Every request to Central Dispatch must use ``https://``. URLs that only a browser or our own
service visits (the redirect URI, webhooks, return URLs) may use plain ``http://`` on a loopback
host, as RFC 8252 allows for native apps and local development.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

from cdconnect.errors import InsecureEndpointError

LOOPBACK_NAMES = frozenset({"localhost"})


def describe_url(url: str) -> str:
    """A URL safe to show in messages: scheme, host, port and path only.

    User info (``user:password@``), query and fragment may carry credentials, so they are dropped.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<unparseable URL>"
    if not parts.scheme:
        return "<URL without a scheme>"
    shown = f"{parts.scheme}://{_bracket_ipv6(host)}{port}{parts.path}"
    return shown if len(shown) <= 120 else shown[:117] + "..."


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1``."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_https_url(url: str, *, allow_loopback_http: bool = False) -> str | None:
    """Return why ``url`` is not an acceptable absolute https URL, or None when it is.

    The answer is a sentence fragment meant to follow the name of the setting or parameter, e.g.
    ``"must use https:// (got http://example.com/)"``.
    """
    parts = _split(url)
    if parts is None:
        return f"is not a valid URL (got {describe_url(url)})"
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("https", "http") or not host:
        return f"must be an absolute https:// URL (got {describe_url(url)})"
    if scheme == "http" and not (allow_loopback_http and is_loopback_host(host)):
        hint = " or http:// on a loopback host" if allow_loopback_http else ""
        return f"must use https://{hint} (got {describe_url(url)})"
    if parts.username is not None or parts.password is not None:
        return f"must not contain user info (got {describe_url(url)})"
    return None


def require_https(url: str, *, name: str) -> str:
    """Return ``url`` unchanged, or raise :class:`InsecureEndpointError` naming ``name``."""
    problem = check_https_url(url)
    if problem is not None:
        raise InsecureEndpointError(f"{name} {problem}")
    return url


def require_redirect_uri(url: str, *, name: str = "redirect_uri") -> str:
    """A redirect URI: https, or http on loopback; no fragment (RFC 6749 §3.1.2)."""
    problem = check_https_url(url, allow_loopback_http=True)
    if problem is not None:
        raise InsecureEndpointError(f"{name} {problem}")
    if "#" in url:
        raise InsecureEndpointError(f"{name} must not contain a fragment")
    return url


def _split(url: str) -> SplitResult | None:
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        # Whitespace and control characters are never valid in a URL; urlsplit would silently
        # strip some of them, so refuse them before parsing.
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        return None
    return parts


def _bracket_ipv6(host: str) -> str:
    return f"[{host}]" if ":" in host else host
