"""Retries and adaptive client-side rate limiting; the only module that imports tenacity.

Theory of operation
-------------------
Every call makes its first attempt on the lean path: no tenacity objects, no rate limiter
until the operation has been throttled once. Only a retryable failure enters the tenacity
loop (imported then, so ``import aiosso`` stays light). What is retried is named:

* throttling: HTTP 429 (any code) and ``TooManyRequestsException``;
* transient: HTTP 500, 502, 503, 504, and :class:`~aiosso.exceptions.HTTPClientError`
  (connection refused or reset, dropped connection, truncated body, timeouts).

Nothing else is: other 4xx answers (a bad ``maxResults``, an expired token,
``ForbiddenException``) are raised at once, and so is a certificate that failed verification.

Connection errors: an endpoint that cannot be reached at all (an
:class:`~aiosso.exceptions.EndpointConnectionError` that is neither a connect timeout nor a
TLS failure: the connection refused, no route to the host, a name that does not resolve) is
retried, but a call gives up once ``unreachable_max_attempts`` (default 3) of its attempts
failed so: about 0.1 s with the transient base, so that a wrong endpoint or a service that is
down is reported at once (a closed port seldom opens within seconds) instead of after ten
attempts and some 13 s of backoff. A connect timeout, a failed TLS handshake, a connection
dropped mid-exchange and a read timeout keep the full ``total_max_attempts``, as 5xx and
throttling do. A fan-out loses nothing either way: a failure is raised, or collected when the
caller asks for failures (see :mod:`aiosso._fanout`).

Each retry sleeps with full jitter, ``uniform(0, min(max_backoff, base * 2**(n-1)))``,
with a long base for throttling (1 s) and a short one for transient errors (50 ms); a
server's ``Retry-After`` (seconds or HTTP date) or ``x-amz-retry-after`` (milliseconds)
raises that sleep, up to ``max_retry_after``. The loop stops at ``total_max_attempts`` (or
``unreachable_max_attempts``), or when the next sleep would pass ``total_timeout``, which is
also a hard deadline for the call as a whole: each exchange carries what is left of it as
aiohttp's own ``total`` timeout, and the rare waits (for a place, for the rate limiter) are
cut at it, so a call raises :class:`~aiosso.exceptions.TotalTimeoutError` at its deadline at
the latest, whatever the server does.

The adaptive limiter (mode ``"adaptive"``) is a per-client, per-operation pacing schedule
(GCRA: each request takes the next free send slot, ``1/rate`` after the previous one's slot),
switched on once an operation's throttling is more than noise (two 429s in the last second,
and at least 2 % of its answers). It starts at the success rate the service admitted over
the last second and doubles every 0.25 s (slow start) until the next throttle, which cuts it
to 0.8x the rate admitted over the last half second. Later throttles cut it to 0.95x that
rate, never by more than half, at most once per rate epoch (throttles of requests sent under
an older rate are ignored, so a burst of concurrent 429s does not collapse it). Between
cuts it climbs back on a CUBIC curve: fast towards the rate last admitted, flat near it,
then probing above. Waiting for a slot is an ``asyncio.sleep``: it never blocks the loop, a
waiter woken late keeps the schedule (the rate set is the rate sent), and a cancelled waiter
takes nothing but its own slot.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from aiosso import _protocol
from aiosso._operations import Operation
from aiosso._transport import CABundleError, Transport, public_url
from aiosso.config import RetryConfig
from aiosso.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
    TotalTimeoutError,
    bounded,
)

if sys.version_info >= (3, 11):
    from asyncio import Timeout as _Scope
    from asyncio import timeout_at as _scope_at

    def _expired(scope: _Scope) -> bool:
        return scope.expired()

else:  # aiohttp depends on async-timeout there, and so do we
    from async_timeout import Timeout as _Scope
    from async_timeout import timeout_at as _scope_at

    def _expired(scope: _Scope) -> bool:
        return scope.expired


if TYPE_CHECKING:
    import tenacity

__all__ = ["AdaptiveRateLimiter", "RequestBudget", "Retrier", "set_testing"]

log = logging.getLogger("aiosso.retry")

_T = TypeVar("_T")

_RETRY_STATUS: Final = frozenset({429, 500, 502, 503, 504})
_THROTTLE_CODES: Final = frozenset(
    {
        "TooManyRequestsException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "SlowDown",
        "RequestLimitExceeded",
    }
)

_testing = False


def set_testing(testing: bool) -> None:
    """Turn backoff and rate-limit sleeps off (``True``) or back on, for test suites.

    Attempts, classification and metadata are unchanged; only the waiting is skipped.
    """
    global _testing
    _testing = testing


def is_testing() -> bool:
    """Whether :func:`set_testing` turned sleeps off."""
    return _testing


def _retryable(exc: BaseException) -> bool:
    """Whether a failed attempt is worth another: not a certificate that failed to verify,
    nor a call whose deadline passed."""
    if isinstance(exc, TotalTimeoutError):
        return False
    if isinstance(exc, SSLError):
        return not _certificate_failure(exc)
    return isinstance(exc, (_RetryableReply, HTTPClientError))


def _unreachable(exc: BaseException | None) -> bool:
    """Whether an attempt could not connect at all: refused, unreachable, a failed name lookup
    (an ``EndpointConnectionError`` other than a connect timeout or a TLS failure)."""
    return isinstance(exc, EndpointConnectionError) and not isinstance(
        exc, (ConnectTimeoutError, SSLError)
    )


def _certificate_failure(exc: BaseException) -> bool:
    cause = exc.__cause__
    if isinstance(cause, (ssl.SSLCertVerificationError, CABundleError)):
        return True
    # aiohttp wraps it: ClientConnectorCertificateError.certificate_error
    return isinstance(getattr(cause, "certificate_error", None), ssl.SSLCertVerificationError)


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(0 if _testing else seconds)


def retry_after_seconds(headers: dict[str, str], now: float | None = None) -> float | None:
    """The server's requested delay, from ``x-amz-retry-after`` (ms) or ``Retry-After``.

    ``Retry-After`` may be delta-seconds or an HTTP date. Unparseable or negative values are
    ignored (``None``).
    """
    raw = headers.get("x-amz-retry-after")
    if raw is not None:
        try:
            millis = int(raw.strip())
        except ValueError:
            millis = -1
        if millis >= 0:
            return millis / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    delay = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, delay)


class RequestBudget(Protocol):
    """A request rate shared beyond one client (:class:`aiosso.fleet.RateBudget`)."""

    async def acquire(self, operation: str) -> None:
        """Wait until ``operation`` (its API name) may send one request."""


class AdaptiveRateLimiter:
    """Paces one operation's requests at a rate learned from the service's throttling.

    Disabled (free) until the first throttle; successes are counted before that so the first
    estimate has data. See the module docstring for the control law.
    """

    __slots__ = (
        "_base_rate",
        "_clock",
        "_last_change",
        "_next_free",
        "_queue",
        "_slow_start",
        "_successes",
        "_throttles",
        "_w_max",
        "enabled",
        "epoch",
    )

    MIN_RATE: Final = 0.5
    WINDOW: Final = 1.0
    SLOW_START_DOUBLING: Final = 0.25
    CUBIC_SCALE: Final = 0.4
    BACKOFF_FACTOR: Final = 0.95
    SLOW_START_EXIT_FACTOR: Final = 0.8
    THROTTLE_SHARE: Final = 0.02

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.enabled = False
        self.epoch = 0
        self._base_rate = 0.0
        self._w_max = 0.0
        self._slow_start = True
        self._last_change = clock()
        self._next_free = 0.0
        self._queue = asyncio.Lock()
        self._successes: deque[float] = deque()
        self._throttles: deque[float] = deque()

    @property
    def rate(self) -> float:
        """The current allowed rate in requests per second (0 while disabled)."""
        if not self.enabled:
            return 0.0
        elapsed = self._clock() - self._last_change
        if self._slow_start:
            return float(self._base_rate * 2.0 ** (elapsed / self.SLOW_START_DOUBLING))
        # CUBIC: back quickly towards the rate that was throttled, flat near it, then probe.
        k = float(((self._w_max - self._base_rate) / self.CUBIC_SCALE) ** (1.0 / 3.0))
        return max(self._base_rate, self._w_max + self.CUBIC_SCALE * (elapsed - k) ** 3)

    def measured_rate(self, window: float | None = None) -> float:
        """Successes per second over the last ``window`` seconds (default 1 s)."""
        window = self.WINDOW if window is None else window
        cutoff = self._clock() - window
        return sum(1 for t in self._successes if t > cutoff) / window

    def on_success(self) -> None:
        """Count a successful response (one clock read and a deque append)."""
        now = self._clock()
        successes = self._successes
        successes.append(now)
        cutoff = now - self.WINDOW
        while successes[0] < cutoff:
            successes.popleft()

    def on_throttle(self, sent_epoch: int) -> None:
        """Lower the rate after a throttle of a request sent under the current epoch.

        A throttle that is only noise is ignored (its retry takes care of it): a single one
        in the last second, or fewer than ``THROTTLE_SHARE`` of the last second's answers. At
        a high request rate a stray 429 must not ratchet the rate down.
        """
        now = self._clock()
        throttles = self._throttles
        throttles.append(now)
        cutoff = now - self.WINDOW
        while throttles[0] < cutoff:
            throttles.popleft()
        while self._successes and self._successes[0] < cutoff:
            self._successes.popleft()
        if len(throttles) < max(2, self.THROTTLE_SHARE * (len(throttles) + len(self._successes))):
            return
        if self.enabled and sent_epoch != self.epoch:
            return
        if not self.enabled:
            # What the service admitted over the last second is all we know; start there
            # and double until the next throttle (slow start).
            self._base_rate = max(self.MIN_RATE, self.measured_rate())
            self._slow_start = True
        else:
            # While we were over-sending, successes arrived at the service's admitted rate.
            admitted = self.measured_rate(self.WINDOW / 2)
            current = self.rate
            if self._slow_start and current <= admitted:
                # Not over-sending: the service's bucket was momentarily empty (e.g. right
                # after its burst allowance was spent). Keep probing upwards.
                return
            new_rate = min(current, admitted) if admitted > 0 else current / 2
            # Leaving slow start the estimate is rough (a refilled burst inflates it): cut
            # deeper once, rather than in several throttled steps.
            if self._slow_start:
                new_rate *= self.SLOW_START_EXIT_FACTOR
            else:  # one throttle never more than halves the rate
                new_rate = max(new_rate * self.BACKOFF_FACTOR, current / 2)
            self._base_rate = max(self.MIN_RATE, new_rate)
            # CUBIC climbs back fast towards the rate the service admitted, stays flat near
            # it, then probes above it slowly.
            self._w_max = max(admitted, self._base_rate)
            self._slow_start = False
        self._last_change = now
        self.enabled = True
        self.epoch += 1
        # The next request waits one interval at the new rate.
        self._next_free = now + 1.0 / max(self._base_rate, self.MIN_RATE)
        log.debug("rate limiter: throttled, rate now %.2f req/s", self._base_rate)

    async def acquire(self) -> int:
        """Wait for this request's send slot; returns the epoch it was sent under.

        Waiters queue in arrival order; only the head waits on the clock, and the spacing to
        the next request is fixed when a request is released, at the rate current then.
        """
        async with self._queue:
            waited = False
            while True:
                now = self._clock()
                delay = self._next_free - now
                if delay <= 0 or _testing:
                    break
                waited = True
                await asyncio.sleep(delay)
            interval = 1.0 / max(self.rate, self.MIN_RATE)
            # A woken waiter keeps the cadence from its own slot, not from when the loop got
            # round to it (that lateness would lower the rate below the one set), catching up
            # at most one interval; after idleness the next slot counts from now.
            start = max(self._next_free, now - interval) if waited else max(now, self._next_free)
            self._next_free = start + interval
            return self.epoch


class _Gate:
    """At most ``n`` holders, first come first served.

    ``asyncio.Semaphore`` awaits a coroutine even when a place is free; this gate's free
    path is one synchronous call, which matters on the per-call hot path.
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, n: int) -> None:
        self._free = n
        self._waiters: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        """True when every place is taken."""
        return self._free <= 0

    def try_enter(self) -> bool:
        """Take a place if one is free and nobody is queued; never waits."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def enter(self) -> None:
        """Wait in line for a place."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # a place was handed over as we were cancelled: pass it on
            elif waiter in self._waiters:  # leave() may have dropped it already
                self._waiters.remove(waiter)
            raise

    def leave(self) -> None:
        """Give a place back, handing it to the first waiter."""
        self._free += 1
        while self._waiters and self._free > 0:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._free -= 1
                waiter.set_result(None)


