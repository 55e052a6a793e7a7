"""Test knobs of the emulator: rate limits, faults, scripted failures, counters and request log."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from aiosso.testing import Faults, PortalEmulator, RateLimit

HEADER = "x-amz-sso_bearer_token"


class Clock:
    """A manual monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def get(
    http: aiohttp.ClientSession, emu: PortalEmulator, path: str = "/assignment/accounts", **kw: Any
) -> tuple[int, Any, bytes]:
    """GET ``path`` with emu.token unless ``token`` is given; return (status, headers, body)."""
    token = kw.pop("token", emu.token)
    async with http.get(emu.url + path, params=kw, headers={HEADER: token}) as r:
        return r.status, r.headers, await r.read()


def roles_path(emu: PortalEmulator) -> tuple[str, dict[str, str]]:
    """ListAccountRoles path and query for the first account."""
    return "/assignment/roles", {"account_id": emu.organisation.accounts[0].account_id}


async def test_rate_limit_bucket_and_headers(http: aiohttp.ClientSession) -> None:
    """burst requests pass, the next is 429 with Retry-After (s) and x-amz-retry-after (ms)."""
    clock = Clock()
    limit = RateLimit(rate=2, burst=3, retry_after=True, amz_retry_after=True)
    async with PortalEmulator(rate_limit=limit, clock=clock) as emu:
        statuses = [(await get(http, emu))[0] for _ in range(3)]
        status, headers, body = await get(http, emu)
        assert statuses == [200, 200, 200]
        assert status == 429
        assert headers["x-amzn-ErrorType"].startswith("TooManyRequestsException:")
        assert json.loads(body) == {"message": "Too many requests"}
        assert (headers["Retry-After"], headers["x-amz-retry-after"]) == ("1", "500")
        clock.now += 0.5
        assert (await get(http, emu))[0] == 200
        assert (await get(http, emu))[0] == 429
        assert emu.stats.throttled == 2
        assert emu.stats.statuses == {200: 4, 429: 2}


async def test_rate_limit_headers_are_optional(http: aiohttp.ClientSession) -> None:
    """Without retry_after flags a 429 carries no Retry-After headers."""
    async with PortalEmulator(rate_limit=RateLimit(rate=0.01), clock=Clock()) as emu:
        await get(http, emu)
        status, headers, _ = await get(http, emu)
    assert status == 429
    assert "Retry-After" not in headers
    assert "x-amz-retry-after" not in headers


@pytest.mark.parametrize(("scope", "roles_status"), [("operation", 200), ("token", 429)])
async def test_rate_limit_scope(http: aiohttp.ClientSession, scope: Any, roles_status: int) -> None:
    """scope='operation' keeps one bucket per operation; 'token' shares one across operations."""
    async with PortalEmulator(rate_limit=RateLimit(rate=0.01, scope=scope), clock=Clock()) as emu:
        assert (await get(http, emu))[0] == 200
        path, query = roles_path(emu)
        assert (await get(http, emu, path, **query))[0] == roles_status
        other = emu.issue_token()
        assert (await get(http, emu, token=other))[0] == 200


async def test_rate_limit_operations_filter_and_runtime_change(
    http: aiohttp.ClientSession,
) -> None:
    """operations= limits only those operations; assigning emu.rate_limit takes effect at once."""
    limit = RateLimit(rate=0.01, operations="ListAccountRoles")
    async with PortalEmulator(rate_limit=limit, clock=Clock()) as emu:
        assert [(await get(http, emu))[0] for _ in range(3)] == [200] * 3
        path, query = roles_path(emu)
        assert [(await get(http, emu, path, **query))[0] for _ in range(2)] == [200, 429]
        emu.rate_limit = None
        assert (await get(http, emu, path, **query))[0] == 200
    with pytest.raises(ValueError, match="unknown operations"):
        RateLimit(rate=1, operations=["ListAccount"])


async def test_rate_limit_correct_under_concurrency(http: aiohttp.ClientSession) -> None:
    """50 concurrent requests against burst=10 yield exactly 10 successes."""
    async with PortalEmulator(rate_limit=RateLimit(rate=0.001, burst=10), clock=Clock()) as emu:
        results = await asyncio.gather(*(get(http, emu) for _ in range(50)))
        assert sorted(r[0] for r in results).count(200) == 10
        assert emu.stats.throttled == 40


async def test_fault_server_error_is_html(http: aiohttp.ClientSession) -> None:
    """server_error=1 answers 5xx with an HTML body and no x-amzn-ErrorType."""
    async with PortalEmulator(faults=Faults(server_error=1.0)) as emu:
        results = [await get(http, emu) for _ in range(20)]
        assert emu.stats.faults == {"error": 20}
    assert {status for status, _, _ in results} <= {500, 502, 503, 504}
    assert len({status for status, _, _ in results}) > 1
    for _, headers, body in results:
        assert body.startswith(b"<html><body>")
        assert "x-amzn-ErrorType" not in headers


