"""Behaviour of the async paginators: laziness, validation, cursor semantics, misuse, memory."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import sys
import time
import tracemalloc
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

import aiosso
from aiosso import (
    AsyncSSOClient,
    ClientClosedError,
    InvalidRequestException,
    PaginationError,
    ParamValidationError,
)
from aiosso._retry import is_testing
from aiosso.paginate import (
    AsyncPageIterator,
    ListAccountRolesPageIterator,
    ListAccountRolesPaginator,
    ListAccountsPageIterator,
    ListAccountsPaginator,
)
from aiosso.testing import PortalEmulator

ACCOUNTS = 23
PAGE = 5  # the emulator's page cap: pages of 5, 5, 5, 5, 3


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    previous = is_testing()
    aiosso.set_testing(True)
    yield
    aiosso.set_testing(previous)


@pytest.fixture
async def emu() -> AsyncIterator[PortalEmulator]:
    async with PortalEmulator(accounts=ACCOUNTS, roles_per_account=7, page_size=PAGE) as e:
        yield e


@pytest.fixture
async def sso(emu: PortalEmulator) -> AsyncIterator[AsyncSSOClient]:
    async with AsyncSSOClient(region_name="us-east-1", endpoint_url=emu.url) as client:
        yield client


def all_ids(emu: PortalEmulator) -> list[str]:
    return [a.account_id for a in emu.organisation.accounts]


def ids(pages: list[Any]) -> list[str]:
    return [a["accountId"] for page in pages for a in page["accountList"]]


async def collect(source: AsyncIterable[Any], into: list[Any]) -> None:
    """Append everything ``source`` yields to ``into`` (kept if iteration raises)."""
    async for value in source:
        into.append(value)


def token(data: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def decode(data: str) -> Any:
    return json.loads(base64.b64decode(data))


Answer = Callable[[str | None], "dict[str, Any] | Awaitable[dict[str, Any]]"]


@asynccontextmanager
async def scripted(answer: Answer) -> AsyncIterator[tuple[str, list[str | None]]]:
    """A portal whose page for each received ``next_token`` is ``[await] answer(token)``.

    Yields ``(url, received)`` where ``received`` logs each request's ``next_token``.
    """
    received: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        next_token = request.query.get("next_token")
        received.append(next_token)
        page = answer(next_token)
        if inspect.isawaitable(page):
            page = await page
        body = json.dumps(page).encode()
        return web.Response(
            body=body, content_type="application/json", headers={"x-amzn-RequestId": "r"}
        )

    app = web.Application()
    app.router.add_get("/assignment/accounts", handle)
    app.router.add_get("/assignment/roles", handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


def chain(*tokens: str) -> Callable[[str | None], dict[str, Any]]:
    """Pages of one account each: the page fetched without a token says ``tokens[0]``, the
    page fetched with ``tokens[i]`` says ``tokens[i+1]`` (or nothing after the last)."""
    order: list[str | None] = [None, *tokens]

    def answer(received: str | None) -> dict[str, Any]:
        index = order.index(received)
        page: dict[str, Any] = {"accountList": [{"accountId": f"{index:012d}"}]}
        if index < len(tokens):
            page["nextToken"] = tokens[index]
        return page

    return answer


# --------------------------------------------------------------------------- basics


async def test_get_paginator_returns_typed_classes(sso: AsyncSSOClient) -> None:
    """get_paginator() returns the two paginator classes and paginate() their page iterators."""
    accounts = sso.get_paginator("list_accounts")
    roles = sso.get_paginator("list_account_roles")
    assert isinstance(accounts, ListAccountsPaginator)
    assert isinstance(roles, ListAccountRolesPaginator)
    assert (accounts.result_key, roles.result_key) == ("accountList", "roleList")
    it = accounts.paginate(accessToken="t")
    assert isinstance(it, ListAccountsPageIterator)
    assert isinstance(it, AsyncPageIterator)
    assert isinstance(roles.paginate(accessToken="t", accountId="1"), ListAccountRolesPageIterator)
    assert it.resume_token is None
    assert it.non_aggregate_part == {}


async def test_paginate_is_lazy(emu: PortalEmulator, sso: AsyncSSOClient) -> None:
    """paginate() sends nothing; each page is requested only when asked for."""
    it = sso.get_paginator("list_accounts").paginate(accessToken=emu.token)
    await asyncio.sleep(0)
    assert emu.stats.total == 0
    await it.__anext__()
    assert emu.stats.total == 1


async def test_pages_are_full_responses(emu: PortalEmulator, sso: AsyncSSOClient) -> None:
    """Each page is the operation's response: metadata, result list, nextToken but the last."""
    pages = [p async for p in sso.get_paginator("list_accounts").paginate(accessToken=emu.token)]
    assert [len(p["accountList"]) for p in pages] == [5, 5, 5, 5, 3]
    assert all(p["ResponseMetadata"]["HTTPStatusCode"] == 200 for p in pages)
    assert ["nextToken" in p for p in pages] == [True] * 4 + [False]
    assert ids(pages) == all_ids(emu)


