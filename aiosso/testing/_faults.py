"""Rate limiting (token buckets) and fault injection, as configuration values plus their engines.

The engines are single-threaded by design: the emulator runs on one asyncio loop and never awaits
between reading and updating a bucket, so no lock is needed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from typing import Literal

import attrs

__all__ = ["FaultKind", "Faults", "Injection", "RateLimit"]

PORTAL_OPERATIONS = frozenset({"GetRoleCredentials", "ListAccountRoles", "ListAccounts", "Logout"})
OIDC_OPERATIONS = frozenset(
    {"RegisterClient", "StartDeviceAuthorization", "CreateToken", "CreateTokenWithIAM", "Authorize"}
)
OPERATION_NAMES = PORTAL_OPERATIONS | OIDC_OPERATIONS
"""Operations faults and limits may name; ``None`` (no names) means the four portal operations."""

FaultKind = Literal["error", "drop", "malformed_json", "truncated_body"]
"""What a scripted fault does instead of the normal answer.

``"error"`` sends an HTTP error response, ``"drop"`` closes the connection without answering,
``"malformed_json"`` sends a 200 with invalid JSON, ``"truncated_body"`` a 200 whose
Content-Length promises more bytes than are sent before the connection closes."""

_FAULT_KINDS = frozenset({"error", "drop", "malformed_json", "truncated_body"})


def _check_operations(_: object, __: object, value: frozenset[str] | None) -> None:
    if value is not None and not value <= OPERATION_NAMES:
        raise ValueError(f"unknown operations {sorted(value - OPERATION_NAMES)}")


def _to_operations(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


def _probability(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within 0..1, got {value!r}")


@attrs.frozen
class RateLimit:
    """A token-bucket rate limit applied per access token, answering 429 when empty.

    Attributes:
        rate: tokens added per second (sustained requests per second); must be > 0.
        burst: bucket capacity (requests allowed back to back); must be >= 1.
        scope: ``"operation"`` gives each token one bucket per operation; ``"token"`` one
            bucket shared by all operations of a token.
        retry_after: send ``Retry-After`` (whole seconds, rounded up, at least 1).
        amz_retry_after: send ``x-amz-retry-after`` (milliseconds, rounded up).
        operations: limit only these portal operation names (None: all four). SSO-OIDC
            operations are never rate limited.
    """

    rate: float = attrs.field(validator=attrs.validators.gt(0))
    burst: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    scope: Literal["operation", "token"] = attrs.field(
        default="operation", validator=attrs.validators.in_(("operation", "token"))
    )
    retry_after: bool = False
    amz_retry_after: bool = False
    operations: frozenset[str] | None = attrs.field(
        default=None, converter=_to_operations, validator=_check_operations
    )


@attrs.frozen
class Faults:
    """Random faults, drawn from the emulator's seeded RNG, for every matching request.

    Attributes:
        server_error: probability of a 5xx with an HTML body (status drawn from
            ``server_error_statuses``).
        drop_connection: probability of closing the connection without a response.
        malformed_json: probability of a 200 whose body is invalid JSON.
        truncated_body: probability of a 200 cut short (Content-Length larger than sent).
        latency: added delay in seconds before answering, fixed or a ``(low, high)`` range.
        server_error_statuses: the statuses a ``server_error`` draws from.
        operations: apply only to these operation names (None: the four portal operations);
            SSO-OIDC operations (``CreateToken``...) get faults only when named here.
    """

    server_error: float = attrs.field(default=0.0, validator=_probability)
    drop_connection: float = attrs.field(default=0.0, validator=_probability)
    malformed_json: float = attrs.field(default=0.0, validator=_probability)
    truncated_body: float = attrs.field(default=0.0, validator=_probability)
    latency: float | tuple[float, float] = 0.0
    server_error_statuses: tuple[int, ...] = (500, 502, 503, 504)
    operations: frozenset[str] | None = attrs.field(
        default=None, converter=_to_operations, validator=_check_operations
    )

    def __attrs_post_init__(self) -> None:
        if self.server_error + self.drop_connection + self.malformed_json + self.truncated_body > 1:
            raise ValueError("fault probabilities must add up to at most 1")


@attrs.frozen
class Injection:
    """One scripted answer, as queued by :meth:`PortalEmulator.fail_next`.

    Attributes:
        kind: what happens instead of the normal answer (see :data:`FaultKind`).
        status: HTTP status for ``kind="error"``.
        code: error code for ``kind="error"``; with a code the answer is the service's JSON
            error (``x-amzn-ErrorType`` + ``{"message": ...}``), without one a 5xx is an HTML page
            and a 4xx a bare ``{"message": ...}`` body.
        message: the error message.
        retry_after: seconds to send as ``Retry-After`` and ``x-amz-retry-after`` (None: none).
        delay: seconds to wait before answering.
    """

    kind: FaultKind = attrs.field(default="error", validator=attrs.validators.in_(_FAULT_KINDS))
    status: int = attrs.field(
        default=503, validator=[attrs.validators.ge(100), attrs.validators.le(599)]
    )
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))


@attrs.define
class _Scripted:
    operation: str | None
    skip: int
    count: int
    injection: Injection


class FaultEngine:
    """Decides, per request, whether to delay and which fault (if any) to inject."""

    def __init__(self, faults: Faults | None, seed: int) -> None:
        self.faults = faults
        self._rng = random.Random(f"aiosso-faults-{seed}")
        self._scripted: list[_Scripted] = []

    def script(self, operation: str | None, count: int, after: int, injection: Injection) -> None:
        """Queue ``injection`` for ``count`` requests to ``operation`` after ``after`` pass."""
        if operation is not None and operation not in OPERATION_NAMES:
            raise ValueError(f"unknown operation {operation!r}")
        if count < 1 or after < 0:
            raise ValueError("count must be >= 1 and after >= 0")
        self._scripted.append(_Scripted(operation, after, count, injection))

    def clear(self) -> None:
        """Forget every scripted injection not yet used."""
        self._scripted.clear()

    @property
    def pending(self) -> int:
        """How many scripted answers are still queued."""
        return sum(s.count for s in self._scripted)

    def pick(self, operation: str) -> tuple[float, Injection | None]:
        """Return ``(delay, injection)`` for the next request to ``operation``."""
        for index, entry in enumerate(self._scripted):
            if entry.operation is None:
                if operation not in PORTAL_OPERATIONS:
                    continue
            elif entry.operation != operation:
                continue
            if entry.skip:
                entry.skip -= 1
                break
            entry.count -= 1
            if not entry.count:
                del self._scripted[index]
            return entry.injection.delay, entry.injection
        faults = self.faults
        if faults is None:
            return 0.0, None
        if operation not in (PORTAL_OPERATIONS if faults.operations is None else faults.operations):
            return 0.0, None
        latency = faults.latency
        rng = self._rng
        delay = rng.uniform(*latency) if isinstance(latency, tuple) else latency
        draw = rng.random()
        if draw < faults.server_error:
            status = rng.choice(faults.server_error_statuses)
            return delay, Injection("error", status)
        draw -= faults.server_error
        if draw < faults.drop_connection:
            return delay, Injection("drop")
        draw -= faults.drop_connection
        if draw < faults.malformed_json:
            return delay, Injection("malformed_json")
        draw -= faults.malformed_json
        if draw < faults.truncated_body:
            return delay, Injection("truncated_body")
        return delay, None


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class RateLimiter:
    """Per-token (and per-operation) token buckets over a monotonic clock."""

    def __init__(self, limit: RateLimit | None, clock: Callable[[], float]) -> None:
        self.limit = limit
        self._clock = clock
        self._buckets: dict[tuple[int, str], _Bucket] = {}

    def reset(self, limit: RateLimit | None) -> None:
        """Replace the limit and refill every bucket."""
        self.limit = limit
        self._buckets.clear()

    def acquire(self, token_id: int, operation: str) -> float:
        """Take one token; return 0.0 if allowed, else seconds until one is available."""
        limit = self.limit
        if limit is None or (limit.operations is not None and operation not in limit.operations):
            return 0.0
        key = (token_id, operation if limit.scope == "operation" else "")
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(limit.burst), now)
        else:
            bucket.tokens = min(limit.burst, bucket.tokens + (now - bucket.updated) * limit.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / limit.rate


def retry_after_headers(limit: RateLimit | None, wait: float) -> dict[str, str]:
    """The throttling headers a 429 carries under ``limit`` when the next token is ``wait`` away."""
    headers: dict[str, str] = {}
    if limit is not None and limit.retry_after:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    if limit is not None and limit.amz_retry_after:
        headers["x-amz-retry-after"] = str(max(1, math.ceil(wait * 1000)))
    return headers
