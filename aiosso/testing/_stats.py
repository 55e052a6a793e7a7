"""Counters and the request log that tests assert on; raw access tokens never enter them."""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["EmulatorStats", "RequestRecord"]

REDACTED = "<redacted>"


@attrs.frozen
class RequestRecord:
    """One request the emulator answered (or dropped), with secrets redacted.

    Attributes:
        time: wall-clock time the request arrived (epoch seconds).
        method: HTTP method.
        path: URL path.
        query: query pairs in arrival order; ``next_token`` values and any value equal to an
            issued token or to the request's bearer header are replaced by ``"<redacted>"``.
        operation: the API name (``"ListAccounts"``...) or None for an unknown route.
        status: HTTP status sent, or None when the connection was dropped.
        token: the token's label (``"token-1"``...), ``"unknown"`` for an unrecognised token,
            or None when the header was absent. Never the token itself.
        fault: the injected fault kind, or None.
    """

    time: float
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    operation: str | None
    status: int | None
    token: str | None
    fault: str | None


@attrs.frozen
class EmulatorStats:
    """A snapshot of the emulator's counters since start or the last reset.

    Attributes:
        total: requests received on the API routes (admin routes excluded).
        requests: requests per operation name; unknown routes count under ``"Unknown"``.
        statuses: responses per HTTP status (dropped connections are not counted here).
        throttled: 429 answers from the rate limiter.
        faults: injected faults per kind (``error``, ``drop``, ``malformed_json``,
            ``truncated_body``).
        faults_injected: sum of ``faults``.
        in_flight: requests being handled right now.
        max_in_flight: the most requests handled concurrently.
    """

    total: int
    requests: Mapping[str, int]
    statuses: Mapping[int, int]
    throttled: int
    faults: Mapping[str, int]
    faults_injected: int
    in_flight: int
    max_in_flight: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON form served by ``GET /_emulator/stats`` (status keys become strings)."""
        return {
            "total": self.total,
            "requests": dict(self.requests),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "throttled": self.throttled,
            "faults": dict(self.faults),
            "faults_injected": self.faults_injected,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


class StatsCollector:
    """Mutable counters behind :class:`EmulatorStats`; updated by the request handler."""

    def __init__(self, log_limit: int) -> None:
        self.log: collections.deque[RequestRecord] = collections.deque(maxlen=log_limit)
        self.reset()
        self.in_flight = 0

    def reset(self) -> None:
        """Zero every counter and empty the log (``in_flight`` is live, so kept)."""
        self.total = 0
        self.requests: collections.Counter[str] = collections.Counter()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.faults: collections.Counter[str] = collections.Counter()
        self.throttled = 0
        self.max_in_flight = getattr(self, "in_flight", 0)
        self.log.clear()

    def snapshot(self) -> EmulatorStats:
        """Freeze the current counters."""
        return EmulatorStats(
            total=self.total,
            requests=dict(self.requests),
            statuses=dict(self.statuses),
            throttled=self.throttled,
            faults=dict(self.faults),
            faults_injected=sum(self.faults.values()),
            in_flight=self.in_flight,
            max_in_flight=self.max_in_flight,
        )