async def test_list_account_roles_pages(emu: PortalEmulator, sso: AsyncSSOClient) -> None:
    """list_account_roles paginates roleList of the given account, PageSize as maxResults."""
    account = emu.organisation.accounts[3]
    it = sso.get_paginator("list_account_roles").paginate(
        accessToken=emu.token, accountId=account.account_id, PaginationConfig={"PageSize": 3}
    )
    pages = [p async for p in it]
    assert [len(p["roleList"]) for p in pages] == [3, 3, 1]
    assert [r["roleName"] for p in pages for r in p["roleList"]] == list(account.roles)
    assert {q for r in emu.requests for q in r.query if q[0] == "max_result"} == {
        ("max_result", "3")
    }


async def test_operation_arguments_checked_at_first_request(
    emu: PortalEmulator, sso: AsyncSSOClient
) -> None:
    """A missing accessToken raises ParamValidationError at the first page, with no I/O."""
    it = sso.get_paginator("list_account_roles").paginate()  # type: ignore[call-arg]
    with pytest.raises(ParamValidationError) as info:
        await it.__anext__()
    assert str(info.value) == (
        "Parameter validation failed:\n"
        'Missing required parameter in input: "accessToken"\n'
        'Missing required parameter in input: "accountId"'
    )
    assert emu.stats.total == 0


# --------------------------------------------------------------------------- PaginationConfig


@pytest.mark.parametrize(
    ("size", "line"),
    [
        (0, "Invalid value for parameter maxResults, value: 0, valid min value: 1"),
        (-3, "Invalid value for parameter maxResults, value: -3, valid min value: 1"),
        (101, "Invalid value for parameter maxResults, value: 101, valid max value: 100"),
    ],
)
async def test_page_size_out_of_range_refused_by_paginate(
    emu: PortalEmulator, sso: AsyncSSOClient, size: int, line: str
) -> None:
    """PageSize outside 1..100 raises ParamValidationError from paginate(); nothing is sent."""
    with pytest.raises(ParamValidationError) as info:
        sso.get_paginator("list_accounts").paginate(
            accessToken=emu.token, PaginationConfig={"PageSize": size}
        )
    assert str(info.value) == f"Parameter validation failed:\n{line}"
    assert emu.stats.total == 0


async def test_page_size_bounds_and_int_conversion(
    emu: PortalEmulator, sso: AsyncSSOClient
) -> None:
    """PageSize 1 and 100 are accepted; numbers pass through int() as in botocore."""
    paginator = sso.get_paginator("list_accounts")
    one = paginator.paginate(accessToken=emu.token, PaginationConfig={"PageSize": "1"})  # type: ignore[typeddict-item]
    assert len((await one.__anext__())["accountList"]) == 1
    hundred = paginator.paginate(accessToken=emu.token, PaginationConfig={"PageSize": 100})
    assert len(ids([p async for p in hundred])) == ACCOUNTS
    with pytest.raises(ValueError, match="invalid literal for int"):
        paginator.paginate(accessToken=emu.token, PaginationConfig={"PageSize": "ten"})  # type: ignore[typeddict-item]
    assert emu.requests[0].query == (("max_result", "1"),)


