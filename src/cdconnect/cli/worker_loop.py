"""The keep-alive worker's loop: cycles, jittered pauses, and a graceful stop on signals.

A stop request (SIGTERM, Ctrl-C) never interrupts a cycle: the refreshes in flight hold the only
copy of their connection's next refresh token, so the cycle finishes and then the loop ends. A
second Ctrl-C restores the default handler's behaviour for an operator who must abort now.
"""

from __future__ import annotations

import random
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from cdconnect.errors import StoreError

if TYPE_CHECKING:
    from cdconnect.manager import ConnectionManager, KeepAliveSummary

#: Pauses vary by ±20 % so that workers started together do not stay in lock-step.
JITTER = 0.2


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How the worker runs (see ``cdconnect worker --help``)."""

    interval: float | None = None
    access_window: float | None = None
    batch: int = 500
    concurrency: int = 16
    pause: float = 60.0
    once: bool = False


def jittered(pause: float, rng: random.Random) -> float:
    return pause * rng.uniform(1 - JITTER, 1 + JITTER)


def next_pause(summary: KeepAliveSummary, options: WorkerOptions, rng: random.Random) -> float:
    """No pause after a full batch (more connections are probably due), else a jittered one."""
    if summary.claimed >= options.batch:
        return 0.0
    return jittered(options.pause, rng)


def run_worker(
    manager: ConnectionManager,
    options: WorkerOptions,
    *,
    stop: threading.Event,
    report: Callable[[int, KeepAliveSummary], None],
    report_error: Callable[[StoreError], None],
    rng: random.Random | None = None,
) -> int:
    """Run keep-alive cycles until ``stop`` is set (or once); returns the number of cycles run.

    In a long-running worker a database outage is reported and retried after the pause; with
    ``once`` it propagates (cron should see the failure).
    """
    rng = rng or random.Random()
    cycles = 0
    while True:
        cycles += 1
        try:
            summary = manager.keepalive_once(
                interval=options.interval,
                access_window=options.access_window,
                batch=options.batch,
                concurrency=options.concurrency,
            )
        except StoreError as error:
            if options.once:
                raise
            report_error(error)
            pause = jittered(options.pause, rng)
        else:
            report(cycles, summary)
            pause = next_pause(summary, options, rng)
        if options.once or stop.wait(pause):
            return cycles


@contextmanager
def stop_on_signals(stop: threading.Event, notify: Callable[[str], None]) -> Iterator[None]:
    """Turn SIGTERM and the first SIGINT into ``stop.set()`` while the block runs.

    Signal handlers can only be installed from the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        notify(f"{signal.Signals(signum).name}: stopping after the current cycle")

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
