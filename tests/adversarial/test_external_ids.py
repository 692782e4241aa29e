"""Odd external ids through the HTTP API and the library.

Either an id is stored and retrievable exactly (byte for byte, no folding of case, Unicode
normalisation, whitespace or wildcards), or it is refused with 422 ``invalid_input`` /
``InvalidInput`` — never a 500, never someone else's connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

import pytest

from cdconnect.errors import ConnectionNotFound, InvalidInput
from cdconnect.models import ConnectionStatus
from tests.adversarial.helpers import Service
from tests.web.conftest import ADMIN

ACCEPTED = {
    "unicode": "Ünïcødé 客户 🚚",
    "nfc": "caf\u00e9",
    "nfd": "cafe\u0301",
    "right-to-left": "\u0645\u0631\u062d\u0628\u0627",
    "255-ascii": "x" * 255,
    "255-multibyte": "客" * 255,
    "sql": "'; DROP TABLE connections; --",
    "quotes": 'O\'Brien "Trucking"',
    "dot-dot": "../x",
    "dot-dot-deep": "../../etc/passwd",
    "percent-2f": "%2F",
    "percent-00": "%00",
    "slashes": "tenant/acme/",
    "leading-slash": "/acme",
    "route-suffix-refresh": "acme/refresh",
    "route-suffix-access-token": "acme/access-token",
    "like-percent": "%",
    "like-underscore": "_",
    "padded": " padded ",
    "html": "<script>alert(1)</script>",
    "json": '{"external_id": 1}',
    "backslash": "a\\b",
}

REFUSED = {
    "256": "x" * 256,
    "empty": "",
    "blank": "   ",
    "nul": "a\x00b",
    "newline": "a\nb",
    "tab": "a\tb",
    "delete": "a\x7fb",
    "c1-control": "a\x85b",
    "zero-width-space": "a\u200bb",
    "right-to-left-override": "a\u202eb",
    "byte-order-mark": "\ufeffacme",
    "lone-surrogate": "a\ud800b",
    "zero-width-joiner": "\U0001f468\u200d\U0001f469",
}


def api_path(external_id: str, suffix: str = "") -> str:
    # surrogatepass: a lone surrogate goes out as the (invalid) UTF-8 bytes a hostile client
    # would send.
    encoded = quote(external_id.encode("utf-8", "surrogatepass"), safe="")
    return f"/api/connections/{encoded}{suffix}"


@pytest.mark.parametrize("external_id", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_api_stores_odd_ids_and_returns_them_exactly(
    service: Service, external_id: str
) -> None:
    service.connect_library("acme")
    assert service.driver.connect(external_id).status_code == 200

    shown = service.api.get(api_path(external_id), headers=ADMIN)
    token = service.api.post(api_path(external_id, "/access-token"), headers=ADMIN)
    listed = service.api.get("/api/connections", headers=ADMIN).json()["items"]

    assert shown.status_code == 200, shown.text
    assert shown.json()["external_id"] == external_id
    assert token.status_code == 200, token.text
    expected = service.manager.access_token(external_id).access_token.get_secret_value()
    assert token.json()["access_token"] == expected
    assert sorted(item["external_id"] for item in listed) == sorted(["acme", external_id])
    gone = service.api.delete(api_path(external_id), headers=ADMIN)
    assert gone.status_code == 200 and gone.json()["external_id"] == external_id
    assert service.manager.get_connection("acme").status is ConnectionStatus.ACTIVE


@pytest.mark.parametrize("external_id", REFUSED.values(), ids=REFUSED.keys())
def test_the_api_refuses_invalid_ids_with_422(service: Service, external_id: str) -> None:
    # json.dumps writes a lone surrogate as a \u escape: valid JSON text.
    response = service.api.post(
        "/api/connect-sessions",
        content=json.dumps({"external_id": external_id}),
        headers={**ADMIN, "Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
    service.assert_healthy()


@pytest.mark.parametrize("external_id", REFUSED.values(), ids=REFUSED.keys())
def test_invalid_ids_in_the_path_are_never_a_server_error(
    service: Service, external_id: str
) -> None:
    for method, suffix in [("GET", ""), ("DELETE", ""), ("POST", "/access-token")]:
        response = service.api.request(method, api_path(external_id, suffix), headers=ADMIN)
        assert response.status_code in (404, 422), (method, response.text)


@pytest.mark.parametrize("external_id", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_library_stores_odd_ids_and_returns_them_exactly(
    service: Service, external_id: str
) -> None:
    result = service.connect_library(external_id)

    assert result.connection.external_id == external_id
    assert service.manager.get_connection(external_id).external_id == external_id
    assert service.manager.access_token(external_id).external_id == external_id
    listed = [item.external_id for item in service.manager.list_connections().items]
    assert listed == [external_id]


@pytest.mark.parametrize("external_id", REFUSED.values(), ids=REFUSED.keys())
def test_the_library_refuses_invalid_ids_with_its_typed_error(
    service: Service, external_id: str
) -> None:
    calls: list[Callable[[], object]] = [
        lambda: service.manager.begin_connect(external_id),
        lambda: service.manager.get_connection(external_id),
        lambda: service.manager.access_token(external_id),
        lambda: service.manager.refresh(external_id, force=True),
        lambda: service.manager.disconnect(external_id),
    ]
    for call in calls:
        with pytest.raises(InvalidInput):
            call()


def test_unicode_normal_forms_are_different_customers(service: Service) -> None:
    service.connect_library(ACCEPTED["nfc"])

    with pytest.raises(ConnectionNotFound):
        service.manager.get_connection(ACCEPTED["nfd"])

    service.connect_library(ACCEPTED["nfd"])
    ids = sorted(item.external_id for item in service.manager.list_connections().items)
    assert ids == sorted([ACCEPTED["nfc"], ACCEPTED["nfd"]])


@pytest.mark.parametrize("other", ["ACME", "Acme", "acme ", " acme", "%", "_cme", "acm_", "acme%"])
def test_lookups_never_fold_or_match_patterns(service: Service, other: str) -> None:
    service.connect_library("acme")

    with pytest.raises(ConnectionNotFound):
        service.manager.get_connection(other)
    response = service.api.post(api_path(other, "/access-token"), headers=ADMIN)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "connection_not_found"