async def test_negative_max_items_and_bad_config_refused(sso: AsyncSSOClient) -> None:
    """A negative MaxItems or a non-mapping PaginationConfig raises ParamValidationError."""
    paginator = sso.get_paginator("list_accounts")
    with pytest.raises(ParamValidationError, match=r"PaginationConfig\.MaxItems, value: -1"):
        paginator.paginate(accessToken="t", PaginationConfig={"MaxItems": -1})
    with pytest.raises(ParamValidationError, match="Invalid type for parameter PaginationConfig"):
        paginator.paginate(accessToken="t", PaginationConfig=[("MaxItems", 1)])  # type: ignore[arg-type]


async def test_page_size_overrides_explicit_max_results(
    emu: PortalEmulator, sso: AsyncSSOClient
) -> None:
    """PageSize replaces an explicit maxResults; without PageSize maxResults is sent as given."""
    paginator = sso.get_paginator("list_accounts")
    kwargs: Any = {"accessToken": emu.token, "maxResults": 2}
    await paginator.paginate(**kwargs, PaginationConfig={"PageSize": 4}).__anext__()
    await paginator.paginate(**kwargs).__anext__()
    assert [dict(r.query)["max_result"] for r in emu.requests] == ["4", "2"]


@pytest.mark.parametrize(
    "bad",
    [
        token({"NextToken": "x"}),
        token({"nextToken": "x", "other": 1}),
        token({"boto_truncate_amount": 2}),
        token({"nextToken": 7}),
        token({"nextToken": "x", "boto_truncate_amount": "2"}),
        token({"nextToken": "x", "boto_truncate_amount": -1}),
        "a___b___c",
        "a___-2",
    ],
)
async def test_bad_starting_token_refused(sso: AsyncSSOClient, bad: str) -> None:
    """A StartingToken with wrong keys, types or parts raises ValueError('Bad starting token')."""
    with pytest.raises(ValueError, match=r"^Bad starting token: ") as info:
        sso.get_paginator("list_accounts").paginate(
            accessToken="t", PaginationConfig={"StartingToken": bad}
        )
    assert not isinstance(info.value, ParamValidationError)


async def test_raw_and_deprecated_starting_tokens(emu: PortalEmulator, sso: AsyncSSOClient) -> None:
    """A raw service nextToken resumes as is; 'None___2' skips two items from the start."""
    paginator = sso.get_paginator("list_accounts")
    first = await paginator.paginate(accessToken=emu.token).__anext__()
    raw = first["nextToken"]
    rest = [
        p
        async for p in paginator.paginate(
            accessToken=emu.token, PaginationConfig={"StartingToken": raw}
        )
    ]
    assert ids(rest) == all_ids(emu)[PAGE:]
    legacy = paginator.paginate(
        accessToken=emu.token, PaginationConfig={"StartingToken": f"{raw}___2"}
    )
    assert ids([p async for p in legacy]) == all_ids(emu)[PAGE + 2 :]
    skipped = paginator.paginate(
        accessToken=emu.token, PaginationConfig={"StartingToken": "None___2"}
    )
    assert ids([p async for p in skipped]) == all_ids(emu)[2:]
    from_start = paginator.paginate(
        accessToken=emu.token, PaginationConfig={"StartingToken": token({"nextToken": "None"})}
    )
    before = emu.stats.total
    assert ids([p async for p in from_start]) == all_ids(emu)
    assert "next_token" not in dict(emu.requests[before].query)


# --------------------------------------------------------------------------- MaxItems / tokens


async def test_max_items_truncates_and_resume_token_continues(
    emu: PortalEmulator, sso: AsyncSSOClient
) -> None:
    """MaxItems cuts the page short with a botocore NextToken that resumes at the next item."""
    paginator = sso.get_paginator("list_accounts")
    it = paginator.paginate(accessToken=emu.token, PaginationConfig={"MaxItems": 7})
    pages = [p async for p in it]
    assert [len(p["accountList"]) for p in pages] == [5, 2]
    assert it.resume_token is not None
    assert list(decode(it.resume_token)) == ["nextToken", "boto_truncate_amount"]
    assert decode(it.resume_token)["boto_truncate_amount"] == 2
    seen = ids(pages)
    resume: str | None = it.resume_token
    while resume is not None:
        it = paginator.paginate(
            accessToken=emu.token, PaginationConfig={"MaxItems": 4, "StartingToken": resume}
        )
        seen += ids([p async for p in it])
        resume = it.resume_token
    assert seen == all_ids(emu)


