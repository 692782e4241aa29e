from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from cdconnect.errors import ConfigurationError
from cdconnect.oauth import ClientCredentials, Endpoints
from cdconnect.settings import Settings, load_settings

REQUIRED = {
    "client_id": "vendor-client",
    "client_secret": "vendor-secret",
    "redirect_uri": "https://vendor.example.test/cd/callback",
}


def settings(**overrides: object) -> Settings:
    return load_settings(**{**REQUIRED, **overrides})


def problems_of(**overrides: object) -> list[str]:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(**overrides)
    return caught.value.problems


def key_entry(kid: str, size: int = 32) -> str:
    return f"{kid}:" + base64.urlsafe_b64encode(secrets.token_bytes(size)).decode().rstrip("=")


# -- loading ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("required_env")
def test_loads_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDCONNECT_PKCE", "false")
    monkeypatch.setenv("CDCONNECT_REFRESH_MARGIN", "300")
    monkeypatch.setenv("CDCONNECT_DATA_DIR", "/srv/cdconnect")
    monkeypatch.setenv("CDCONNECT_SCOPE", "marketplace  event_api offline_access")
    loaded = load_settings()
    assert loaded.client_id == "vendor-client"
    assert loaded.client_secret.get_secret_value() == "vendor-secret"
    assert loaded.pkce is False
    assert loaded.refresh_margin == 300.0
    assert loaded.data_dir == Path("/srv/cdconnect")
    assert loaded.scopes == ("marketplace", "event_api", "offline_access")


def test_defaults() -> None:
    loaded = settings()
    assert loaded.service_client_id is None
    assert loaded.service_client_secret is None
    assert loaded.scope == "marketplace offline_access"
    assert loaded.scopes == ("marketplace", "offline_access")
    assert loaded.issuer == "https://id.centraldispatch.com"
    assert (loaded.authorize_url, loaded.token_url, loaded.revocation_url) == (None, None, None)
    assert loaded.data_dir == Path("cdconnect-data")
    assert loaded.database_url is None
    assert loaded.encryption_keys is None
    assert loaded.key_file is None
    assert loaded.pkce is True
    assert loaded.require_iss is True
    assert loaded.refresh_margin == 120
    assert loaded.http_connect_timeout == 5
    assert loaded.http_read_timeout == 15
    assert loaded.lease_seconds == 45
    assert loaded.state_ttl == 600
    assert loaded.keepalive_interval == 7 * 24 * 3600
    assert loaded.ca_file is None
    assert loaded.admin_tokens is None
    assert loaded.webhook_url is None
    assert loaded.webhook_secret is None
    assert loaded.allowed_return_urls == ""
    assert loaded.log_json is False


