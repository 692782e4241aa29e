"""OAuth scope values (RFC 6749 §3.3): space-delimited lists of scope tokens."""

from __future__ import annotations

import re
from collections.abc import Sequence

from cdconnect.errors import ConfigurationError

#: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def split_scope(value: str) -> tuple[str, ...]:
    """Split a space-delimited scope string, dropping empty items from repeated spaces."""
    return tuple(item for item in value.split(" ") if item)


def invalid_scope_tokens(scope: Sequence[str]) -> list[str]:
    """The items of ``scope`` that are not valid scope tokens (for error messages)."""
    return [item for item in scope if not _SCOPE_TOKEN.fullmatch(item)]


def normalize_scope(scope: Sequence[str] | str) -> tuple[str, ...]:
    """Validate a requested scope; a plain string is read as space-delimited.

    Raises :class:`ConfigurationError` when it is empty or holds an invalid token: the scope
    comes from configuration, and sending a bad one would only fail later at the login page.
    """
    items = split_scope(scope) if isinstance(scope, str) else tuple(scope)
    if not items:
        raise ConfigurationError("scope must name at least one scope")
    bad = invalid_scope_tokens(items)
    if bad:
        raise ConfigurationError(f"scope contains invalid scope tokens: {bad!r}")
    return items
