"""Timeouts and cancellation at every await point: prompt, clean, and the client stays usable.

Each scenario parks a call at one await point (connecting, waiting for a pooled connection,
for a rate-limit slot, for the headers, mid-body, in a backoff sleep, between pages, inside a
fan-out, in the credential cache), then cancels it or lets ``asyncio.wait_for`` time it out,
and checks: the right exception, promptly; no task left behind; no connection left checked
out; no ``ResourceWarning``; and the same client then answers a normal call.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from _inspect import connections
from _scripted import Reply, ScriptedServer
from aiohttp import web

import aiosso
import aiosso._retry
from aiosso import AsyncSSOClient, ClientConfig, CredentialCache, RetryConfig, RoleCredentials
from aiosso.testing import Faults, PortalEmulator

pytestmark = pytest.mark.usefixtures("no_resource_warnings")

PROMPT = 1.0  # seconds: "promptly", generous for loaded CI machines


@pytest.fixture
async def srv() -> AsyncIterator[ScriptedServer]:
    """A scripted loopback server answering an empty account page by default."""
    async with ScriptedServer(Reply(body=b'{"accountList":[]}')) as server:
        yield server


def _client_tasks() -> set[asyncio.Task[Any]]:
    """Unfinished tasks other than this one, the servers' own tasks excluded.

    Servers run request handlers (``RequestHandler.*``), and ScriptedServer waits out a
    reply's delay in ``wait_for(Event.wait())``; the client creates neither.
    """
    current = asyncio.current_task()
    server = ("RequestHandler.", "Event.wait")
    return {
        t
        for t in asyncio.all_tasks()
        if t is not current
        and not t.done()
        and not getattr(t.get_coro(), "__qualname__", "").startswith(server)
    }


async def _settle(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    for _ in range(100):
        extra = _client_tasks() - before
        if not extra:
            break
        await asyncio.sleep(0.01)
    return extra


def _checked_out(sso: AsyncSSOClient) -> int:
    """Connections the client's pool has handed out and not got back."""
    return connections(sso._transport)[0]


async def _interrupt(call: Awaitable[Any], parked: Callable[[], Awaitable[None]], how: str) -> None:
    """Run ``call`` until ``parked()`` returns, then cancel it (or let wait_for expire)."""
    if how == "wait_for":
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(call, 0.3)
        assert time.monotonic() - started < 0.3 + PROMPT
        return
    task = asyncio.ensure_future(call)
    await asyncio.wait_for(parked(), 5)
    assert not task.done()
    task.cancel()
    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < PROMPT


async def _requests(srv: ScriptedServer, n: int) -> None:
    while len(srv.requests) < n:
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)  # let the client reach the await point after the request


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)


async def _usable(sso: AsyncSSOClient) -> None:
    page = await asyncio.wait_for(sso.list_accounts(accessToken="t"), 5)
    assert page["accountList"] == []


# --------------------------------------------------------------------------- one call


SCENARIOS = ["headers", "body", "backoff", "pool", "rate_limit"]