@pytest.mark.usefixtures("required_env")
def test_dotenv_file_is_read(clean_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDCONNECT_CLIENT_ID")
    (clean_environment / ".env").write_text("CDCONNECT_CLIENT_ID=from-dotenv\nOTHER=1\n")
    assert load_settings().client_id == "from-dotenv"


@pytest.mark.usefixtures("required_env")
def test_overrides_beat_environment() -> None:
    assert load_settings(client_id="override").client_id == "override"


@pytest.mark.usefixtures("required_env")
def test_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDCONNECT_TOKEN_URL", "")
    assert load_settings().token_url is None
    monkeypatch.setenv("CDCONNECT_CLIENT_ID", "")
    with pytest.raises(ConfigurationError, match="CDCONNECT_CLIENT_ID is missing"):
        load_settings()


def test_unknown_override_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown setting 'client_secrte'"):
        load_settings(**REQUIRED, client_secrte="x")


def test_settings_are_frozen() -> None:
    loaded = settings()
    with pytest.raises(ValidationError):
        loaded.client_id = "other"  # type: ignore[misc]


def test_repr_hides_secrets_and_urls_with_credentials() -> None:
    loaded = settings(
        database_url="postgresql://user:db-password@db/cd",
        webhook_url="https://hooks.example.test/T0/secret-path-token",
        webhook_secret="hook-secret",
        admin_tokens="admin-token-1",
        encryption_keys=key_entry("k1"),
    )
    shown = repr(loaded) + str(loaded)
    for secret in (
        "vendor-secret",
        "db-password",
        "secret-path-token",
        "hook-secret",
        "admin-token-1",
    ):
        assert secret not in shown
    assert loaded.encryption_keys is not None
    assert loaded.encryption_keys.get_secret_value() not in shown


# -- derived values -----------------------------------------------------------------------------


def test_endpoints_derive_from_issuer_without_trailing_slash() -> None:
    loaded = settings(issuer="https://id.example.test/")
    assert loaded.issuer == "https://id.example.test"
    assert loaded.authorize_endpoint == "https://id.example.test/connect/authorize"
    assert loaded.token_endpoint == "https://id.example.test/connect/token"
    assert loaded.endpoints() == Endpoints(
        issuer="https://id.example.test",
        authorize="https://id.example.test/connect/authorize",
        token="https://id.example.test/connect/token",
    )


def test_explicit_endpoints_win() -> None:
    loaded = settings(
        authorize_url="https://login.example.test/auth",
        token_url="https://login.example.test/token",
        revocation_url="https://login.example.test/revoke",
    )
    assert loaded.authorize_endpoint == "https://login.example.test/auth"
    assert loaded.token_endpoint == "https://login.example.test/token"
    assert loaded.endpoints().revocation == "https://login.example.test/revoke"


def test_effective_database_url() -> None:
    assert settings().effective_database_url == "sqlite:///cdconnect-data/cdconnect.sqlite3"
    assert (
        settings(data_dir="/var/lib/cd").effective_database_url
        == "sqlite:////var/lib/cd/cdconnect.sqlite3"
    )
    url = "postgresql+psycopg://cd@127.0.0.1/cd"
    assert settings(database_url=url).effective_database_url == url


def test_credentials_fall_back_to_the_main_pair() -> None:
    loaded = settings()
    main = ClientCredentials("vendor-client", SecretStr("vendor-secret"))
    assert loaded.connect_credentials() == main
    assert loaded.service_credentials() == main


def test_separate_service_credentials() -> None:
    loaded = settings(service_client_id="svc", service_client_secret="svc-secret")
    assert loaded.service_credentials() == ClientCredentials("svc", SecretStr("svc-secret"))
    assert loaded.connect_credentials().client_id == "vendor-client"


def test_admin_token_list() -> None:
    loaded = settings(admin_tokens=" first , second,,")
    assert [t.get_secret_value() for t in loaded.admin_token_list()] == ["first", "second"]
    assert settings().admin_token_list() == ()


# -- validation: one line per problem, naming the variable -------------------------------------


def test_missing_required_settings() -> None:
    assert problems_of() == [
        "CDCONNECT_CLIENT_ID is missing",
        "CDCONNECT_CLIENT_SECRET is missing",
        "CDCONNECT_REDIRECT_URI is missing",
    ]


@pytest.mark.parametrize(
    ("field", "variable"),
    [
        ("issuer", "CDCONNECT_ISSUER"),
        ("authorize_url", "CDCONNECT_AUTHORIZE_URL"),
        ("token_url", "CDCONNECT_TOKEN_URL"),
        ("revocation_url", "CDCONNECT_REVOCATION_URL"),
    ],
)
def test_cd_endpoints_must_be_https(field: str, variable: str) -> None:
    problems = problems_of(**REQUIRED, **{field: "http://127.0.0.1:8443/connect/x"})
    assert problems == [f"{variable} must use https:// (got http://127.0.0.1:8443/connect/x)"]


def test_message_never_echoes_url_credentials() -> None:
    (problem,) = problems_of(**REQUIRED, token_url="http://user:pw@id.example.test/t?key=k")
    assert problem == "CDCONNECT_TOKEN_URL must use https:// (got http://id.example.test/t)"


@pytest.mark.parametrize("field", ["redirect_uri", "webhook_url"])
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/cb", "http://[::1]:8000/cb", "http://localhost/cb"]
)
def test_own_urls_may_be_loopback_http(field: str, url: str) -> None:
    loaded = settings(**{field: url, "webhook_secret": "s"})
    assert getattr(loaded, field) == url


@pytest.mark.parametrize(
    ("field", "variable"),
    [("redirect_uri", "CDCONNECT_REDIRECT_URI"), ("webhook_url", "CDCONNECT_WEBHOOK_URL")],
)
def test_own_urls_refuse_http_elsewhere(field: str, variable: str) -> None:
    (problem,) = problems_of(
        **{**REQUIRED, field: "http://vendor.example.test/cb"}, webhook_secret="s"
    )
    assert problem.startswith(f"{variable} must use https:// or http:// on a loopback host")


def test_several_problems_one_line_each() -> None:
    problems = problems_of(
        client_secret="secret",
        redirect_uri="ftp://vendor.example.test/cb",
        token_url="http://id.example.test/token",
        http_read_timeout="soon",
        refresh_margin=-1,
        ca_file="/nonexistent/ca.pem",
    )
    assert problems == [
        "CDCONNECT_CLIENT_ID is missing",
        "CDCONNECT_REDIRECT_URI must be an absolute https:// URL (got ftp://vendor.example.test/cb)",
        "CDCONNECT_TOKEN_URL must use https:// (got http://id.example.test/token)",
        "CDCONNECT_REFRESH_MARGIN is invalid: input should be greater than or equal to 0",
        "CDCONNECT_HTTP_READ_TIMEOUT is invalid: input should be a valid number, "
        "unable to parse string as a number",
        "CDCONNECT_CA_FILE does not name an existing file",
    ]
    assert all("\n" not in problem for problem in problems)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_timeouts_must_be_positive_and_finite(value: str) -> None:
    (problem,) = problems_of(**REQUIRED, state_ttl=value)
    assert problem.startswith("CDCONNECT_STATE_TTL is invalid: input should be")