async def test_max_items_on_page_boundary(emu: PortalEmulator, sso: AsyncSSOClient) -> None:
    """MaxItems on a page boundary gives a NextToken without boto_truncate_amount."""
    full = (
        await sso.get_paginator("list_accounts")
        .paginate(accessToken=emu.token, PaginationConfig={"MaxItems": 10})
        .build_full_result()
    )
    assert len(full["accountList"]) == 10
    assert list(decode(full["NextToken"])) == ["nextToken"]
    assert emu.stats.total == 2


async def test_build_full_result(emu: PortalEmulator, sso: AsyncSSOClient) -> None:
    """build_full_result() concatenates the lists, with NextToken only when truncated."""
    paginator = sso.get_paginator("list_accounts")
    full = await paginator.paginate(accessToken=emu.token).build_full_result()
    assert list(full) == ["accountList"]
    assert [a["accountId"] for a in full["accountList"]] == all_ids(emu)
    whole = await paginator.paginate(
        accessToken=emu.token, PaginationConfig={"MaxItems": ACCOUNTS}
    ).build_full_result()
    assert list(whole) == ["accountList"]


async def test_build_full_result_without_result_key_is_empty() -> None:
    """build_full_result() is {} when no page had the result key; [] when pages were empty."""
    answers: dict[str | None, dict[str, Any]] = {None: {"nextToken": "A"}, "A": {}}
    async with (
        scripted(lambda t: answers[t]) as (url, _),
        AsyncSSOClient(region_name="us-east-1", endpoint_url=url) as sso,
    ):
        paginator = sso.get_paginator("list_accounts")
        assert await paginator.paginate(accessToken="t").build_full_result() == {}
        answers["A"] = {"accountList": []}
        assert await paginator.paginate(accessToken="t").build_full_result() == {"accountList": []}


# --------------------------------------------------------------------------- stop conditions


@pytest.mark.parametrize("last", ["", "None", None])
async def test_empty_none_or_null_token_ends_pagination(last: str | None) -> None:
    """A nextToken of '', 'None' or null ends pagination after that page, with no resume token."""

    def answer(received: str | None) -> dict[str, Any]:
        if received is None:
            return {"accountList": [{"accountId": "1"}], "nextToken": "A"}
        return {"accountList": [{"accountId": "2"}], "nextToken": last}

    async with (
        scripted(answer) as (url, received),
        AsyncSSOClient(region_name="us-east-1", endpoint_url=url) as sso,
    ):
        it = sso.get_paginator("list_accounts").paginate(accessToken="t")
        assert ids([p async for p in it]) == ["1", "2"]
        assert received == [None, "A"]
        assert it.resume_token is None


async def test_repeated_token_raises_after_yielding_the_page() -> None:
    """The same nextToken twice in a row raises botocore's PaginationError after that page."""
    async with (
        scripted(lambda t: {"accountList": [{"accountId": "x"}], "nextToken": "SAME"}) as (
            url,
            received,
        ),
        AsyncSSOClient(region_name="us-east-1", endpoint_url=url) as sso,
    ):
        it = sso.get_paginator("list_accounts").paginate(accessToken="t")
        pages: list[Any] = []
        with pytest.raises(PaginationError) as info:
            await collect(it, pages)
        assert str(info.value) == (
            "Error during pagination: The same next token was received twice: {'nextToken': 'SAME'}"
        )
        assert len(pages) == 2
        assert received == [None, "SAME"]
        assert [p async for p in it] == []
        assert it.resume_token is None