class _RetryableReply(Exception):
    """Internal: a retryable error reply, carried through tenacity to the final raise."""

    def __init__(self, response: dict[str, Any], throttle: bool, delay: float | None) -> None:
        super().__init__(response["Error"]["Code"])
        self.response = response
        self.throttle = throttle
        self.delay = delay


def _classify(status: int, response: dict[str, Any]) -> tuple[bool, bool]:
    """``(retryable, throttle)`` for a parsed error reply."""
    code = response["Error"]["Code"]
    throttle = status == 429 or code in _THROTTLE_CODES
    return throttle or status in _RETRY_STATUS, throttle


class Retrier:
    """Runs one call's attempts: the lean first attempt, then tenacity if needed."""

    __slots__ = ("_budget", "_cfg", "_first_header", "_in_flight", "_limiters")

    def __init__(
        self,
        config: RetryConfig,
        max_in_flight: int,
        operations: Mapping[str, Operation],
        budget: RequestBudget | None = None,
    ) -> None:
        self._cfg = config
        self._budget = budget
        # Requests wait here, not in the connection pool, so the rate limiter is consulted
        # right before each request really goes out.
        self._in_flight = _Gate(max_in_flight)
        self._limiters: dict[str, AdaptiveRateLimiter] = {}
        if config.mode == "adaptive":
            self._limiters = {name: AdaptiveRateLimiter() for name in operations}
        self._first_header = f"attempt=1; max={config.total_max_attempts}"

    @property
    def config(self) -> RetryConfig:
        """The retry settings."""
        return self._cfg

    def limiter(self, op_name: str) -> AdaptiveRateLimiter | None:
        """The operation's rate limiter, if adaptive mode created one."""
        return self._limiters.get(op_name)

    async def call(
        self,
        op: Operation,
        transport: Transport,
        url: str,
        headers: dict[str, str],
        body: bytes | None = None,
    ) -> dict[str, Any]:
        """Send with retries; return the parsed result or raise the final error.

        ``total_timeout`` is a hard deadline for the whole call: waiting for a place, the
        rate limiter, every attempt (even one whose reply trickles in) and every backoff.
        An exchange carries what is left of it as aiohttp's own ``total`` timeout, so the
        common path costs no timer of its own.

        Raises:
            TotalTimeoutError: the deadline passed before the call could end otherwise.
        """
        budget = self._cfg.total_timeout
        deadline = None if budget is None else asyncio.get_running_loop().time() + budget
        try:
            return await self._attempt(op, transport, url, headers, body, 1, deadline)
        except (_RetryableReply, HTTPClientError) as failure:
            cfg = self._cfg
            if (
                cfg.total_max_attempts > 1
                and _retryable(failure)
                and (cfg.unreachable_max_attempts > 1 or not _unreachable(failure))
            ):
                return await self._retry(op, transport, url, headers, body, failure, deadline)
            if isinstance(failure, _RetryableReply):
                raise self._final_error(op, failure, 1) from None
            raise

    def _out_of_time(self, url: str) -> TotalTimeoutError:
        budget = self._cfg.total_timeout
        assert budget is not None
        return TotalTimeoutError(endpoint_url=public_url(url), seconds=budget)

    async def _within(self, waiting: Awaitable[_T], deadline: float, url: str) -> _T:
        """``await waiting``, cut short at ``deadline`` (loop time): for the rare waits only."""
        scope = _scope_at(deadline)
        try:
            async with scope:
                return await waiting
        except asyncio.TimeoutError:
            if not _expired(scope):
                raise
            raise self._out_of_time(url) from None

    def _on_throttle(self, op_name: str, epoch: int) -> None:
        if self._cfg.mode != "adaptive":
            return
        self._limiters[op_name].on_throttle(epoch)

    def _final_error(self, op: Operation, failure: _RetryableReply, attempts: int) -> ClientError:
        md = failure.response["ResponseMetadata"]
        md["RetryAttempts"] = attempts - 1
        md["MaxAttemptsReached"] = True
        return _protocol.make_error(op, failure.response)

    def _wait(self, op_name: str, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        throttle = isinstance(exc, _RetryableReply) and exc.throttle
        limiter = self._limiters.get(op_name)
        # Once the limiter paces this operation, its queue is the throttling backoff; a long
        # sleep on top would only leave the service's allowed rate unused.
        paced = limiter is not None and limiter.enabled
        base = self._cfg.throttle_base if throttle and not paced else self._cfg.transient_base
        ceiling = min(self._cfg.max_backoff, base * 2 ** (retry_state.attempt_number - 1))
        delay = random.uniform(0, ceiling)
        if isinstance(exc, _RetryableReply) and exc.delay is not None:
            delay = max(delay, min(exc.delay, self._cfg.max_retry_after))
        return delay

    async def _retry(
        self,
        op: Operation,
        transport: Transport,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        first: BaseException,
        deadline: float | None,
    ) -> dict[str, Any]:
        import tenacity

        cfg = self._cfg
        attempts = tenacity.stop_after_attempt(cfg.total_max_attempts)
        unreachable: set[int] = set()  # the attempts that could not connect at all

        def stop(retry_state: tenacity.RetryCallState) -> bool:
            if attempts(retry_state):
                return True
            outcome = retry_state.outcome
            if outcome is not None and _unreachable(outcome.exception()):
                unreachable.add(retry_state.attempt_number)
                if len(unreachable) >= cfg.unreachable_max_attempts:
                    return True
            # No backoff that would end past the deadline: it would only be cut short.
            if deadline is None:
                return False
            sleep = retry_state.upcoming_sleep or 0.0
            return asyncio.get_running_loop().time() + sleep >= deadline

        retrying = tenacity.AsyncRetrying(
            stop=stop,
            wait=functools.partial(self._wait, op.name),
            retry=tenacity.retry_if_exception(_retryable),
            sleep=_sleep,
            reraise=True,
            before_sleep=_log_retry(op),
        )
        pending: BaseException | None = first
        attempt = 0
        try:
            async for attempt_ctx in retrying:
                with attempt_ctx:
                    attempt = attempt_ctx.retry_state.attempt_number
                    if pending is not None:  # attempt 1 already happened, outside tenacity
                        exc, pending = pending, None
                        raise exc
                    return await self._attempt(op, transport, url, headers, body, attempt, deadline)
        except _RetryableReply as failure:
            raise self._final_error(op, failure, attempt) from None
        raise AssertionError("unreachable: tenacity ended without an outcome")  # pragma: no cover

    async def _attempt(
        self,
        op: Operation,
        transport: Transport,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        attempt: int,
        deadline: float | None,
    ) -> dict[str, Any]:
        limiter = self._limiters.get(op.name)
        epoch = 0
        headers["amz-sdk-request"] = (
            self._first_header
            if attempt == 1
            else f"attempt={attempt}; max={self._cfg.total_max_attempts}"
        )
        gate = self._in_flight
        if not gate.try_enter():
            if deadline is None:
                await gate.enter()
            else:
                await self._within(gate.enter(), deadline, url)
        try:
            budget = self._budget
            if budget is not None:
                if deadline is None:
                    await budget.acquire(op.api_name)
                else:
                    await self._within(budget.acquire(op.api_name), deadline, url)
            if limiter is not None and limiter.enabled:
                if deadline is None:
                    epoch = await limiter.acquire()
                else:
                    epoch = await self._within(limiter.acquire(), deadline, url)
            total = None
            if deadline is not None:
                total = deadline - asyncio.get_running_loop().time()
                if total <= 0:
                    raise self._out_of_time(url)
            try:
                status, reply_headers, reply = await transport.send(
                    op.method, url, headers, body, total
                )
            except (ConnectTimeoutError, ReadTimeoutError):
                # aiohttp's total timeout (what was left of the deadline) ran out.
                if deadline is not None and asyncio.get_running_loop().time() >= deadline:
                    raise self._out_of_time(url) from None
                raise
        finally:
            gate.leave()
        if status < 300:
            if limiter is not None:
                limiter.on_success()
            log.debug("%s: HTTP %d", op.api_name, status)
            return _protocol.parse_success(op, status, reply_headers, reply, attempt - 1)
        response = _protocol.parse_error(op, status, reply_headers, reply, attempt - 1)
        retryable, throttle = _classify(status, response)
        if not retryable:
            raise _protocol.make_error(op, response)
        if throttle:
            self._on_throttle(op.name, epoch)
        raise _RetryableReply(response, throttle, retry_after_seconds(reply_headers))


def _log_retry(op: Operation) -> Callable[[tenacity.RetryCallState], None]:
    def before_sleep(retry_state: tenacity.RetryCallState) -> None:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        reason = bounded(exc.args[0]) if isinstance(exc, _RetryableReply) else type(exc).__name__
        log.debug(
            "%s: attempt %d failed (%s); retrying in %.3f s",
            op.api_name,
            retry_state.attempt_number,
            reason,
            retry_state.upcoming_sleep,
        )

    return before_sleep
