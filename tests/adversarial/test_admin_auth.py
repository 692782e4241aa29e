"""The admin API's bearer-key check against hostile callers.

Decisions (RFC 7235 / RFC 6750): the scheme is case-insensitive (``bearer`` works), one or more
spaces may separate scheme and key, whitespace around the whole header value is not part of it;
anything else that is not exactly ``Bearer <configured key>`` is refused. A request with more
than one ``Authorization`` header is malformed (401): the header is not a list, and a proxy in
front may have checked a different copy than the one the service would read.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.adversarial.helpers import Service
from tests.web.conftest import ADMIN, ADMIN_KEY, OTHER_ADMIN_KEY

MIDDLE = len(ADMIN_KEY) // 2


def _replace(index: int, char: str) -> str:
    return ADMIN_KEY[:index] + char + ADMIN_KEY[index + 1 :]


def _other_char(char: str) -> str:
    return "b" if char != "b" else "c"


#: Printable keys that are not a configured key: 403 forbidden.
ALMOST_RIGHT = {
    "last-char": _replace(len(ADMIN_KEY) - 1, _other_char(ADMIN_KEY[-1])),
    "middle-char": _replace(MIDDLE, _other_char(ADMIN_KEY[MIDDLE])),
    "middle-deleted": ADMIN_KEY[:MIDDLE] + ADMIN_KEY[MIDDLE + 1 :],
    "middle-inserted": ADMIN_KEY[:MIDDLE] + "x" + ADMIN_KEY[MIDDLE:],
    "transposed": ADMIN_KEY[:MIDDLE]
    + ADMIN_KEY[MIDDLE + 1]
    + ADMIN_KEY[MIDDLE]
    + ADMIN_KEY[MIDDLE + 2 :],
    "first-half": ADMIN_KEY[:MIDDLE],
    "second-half": ADMIN_KEY[MIDDLE:],
    "doubled": ADMIN_KEY * 2,
    "title-case": ADMIN_KEY.title(),
    "quoted": f'"{ADMIN_KEY}"',
    "base64": base64.b64encode(ADMIN_KEY.encode()).decode(),
    "other-key-prefix": OTHER_ADMIN_KEY[:MIDDLE] + ADMIN_KEY[MIDDLE:],
}

#: Look-alikes outside ASCII: refused, as malformed (401) or as a wrong key (403) depending on
#: how their UTF-8 bytes read as Latin-1 (the encoding of HTTP header values).
LOOK_ALIKES = {
    "cyrillic-a": ADMIN_KEY.replace("a", "\u0430", 1),
    "fullwidth-a": ADMIN_KEY.replace("a", "\uff41", 1),
    "cyrillic-e": ADMIN_KEY.replace("e", "\u0435", 1),
    "combining-accent": ADMIN_KEY[:MIDDLE] + "\u0301" + ADMIN_KEY[MIDDLE:],
}

#: Authorization header values that are not ``Bearer <key>`` at all: 401 unauthorized.
MALFORMED = {
    "tab-separated": f"Bearer\t{ADMIN_KEY}",
    "nbsp-separated": f"Bearer\u00a0{ADMIN_KEY}",
    "space-inside-key": f"Bearer {ADMIN_KEY[:MIDDLE]} {ADMIN_KEY[MIDDLE:]}",
    "colon-after-scheme": f"Bearer: {ADMIN_KEY}",
    "basic-key-as-user": "Basic " + base64.b64encode(f"{ADMIN_KEY}:".encode()).decode(),
    "basic-key-as-password": "Basic " + base64.b64encode(f":{ADMIN_KEY}".encode()).decode(),
    "digest": f"Digest {ADMIN_KEY}",
    "mac": f"MAC {ADMIN_KEY}",
    "two-credentials": f"Bearer {ADMIN_KEY}, Bearer {OTHER_ADMIN_KEY}",
    "nul-after-key": f"Bearer {ADMIN_KEY}\x00",
}

#: Accepted spellings (RFC 7235: case-insensitive scheme, 1*SP, OWS around the value).
ACCEPTED = {
    "lower-case-scheme": f"bearer {ADMIN_KEY}",
    "mixed-case-scheme": f"BeArEr {ADMIN_KEY}",
    "two-spaces": f"Bearer  {ADMIN_KEY}",
    "surrounding-spaces": f"  Bearer {ADMIN_KEY}  ",
    "trailing-tab": f"Bearer {ADMIN_KEY}\t",
}


def error_code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    code: str = body["error"]["code"]
    return code


def get_with(client: TestClient, value: str) -> httpx.Response:
    response: httpx.Response = client.get(
        "/api/connections", headers={"Authorization": value.encode("utf-8")}
    )
    return response


def admin_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every operation the OpenAPI document marks as needing the bearer key."""
    operations = []
    for path, item in client.get("/openapi.json").json()["paths"].items():
        for method, operation in item.items():
            if operation.get("security"):
                operations.append((method.upper(), path.replace("{external_id}", "acme")))
    return operations


