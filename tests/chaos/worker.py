"""The body of a pooled chaos worker process (started with ``spawn``).

A worker imports cdconnect once, then runs one job per trial: open a manager on the trial's vault
with its own clock, log everything at DEBUG to the trial's per-process file, refresh when told
to, resolve (the survivor) when told to, close. It is killed with SIGKILL at random points; the
parent replaces it. Nothing here catches more than it reports: an exception that is not a
``CDConnectError`` is returned as "unexpected" with its traceback, which fails the trial.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

from cdconnect.errors import CDConnectError, ReauthorizationRequired
from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.settings import load_settings
from cdconnect.testing import OffsetClock
from tests.chaos.messages import (
    Closed,
    Command,
    JobFailed,
    Ready,
    Resolution,
    ResolveReport,
    StormJob,
    StormReport,
    Warm,
)
from tests.chaos.plan import RefreshMode

LOG_FORMAT = "%(asctime)s %(process)d %(threadName)s %(name)s %(levelname)s %(message)s"


def serve(conn: Connection) -> None:
    """Entry point of a worker process: announce itself, then run jobs until told to exit."""
    conn.send(Warm(os.getpid()))
    while True:
        message: Any = conn.recv()
        if message == Command.EXIT:
            return
        if isinstance(message, StormJob):
            _run_job(conn, message)


def _run_job(conn: Connection, job: StormJob) -> None:
    handler = _log_to(job.log_file)
    try:
        settings = load_settings(**job.settings)
        manager = open_manager(settings, clock=OffsetClock(job.clock_offset))
    except Exception:
        _stop_logging(handler)
        conn.send(JobFailed(traceback.format_exc()))
        return
    try:
        conn.send(Ready())
        _obey(conn, manager, job)
    finally:
        manager.close()
        _stop_logging(handler)
    conn.send(Closed())


def _obey(conn: Connection, manager: ConnectionManager, job: StormJob) -> None:
    while True:
        command: Any = conn.recv()
        if command == Command.GO:
            conn.send(storm(manager, job))
        elif command == Command.RESOLVE:
            conn.send(resolve(manager, job.external_ids))
        elif command == Command.CLOSE:
            return


def storm(manager: ConnectionManager, job: StormJob) -> StormReport:
    """``job.threads`` threads, each calling ``job.rounds`` times per connection."""
    outcomes: list[str] = []
    unexpected: list[str] = []
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(job.rounds):
            for external_id in job.external_ids:
                outcome, problem = _call(manager, external_id, job.mode)
                with lock:
                    outcomes.append(outcome)
                    if problem is not None:
                        unexpected.append(problem)

    threads = [threading.Thread(target=caller, name=f"caller-{i}") for i in range(job.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = Counter(outcomes)
    tokens = counts.pop("token", 0)
    return StormReport(tokens=tokens, errors=dict(counts), unexpected=tuple(unexpected))


def _call(
    manager: ConnectionManager, external_id: str, mode: RefreshMode
) -> tuple[str, str | None]:
    try:
        if mode is RefreshMode.FORCE:
            manager.refresh(external_id, force=True)
        else:
            manager.access_token(external_id)
    except CDConnectError as exc:
        return type(exc).__name__, None
    except Exception as exc:
        return "unexpected", f"{type(exc).__name__}\n{traceback.format_exc()}"
    return "token", None


def resolve(manager: ConnectionManager, external_ids: tuple[str, ...]) -> ResolveReport:
    """Force one refresh of every connection: proves the stored chain, or finds it lost."""
    resolutions = []
    for external_id in external_ids:
        try:
            token = manager.refresh(external_id, force=True)
        except ReauthorizationRequired as exc:
            resolutions.append(Resolution(external_id, type(exc).__name__, reason=exc.reason))
        except CDConnectError as exc:
            resolutions.append(Resolution(external_id, type(exc).__name__))
        except Exception as exc:
            problem = f"{type(exc).__name__}\n{traceback.format_exc()}"
            resolutions.append(Resolution(external_id, "unexpected", unexpected=problem))
        else:
            resolutions.append(Resolution(external_id, "token", generation=token.generation))
    return ResolveReport(tuple(resolutions))


def _log_to(path: str) -> logging.Handler:
    """Everything, from every logger (cdconnect, httpx, httpcore, SQLAlchemy), at DEBUG."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    return handler


def _stop_logging(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)
    handler.close()