async def test_only_the_previous_token_counts_as_repeated() -> None:
    """A token seen earlier but not on the previous page, or the StartingToken, is no error."""
    async with (
        scripted(chain("A", "B", "A2", "B2")) as (url, _),
        AsyncSSOClient(region_name="us-east-1", endpoint_url=url) as sso,
    ):
        paginator = sso.get_paginator("list_accounts")
        assert len([p async for p in paginator.paginate(accessToken="t")]) == 5

    def answer(received: str | None) -> dict[str, Any]:
        return {"accountList": [{"accountId": "x"}], "nextToken": "B" if received == "A" else "A"}

    async with (
        scripted(answer) as (url, received),
        AsyncSSOClient(region_name="us-east-1", endpoint_url=url) as sso,
    ):
        it = sso.get_paginator("list_accounts").paginate(
            accessToken="t", PaginationConfig={"StartingToken": "B", "MaxItems": 6}
        )
        assert len([p async for p in it]) == 6
        assert received == ["B", "A", "B", "A", "B", "A"]


# --------------------------------------------------------------------------- failures & cursor


async def test_failed_page_is_retried_on_next_iteration(
    emu: PortalEmulator, sso: AsyncSSOClient
) -> None:
    """A non-retryable error on page 3 propagates; iterating again resumes at page 3."""
    emu.fail_next("ListAccounts", after=2, status=400, code="InvalidRequestException")
    it = sso.get_paginator("list_accounts").paginate(
        accessToken=emu.token, PaginationConfig={"MaxItems": 18}
    )
    pages: list[Any] = []
    with pytest.raises(InvalidRequestException):
        await collect(it, pages)
    assert len(pages) == 2
    assert it.resume_token is not None
    assert decode(it.resume_token) == {"nextToken": pages[-1]["nextToken"]}
    async for page in it:
        pages.append(page)
    assert ids(pages) == all_ids(emu)[:18]
    assert emu.stats.total == 5
    assert [r.status for r in emu.requests] == [200, 200, 400, 200, 200]


async def test_resume_token_after_failure_resumes_in_a_new_paginator(
    emu: PortalEmulator, sso: AsyncSSOClient
) -> None:
    """resume_token after a failed first page (after a StartingToken) resumes the same items."""
    paginator = sso.get_paginator("list_accounts")
    first = paginator.paginate(accessToken=emu.token, PaginationConfig={"MaxItems": 3})
    start = (await first.build_full_result())["NextToken"]
    emu.fail_next("ListAccounts", status=400, code="InvalidRequestException")
    it = paginator.paginate(accessToken=emu.token, PaginationConfig={"StartingToken": start})
    with pytest.raises(InvalidRequestException):
        await it.__anext__()
    assert it.resume_token == start
    again = paginator.paginate(accessToken=emu.token, PaginationConfig={"StartingToken": start})
    assert ids([p async for p in again]) == all_ids(emu)[3:]


async def test_resume_token_before_any_page_starts_from_the_top(
    emu: PortalEmulator, sso: AsyncSSOClient
) -> None:
    """A first request failing without StartingToken leaves a resume token for the first page."""
    emu.fail_next("ListAccounts", status=401, code="UnauthorizedException")
    it = sso.get_paginator("list_accounts").paginate(accessToken=emu.token)
    with pytest.raises(aiosso.UnauthorizedException):
        await it.__anext__()
    assert it.resume_token is not None
    assert decode(it.resume_token) == {"nextToken": None}
    assert ids([p async for p in it]) == all_ids(emu)


async def test_retryable_errors_use_the_client_retry_path(
    emu: PortalEmulator, sso: AsyncSSOClient
) -> None:
    """A 503 then a 429 on page 2 are retried by the client, invisible to the iteration."""
    emu.fail_next("ListAccounts", after=1, status=503)
    emu.fail_next("ListAccounts", after=0, status=429, code="TooManyRequestsException")
    pages = [p async for p in sso.get_paginator("list_accounts").paginate(accessToken=emu.token)]
    assert ids(pages) == all_ids(emu)
    assert emu.stats.total == 7
    assert [p["ResponseMetadata"]["RetryAttempts"] for p in pages] == [0, 2, 0, 0, 0]


