"""Fan-out enumeration: every (account, role) exactly once, failures surfaced, clean exits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import aiosso
from aiosso import AccountFailure, FanOutProgress
from aiosso.testing import Faults, PortalEmulator, RateLimit


@pytest.fixture
async def emu() -> AsyncIterator[PortalEmulator]:
    """An organisation of 40 accounts with 3 roles each, served 2 items per page."""
    async with PortalEmulator(accounts=40, roles_per_account=3, page_size=2) as emulator:
        yield emulator


def _expected(emu: PortalEmulator) -> set[tuple[str, str]]:
    return {(a.account_id, r) for a in emu.organisation.accounts for r in a.roles}


def _other_tasks() -> set[asyncio.Task[Any]]:
    """Client-side tasks other than this one (the emulator's connection handlers excluded)."""
    current = asyncio.current_task()
    return {
        t
        for t in asyncio.all_tasks()
        if t is not current
        and not t.done()
        and not t.get_coro().__qualname__.startswith("RequestHandler.")  # type: ignore[union-attr]
    }


async def _settle(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    for _ in range(50):
        extra = _other_tasks() - before
        if not extra:
            break
        await asyncio.sleep(0.02)
    return extra


async def test_iter_accounts_lists_every_account(emu: PortalEmulator) -> None:
    """iter_accounts walks every page and yields each account once."""
    async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as client:
        ids = [a["accountId"] async for a in client.iter_accounts(accessToken=emu.token)]
    assert sorted(ids) == sorted(a.account_id for a in emu.organisation.accounts)


@pytest.mark.parametrize("concurrency", [1, 7, 64])
async def test_every_pair_exactly_once(emu: PortalEmulator, concurrency: int) -> None:
    """Each (account, role) pair is yielded exactly once, whatever the concurrency."""
    async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as client:
        pairs = [
            (a["accountId"], r["roleName"])
            async for a, r in client.iter_account_roles(
                accessToken=emu.token, max_concurrency=concurrency, page_size=2
            )
        ]
    assert len(pairs) == len(set(pairs)) == 120
    assert set(pairs) == _expected(emu)


async def test_every_pair_exactly_once_under_throttling_and_faults() -> None:
    """Throttling, 5xx pages and dropped connections lose and duplicate nothing."""
    async with PortalEmulator(
        accounts=120,
        roles_per_account=3,
        page_size=2,
        rate_limit=RateLimit(rate=500, burst=5),
        faults=Faults(server_error=0.05, drop_connection=0.03),
        seed=7,
    ) as emu:
        config = aiosso.ClientConfig(retries={"total_max_attempts": 20})
        async with aiosso.AsyncSSOClient(endpoint_url=emu.url, config=config) as client:
            pairs = [
                (a["accountId"], r["roleName"])
                async for a, r in client.iter_account_roles(
                    accessToken=emu.token, max_concurrency=20, page_size=2
                )
            ]
        assert len(pairs) == len(set(pairs)) == 360
        assert set(pairs) == _expected(emu)
        assert emu.stats.throttled > 0
        assert emu.stats.faults_injected > 0


async def test_account_failure_raises_by_default(no_sleep: None, emu: PortalEmulator) -> None:
    """A failure to list one account's roles raises; it is never silently skipped."""
    emu.fail_next("ListAccountRoles", 1, after=5, status=403, code="ForbiddenException")
    async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as client:
        before = _other_tasks()
        seen: list[object] = []

        async def consume() -> None:
            async for pair in client.iter_account_roles(accessToken=emu.token, max_concurrency=4):
                seen.append(pair)

        with pytest.raises(aiosso.ClientError) as info:
            await consume()
        assert info.value.response["Error"]["Code"] == "ForbiddenException"
        assert len(seen) < 120
        assert not await _settle(before)


async def test_failures_can_be_collected(no_sleep: None, emu: PortalEmulator) -> None:
    """With ``failures=[...]`` the failed account is reported there and the rest arrive."""
    emu.fail_next("ListAccountRoles", 1, after=5, status=404, code="ResourceNotFoundException")
    failures: list[AccountFailure] = []
    async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as client:
        pairs = {
            (a["accountId"], r["roleName"])
            async for a, r in client.iter_account_roles(
                accessToken=emu.token, max_concurrency=4, failures=failures
            )
        }
    assert len(failures) == 1
    assert isinstance(failures[0].error, aiosso.ResourceNotFoundException)
    failed_id = failures[0].account["accountId"]
    missing = _expected(emu) - pairs
    assert missing
    assert {account for account, _ in missing} == {failed_id}


async def test_account_listing_failure_always_raises(no_sleep: None, emu: PortalEmulator) -> None:
    """If the accounts themselves cannot be listed, the iterator raises even with failures=."""
    emu.fail_next("ListAccounts", 1, after=1, status=401, code="UnauthorizedException")
    async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as client:
        with pytest.raises(aiosso.UnauthorizedException):
            async for _ in client.iter_account_roles(accessToken=emu.token, failures=[]):
                pass


async def test_break_leaves_no_tasks_behind(emu: PortalEmulator) -> None:
    """Leaving the loop early stops every request task the fan-out started."""
    before = _other_tasks()
    async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as client:
        iterator = client.iter_account_roles(accessToken=emu.token, max_concurrency=8)
        async for _ in iterator:
            break
        await iterator.aclose()  # type: ignore[attr-defined]
        assert not await _settle(before)


async def test_cancelling_the_consumer_leaves_no_tasks(emu: PortalEmulator) -> None:
    """Cancelling the task that iterates cancels the fan-out's own tasks too."""
    emu.faults = Faults(latency=0.05)
    before = _other_tasks()
    async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as client:
        got = asyncio.Event()

        async def consume() -> None:
            async for _ in client.iter_account_roles(accessToken=emu.token, max_concurrency=8):
                got.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not await _settle(before)


async def test_slow_consumer_bounds_requests_in_advance(emu: PortalEmulator) -> None:
    """Requests run ahead of the consumer by a bounded amount (memory follows concurrency)."""
    async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as client:
        iterator = client.iter_account_roles(accessToken=emu.token, max_concurrency=2, page_size=1)
        await iterator.__anext__()
        await asyncio.sleep(0.3)
        ahead = emu.stats.requests.get("ListAccountRoles", 0)
        await iterator.aclose()  # type: ignore[attr-defined]
    # 2 workers, 4 queued pages: far from the 120 role pages of the organisation.
    assert ahead <= 10


async def test_progress_reports_totals(emu: PortalEmulator) -> None:
    """The progress callback ends with every account done and the listing complete."""
    reports: list[FanOutProgress] = []
    async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as client:
        count = 0
        async for _ in client.iter_account_roles(accessToken=emu.token, progress=reports.append):
            count += 1
    last = reports[-1]
    assert last.listing_done
    assert last.accounts_seen == last.accounts_done == 40
    assert last.failures == 0
    assert count == 120


async def test_invalid_concurrency_is_refused(emu: PortalEmulator) -> None:
    """max_concurrency below 1 is a ValueError before any request."""
    async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as client:
        with pytest.raises(ValueError, match="max_concurrency"):
            async for _ in client.iter_account_roles(accessToken=emu.token, max_concurrency=0):
                pass
    assert emu.stats.total == 0


async def test_endpoint_gone_mid_fan_out_loses_nothing_and_fails_fast() -> None:
    """The portal going away mid-way: every account is yielded in full or reported among the
    failures (refused connections give up within a fraction of a second each)."""
    emu = PortalEmulator(accounts=40, roles_per_account=3, page_size=100)
    await emu.start()
    failures: list[AccountFailure] = []
    seen: dict[str, set[str]] = {}

    async def consume() -> None:
        async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as client:
            async for account, role in client.iter_account_roles(
                accessToken=emu.token, max_concurrency=16, failures=failures
            ):
                seen.setdefault(account["accountId"], set()).add(role["roleName"])
                if len(seen) == 3:
                    await emu.close()

    try:
        await asyncio.wait_for(consume(), 5)
    finally:
        await emu.close()
    failed = {f.account["accountId"] for f in failures}
    assert failures
    assert all(isinstance(f.error, aiosso.HTTPClientError) for f in failures)
    assert not failed & set(seen)
    assert failed | set(seen) == {a.account_id for a in emu.organisation.accounts}
    roles = {a.account_id: set(a.roles) for a in emu.organisation.accounts}
    assert all(seen[account] == roles[account] for account in seen)
