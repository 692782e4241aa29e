"""Run every benchmark in turn, then write the summary table (``make bench``).

python -m bench [--only refresh_storm,hot_path] [--skip chaos]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.report import write_summary

#: In the order they run; each is ``python -m bench.<name>`` with its default (full) scale.
BENCHMARKS = (
    "hot_path",
    "refresh_storm",
    "connect_flow",
    "keepalive",
    "compare_storm",
    "chaos",
)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the cdconnect benchmarks.")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names")
    args = parser.parse_args()
    only = {name for name in args.only.split(",") if name}
    skip = {name for name in args.skip.split(",") if name}
    failed: list[str] = []
    for name in BENCHMARKS:
        if (only and name not in only) or name in skip:
            continue
        print(f"== bench {name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"])
        print(f"== bench {name}: exit {code} after {time.monotonic() - started:.0f}s", flush=True)
        if code != 0:
            failed.append(name)
    print(write_summary())
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
