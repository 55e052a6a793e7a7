"""Counters and the request log that tests assert on; raw access tokens never enter them."""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["EmulatorStats", "OIDCStats", "RequestRecord"]

REDACTED = "<redacted>"
NOT_FAILURES = frozenset({"AuthorizationPendingException", "SlowDownException"})


@attrs.frozen
class RequestRecord:
    """One request the emulator answered (or dropped), with secrets redacted.

    Attributes:
        time: wall-clock time its answer was ready (epoch seconds; after any injected latency).
        method: HTTP method.
        path: URL path.
        query: query pairs in arrival order; ``next_token`` values and any value equal to an
            issued token or to the request's bearer header are replaced by ``"<redacted>"``.
        operation: the API name (``"ListAccounts"``...) or None for an unknown route.
        status: HTTP status sent, or None when the connection was dropped.
        token: the token's label (``"token-1"``...), ``"unknown"`` for an unrecognised token,
            or None when the header was absent. Never the token itself.
        fault: the injected fault kind, or None.
        body: the members of an SSO-OIDC JSON request body in arrival order (values that are
            not strings JSON-encoded); secrets (``clientSecret``, ``deviceCode``, ``code``,
            ``codeVerifier``, ``refreshToken``, ``accessToken``) are ``"<redacted>"``. Empty for
            portal operations and for bodies that are not a JSON object.
    """

    time: float
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    operation: str | None
    status: int | None
    token: str | None
    fault: str | None
    body: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class OIDCStats:
    """SSO-OIDC counters (part of :class:`EmulatorStats`, also ``PortalEmulator.oidc_stats``).

    Only HTTP traffic counts; the emulator's Python helpers (``register_client``...) do not.

    Attributes:
        registrations: successful ``RegisterClient`` calls.
        device_authorizations: successful ``StartDeviceAuthorization`` calls.
        authorizations: ``GET /authorize`` requests accepted (redirected or left pending).
        tokens_issued: successful ``CreateToken`` calls per grant: ``"device_code"``,
            ``"authorization_code"``, ``"refresh_token"``.
        refreshes: ``tokens_issued["refresh_token"]``.
        token_errors: ``CreateToken`` error answers per error code, including
            ``AuthorizationPendingException`` and ``SlowDownException``.
        failed_grants: ``token_errors`` other than pending and slow-down answers.
    """

    registrations: int = 0
    device_authorizations: int = 0
    authorizations: int = 0
    tokens_issued: Mapping[str, int] = attrs.Factory(dict)
    refreshes: int = 0
    token_errors: Mapping[str, int] = attrs.Factory(dict)
    failed_grants: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "registrations": self.registrations,
            "device_authorizations": self.device_authorizations,
            "authorizations": self.authorizations,
            "tokens_issued": dict(self.tokens_issued),
            "refreshes": self.refreshes,
            "token_errors": dict(self.token_errors),
            "failed_grants": self.failed_grants,
        }


class OIDCCounters:
    """Mutable counters behind :class:`OIDCStats`."""

    def __init__(self) -> None:
        self.registrations = 0
        self.device_authorizations = 0
        self.authorizations = 0
        self.tokens_issued: collections.Counter[str] = collections.Counter()
        self.token_errors: collections.Counter[str] = collections.Counter()

    def __repr__(self) -> str:
        return f"<OIDCCounters {self.snapshot()!r}>"

    def snapshot(self) -> OIDCStats:
        """Freeze the current counters."""
        return OIDCStats(
            registrations=self.registrations,
            device_authorizations=self.device_authorizations,
            authorizations=self.authorizations,
            tokens_issued=dict(self.tokens_issued),
            refreshes=self.tokens_issued["refresh_token"],
            token_errors=dict(self.token_errors),
            failed_grants=sum(
                n for code, n in self.token_errors.items() if code not in NOT_FAILURES
            ),
        )


@attrs.frozen
class EmulatorStats:
    """A snapshot of the emulator's counters since start or the last reset.

    Attributes:
        total: requests received on the API routes, portal and SSO-OIDC (admin routes
            excluded).
        requests: requests per operation name (``"ListAccounts"``, ``"CreateToken"``...);
            unknown routes count under ``"Unknown"``.
        statuses: responses per HTTP status (dropped connections are not counted here).
        throttled: 429 answers from the rate limiter.
        faults: injected faults per kind (``error``, ``drop``, ``malformed_json``,
            ``truncated_body``).
        faults_injected: sum of ``faults``.
        in_flight: requests being handled right now.
        max_in_flight: the most requests handled concurrently.
        oidc: the SSO-OIDC counters.
    """

    total: int
    requests: Mapping[str, int]
    statuses: Mapping[int, int]
    throttled: int
    faults: Mapping[str, int]
    faults_injected: int
    in_flight: int
    max_in_flight: int
    oidc: OIDCStats = attrs.Factory(OIDCStats)

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
            "oidc": self.oidc.as_dict(),
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
        self.oidc = OIDCCounters()
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
            oidc=self.oidc.snapshot(),
        )
