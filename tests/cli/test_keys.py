"""``cdconnect keys``: a new key entry, and re-encryption under the newest key."""

from __future__ import annotations

import json
import re

import pytest

from cdconnect.manager import ConnectionManager
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings
from cdconnect.vault import KeyRing, SqlStore
from tests.cli.conftest import RunCli
from tests.manager.conftest import connect

ENTRY = re.compile(r"[A-Za-z0-9._-]{1,64}:[A-Za-z0-9_-]{43}")


def test_generate_prints_one_usable_entry(run_cli: RunCli) -> None:
    first = run_cli("keys", "generate")
    second = run_cli("keys", "generate", "--kid", "2025-06")
    assert first.exit_code == 0 and second.exit_code == 0
    entry = first.stdout.strip()
    assert first.stdout == entry + "\n" and ENTRY.fullmatch(entry)
    assert second.stdout.startswith("2025-06:")
    assert entry != second.stdout.strip()
    ring = KeyRing.parse(f"{second.stdout.strip()},{entry}")
    assert ring.primary_kid == "2025-06"
    assert "CDCONNECT_ENCRYPTION_KEYS" in first.stderr


def test_generate_rejects_a_bad_key_id(run_cli: RunCli) -> None:
    result = run_cli("keys", "generate", "--kid", "no spaces")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and "[key_ring_error]" in result.stderr


def test_rotate_reencrypts_under_the_new_key(
    run_cli: RunCli,
    seed: ConnectionManager,
    sandbox: SandboxServer,
    cli_settings: Settings,
    keys: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("a1", "a2", "a3"):
        connect(seed, sandbox, name)
    new_entry = run_cli("keys", "generate", "--kid", "cli2").stdout.strip()
    monkeypatch.setenv("CDCONNECT_ENCRYPTION_KEYS", f"{new_entry},{keys}")
    result = run_cli("keys", "rotate", "--batch", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"reencrypted": 3, "primary_key_id": "cli2"}
    # The old key can go now: the new one alone reads every token.
    url = cli_settings.effective_database_url
    new_only = SqlStore.open(url, KeyRing.parse(new_entry), migrate=False)
    try:
        for name in ("a1", "a2", "a3"):
            row = new_only.get_connection(name)
            assert row is not None and row.refresh_token is not None
    finally:
        new_only.close()
    again = run_cli("keys", "rotate")
    assert again.exit_code == 0
    assert again.stdout == "re-encrypted 0 connections under key cli2\n"
