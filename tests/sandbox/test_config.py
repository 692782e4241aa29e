"""``SandboxConfig`` and the well-known defaults."""

from __future__ import annotations

import dataclasses

import pytest

from cdconnect.sandbox import (
    BROKER_EMAIL,
    CARRIER_EMAIL,
    CLI_REDIRECT_URI,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SERVICE_CLIENT_ID,
    SERVICE_REDIRECT_URI,
    TEST_PASSWORD,
    ClientRegistration,
    default_config,
)


def test_defaults_match_central_dispatchs_documented_behaviour() -> None:
    config = default_config()

    assert config.access_token_ttl == 3600
    assert config.code_ttl == 60
    assert config.refresh_sliding_ttl == 15 * 24 * 3600
    assert config.refresh_absolute_ttl == 30 * 24 * 3600
    assert config.revoke_grant_on_reuse is False
    assert config.clock_offset == 0
    assert config.control_api_enabled is True
    assert config.issuer is None


def test_default_clients_separate_the_two_flows() -> None:
    config = default_config()
    demo, service = config.client(DEMO_CLIENT_ID), config.client(SERVICE_CLIENT_ID)

    assert demo is not None and service is not None
    assert demo.client_secret == DEMO_CLIENT_SECRET
    assert demo.allowed_grant_types == ("authorization_code", "refresh_token")
    assert SERVICE_REDIRECT_URI in demo.redirect_uris and CLI_REDIRECT_URI in demo.redirect_uris
    assert "offline_access" in demo.allowed_scopes
    assert service.allowed_grant_types == ("client_credentials",)
    assert "offline_access" not in service.allowed_scopes
    assert config.client("nobody") is None


def test_default_accounts() -> None:
    config = default_config()
    broker, carrier = config.account(BROKER_EMAIL), config.account(f"  {CARRIER_EMAIL.upper()} ")

    assert broker is not None and broker.role == "broker" and broker.password == TEST_PASSWORD
    assert carrier is not None and carrier.role == "carrier"
    assert broker.customer_id != carrier.customer_id
    assert config.account("nobody@example.com") is None


def test_default_config_is_deterministic() -> None:
    assert default_config() == default_config()


def test_secrets_are_not_in_reprs() -> None:
    text = repr(default_config())

    assert DEMO_CLIENT_SECRET not in text
    assert TEST_PASSWORD not in text
    assert BROKER_EMAIL in text


def test_extra_redirect_uris_are_added_without_duplicates() -> None:
    config = default_config().with_redirect_uris("https://a.test/cb", SERVICE_REDIRECT_URI)

    demo = config.client(DEMO_CLIENT_ID)
    assert demo is not None
    assert demo.redirect_uris.count(SERVICE_REDIRECT_URI) == 1
    assert demo.redirect_uris[-1] == "https://a.test/cb"
    with pytest.raises(ValueError, match="no registered client"):
        config.with_redirect_uris("https://a.test/cb", client_id="nobody")


def test_with_clients_adds_or_replaces() -> None:
    replacement = ClientRegistration(DEMO_CLIENT_ID, "new-secret")
    extra = ClientRegistration("extra", "extra-secret")

    config = default_config().with_clients([replacement, extra])

    assert [c.client_id for c in config.clients] == [SERVICE_CLIENT_ID, DEMO_CLIENT_ID, "extra"]
    demo = config.client(DEMO_CLIENT_ID)
    assert demo is not None and demo.client_secret == "new-secret"


def test_config_is_frozen() -> None:
    config = default_config()

    with pytest.raises(dataclasses.FrozenInstanceError):
        config.code_ttl = 5  # type: ignore[misc]