async def test_break_then_continue_goes_on_with_the_next_page(
    emu: PortalEmulator, sso: AsyncSSOClient
) -> None:
    """After a break, a new 'async for' continues with the next page; resume_token points there."""
    it = sso.get_paginator("list_accounts").paginate(accessToken=emu.token)
    pages = []
    async for page in it:
        pages.append(page)
        if len(pages) == 2:
            break
    resume = it.resume_token
    assert resume is not None
    elsewhere = sso.get_paginator("list_accounts").paginate(
        accessToken=emu.token, PaginationConfig={"StartingToken": resume}
    )
    assert ids([p async for p in elsewhere]) == all_ids(emu)[10:]
    async for page in it:
        pages.append(page)
    assert ids(pages) == all_ids(emu)
    assert it.resume_token is None
    assert [p async for p in it] == []
    assert await it.build_full_result() == {}


async def test_cancelled_request_does_not_move_the_cursor() -> None:
    """Cancelling a page request leaves the cursor on that page: it is asked for again."""
    arrived, release = asyncio.Event(), asyncio.Event()
    pages = chain("A", "B")

    async def answer(received: str | None) -> dict[str, Any]:
        if received == "A" and not release.is_set():
            arrived.set()
            await release.wait()
        return pages(received)

    async with (
        scripted(answer) as (url, received),
        AsyncSSOClient(region_name="us-east-1", endpoint_url=url) as sso,
    ):
        it = sso.get_paginator("list_accounts").paginate(accessToken="t")
        first = await it.__anext__()
        task = asyncio.create_task(it.__anext__())
        await arrived.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        assert ids([first] + [p async for p in it]) == [f"{i:012d}" for i in range(3)]
        assert received == [None, "A", "A", "B"]


async def test_concurrent_iteration_is_refused() -> None:
    """A second task asking for a page while one is in flight gets RuntimeError."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def answer(received: str | None) -> dict[str, Any]:
        arrived.set()
        await release.wait()
        return {"accountList": []}

    async with (
        scripted(answer) as (url, received),
        AsyncSSOClient(region_name="us-east-1", endpoint_url=url) as sso,
    ):
        it = sso.get_paginator("list_accounts").paginate(accessToken="t")
        first = asyncio.create_task(it.__anext__())
        await arrived.wait()
        with pytest.raises(RuntimeError, match="already fetching"):
            await it.__anext__()
        release.set()
        assert (await first)["accountList"] == []
        assert received == [None]


# --------------------------------------------------------------------------- misuse


async def test_sync_for_raises_type_error_with_hint(sso: AsyncSSOClient) -> None:
    """A plain for, list() or iter() over the page or item iterators raises a TypeError hint."""
    it = sso.get_paginator("list_accounts").paginate(accessToken="t")
    with pytest.raises(TypeError, match="use 'async for page in"):
        for _ in it:  # type: ignore[attr-defined]
            pass
    with pytest.raises(TypeError, match="'async for"):
        list(it)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="'async for item"):
        iter(it.items())  # type: ignore[call-overload]


async def test_closed_client_raises_client_closed_error(emu: PortalEmulator) -> None:
    """Iterating a paginator of a closed client raises ClientClosedError, sending nothing."""
    sso = AsyncSSOClient(region_name="us-east-1", endpoint_url=emu.url)
    await sso.close()
    it = sso.get_paginator("list_accounts").paginate(accessToken=emu.token)
    with pytest.raises(ClientClosedError):
        await it.build_full_result()
    assert emu.stats.total == 0


# --------------------------------------------------------------------------- items / search


async def test_items_across_pages(emu: PortalEmulator, sso: AsyncSSOClient) -> None:
    """items() yields every account across pages, honouring StartingToken and MaxItems."""
    paginator = sso.get_paginator("list_accounts")
    everything = [a["accountId"] async for a in paginator.paginate(accessToken=emu.token).items()]
    assert everything == all_ids(emu)
    some = paginator.paginate(
        accessToken=emu.token, PaginationConfig={"StartingToken": "None___3", "MaxItems": 9}
    )
    assert [a["accountId"] async for a in some.items()] == all_ids(emu)[3:12]
    assert some.resume_token is not None
    [roles] = paginator.paginate(accessToken=emu.token).result_key_iters()
    assert len([r async for r in roles]) == ACCOUNTS


async def test_items_resume_after_a_failed_page(emu: PortalEmulator, sso: AsyncSSOClient) -> None:
    """Iterating items() again after a failed page goes on without losing or repeating items."""
    emu.fail_next("ListAccounts", after=1, status=400, code="InvalidRequestException")
    items = sso.get_paginator("list_accounts").paginate(accessToken=emu.token).items()
    seen: list[Any] = []
    with pytest.raises(InvalidRequestException):
        await collect(items, seen)
    assert len(seen) == PAGE
    await collect(items, seen)
    assert [a["accountId"] for a in seen] == all_ids(emu)


async def test_search_flattens_lists_and_yields_other_values(
    emu: PortalEmulator, sso: AsyncSSOClient
) -> None:
    """search() flattens list results and yields non-list results, None included, per page."""
    paginator = sso.get_paginator("list_accounts")
    found = [
        x async for x in paginator.paginate(accessToken=emu.token).search("accountList[].accountId")
    ]
    assert found == all_ids(emu)
    tokens = [x async for x in paginator.paginate(accessToken=emu.token).search("nextToken")]
    assert len(tokens) == 5
    assert tokens[-1] is None


async def test_search_without_jmespath_explains_how_to_install(
    sso: AsyncSSOClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without jmespath, search() raises ImportError naming the aiosso[jmespath] extra."""
    monkeypatch.setitem(sys.modules, "jmespath", None)
    it = sso.get_paginator("list_accounts").paginate(accessToken="t")
    with pytest.raises(ImportError, match=r"pip install 'aiosso\[jmespath\]'"):
        it.search("accountList")