async def test_fault_drop_connection(http: aiohttp.ClientSession) -> None:
    """drop_connection=1 closes the connection without a response (logged with status None)."""
    async with PortalEmulator(faults=Faults(drop_connection=1.0)) as emu:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await get(http, emu)
        assert emu.requests[-1].status is None
        assert emu.stats.statuses == {}
        # aiohttp's client retries an idempotent request once after a disconnect.
        assert emu.stats.faults_injected == emu.stats.total >= 1


async def test_fault_malformed_json(http: aiohttp.ClientSession) -> None:
    """malformed_json=1 answers 200 application/json whose body does not parse."""
    async with PortalEmulator(faults=Faults(malformed_json=1.0)) as emu:
        status, headers, body = await get(http, emu)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(body)


async def test_fault_truncated_body(http: aiohttp.ClientSession) -> None:
    """truncated_body=1 promises more bytes than it sends, then closes the connection."""
    async with PortalEmulator(faults=Faults(truncated_body=1.0)) as emu:
        reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
        request = f"GET /assignment/accounts HTTP/1.1\r\nHost: x\r\n{HEADER}: {emu.token}\r\n\r\n"
        writer.write(request.encode())
        raw = await asyncio.wait_for(reader.read(), 2)
        writer.close()
        await writer.wait_closed()
        with pytest.raises(aiohttp.ClientPayloadError):
            await get(http, emu)
    head, _, body = raw.partition(b"\r\n\r\n")
    length = next(
        int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.startswith(b"Content-Length")
    )
    assert 0 < len(body) < length


@pytest.mark.parametrize("latency", [0.2, (0.1, 0.15)])
async def test_fault_latency(http: aiohttp.ClientSession, latency: Any) -> None:
    """latency delays answers by a fixed time or a time drawn from a range."""
    low = latency if isinstance(latency, float) else latency[0]
    async with PortalEmulator(faults=Faults(latency=latency)) as emu:
        start = time.monotonic()
        status, _, _ = await get(http, emu)
        elapsed = time.monotonic() - start
    assert status == 200
    assert low <= elapsed < low + 0.5


async def test_faults_limited_to_operations_and_toggled(http: aiohttp.ClientSession) -> None:
    """Faults(operations=...) hit only those operations; emu.faults = None recovers at once."""
    async with PortalEmulator(
        faults=Faults(server_error=1.0, operations={"ListAccountRoles"})
    ) as emu:
        assert (await get(http, emu))[0] == 200
        path, query = roles_path(emu)
        assert (await get(http, emu, path, **query))[0] >= 500
        emu.faults = None
        assert (await get(http, emu, path, **query))[0] == 200


async def test_random_faults_reproducible_per_seed(http: aiohttp.ClientSession) -> None:
    """The same seed draws the same fault sequence."""
    sequences = []
    for _ in range(2):
        async with PortalEmulator(seed=7, faults=Faults(server_error=0.5)) as emu:
            sequences.append([(await get(http, emu))[0] for _ in range(20)])
    assert sequences[0] == sequences[1]
    assert 200 in sequences[0]
    assert any(status >= 500 for status in sequences[0])


def test_fault_settings_are_validated() -> None:
    """Probabilities outside 0..1 or summing past 1 are a ValueError."""
    with pytest.raises(ValueError):
        Faults(server_error=1.5)
    with pytest.raises(ValueError):
        Faults(server_error=0.6, drop_connection=0.6)


async def test_fail_next_count_after_and_operation(http: aiohttp.ClientSession) -> None:
    """fail_next fails `count` requests of that operation after `after` pass, then recovers."""
    async with PortalEmulator() as emu:
        emu.fail_next("ListAccounts", count=2, after=1, status=502)
        assert emu.pending_failures == 2
        path, query = roles_path(emu)
        assert (await get(http, emu, path, **query))[0] == 200
        statuses = [(await get(http, emu))[0] for _ in range(4)]
        assert statuses == [200, 502, 502, 200]
        assert emu.pending_failures == 0
    with pytest.raises(ValueError):
        emu.fail_next("NoSuchOperation")


async def test_fail_next_any_operation_in_order(http: aiohttp.ClientSession) -> None:
    """Scripted failures without an operation apply to any request, in the order queued."""
    async with PortalEmulator() as emu:
        emu.fail_next(status=500)
        emu.fail_next(status=400, message="bad")
        emu.fail_next(status=409, code="ConflictException", message="c")
        first = await get(http, emu)
        second = await get(http, emu)
        third = await get(http, emu)
        assert (await get(http, emu))[0] == 200
    assert first[0] == 500
    assert first[2].startswith(b"<html>")
    assert (second[0], json.loads(second[2])) == (400, {"message": "bad"})
    assert "x-amzn-ErrorType" not in second[1]
    assert third[0] == 409
    assert third[1]["x-amzn-ErrorType"].startswith("ConflictException:")


