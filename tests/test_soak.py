"""Soak: fan-out and credentials over large organisations under mixed faults lose nothing.

Each run enumerates an emulated organisation through ``iter_account_roles`` while the emulator
injects 5xx pages, dropped connections, truncated bodies, latency and throttling, then checks:
every (account, role) exactly once, memory bounded by the concurrency rather than the size of
the organisation, and nothing left behind (connections, sockets/file descriptors, tasks,
``ResourceWarning``). The request counts and fault mix are printed (``pytest -s``) and asserted.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
import tracemalloc
from typing import Any

import attrs
import pytest
from _inspect import connections

import aiosso
from aiosso import AccountFailure, AsyncSSOClient, ClientConfig, CredentialCache, RetryConfig
from aiosso.testing import Faults, PortalEmulator, RateLimit

pytestmark = pytest.mark.usefixtures("no_resource_warnings")

_FD_DIR = "/proc/self/fd"


@attrs.frozen
class Mix:
    """One soak scenario."""

    accounts: int
    roles: int
    page_size: int  # the emulator's cap on items per page
    concurrency: int
    faults: Faults
    rate_limit: RateLimit
    seed: int = 11


def _fd_count() -> int | None:
    """Open file descriptors of this process (Linux), else None."""
    if not os.path.isdir(_FD_DIR):
        return None
    return len(os.listdir(_FD_DIR))


def _tasks() -> set[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and not t.done()}


async def _settle(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    for _ in range(100):
        extra = _tasks() - before
        if not extra:
            break
        await asyncio.sleep(0.01)
    return extra


def _config() -> ClientConfig:
    # Short backoffs keep the run fast; real sleeps keep throttling realistic (the adaptive
    # limiter paces for real), and 20 attempts ride out unlucky streaks of faults.
    retries = RetryConfig(
        total_max_attempts=20, throttle_base=0.05, transient_base=0.005, max_backoff=0.5
    )
    return ClientConfig(retries=retries, max_pool_connections=32, read_timeout=10)


async def _soak(mix: Mix, trace: bool = True) -> dict[str, Any]:
    """Run one fan-out soak; return what was measured (asserted by the caller).

    ``trace`` measures the peak memory allocated during the enumeration (tracemalloc, which
    slows the run about threefold).
    """
    gc.collect()
    fds_before = _fd_count()
    tasks_before = _tasks()
    emu = PortalEmulator(
        accounts=mix.accounts,
        roles_per_account=mix.roles,
        page_size=mix.page_size,
        rate_limit=mix.rate_limit,
        faults=mix.faults,
        seed=mix.seed,
        log_limit=16,  # the request log would otherwise grow with the run
    )
    # What exactly-once is checked against, allocated before memory is traced.
    pairs = [(a.account_id, role) for a in emu.organisation.accounts for role in a.roles]
    index = {pair: i for i, pair in enumerate(pairs)}
    seen = bytearray(len(index))
    unknown = 0
    started = time.monotonic()
    await emu.start()
    try:
        async with AsyncSSOClient(endpoint_url=emu.url, config=_config()) as sso:
            if trace:
                tracemalloc.start()
            try:
                async for account, role in sso.iter_account_roles(
                    accessToken=emu.token, max_concurrency=mix.concurrency, page_size=100
                ):
                    slot = index.get((account["accountId"], role["roleName"]))
                    if slot is None:
                        unknown += 1
                    elif seen[slot] < 255:
                        seen[slot] += 1
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            transport = sso._transport
            session = transport.session
            assert session is not None
        elapsed = time.monotonic() - started
        stats = emu.stats
    finally:
        await emu.close()
    assert not transport.owns_open_session
    assert connections(transport) == (0, 0)
    assert session.closed  # closing the client closed its session and every connection
    leftover = await _settle(tasks_before)
    gc.collect()
    return {
        "pairs": len(index),
        "missing": seen.count(0),
        "duplicated": len(seen) - seen.count(0) - seen.count(1),
        "unknown": unknown,
        "peak": peak,
        "elapsed": elapsed,
        "stats": stats,
        "tasks_left": leftover,
        "fds": (fds_before, _fd_count()),
    }


def _report(name: str, mix: Mix, result: dict[str, Any]) -> None:
    stats = result["stats"]
    print(
        f"\n[soak {name}] {mix.accounts} accounts x {mix.roles} roles = {result['pairs']} pairs, "
        f"concurrency {mix.concurrency}: {stats.total} requests {dict(stats.requests)}; "
        f"statuses {dict(sorted(stats.statuses.items()))}; throttled {stats.throttled}; "
        f"faults {dict(stats.faults)}; {result['elapsed']:.1f} s",
        file=sys.stderr,
    )


def _check(mix: Mix, result: dict[str, Any], *, min_requests: int) -> None:
    stats = result["stats"]
    assert result["unknown"] == 0
    assert result["missing"] == 0
    assert result["duplicated"] == 0
    # Every request was answered or dropped; every kind of trouble really happened.
    assert stats.total >= min_requests
    assert stats.faults.get("error", 0) > 0
    assert stats.faults.get("drop", 0) > 0
    assert stats.faults.get("truncated_body", 0) > 0
    assert stats.throttled > 0
    ok = stats.statuses.get(200, 0)
    # One successful answer per page, never more: a retried request is not served twice.
    role_pages = mix.accounts * -(-mix.roles // mix.page_size)
    account_pages = -(-mix.accounts // mix.page_size)
    assert ok == role_pages + account_pages + stats.faults.get("truncated_body", 0)
    assert result["tasks_left"] == set()
    before, after = result["fds"]
    if before is not None:
        assert after <= before, f"file descriptors leaked: {before} -> {after}"


CI_MIX = Mix(
    accounts=1500,
    roles=3,
    page_size=2,
    concurrency=24,
    faults=Faults(
        server_error=0.04, drop_connection=0.03, truncated_body=0.02, latency=(0.0, 0.002)
    ),
    rate_limit=RateLimit(rate=1000, burst=5),
)


async def test_soak_fan_out_under_mixed_faults() -> None:
    """1,500 accounts under 5xx, drops, truncation, latency and 429s: each pair exactly once."""
    result = await _soak(CI_MIX, trace=False)
    _report("ci", CI_MIX, result)
    _check(CI_MIX, result, min_requests=3000)


async def test_soak_memory_does_not_grow_with_the_organisation() -> None:
    """Peak memory of a fan-out over 1,600 accounts is that of one over 200, not 8x it."""
    faults = Faults(server_error=0.03, drop_connection=0.02, truncated_body=0.01)
    limit = RateLimit(rate=5000, burst=100)
    small = await _soak(Mix(200, 3, 100, 16, faults, limit, seed=3))
    large = await _soak(Mix(1600, 3, 100, 16, faults, limit, seed=3))
    for result in (small, large):
        assert (result["missing"], result["duplicated"], result["unknown"]) == (0, 0, 0)
    print(
        f"\n[soak memory] peak traced memory {small['peak'] / 1024:.0f} KiB (200 accounts), "
        f"{large['peak'] / 1024:.0f} KiB (1600 accounts)",
        file=sys.stderr,
    )
    assert large["peak"] < 2 * small["peak"] + 256 * 1024, (small["peak"], large["peak"])


async def test_soak_credentials_single_flight_under_faults() -> None:
    """2,000 concurrent gets for 200 roles under faults: one successful fetch per role."""
    faults = Faults(server_error=0.05, drop_connection=0.03, truncated_body=0.02, latency=0.001)
    tasks_before = _tasks()
    fds_before = _fd_count()
    async with (
        PortalEmulator(
            accounts=100,
            roles_per_account=2,
            faults=faults,
            rate_limit=RateLimit(rate=1000, burst=20),
            seed=5,
        ) as emu,
        AsyncSSOClient(endpoint_url=emu.url, config=_config()) as sso,
        CredentialCache(sso, accessToken=emu.token) as cache,
    ):
        pairs = [(a.account_id, r) for a in emu.organisation.accounts for r in a.roles]
        callers = [pairs[i % len(pairs)] for i in range(2000)]
        got = await asyncio.gather(*(cache.get(a, r) for a, r in callers))
        stats = emu.stats
    assert all(
        c.account_id == a and c.role_name == r for c, (a, r) in zip(got, callers, strict=True)
    )
    assert cache.stats.fetches == len(pairs) == 200
    print(
        f"\n[soak credentials] 2000 gets for 200 roles: {stats.total} requests, "
        f"statuses {dict(sorted(stats.statuses.items()))}, throttled {stats.throttled}, "
        f"faults {dict(stats.faults)}",
        file=sys.stderr,
    )
    assert stats.statuses[200] == 200 + stats.faults.get("truncated_body", 0)
    assert stats.faults_injected > 0
    assert await _settle(tasks_before) == set()
    after = _fd_count()
    if fds_before is not None and after is not None:
        assert after <= fds_before


async def test_soak_failures_are_collected_never_lost() -> None:
    """With malformed replies too, each pair is yielded once or its account is reported."""
    faults = Faults(
        server_error=0.03,
        drop_connection=0.02,
        truncated_body=0.02,
        malformed_json=0.02,
        operations={"ListAccountRoles"},
    )
    failures: list[AccountFailure] = []
    async with (
        PortalEmulator(
            accounts=400, roles_per_account=3, page_size=2, faults=faults, seed=9
        ) as emu,
        AsyncSSOClient(endpoint_url=emu.url, config=_config()) as sso,
    ):
        seen: list[tuple[str, str]] = [
            (a["accountId"], r["roleName"])
            async for a, r in sso.iter_account_roles(
                accessToken=emu.token, max_concurrency=16, failures=failures
            )
        ]
        malformed = emu.stats.faults.get("malformed_json", 0)
    expected = {(a.account_id, r) for a in emu.organisation.accounts for r in a.roles}
    failed = {f.account["accountId"] for f in failures}
    assert len(seen) == len(set(seen))
    assert set(seen) <= expected
    assert {account for account, _ in expected - set(seen)} <= failed
    # A malformed 200 is not retried (it is not a transport failure): one failure each.
    assert len(failures) == len(failed) == malformed > 0
    assert all(isinstance(f.error, aiosso.ResponseParserError) for f in failures)


@pytest.mark.slow
async def test_soak_long_fan_out() -> None:
    """10,000 accounts under heavier faults and throttling: each pair exactly once."""
    mix = Mix(
        accounts=10_000,
        roles=3,
        page_size=3,
        concurrency=64,
        faults=Faults(
            server_error=0.08, drop_connection=0.05, truncated_body=0.04, latency=(0.0, 0.004)
        ),
        rate_limit=RateLimit(rate=400, burst=10, amz_retry_after=True),
        seed=23,
    )
    result = await _soak(mix, trace=False)  # memory: see the test above (tracing is slow)
    _report("long", mix, result)
    _check(mix, result, min_requests=13_000)
