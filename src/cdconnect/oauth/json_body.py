"""Strict decoding of the token endpoint's JSON bodies.

Anything but a single, well-formed JSON object of bounded size is refused with a short reason that
never quotes the body (it may hold tokens).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

#: Real token responses are a few KiB (a JWT plus a refresh token); anything bigger is not one.
MAX_RESPONSE_BYTES = 64 * 1024

_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,64}")


@dataclass(frozen=True, slots=True)
class NotAJsonObject:
    """Why a body was refused, as a clause such as ``"the body is not valid JSON"``."""

    reason: str


class _DuplicateKeyError(ValueError):
    pass


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts and ``httpx.Headers`` alike."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def decode_json_object(headers: Mapping[str, str], body: bytes) -> dict[str, Any] | NotAJsonObject:
    """The body as a JSON object, or the reason it is not one."""
    if len(body) > MAX_RESPONSE_BYTES:
        return NotAJsonObject(f"the body is larger than {MAX_RESPONSE_BYTES} bytes")
    media_type = _media_type(headers)
    if media_type is not None and not _is_json(media_type):
        return NotAJsonObject(f"expected application/json, got {media_type}")
    if not body.strip():
        return NotAJsonObject("the body is empty")
    return _loads_object(body)


def _loads_object(body: bytes) -> dict[str, Any] | NotAJsonObject:
    try:
        text = body.decode("utf-8")  # RFC 8259 §8.1: JSON between systems is UTF-8
    except UnicodeDecodeError:
        return NotAJsonObject("the body is not UTF-8 text")
    try:
        value = json.loads(
            text, object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant
        )
    except _DuplicateKeyError:
        # Two values for one key: which one a parser keeps differs between parsers, so refuse
        # rather than guess (a proxy and we could disagree on the token).
        return NotAJsonObject("the JSON has a duplicate key")
    except (ValueError, RecursionError):
        # ValueError covers malformed JSON and integers beyond Python's digit limit;
        # RecursionError covers absurd nesting.
        return NotAJsonObject("the body is not valid JSON")
    if not isinstance(value, dict):
        return NotAJsonObject(f"expected a JSON object, got {json_type_name(value)}")
    return value


def json_type_name(value: object) -> str:
    """``"a string"``, ``"a number"``, ... for messages that must not quote the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _media_type(headers: Mapping[str, str]) -> str | None:
    raw = header_value(headers, "content-type")
    if raw is None:
        return None
    media_type = raw.split(";", 1)[0].strip().lower()
    # Only echo something that looks like a media type; never arbitrary header text.
    return media_type if _MEDIA_TYPE.fullmatch(media_type) else "an unrecognised content type"


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKeyError
    return result


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")
