"""A pool of warm worker processes, so a trial does not pay for interpreter start-up and imports.

Workers are started with ``spawn`` (never ``fork``: the parent runs the sandbox's server thread)
and reused from trial to trial, as long-lived workers are in production. A killed worker is
replaced at once; its replacement warms up while the trial goes on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any

from tests.chaos.messages import Command, Warm
from tests.chaos.worker import serve

SPAWN = multiprocessing.get_context("spawn")
#: Generous: on a loaded two-core machine a cold start of a worker can take several seconds.
START_TIMEOUT = 120.0


class WorkerGone(AssertionError):
    """A worker died or stopped answering without being killed on purpose."""


@dataclass(eq=False)
class Worker:
    process: SpawnProcess
    conn: Connection
    pid: int = 0

    def send(self, message: Any) -> None:
        self.conn.send(message)

    def receive(self, timeout: float) -> Any:
        """The next message, or ``WorkerGone`` when the worker died or stayed silent."""
        try:
            if self.conn.poll(timeout):
                return self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerGone(f"worker {self.pid} closed its pipe") from exc
        raise WorkerGone(f"worker {self.pid} did not answer within {timeout:.0f}s")

    def is_warm(self) -> bool:
        return bool(self.pid) or self.conn.poll(0)

    def wait_warm(self) -> None:
        if not self.pid:
            warm = self.receive(START_TIMEOUT)
            assert isinstance(warm, Warm), f"a new worker said {warm!r}"
            self.pid = warm.pid

    def pending(self) -> list[Any]:
        """Messages already sent (e.g. by a worker that has just been killed)."""
        messages = []
        try:
            while self.conn.poll(0):
                messages.append(self.conn.recv())
        except (EOFError, OSError):
            pass
        return messages

    def kill(self) -> bool:
        """SIGKILL; True when that is what ended the process."""
        self.process.kill()
        self.process.join(10)
        return self.process.exitcode == -signal.SIGKILL


class WarmPool:
    """``size`` spawned workers; ``take`` hands out warm ones, ``put_back``/``replace`` return.

    Make ``size`` larger than a trial needs by the most kills a trial does: a replacement then
    has a whole trial to warm up before anyone waits for it.
    """

    def __init__(self, size: int) -> None:
        self._idle: list[Worker] = []
        #: Exit codes of workers that ended without being killed on purpose.
        self.unexpected_exits: list[int | None] = []
        for _ in range(size):
            self._idle.append(self._spawn())

    @staticmethod
    def _spawn() -> Worker:
        parent, child = SPAWN.Pipe()
        process = SPAWN.Process(target=serve, args=(child,), daemon=True)
        process.start()
        child.close()
        return Worker(process, parent)

    def take(self, count: int) -> list[Worker]:
        """``count`` warm workers, preferring those already warm (spares absorb start-ups)."""
        if count > len(self._idle):
            raise ValueError(f"the pool has {len(self._idle)} workers, {count} wanted")
        self._idle.sort(key=lambda worker: not worker.is_warm())
        taken, self._idle = self._idle[:count], self._idle[count:]
        for worker in taken:
            worker.wait_warm()
        return taken

    def put_back(self, worker: Worker) -> None:
        self._idle.append(worker)

    def replace(self, killed: Worker) -> None:
        """Forget a killed worker and start its successor."""
        killed.conn.close()
        self._idle.append(self._spawn())

    def close(self) -> None:
        for worker in self._idle:
            if worker.process.is_alive():
                with contextlib.suppress(OSError):
                    worker.send(Command.EXIT)
        for worker in self._idle:
            worker.process.join(30)
            if worker.process.exitcode != 0:
                self.unexpected_exits.append(worker.process.exitcode)
                worker.process.kill()
            worker.conn.close()
        self._idle = []
