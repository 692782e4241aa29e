"""In-process token cache and per-connection single flight.

The cache is a plain dict read without a lock: a hit is one dict lookup and one float compare
(DESIGN §4.1, no I/O, no thread hop). Writers only ever replace an entry with one of the same or a
newer generation, so a slow thread can never put back a token older than what is cached.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass

from cdconnect.models import AccessToken


@dataclass(frozen=True, slots=True)
class CacheEntry:
    token: AccessToken
    #: Serve ``token`` until this time; after it, take the slow path (refresh or re-read).
    refresh_at: float


class TokenCache:
    """external id → the newest access token this process has seen."""

    def __init__(self) -> None:
        self._entries: dict[str, CacheEntry] = {}
        self._write = threading.Lock()

    def fresh(self, key: str, now: float) -> AccessToken | None:
        entry = self._entries.get(key)
        if entry is not None and now < entry.refresh_at:
            return entry.token
        return None

    def get(self, key: str) -> CacheEntry | None:
        return self._entries.get(key)

    def put(self, key: str, token: AccessToken, refresh_at: float) -> None:
        with self._write:
            current = self._entries.get(key)
            if current is not None and (current.token.generation or 0) > (token.generation or 0):
                return
            self._entries[key] = CacheEntry(token, refresh_at)

    def evict(self, key: str) -> None:
        with self._write:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._write:
            self._entries.clear()


class KeyedLocks:
    """One ``threading.Lock`` per key, created on first use (never one global lock)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, key: str) -> threading.Lock:
        lock = self._locks.get(key)
        if lock is None:
            with self._guard:
                lock = self._locks.setdefault(key, threading.Lock())
        return lock


class AsyncKeyedLocks:
    """One ``asyncio.Lock`` per key and event loop (asyncio locks belong to one loop)."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]]
        self._by_loop = weakref.WeakKeyDictionary()

    def __call__(self, key: str) -> asyncio.Lock:
        locks = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        return lock
