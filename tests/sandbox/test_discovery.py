"""Discovery document and JWKS."""

from __future__ import annotations

import httpx
import jwt

from cdconnect.sandbox import SandboxConfig
from tests.sandbox.helpers import IN_PROCESS_BASE, AppFactory, ClientOpener, connect


def test_discovery_names_the_endpoints(client: httpx.Client) -> None:
    document = client.get("/.well-known/openid-configuration").json()

    assert document["issuer"] == IN_PROCESS_BASE
    assert document["authorization_endpoint"] == IN_PROCESS_BASE + "/connect/authorize"
    assert document["token_endpoint"] == IN_PROCESS_BASE + "/connect/token"
    assert document["revocation_endpoint"] == IN_PROCESS_BASE + "/connect/revocation"
    assert document["jwks_uri"] == IN_PROCESS_BASE + "/.well-known/openid-configuration/jwks"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert set(document["token_endpoint_auth_methods_supported"]) == {
        "client_secret_post",
        "client_secret_basic",
    }
    assert "offline_access" in document["scopes_supported"]


def test_a_configured_issuer_wins_over_the_request_host(
    make_app: AppFactory, open_client: ClientOpener, config: SandboxConfig
) -> None:
    client = open_client(make_app(issuer="https://id.example.test/"))

    document = client.get("/.well-known/openid-configuration").json()

    assert document["issuer"] == "https://id.example.test"
    assert document["token_endpoint"] == "https://id.example.test/connect/token"


def test_the_jwks_verifies_issued_access_tokens(client: httpx.Client) -> None:
    jwks = client.get("/.well-known/openid-configuration/jwks").json()
    access_token = connect(client, IN_PROCESS_BASE)["access_token"]

    [key] = jwks["keys"]
    assert key["kty"] == "RSA" and key["use"] == "sig" and key["alg"] == "RS256"
    public_key = jwt.PyJWK(key).key
    claims = jwt.decode(
        access_token,
        public_key,
        algorithms=["RS256"],
        issuer=IN_PROCESS_BASE,
        audience=IN_PROCESS_BASE + "/resources",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert claims["client_id"] == "cdconnect-demo"
    assert jwt.get_unverified_header(access_token)["kid"] == key["kid"]
    assert jwt.get_unverified_header(access_token)["typ"] == "at+jwt"


def test_no_openapi_pages(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 404