@pytest.mark.parametrize("how", ["cancel", "wait_for"])
@pytest.mark.parametrize("point", SCENARIOS)
async def test_call_interrupted_at_each_await_point(
    srv: ScriptedServer, point: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call interrupted anywhere raises promptly, leaks nothing, and the client works after."""
    # Long backoffs park a retry in its sleep (the whole ceiling: full jitter could draw a
    # sleep short enough for a second attempt); for rate_limit, no backoff at all so that the
    # retry goes straight to the limiter's queue.
    monkeypatch.setattr(aiosso._retry.random, "uniform", lambda low, high: high)
    base = 0.0 if point == "rate_limit" else 30.0
    retries = RetryConfig(transient_base=base, throttle_base=base, max_backoff=30)
    config = ClientConfig(retries=retries, max_pool_connections=1 if point == "pool" else 10)
    before = _client_tasks()
    async with AsyncSSOClient(endpoint_url=srv.url, config=config) as sso:
        holder: asyncio.Task[Any] | None = None
        if point == "headers":
            srv.script(Reply(delay=10))
            await _interrupt(sso.list_accounts(accessToken="t"), lambda: _requests(srv, 1), how)
        elif point == "body":
            srv.script(Reply(action="stall", body=b'{"accountList":[', delay=10))
            await _interrupt(sso.list_accounts(accessToken="t"), lambda: _requests(srv, 1), how)
        elif point == "backoff":
            srv.script(Reply(status=503))
            await _interrupt(sso.list_accounts(accessToken="t"), lambda: _requests(srv, 1), how)
            assert len(srv.requests) == 1  # cancelled in the sleep, before a second attempt
        elif point == "pool":
            # The only connection is busy: the second call waits for it, then is cancelled.
            srv.script(Reply(delay=0.6, body=b'{"accountList":[]}'))
            holder = asyncio.create_task(sso.list_accounts(accessToken="t"))
            await _requests(srv, 1)
            await _interrupt(
                sso.list_accounts(accessToken="t"),
                lambda: _until(sso._retrier._in_flight.locked),
                how,
            )
            assert (await holder)["accountList"] == []
            assert len(srv.requests) == 1
        else:  # rate_limit: repeated throttles turn the limiter on at its floor (2 s a slot)
            throttle = Reply(status=429, headers=(("x-amzn-ErrorType", "TooManyRequests"),))
            srv.script(throttle, throttle)
            limiter = sso._retrier.limiter("list_accounts")
            assert limiter is not None
            await _interrupt(
                sso.list_accounts(accessToken="t"), lambda: _until(limiter._queue.locked), how
            )
            assert limiter.enabled
            assert len(srv.requests) == 2  # the second retry never got its slot
        assert await _settle(before) == set()
        assert _checked_out(sso) == 0
        aiosso.set_testing(True)  # the rate limiter's next slot is 2 s away
        try:
            await _usable(sso)
        finally:
            aiosso.set_testing(False)
    assert await _settle(before) == set()


@pytest.mark.skipif(
    sys.platform != "linux", reason="relies on Linux dropping SYNs on a full backlog"
)
@pytest.mark.parametrize("how", ["cancel", "wait_for"])
async def test_call_interrupted_while_connecting(how: str) -> None:
    """A connect that hangs can be cancelled at once; the client connects fine afterwards."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):  # fill the backlog: further SYNs are dropped, connect() hangs
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    await asyncio.sleep(0.05)
    before = _client_tasks()
    runner: web.AppRunner | None = None
    try:
        config = ClientConfig(connect_timeout=30, retries={"total_max_attempts": 1})
        url = f"http://127.0.0.1:{port}"
        async with AsyncSSOClient(endpoint_url=url, config=config) as sso:
            await _interrupt(sso.list_accounts(accessToken="t"), lambda: asyncio.sleep(0.2), how)
            assert await _settle(before) == set()
            assert _checked_out(sso) == 0
            # Now serve on that socket: the same client connects and gets an answer.
            for filler in fillers:
                filler.close()
            app = web.Application()
            app.router.add_get("/assignment/accounts", _empty_page)
            runner = web.AppRunner(app, handle_signals=False, access_log=None)
            await runner.setup()
            await web.SockSite(runner, listener).start()
            await _usable(sso)
    finally:
        for filler in fillers:
            filler.close()
        if runner is not None:
            await runner.cleanup()
        listener.close()
    assert await _settle(before) == set()


async def _empty_page(request: web.Request) -> web.Response:
    return web.json_response({"accountList": []})


async def test_read_timeouts_are_bounded_by_total_timeout(srv: ScriptedServer) -> None:
    """Retried read timeouts stop at total_timeout: a call never outlives its time budget."""
    srv.default = Reply(delay=10)
    retries = RetryConfig(total_max_attempts=100, total_timeout=1.0, transient_base=0.05)
    config = ClientConfig(read_timeout=0.2, retries=retries)
    started = time.monotonic()
    async with AsyncSSOClient(endpoint_url=srv.url, config=config) as sso:
        with pytest.raises(aiosso.ReadTimeoutError):
            await sso.list_accounts(accessToken="t")
    elapsed = time.monotonic() - started
    assert 0.5 < elapsed < 1.0 + 0.2 + PROMPT
    assert 2 <= len(srv.requests) <= 6


# --------------------------------------------------------------------------- paginators


async def test_items_cancelled_between_pages_resumes_without_loss() -> None:
    """Cancelling items() while it fetches the next page loses and repeats nothing."""
    async with (
        PortalEmulator(accounts=10, page_size=2) as emu,
        AsyncSSOClient(endpoint_url=emu.url) as sso,
    ):
        items = sso.get_paginator("list_accounts").paginate(accessToken=emu.token).items()
        got = [(await items.__anext__())["accountId"] for _ in range(4)]  # two whole pages
        emu.faults = Faults(latency=10)
        task = asyncio.create_task(items.__anext__())
        while emu.stats.in_flight < 1:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        emu.faults = None
        got += [account["accountId"] async for account in items]
        assert _checked_out(sso) == 0
    assert got == [a.account_id for a in emu.organisation.accounts]


async def test_build_full_result_retried_after_cancellation_is_complete() -> None:
    """build_full_result() cancelled mid-way, then called again, returns every account."""
    async with (
        PortalEmulator(accounts=10, page_size=2) as emu,
        AsyncSSOClient(endpoint_url=emu.url) as sso,
    ):
        it = sso.get_paginator("list_accounts").paginate(accessToken=emu.token)
        emu.fail_next("ListAccounts", 1, after=2, kind="error", status=503, delay=10)
        task = asyncio.create_task(it.build_full_result())
        while emu.stats.in_flight < 1 or emu.stats.requests["ListAccounts"] < 3:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        result = await it.build_full_result()
    assert len(result["accountList"]) == 10


# --------------------------------------------------------------------------- fan-out


async def test_fan_out_cancelled_in_the_loop_body_cleans_up() -> None:
    """Cancelling the consumer while it awaits in its own loop body stops every worker."""
    async with (
        PortalEmulator(accounts=60, roles_per_account=2, page_size=1) as emu,
        AsyncSSOClient(endpoint_url=emu.url) as sso,
    ):
        before = _client_tasks()
        busy = asyncio.Event()

        async def consume() -> None:
            async for _ in sso.iter_account_roles(accessToken=emu.token, max_concurrency=8):
                busy.set()
                await asyncio.sleep(10)  # parked here, outside the generator

        task = asyncio.create_task(consume())
        await asyncio.wait_for(busy.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await _settle(before) == set()
        assert _checked_out(sso) == 0
        pairs = [pair async for pair in sso.iter_account_roles(accessToken=emu.token)]
        assert len(pairs) == 120


async def test_fan_out_cancelled_while_workers_back_off() -> None:
    """A fan-out whose workers sleep in long backoffs is cancelled promptly and completely."""
    config = ClientConfig(retries=RetryConfig(transient_base=30, max_backoff=30))
    async with (
        PortalEmulator(accounts=30, roles_per_account=2) as emu,
        AsyncSSOClient(endpoint_url=emu.url, config=config) as sso,
    ):
        before = _client_tasks()
        emu.fail_next("ListAccountRoles", 1000, status=503)
        task = asyncio.create_task(_drain(sso.iter_account_roles(accessToken=emu.token)))
        while emu.stats.requests.get("ListAccountRoles", 0) < 16:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        task.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < PROMPT
        assert await _settle(before) == set()
        assert _checked_out(sso) == 0
        emu.clear_faults()
        assert len(await _drain(sso.iter_account_roles(accessToken=emu.token))) == 60


async def _drain(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


# --------------------------------------------------------------------------- credential cache


async def test_cache_waiter_cancelled_over_the_network_leaves_the_fetch() -> None:
    """Over real HTTP: one cancelled waiter leaves the shared fetch; the others are served."""
    async with (
        PortalEmulator(accounts=2) as emu,
        AsyncSSOClient(endpoint_url=emu.url) as sso,
    ):
        before = _client_tasks()
        account = emu.organisation.accounts[0]
        key = (account.account_id, account.roles[0])
        emu.faults = Faults(latency=0.3)
        async with CredentialCache(sso, accessToken=emu.token) as cache:
            waiters = [asyncio.create_task(cache.get(*key)) for _ in range(3)]
            while emu.stats.in_flight < 1:
                await asyncio.sleep(0.005)
            waiters[0].cancel()
            first, *served = await asyncio.gather(*waiters, return_exceptions=True)
            assert isinstance(first, asyncio.CancelledError)
            assert isinstance(served[0], RoleCredentials)
            assert served[0] is served[1]
            assert emu.stats.requests["GetRoleCredentials"] == 1
            # Every waiter of a second fetch cancelled, then the cache closed under it.
            other = (account.account_id, account.roles[1])
            orphans = [asyncio.create_task(cache.get(*other)) for _ in range(2)]
            while emu.stats.requests["GetRoleCredentials"] < 2:
                await asyncio.sleep(0.005)
            for orphan in orphans:
                orphan.cancel()
            await asyncio.gather(*orphans, return_exceptions=True)
            assert cache.stats.in_flight == 1
        assert cache.stats.in_flight == 0
        assert await _settle(before) == set()
        assert _checked_out(sso) == 0
        emu.faults = None
        assert (await sso.list_accounts(accessToken=emu.token))["accountList"]


async def test_pool_wait_is_not_a_timeout() -> None:
    """Waiting for a pooled connection is not bounded by read_timeout (only by the caller)."""
    async with (
        PortalEmulator(accounts=2, faults=Faults(latency=0.3)) as emu,
        AsyncSSOClient(
            endpoint_url=emu.url, config=ClientConfig(max_pool_connections=1, read_timeout=0.5)
        ) as sso,
    ):
        pages = await asyncio.gather(*(sso.list_accounts(accessToken=emu.token) for _ in range(4)))
    assert all(page["ResponseMetadata"]["RetryAttempts"] == 0 for page in pages)
    assert emu.stats.max_in_flight == 1
