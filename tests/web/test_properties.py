"""Property tests of what the service reads from the outside: callback queries, admin headers.

Invariant: a clear answer (a failure page, 401/403) and nothing stored — never a crash.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdconnect.manager import ConnectionManager

PARAMETERS = st.sampled_from(
    ["code", "state", "iss", "scope", "error", "error_description", "session_state", "x"]
)
VALUES = st.text(max_size=80) | st.sampled_from(["", "access_denied", "https://evil.example"])
QUERIES = st.lists(st.tuples(PARAMETERS, VALUES), max_size=8).map(
    lambda pairs: "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in pairs)
) | st.text(max_size=200).map(lambda text: quote(text, safe="=&%"))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERIES)
def test_any_callback_query_gets_a_failure_page_and_stores_nothing(
    client: TestClient, manager: ConnectionManager, query: str
) -> None:
    response = client.get(f"/callback?{query}")
    assert response.status_code in (400, 403)
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="reference"' in response.text
    assert manager.list_connections().items == []


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.binary(max_size=120))
def test_any_authorization_header_is_refused_cleanly(client: TestClient, header: bytes) -> None:
    response = client.get("/api/connections", headers={"Authorization": header})
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] in ("unauthorized", "forbidden")


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(link=st.text(min_size=1, max_size=100))
def test_any_connect_link_is_refused_cleanly(client: TestClient, link: str) -> None:
    response = client.get("/connect/" + quote(link, safe=""))
    assert response.status_code in (400, 404)
