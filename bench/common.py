"""Shared benchmark plumbing: a sandbox + vault setup, percentiles, and the JSON result file."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.fixtures.databases import DEFAULT_POSTGRES_URL, POSTGRES_URL_ENV, fresh_postgres_schema
from tests.fixtures.sandbox import SANDBOX_TEST_REDIRECT_URIS
from tests.manager.conftest import settings_for

from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings
from cdconnect.vault.crypto import KeyRing

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """p50/p99/max of durations given in seconds, in milliseconds."""
    return {
        "p50_ms": round(statistics.median(values) * 1000, 3),
        "p99_ms": round(percentile(values, 99) * 1000, 3),
        "max_ms": round(max(values) * 1000, 3),
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **data,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return path


@contextmanager
def running_sandbox() -> Iterator[SandboxServer]:
    from cdconnect.sandbox import default_config

    with SandboxServer(default_config().with_redirect_uris(*SANDBOX_TEST_REDIRECT_URIS)) as server:
        yield server


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh vault database URL: a temp SQLite file, or a new PostgreSQL schema."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cdconnect-bench-") as tmp:
            yield f"sqlite:///{tmp}/vault.db"
        return
    with fresh_postgres_schema(os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)) as url:
        yield url


@contextmanager
def bench_settings(sandbox: SandboxServer, backend: str, **overrides: Any) -> Iterator[Settings]:
    with database(backend) as url, tempfile.TemporaryDirectory(prefix="cdconnect-data-") as data:
        yield settings_for(sandbox, url, Path(data), KeyRing.generate().export(), **overrides)


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)
