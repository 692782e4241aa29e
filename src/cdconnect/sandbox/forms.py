"""Strict parsing of form bodies and query strings, as an OAuth server must do it.

RFC 6749 §3.1/§3.2: parameters sent without a value are treated as omitted, and a parameter
must not appear more than once. Starlette's parsers silently keep the last value, so the sandbox
parses for itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class ParsedParams:
    """Parameters with empty values dropped, plus the names that appeared more than once."""

    values: dict[str, str]
    repeated: frozenset[str]


def parse_params(raw: str) -> ParsedParams:
    """Parse ``a=1&b=2`` into single values, noting repeated names."""
    values: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in parse_qsl(raw, keep_blank_values=True):
        if not value:
            continue
        if name in values:
            repeated.add(name)
        values[name] = value
    return ParsedParams(values=values, repeated=frozenset(repeated))


def is_form(content_type: str | None) -> bool:
    """Whether a Content-Type header announces a URL-encoded form."""
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() == FORM_CONTENT_TYPE
