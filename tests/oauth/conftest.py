from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CDCONNECT_* or SSL_CERT_* from the outside, and no stray .env file."""
    for name in list(os.environ):
        if name.startswith("CDCONNECT_") or name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