async def test_clear_faults(http: aiohttp.ClientSession) -> None:
    """clear_faults drops scripted failures and random faults."""
    async with PortalEmulator(faults=Faults(server_error=1.0)) as emu:
        emu.fail_next(count=5)
        emu.clear_faults()
        assert emu.pending_failures == 0
        assert emu.faults is None
        assert (await get(http, emu))[0] == 200


async def test_counters_and_max_in_flight(http: aiohttp.ClientSession) -> None:
    """Counters count per operation and status; max_in_flight sees concurrent slow requests."""
    async with PortalEmulator(faults=Faults(latency=0.1, operations={"ListAccounts"})) as emu:
        await asyncio.gather(*(get(http, emu) for _ in range(6)))
        path, query = roles_path(emu)
        await get(http, emu, path, **query)
        await get(http, emu, "/nope")
        stats = emu.stats
        assert stats.total == 8
        assert stats.requests == {"ListAccounts": 6, "ListAccountRoles": 1, "Unknown": 1}
        assert stats.statuses == {200: 7, 404: 1}
        assert stats.max_in_flight == 6
        assert stats.in_flight == 0
        emu.reset_stats()
        assert emu.stats.total == 0
        assert emu.stats.max_in_flight == 0
        assert emu.requests == ()


async def test_request_log_is_redacted(http: aiohttp.ClientSession) -> None:
    """The log and stats never contain the bearer token; next_token values are redacted."""
    async with PortalEmulator(accounts=3, page_size=1) as emu:
        _, _, body = await get(http, emu)
        next_token = json.loads(body)["nextToken"]
        await get(http, emu, next_token=next_token, max_result="1")
        await get(http, emu, token="some-unknown-token", account_id=emu.token)
        async with http.get(emu.url + "/assignment/accounts") as r:
            await r.read()
        log = emu.requests
        dumped = repr(log) + repr(emu) + repr(emu.stats) + json.dumps(emu.stats.as_dict())
    assert emu.token not in dumped
    assert next_token not in dumped
    assert "some-unknown-token" not in dumped
    assert [r.token for r in log] == ["token-1", "token-1", "unknown", None]
    assert log[1].query == (("next_token", "<redacted>"), ("max_result", "1"))
    assert log[2].query == (("account_id", "<redacted>"),)
    assert (log[0].method, log[0].path, log[0].operation, log[0].status) == (
        "GET",
        "/assignment/accounts",
        "ListAccounts",
        200,
    )


async def test_request_log_is_bounded(http: aiohttp.ClientSession) -> None:
    """log_limit keeps only the newest records."""
    async with PortalEmulator(log_limit=3) as emu:
        for _ in range(5):
            await get(http, emu)
        assert len(emu.requests) == 3
        assert emu.stats.total == 5


async def test_admin_endpoints(http: aiohttp.ClientSession) -> None:
    """GET /_emulator/stats serves the counters; POST /_emulator/reset zeroes them; both exempt."""
    async with PortalEmulator(rate_limit=RateLimit(rate=0.01), clock=Clock()) as emu:
        await get(http, emu)
        await get(http, emu)
        async with http.get(emu.url + "/_emulator/stats") as r:
            assert r.status == 200
            stats = await r.json()
        assert stats == emu.stats.as_dict()
        assert stats["requests"] == {"ListAccounts": 2}
        assert stats["statuses"] == {"200": 1, "429": 1}
        assert stats["throttled"] == 1
        async with http.post(emu.url + "/_emulator/reset") as r:
            assert r.status == 200
        assert emu.stats.total == 0
        async with http.get(emu.url + "/_emulator/nope") as r:
            assert r.status == 404
        assert emu.stats.total == 0
        # The reset refilled the bucket too: a fresh measurement starts with its burst.
        status, _, _ = await get(http, emu)
        assert status == 200


async def test_reset_stats_keeps_the_buckets(http: aiohttp.ClientSession) -> None:
    """reset_stats() only zeroes counters; reset() also refills the rate-limit buckets."""
    async with PortalEmulator(rate_limit=RateLimit(rate=0.01), clock=Clock()) as emu:
        assert (await get(http, emu))[0] == 200
        emu.reset_stats()
        assert (await get(http, emu))[0] == 429
        emu.reset()
        assert emu.stats.total == 0
        assert (await get(http, emu))[0] == 200
