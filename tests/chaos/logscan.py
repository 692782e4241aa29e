"""Look for secrets in the workers' DEBUG logs.

Three nets: the exact secrets we know (the client secret, every token the vault held during the
trial), anything shaped like a refresh token or code whose SHA-256 digest the sandbox issued
(it keeps only digests, so this catches every token it ever handed out, consumed or not), and
anything shaped like a JWT (every access token the sandbox issues is one). A finding names the
file and the kind of secret, never the secret.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

#: The shape of the sandbox's (and Central Dispatch's) refresh tokens and authorization codes.
OPAQUE_TOKEN = re.compile(r"[0-9A-Fa-f]{64}-1")
#: Three base64url segments, the first two JSON objects ("eyJ" is base64 of '{"').
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")
#: The cdconnect log line for a token request whose answer did not arrive in time.
READ_TIMEOUT = "(ReadTimeout)"


@dataclass(frozen=True, slots=True)
class KnownSecrets:
    """Secrets to look for verbatim, by kind (e.g. "client secret"), and the sandbox's digests."""

    exact: Mapping[str, Collection[str]]
    issued_digests: Collection[str]

    def __repr__(self) -> str:
        return f"KnownSecrets(kinds={sorted(self.exact)!r}, digests={len(self.issued_digests)})"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def find_leaks(text: str, secrets: KnownSecrets) -> list[str]:
    """The kinds of secret found in ``text`` (each kind once)."""
    found = [kind for kind, values in secrets.exact.items() if any(v and v in text for v in values)]
    if any(sha256_hex(m.group(0)) in secrets.issued_digests for m in OPAQUE_TOKEN.finditer(text)):
        found.append("a refresh token or code the sandbox issued")
    if JWT.search(text):
        found.append("a JWT (access token)")
    return found


def scan_logs(paths: Iterable[Path], secrets: KnownSecrets) -> list[str]:
    """``"<file>: <kind>"`` for every secret kind found in every log file."""
    leaks = []
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        leaks += [f"{path.name}: {kind}" for kind in find_leaks(text, secrets)]
    return leaks


def count_read_timeouts(paths: Iterable[Path]) -> int:
    total = 0
    for path in paths:
        if path.exists():
            text = path.read_text(encoding="utf-8", errors="replace")
            total += sum(
                1
                for line in text.splitlines()
                if "cdconnect.oauth" in line and READ_TIMEOUT in line
            )
    return total