@pytest.mark.parametrize("key", ALMOST_RIGHT.values(), ids=ALMOST_RIGHT.keys())
def test_almost_right_keys_are_forbidden_and_never_echoed(service: Service, key: str) -> None:
    assert key not in (ADMIN_KEY, OTHER_ADMIN_KEY)
    response = get_with(service.client, f"Bearer {key}")

    assert response.status_code == 403
    assert error_code(response) == "forbidden"
    assert key not in response.text and ADMIN_KEY not in response.text


@pytest.mark.parametrize("key", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
def test_non_ascii_look_alikes_are_refused(service: Service, key: str) -> None:
    assert key != ADMIN_KEY
    response = get_with(service.client, f"Bearer {key}")

    assert response.status_code in (401, 403)
    assert error_code(response) in ("unauthorized", "forbidden")


@pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_authorization_is_unauthorized(service: Service, value: str) -> None:
    response = get_with(service.client, value)

    assert response.status_code == 401
    assert error_code(response) == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert ADMIN_KEY not in response.text


@pytest.mark.parametrize("value", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_rfc_spellings_of_the_right_key_are_accepted(service: Service, value: str) -> None:
    assert get_with(service.client, value).status_code == 200


@pytest.mark.parametrize(
    "place",
    ["query-access-token", "query-api-key", "x-api-key", "proxy-authorization", "cookie"],
)
def test_the_key_anywhere_but_the_authorization_header_is_ignored(
    service: Service, place: str
) -> None:
    requests: dict[str, dict[str, Any]] = {
        "query-access-token": {"params": {"access_token": ADMIN_KEY}},
        "query-api-key": {"params": {"api_key": ADMIN_KEY}},
        "x-api-key": {"headers": {"X-API-Key": ADMIN_KEY}},
        "proxy-authorization": {"headers": {"Proxy-Authorization": f"Bearer {ADMIN_KEY}"}},
        "cookie": {"headers": {"Cookie": f"Authorization=Bearer {ADMIN_KEY}"}},
    }

    response = service.client.get("/api/connections", **requests[place])

    assert response.status_code == 401
    assert error_code(response) == "unauthorized"


@pytest.mark.parametrize(
    "values",
    [
        ("Bearer wrong-key", f"Bearer {ADMIN_KEY}"),
        (f"Bearer {ADMIN_KEY}", "Bearer wrong-key"),
        (f"Bearer {ADMIN_KEY}", f"Bearer {ADMIN_KEY}"),
        (f"Bearer {ADMIN_KEY}", f"Bearer {OTHER_ADMIN_KEY}"),
    ],
    ids=["wrong-then-right", "right-then-wrong", "right-twice", "both-keys"],
)
def test_more_than_one_authorization_header_is_refused(
    service: Service, values: tuple[str, str]
) -> None:
    headers = [("Authorization", value) for value in values]

    response = service.client.get("/api/connections", headers=headers)

    # 401 (malformed) is the expected answer; 403 would also keep the door shut.
    assert response.status_code in (401, 403)
    assert error_code(response) in ("unauthorized", "forbidden")


def test_every_admin_operation_in_the_openapi_document_needs_the_key(service: Service) -> None:
    operations = admin_operations(service.client)
    assert len(operations) >= 7
    for method, path in operations:
        for headers in ({}, {"Authorization": "Bearer wrong-key"}):
            response = service.client.request(method, path, headers=headers)
            assert response.status_code in (401, 403), (method, path, headers)


def test_refused_requests_change_nothing(service: Service) -> None:
    service.connect_library("acme")
    before = service.row("acme")
    wrong = {"Authorization": "Bearer " + ALMOST_RIGHT["last-char"]}

    refused = [
        service.client.delete("/api/connections/acme", headers=wrong),
        service.client.post("/api/connections/acme/refresh", headers=wrong),
        service.client.post("/api/connections/acme/access-token", headers=wrong),
        service.client.post("/api/connect-sessions", json={"external_id": "x"}, headers=wrong),
        service.client.get("/api/client-token", headers=wrong),
    ]

    assert [response.status_code for response in refused] == [403] * len(refused)
    after = service.row("acme")
    assert (after.status, after.generation) == (before.status, before.generation)
    assert service.sandbox.control.counters().token_calls.keys() == {"authorization_code"}
    listed = service.client.get("/api/connections", headers=ADMIN).json()["items"]
    assert [item["external_id"] for item in listed] == ["acme"]
