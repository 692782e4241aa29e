"""What the chaos trial and its worker processes say to each other over their pipes.

Each worker has its own pipe, so killing one mid-message never corrupts another's channel (a
shared queue's lock can be left held by a killed writer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tests.chaos.plan import RefreshMode


class Command(StrEnum):
    GO = "go"
    RESOLVE = "resolve"
    CLOSE = "close"
    EXIT = "exit"


@dataclass(frozen=True, slots=True)
class Warm:
    """Sent once by a new worker when its imports are done."""

    pid: int


@dataclass(frozen=True, slots=True)
class StormJob:
    """Open a manager on this vault and wait for ``GO``. Settings hold secrets: tests only."""

    settings: Mapping[str, Any] = field(repr=False)
    clock_offset: float
    external_ids: tuple[str, ...]
    mode: RefreshMode
    threads: int
    rounds: int
    log_file: str


@dataclass(frozen=True, slots=True)
class Ready:
    pass


@dataclass(frozen=True, slots=True)
class StormReport:
    """How the worker's calls ended: tokens, documented errors by class, anything else."""

    tokens: int
    errors: Mapping[str, int] = field(default_factory=dict)
    #: Type and traceback of every exception that is not a ``CDConnectError``.
    unexpected: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Resolution:
    """The survivor's forced refresh of one connection, with every fault switched off."""

    external_id: str
    #: "token", or the class name of the exception raised.
    outcome: str
    reason: str | None = None
    generation: int | None = None
    unexpected: str | None = None


@dataclass(frozen=True, slots=True)
class ResolveReport:
    resolutions: tuple[Resolution, ...]


@dataclass(frozen=True, slots=True)
class Closed:
    pass


@dataclass(frozen=True, slots=True)
class JobFailed:
    """The worker could not run the job at all (e.g. the manager did not open)."""

    error: str
