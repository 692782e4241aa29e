from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Start each test with no CDCONNECT_* variables and an empty working directory (no .env)."""
    for name in list(os.environ):
        if name.startswith("CDCONNECT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def required_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The three settings without a default."""
    monkeypatch.setenv("CDCONNECT_CLIENT_ID", "vendor-client")
    monkeypatch.setenv("CDCONNECT_CLIENT_SECRET", "vendor-secret")
    monkeypatch.setenv("CDCONNECT_REDIRECT_URI", "https://vendor.example.test/cd/callback")
