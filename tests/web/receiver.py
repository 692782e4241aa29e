"""A webhook receiver on loopback: records deliveries, answers with scripted statuses."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    url: str
    #: Statuses to answer with, in order; 200 once they run out.
    script: list[int] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._arrived = threading.Condition(self._guard)

    def record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._arrived:
            status = self.script.pop(0) if self.script else 200
            self.deliveries.append(Delivery(path, headers, body, status))
            self._arrived.notify_all()
            return status

    def successful(self) -> list[Delivery]:
        with self._guard:
            return [d for d in self.deliveries if d.answered == 200]

    def wait_for(self, successes: int, timeout: float = 20.0) -> list[Delivery]:
        """Block until ``successes`` deliveries were answered 200 (or fail after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while sum(d.answered == 200 for d in self.deliveries) < successes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"only {len(self.deliveries)} deliveries arrived")
                self._arrived.wait(remaining)
            return [d for d in self.deliveries if d.answered == 200]


@contextmanager
def running_receiver(script: list[int] | None = None) -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = holder[0].record(self.path, headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks", list(script or []))
    holder.append(receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
