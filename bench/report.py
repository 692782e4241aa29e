"""Render ``bench/results/*.json`` as the Markdown table the README shows.

python -m bench.report        # prints the table and writes bench/results/summary.md
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bench.common import RESULTS

Row = tuple[str, str, str]


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _get(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _hot_path(data: dict[str, Any]) -> list[Row]:
    rows = [
        (
            "cache-hit `access_token()` (sync), median",
            "≤ 5 µs",
            f"{data['cache_hit_sync_median_us']} µs",
        ),
        (
            "cache-hit `aaccess_token()` (async), median",
            "≤ 5 µs",
            f"{data['cache_hit_async_median_us']} µs",
        ),
    ]
    for backend, target in (("sqlite", "≤ 0.3 ms"), ("postgres", "≤ 1.5 ms")):
        value = _get(data, backend, "cold_read_decrypt_median_ms")
        if value is not None:
            rows.append((f"cold read + decrypt, {backend}, median", target, f"{value} ms"))
    auth = data["httpx_auth"]
    rows.append(
        (
            "`httpx.Auth` overhead vs a static header",
            "≤ 5 %",
            f"{auth['overhead_percent']} % ({auth['httpx_auth_median_ms']} vs "
            f"{auth['static_header_median_ms']} ms)",
        )
    )
    return rows


def _refresh_storm(data: dict[str, Any]) -> list[Row]:
    setup = data["setup"]
    shape = (
        f"{setup['local_threads']} threads + {setup['processes']} processes × "
        f"{setup['threads_per_process']} threads, {setup['hosts']} hosts"
    )
    rows = []
    for backend in ("sqlite", "postgres"):
        result = data.get(backend)
        if result is None:
            continue
        rows.append(
            (
                f"refresh storm ({shape}), {backend}: token calls per expired connection",
                "exactly 1",
                f"{result['refresh_calls_per_expired_connection']:.2f} ({result['rounds']} rounds)",
            )
        )
        rows.append(
            (
                f"refresh storm, {backend}: `invalid_grant` from our own races",
                "0",
                f"{result['invalid_grant']}",
            )
        )
        timing = result["time_to_token"]
        rows.append(
            (
                f"refresh storm, {backend}: time to token p50 / p99",
                "—",
                f"{timing['p50_ms']} / {timing['p99_ms']} ms",
            )
        )
    return rows


def _chaos(data: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for backend in ("sqlite", "postgres"):
        kinds = data.get(backend)
        if not isinstance(kinds, dict):
            continue
        # "all" is the file's own total over the fault kinds; count each trial once.
        kinds = {kind: tally for kind, tally in kinds.items() if kind != "all"}
        trials = sum(k["trials"] for k in kinds.values())
        kills = sum(k["kills"] for k in kinds.values())
        usable = sum(k["usable"] for k in kinds.values())
        connections = sum(k["connections"] for k in kinds.values())
        violations = sum(k["violations"] for k in kinds.values())
        lost = sum(sum(k["reauth_required"].values()) for k in kinds.values())
        rows.append(
            (
                f"chaos, {backend}: {trials} trials, {kills} kill -9, faults "
                f"{', '.join(sorted(kinds))}",
                "0 invariant violations",
                f"{violations} violations; {usable}/{connections} connections usable, "
                f"{lost} reauth_required (each a rotation CD committed whose answer was lost)",
            )
        )
    return rows


def _compare(data: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for run in data.get("runs", []):
        rows.append(
            (
                f"compare_storm, {run['workers']} worker processes, {run['library']}",
                "1 refresh, 0 invalid_grant" if run["library"] == "cdconnect" else "—",
                f"{run['refresh_calls']} refresh calls, {run['invalid_grant']} invalid_grant, "
                f"{run['resource_ok']}/{run['workers']} API calls ok, usable after: "
                f"{run['usable_after']}",
            )
        )
    return rows


def _generic(name: str) -> Callable[[dict[str, Any]], list[Row]]:
    def render(data: dict[str, Any]) -> list[Row]:
        summary = data.get("summary")
        if isinstance(summary, list):
            return [(str(r[0]), str(r[1]), str(r[2])) for r in summary if len(r) == 3]
        return [(name, "—", "see bench/results/" + name + ".json")]

    return render


RENDERERS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "hot_path": _hot_path,
    "refresh_storm": _refresh_storm,
    "connect_flow": _generic("connect_flow"),
    "keepalive": _generic("keepalive"),
    "compare_storm": _compare,
    "chaos": _chaos,
}


def render_table() -> str:
    lines = ["| what | target | measured |", "|---|---|---|"]
    machine = None
    for name, render in RENDERERS.items():
        data = _load(name)
        if data is None:
            continue
        machine = machine or data.get("machine")
        lines += [f"| {what} | {target} | {value} |" for what, target, value in render(data)]
    if machine:
        lines.append("")
        lines.append(
            f"Measured on {machine['cpus']} CPUs, {machine['platform']}, "
            f"Python {machine['python']}."
        )
    return "\n".join(lines) + "\n"


def write_summary() -> str:
    table = render_table()
    (RESULTS / "summary.md").write_text(table, encoding="utf-8")
    return table


if __name__ == "__main__":
    print(write_summary())