def test_lease_must_exceed_http_timeouts_with_room() -> None:
    assert (
        settings(http_connect_timeout=5, http_read_timeout=15, lease_seconds=40).lease_seconds == 40
    )
    (problem,) = problems_of(**REQUIRED, http_read_timeout=30, lease_seconds=45)
    assert problem == (
        "CDCONNECT_LEASE_SECONDS must be at least 2 × (CDCONNECT_HTTP_CONNECT_TIMEOUT + "
        "CDCONNECT_HTTP_READ_TIMEOUT) = 70 seconds (got 45)"
    )


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ("service_client_id", "SERVICE_CLIENT_SECRET"),
        ("service_client_secret", "SERVICE_CLIENT_ID"),
    ],
)
def test_service_credentials_come_in_pairs(given: str, missing: str) -> None:
    (problem,) = problems_of(**REQUIRED, **{given: "x"})
    assert (
        problem
        == f"CDCONNECT_{missing} is missing (required when CDCONNECT_{given.upper()} is set)"
    )


def test_webhook_needs_a_secret() -> None:
    (problem,) = problems_of(**REQUIRED, webhook_url="https://hooks.example.test/cd")
    assert problem == (
        "CDCONNECT_WEBHOOK_SECRET is missing (required when CDCONNECT_WEBHOOK_URL is set)"
    )


def test_cross_field_problems_are_listed_together() -> None:
    problems = problems_of(
        **REQUIRED, service_client_id="svc", lease_seconds=1, webhook_url="https://h.example/x"
    )
    assert [p.split(" ")[0] for p in problems] == [
        "CDCONNECT_SERVICE_CLIENT_SECRET",
        "CDCONNECT_LEASE_SECONDS",
        "CDCONNECT_WEBHOOK_SECRET",
    ]


@pytest.mark.parametrize("value", ["", "   ", "tab\there", 'quote"d'])
def test_scope_must_be_valid(value: str) -> None:
    (problem,) = problems_of(**REQUIRED, scope=value)
    assert problem.startswith("CDCONNECT_SCOPE ")


def test_valid_encryption_keys() -> None:
    keys = f"{key_entry('k2')}, {key_entry('k1')}=="
    loaded = settings(encryption_keys=keys.replace("==", ""))
    assert loaded.encryption_keys is not None


@pytest.mark.parametrize(
    ("keys", "hint"),
    [
        (",,", "holds no key"),
        ("no-colon", "entry 1 must look like kid:base64url-key"),
        (":" + key_entry("x").split(":")[1], "entry 1: the key id"),
        ("k1:short", "entry 1 ('k1'): the key must be base64url of 32 bytes"),
        ("k1:" + "!" * 43, "entry 1 ('k1')"),
        (f"{key_entry('k1')},{key_entry('k2', 16)}", "entry 2 ('k2')"),
        (f"{key_entry('k1')},{key_entry('k1')}", "entry 2: key id 'k1' appears more than once"),
    ],
)
def test_bad_encryption_keys(keys: str, hint: str) -> None:
    (problem,) = problems_of(**REQUIRED, encryption_keys=keys)
    assert problem.startswith("CDCONNECT_ENCRYPTION_KEYS ")
    assert hint in problem
    for entry in keys.split(","):
        material = entry.partition(":")[2]
        if len(material) > 8:
            assert material not in problem


def test_secrets_never_appear_in_problems() -> None:
    problems = problems_of(
        client_id="  ",
        client_secret="   ",
        redirect_uri="https://vendor.example.test/cb",
        admin_tokens=" , ",
        webhook_secret="",
    )
    assert problems == [
        "CDCONNECT_CLIENT_ID must be a non-empty printable string",
        "CDCONNECT_CLIENT_SECRET is empty",
        "CDCONNECT_ADMIN_TOKENS holds no token",
        "CDCONNECT_WEBHOOK_SECRET is empty",
    ]


def test_allowed_return_urls_entries_checked() -> None:
    loaded = settings(allowed_return_urls="https://app.example.test, http://127.0.0.1:3000/cd/")
    assert loaded.allowed_return_urls.startswith("https://app.example.test")
    (problem,) = problems_of(
        **REQUIRED, allowed_return_urls="https://ok.example, http://app.example"
    )
    assert problem.startswith("CDCONNECT_ALLOWED_RETURN_URLS entry 2 must use https://")


def test_ca_file_must_exist(clean_environment: Path) -> None:
    ca = clean_environment / "ca.pem"
    ca.write_text("placeholder")
    assert settings(ca_file=str(ca)).ca_file == ca
    (problem,) = problems_of(**REQUIRED, ca_file=str(clean_environment / "missing.pem"))
    assert problem == "CDCONNECT_CA_FILE does not name an existing file"


def test_unreadable_dotenv_is_a_configuration_error(clean_environment: Path) -> None:
    (clean_environment / ".env").write_bytes(b"CDCONNECT_CLIENT_ID=\xff\xfe\n")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_settings(**REQUIRED)