async def test_resume_token_setter_follows_botocore(sso: AsyncSSOClient) -> None:
    """Setting resume_token takes a dict with exactly nextToken (+ boto_truncate_amount)."""
    it = sso.get_paginator("list_accounts").paginate(accessToken="t")
    it.resume_token = {"nextToken": "T1", "boto_truncate_amount": 1}
    assert it.resume_token == "eyJuZXh0VG9rZW4iOiAiVDEiLCAiYm90b190cnVuY2F0ZV9hbW91bnQiOiAxfQ=="
    for bad in ({"nextToken": "T", "x": 1}, {"boto_truncate_amount": 1}, "T"):
        with pytest.raises(ValueError, match="Bad starting token"):
            it.resume_token = bad  # type: ignore[assignment]


async def test_repr_hides_the_access_token(emu: PortalEmulator, sso: AsyncSSOClient) -> None:
    """The page iterator's repr shows progress, never the access token."""
    it = sso.get_paginator("list_accounts").paginate(accessToken=emu.token)
    await it.__anext__()
    assert repr(it) == "<ListAccountsPageIterator running pages=1 items=5>"
    assert emu.token not in repr(it)


# --------------------------------------------------------------------------- memory


async def test_100k_items_hold_one_page_at_a_time() -> None:
    """Iterating 100,000 accounts (1,000 pages) holds one page at a time, not all of them."""
    total, size, window = 100_000, 100, 20_000
    filler = "x" * 40

    def answer(received: str | None) -> dict[str, Any]:
        start = 0 if received is None else int(received)
        page: dict[str, Any] = {
            "accountList": [
                {"accountId": f"{i:012d}", "accountName": filler, "emailAddress": filler}
                for i in range(start, start + size)
            ]
        }
        if start + size < total:
            page["nextToken"] = str(start + size)
        return page

    async with (
        scripted(answer) as (url, received),
        AsyncSSOClient(region_name="us-east-1", endpoint_url=url) as sso,
    ):
        it = sso.get_paginator("list_accounts").paginate(
            accessToken="t", PaginationConfig={"PageSize": size}
        )
        count = 0
        began = time.monotonic()
        try:
            async for _ in it.items():
                count += 1
                if count == total - window:
                    # Tracing costs ~8x; the last 200 pages are enough to see any accumulation.
                    tracemalloc.start()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        elapsed = time.monotonic() - began
    assert count == total
    assert len(received) == total // size
    # Keeping the window's 20,000 accounts alone would take ~10 MB; one page is ~60 kB.
    assert peak < 1_500_000, peak
    assert elapsed < 5, elapsed
