"""Property tests: any configuration gives Settings or a ConfigurationError, nothing else."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cdconnect.errors import ConfigurationError
from cdconnect.settings import Settings, env_name, load_settings

FIELDS = sorted(Settings.model_fields)
#: Valid values for the settings without defaults, so that many examples get past them.
REQUIRED = {
    "client_id": "vendor-client",
    "client_secret": "vendor-secret",
    "redirect_uri": "https://vendor.example.test/cb",
}
URLISH = st.builds(
    lambda scheme, host, rest: f"{scheme}{host}{rest}",
    st.sampled_from(["https://", "http://", "ftp://", "", "https:", "HTTPS://"]),
    st.sampled_from(["id.example.test", "127.0.0.1", "[::1]", "localhost", "", "u:p@h", "h:0"]),
    st.text(max_size=12),
)
VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**12),
    st.floats(),
    st.text(max_size=40),
    URLISH,
    st.sampled_from(["true", "0", "1e9", "nan", "-inf", "k1:" + "A" * 43, "a,b,,c", "."]),
)


def settings_or_error(**overrides: Any) -> Settings | ConfigurationError:
    """Anything but these two escapes and fails the test."""
    try:
        return load_settings(**overrides)
    except ConfigurationError as exc:
        return exc


@given(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8))
def test_any_overrides_give_settings_or_configuration_error(overrides: dict[str, Any]) -> None:
    loaded = settings_or_error(**{**REQUIRED, **overrides})
    if isinstance(loaded, ConfigurationError):
        assert loaded.problems
        assert all(line and "\n" not in line for line in loaded.problems)
        return
    assert loaded.token_endpoint.startswith("https://")
    assert loaded.authorize_endpoint.startswith("https://")
    assert loaded.lease_seconds >= 2 * (loaded.http_connect_timeout + loaded.http_read_timeout)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


ENV_TEXT = st.one_of(st.text(max_size=40), URLISH, VALUES.map(str)).filter(
    lambda text: "\x00" not in text and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)
)


@given(st.dictionaries(st.sampled_from(FIELDS), ENV_TEXT, max_size=8))
def test_any_environment_gives_settings_or_configuration_error(values: dict[str, str]) -> None:
    merged = {**REQUIRED, **values}
    with environment({env_name(field): value for field, value in merged.items()}):
        loaded = settings_or_error()
    if isinstance(loaded, ConfigurationError):
        assert all(line.startswith(("CDCONNECT_", "the settings")) for line in loaded.problems)
    else:
        assert loaded.client_id
