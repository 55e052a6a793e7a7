"""Fan-out enumeration: every account, and every role of every account, streamed.

Theory of operation: one producer task walks the ``list_accounts`` pages and feeds accounts
into a small bounded queue; ``max_concurrency`` worker tasks take accounts from it and walk
each account's ``list_account_roles`` pages, putting one entry per page into a bounded output
queue; the async generator drains that queue. Both queues are bounded, so memory follows the
concurrency, not the size of the organisation, and a slow consumer slows the requests down.
All requests go through the client's normal path, so retries and the adaptive rate limiter
apply. Closing the generator (``break``, ``aclose()``, cancellation) cancels and awaits every
task it started before it returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Final, cast

import attrs

from aiosso.type_defs import AccountInfoTypeDef, RoleInfoTypeDef

if TYPE_CHECKING:
    from aiosso.client import AsyncSSOClient

__all__ = ["AccountFailure", "FanOutProgress", "iter_account_roles", "iter_accounts"]


@attrs.frozen
class AccountFailure:
    """An account whose roles could not be listed, and why (the client's exception).

    Attributes:
        account: the account, as ``ListAccounts`` returned it (``accountId``,
            ``accountName``, ``emailAddress``).
        error: the exception that listing its roles raised, after the client's retries.
    """

    account: AccountInfoTypeDef
    error: Exception


@attrs.frozen
class FanOutProgress:
    """Where a fan-out stands.

    Attributes:
        accounts_seen: accounts listed so far.
        accounts_done: accounts whose roles are all listed (or failed).
        roles: roles found so far.
        failures: accounts that failed.
        listing_done: True once every account is known, so ``accounts_seen`` is the total.
    """

    accounts_seen: int
    accounts_done: int
    roles: int
    failures: int
    listing_done: bool


_DONE: Final = object()


@attrs.frozen
class _Failed:
    error: BaseException


@attrs.define
class _Counters:
    seen: int = 0
    done: int = 0
    roles: int = 0
    failures: int = 0
    listing_done: bool = False

    def snapshot(self) -> FanOutProgress:
        return FanOutProgress(self.seen, self.done, self.roles, self.failures, self.listing_done)


_Page = tuple[AccountInfoTypeDef, list[RoleInfoTypeDef]]
_Out = _Page | _Failed | object


async def iter_accounts(
    client: AsyncSSOClient, *, accessToken: str, page_size: int = 100
) -> AsyncIterator[AccountInfoTypeDef]:
    """Every account the token's user may access, page by page (see the client method)."""
    pages = client.get_paginator("list_accounts").paginate(
        accessToken=accessToken, PaginationConfig={"PageSize": page_size}
    )
    async for account in pages.items():
        yield account


async def iter_account_roles(
    client: AsyncSSOClient,
    *,
    accessToken: str,
    max_concurrency: int = 16,
    failures: list[AccountFailure] | None = None,
    page_size: int = 100,
    progress: Callable[[FanOutProgress], None] | None = None,
) -> AsyncIterator[tuple[AccountInfoTypeDef, RoleInfoTypeDef]]:
    """Every ``(account, role)`` pair of the organisation (see the client method)."""
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    accounts: asyncio.Queue[AccountInfoTypeDef | object] = asyncio.Queue(max_concurrency)
    # Unbounded so that sentinels and failures never block; pages wait for a slot instead.
    out: asyncio.Queue[_Out] = asyncio.Queue()
    page_slots = asyncio.Semaphore(max_concurrency * 2)
    counters = _Counters()

    def report() -> None:
        if progress is not None:
            progress(counters.snapshot())

    async def produce() -> None:
        try:
            async for account in iter_accounts(
                client, accessToken=accessToken, page_size=page_size
            ):
                counters.seen += 1
                await accounts.put(account)
        except Exception as exc:
            out.put_nowait(_Failed(exc))
            return
        counters.listing_done = True
        report()
        for _ in range(max_concurrency):
            await accounts.put(_DONE)

    async def work() -> None:
        paginator = client.get_paginator("list_account_roles")
        try:
            while (item := await accounts.get()) is not _DONE:
                account: AccountInfoTypeDef = item  # type: ignore[assignment]
                account_id = account.get("accountId", "")
                pages = paginator.paginate(
                    accessToken=accessToken,
                    accountId=account_id,
                    PaginationConfig={"PageSize": page_size},
                )
                try:
                    async for page in pages:
                        roles = page.get("roleList", [])
                        if roles:
                            await page_slots.acquire()
                            out.put_nowait((account, roles))
                except Exception as exc:
                    if failures is None:
                        out.put_nowait(_Failed(exc))
                        return
                    failures.append(AccountFailure(account, exc))
                    counters.failures += 1
                counters.done += 1
                report()
        finally:
            out.put_nowait(_DONE)

    tasks = [asyncio.create_task(produce())]
    tasks += [asyncio.create_task(work()) for _ in range(max_concurrency)]
    running = max_concurrency
    try:
        while running:
            entry = await out.get()
            if entry is _DONE:
                running -= 1
            elif isinstance(entry, _Failed):
                raise entry.error
            else:
                account, roles = cast("_Page", entry)
                page_slots.release()
                counters.roles += len(roles)
                for role in roles:
                    yield account, role
        for task in tasks:  # surface anything unexpected from the producer
            await task
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
