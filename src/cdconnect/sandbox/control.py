"""``SandboxControl``: a small synchronous client for the sandbox's ``/_sandbox`` control API."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Self

import httpx

from cdconnect.sandbox.config import DEMO_CLIENT_ID

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class CounterSnapshot:
    """The sandbox's counters at one moment (see docs/sandbox.md for the outcomes)."""

    token_calls: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    revocation_calls: Mapping[str, int] = field(default_factory=dict)
    refresh_reuse: int = 0
    code_reuse: int = 0
    refreshes_by_grant: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CounterSnapshot:
        calls = {grant: MappingProxyType(dict(o)) for grant, o in data["token_calls"].items()}
        return cls(
            token_calls=MappingProxyType(calls),
            revocation_calls=MappingProxyType(dict(data["revocation_calls"])),
            refresh_reuse=int(data["refresh_reuse"]),
            code_reuse=int(data["code_reuse"]),
            refreshes_by_grant=MappingProxyType(dict(data["refreshes_by_grant"])),
        )

    def calls(self, grant_type: str, outcome: str | None = None) -> int:
        """Token-endpoint calls for ``grant_type`` with ``outcome`` (all outcomes if None)."""
        outcomes = self.token_calls.get(grant_type, {})
        if outcome is None:
            return sum(outcomes.values())
        return outcomes.get(outcome, 0)

    @property
    def successful_refreshes(self) -> int:
        """Committed refresh rotations, including ones whose answer was dropped or hung."""
        return sum(self.refreshes_by_grant.values())


class SandboxControl:
    """Drive a running sandbox's control API over HTTP(S)."""

    def __init__(self, base_url: str, *, verify: ssl.SSLContext | bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url + "/_sandbox", verify=verify, timeout=30)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def counters(self) -> CounterSnapshot:
        return CounterSnapshot.from_json(self._call("GET", "/counters"))

    def reset_counters(self) -> None:
        self._call("POST", "/counters/reset")

    def reset(self) -> None:
        """Forget all grants, codes and tokens; zero counters; faults off; clock restored."""
        self._call("POST", "/reset")

    def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/faults")
        return result

    def set_faults(
        self,
        *,
        latency: float = _UNSET,
        error_rate: float = _UNSET,
        error_with_body: bool = _UNSET,
        drop_after_commit: int = _UNSET,
        hang_after_commit: int = _UNSET,
        granted_scope: str | None = _UNSET,
        hostile: str | None = _UNSET,
        hostile_count: int = _UNSET,
        hostile_commit: bool | None = _UNSET,
    ) -> dict[str, Any]:
        """Change only the switches given; returns all switches."""
        given = {
            "latency": latency,
            "error_rate": error_rate,
            "error_with_body": error_with_body,
            "drop_after_commit": drop_after_commit,
            "hang_after_commit": hang_after_commit,
            "granted_scope": granted_scope,
            "hostile": hostile,
            "hostile_count": hostile_count,
            "hostile_commit": hostile_commit,
        }
        result: dict[str, Any] = self._call(
            "POST", "/faults", {k: v for k, v in given.items() if v is not _UNSET}
        )
        return result

    def release_hangs(self) -> None:
        self._call("POST", "/hangs/release")

    def revoke_account(self, email: str) -> int:
        """Revoke every grant of an account (a password change); returns how many."""
        return int(self._call("POST", "/accounts/revoke", {"email": email})["revoked_grants"])

    def grants(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/grants")
        return result

    def revoke_grant(self, grant_id: str) -> bool:
        return bool(self._call("POST", f"/grants/{grant_id}/revoke")["revoked"])

    def clock(self) -> dict[str, float]:
        result: dict[str, float] = self._call("GET", "/clock")
        return result

    def set_clock_offset(self, seconds: float) -> None:
        """Move the sandbox's clock ``seconds`` ahead of real time (absolute, not cumulative)."""
        self._call("POST", "/clock", {"offset": seconds})

    def add_redirect_uri(self, redirect_uri: str, client_id: str | None = None) -> list[str]:
        """Register one more exact redirect URI (kept across ``reset``); returns all of them."""
        path = f"/clients/{client_id or DEMO_CLIENT_ID}/redirect-uris"
        result: list[str] = self._call("POST", path, {"redirect_uri": redirect_uri})[
            "redirect_uris"
        ]
        return result
