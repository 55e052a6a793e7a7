"""Differential tests: aiosso's paginators against botocore's, on the same emulator.

botocore (sync) runs in a worker thread so that the emulator's loop keeps serving. The emulator's
page tokens are deterministic, so both clients see the same ``nextToken``s and their resume
tokens must be byte-identical.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

import aiosso
from aiosso import AsyncSSOClient, InvalidRequestException, PaginationError, ParamValidationError
from aiosso._retry import is_testing
from aiosso.testing import PortalEmulator

pytest.importorskip("botocore")
import botocore
import botocore.config
import botocore.exceptions
import botocore.session

ACCOUNTS = 13
ROLES = 9
OPERATIONS = {"list_accounts": "accountList", "list_account_roles": "roleList"}


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    previous = is_testing()
    aiosso.set_testing(True)
    yield
    aiosso.set_testing(previous)


@pytest.fixture(scope="module")
def boto_session() -> Any:
    return botocore.session.get_session()


class Pair:
    """botocore's and aiosso's clients on one endpoint, run side by side."""

    def __init__(self, boto: Any, sso: AsyncSSOClient, access_token: str, account: str) -> None:
        self.boto = boto
        self.sso = sso
        self.access_token = access_token
        self.account = account

    def kwargs(self, op: str, config: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"accessToken": self.access_token}
        if op == "list_account_roles":
            kwargs["accountId"] = self.account
        if config:
            kwargs["PaginationConfig"] = dict(config)
        return kwargs

    async def botocore(self, op: str, config: dict[str, Any]) -> tuple[list[Any], Any, Any]:
        """(pages without ResponseMetadata, resume_token, build_full_result()) from botocore."""

        def run() -> tuple[list[Any], Any, Any]:
            paginator = self.boto.get_paginator(op)
            it = paginator.paginate(**self.kwargs(op, config))
            pages = [strip(page) for page in it]
            full = paginator.paginate(**self.kwargs(op, config)).build_full_result()
            return pages, it.resume_token, full

        return await asyncio.to_thread(run)

    async def aiosso(self, op: str, config: dict[str, Any]) -> tuple[list[Any], Any, Any]:
        """The same from aiosso."""
        paginator: Any = self.sso.get_paginator(op)  # type: ignore[call-overload]
        it = paginator.paginate(**self.kwargs(op, config))
        pages = [strip(page) async for page in it]
        full = await paginator.paginate(**self.kwargs(op, config)).build_full_result()
        return pages, it.resume_token, full

    async def compare(self, op: str, config: dict[str, Any]) -> Any:
        """Assert both agree on pages, resume token and full result; return the resume token."""
        expected = await self.botocore(op, config)
        got = await self.aiosso(op, config)
        assert got == expected, (op, config)
        return got[1]


async def collect(source: AsyncIterable[Any], into: list[Any]) -> None:
    """Append everything ``source`` yields to ``into`` (kept if iteration raises)."""
    async for value in source:
        into.append(value)


def strip(page: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in page.items() if k != "ResponseMetadata"}


@asynccontextmanager
async def pair(boto_session: Any, url: str, access_token: str, account: str) -> AsyncIterator[Pair]:
    boto = boto_session.create_client(
        "sso",
        region_name="us-east-1",
        endpoint_url=url,
        config=botocore.config.Config(
            signature_version=botocore.UNSIGNED, retries={"total_max_attempts": 1}
        ),
    )
    try:
        async with AsyncSSOClient(region_name="us-east-1", endpoint_url=url) as sso:
            yield Pair(boto, sso, access_token, account)
    finally:
        boto.close()


@asynccontextmanager
async def emulated(boto_session: Any, **kwargs: Any) -> AsyncIterator[tuple[PortalEmulator, Pair]]:
    async with PortalEmulator(accounts=ACCOUNTS, roles_per_account=ROLES, **kwargs) as emu:
        account = emu.organisation.accounts[0].account_id
        async with pair(boto_session, emu.url, emu.token, account) as both:
            yield emu, both


@asynccontextmanager
async def scripted(
    boto_session: Any, answer: Callable[[str | None], dict[str, Any]]
) -> AsyncIterator[Pair]:
    """Both clients on a portal whose page for each received next_token is answer(token)."""

    async def handle(request: web.Request) -> web.Response:
        body = json.dumps(answer(request.query.get("next_token"))).encode()
        return web.Response(
            body=body, content_type="application/json", headers={"x-amzn-RequestId": "r"}
        )

    app = web.Application()
    app.router.add_get("/assignment/accounts", handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with pair(boto_session, url, "t", "") as both:
            yield both
    finally:
        await runner.cleanup()


# --------------------------------------------------------------------------- the grid


@pytest.mark.parametrize("op", list(OPERATIONS))
async def test_grid_page_size_max_items_and_resume(boto_session: Any, op: str) -> None:
    """For PageSize x MaxItems, pages, resume tokens and full results equal botocore's; each
    NextToken resumes identically in both, in both directions."""
    total = ACCOUNTS if op == "list_accounts" else ROLES
    async with emulated(boto_session, page_size=5) as (_, both):
        for page_size in (None, 1, 4, 100):
            for max_items in (None, 0, 1, 3, 5, 8, total, total + 4):
                config: dict[str, Any] = {}
                if page_size is not None:
                    config["PageSize"] = page_size
                if max_items is not None:
                    config["MaxItems"] = max_items
                token = await both.compare(op, config)
                if token is None:
                    continue
                # The token came from both clients (they are equal); resume it in both.
                for resume_max in (None, 2, 5):
                    resumed = dict(config, StartingToken=token)
                    if resume_max is None:
                        resumed.pop("MaxItems", None)
                    else:
                        resumed["MaxItems"] = resume_max
                    await both.compare(op, resumed)


async def test_tokens_cross_between_clients(boto_session: Any) -> None:
    """A botocore NextToken resumes in aiosso and an aiosso one in botocore, item for item."""
    async with emulated(boto_session, page_size=4) as (emu, both):
        ids = [a.account_id for a in emu.organisation.accounts]
        config = {"MaxItems": 6, "PageSize": 3}

        def boto_full(cfg: dict[str, Any]) -> Any:
            paginator = both.boto.get_paginator("list_accounts")
            return paginator.paginate(
                accessToken=emu.token, PaginationConfig=cfg
            ).build_full_result()

        seen: list[str] = []
        token = None
        turn = 0
        while True:
            cfg: Any = dict(config) if token is None else dict(config, StartingToken=token)
            if turn % 2:
                full = await asyncio.to_thread(boto_full, cfg)
            else:
                full = (
                    await both.sso.get_paginator("list_accounts")
                    .paginate(accessToken=emu.token, PaginationConfig=cfg)
                    .build_full_result()
                )
            seen += [a["accountId"] for a in full["accountList"]]
            token = full.get("NextToken")
            turn += 1
            if token is None:
                break
        assert seen == ids
        assert turn == 3


@pytest.mark.parametrize("op", list(OPERATIONS))
async def test_raw_and_deprecated_starting_tokens_match(boto_session: Any, op: str) -> None:
    """Raw service tokens, '<token>___N', 'None___N' and 'None' start where botocore starts."""
    async with emulated(boto_session, page_size=4) as (_, both):
        first, _, _ = await both.botocore(op, {"MaxItems": 4})
        raw = first[0]["nextToken"]
        for starting in (raw, f"{raw}___2", "None___3", "None", f"{raw}___x"):
            for extra in ({}, {"MaxItems": 3}, {"PageSize": 2, "MaxItems": 5}):
                config = dict(extra, StartingToken=starting)
                if starting.endswith("___x"):
                    await assert_same_error(both, op, config)
                else:
                    await both.compare(op, config)


async def test_null_next_token_on_last_page_matches(boto_session: Any) -> None:
    """A last page with "nextToken": null paginates as in botocore."""
    async with emulated(boto_session, page_size=5, null_next_token=True) as (_, both):
        for config in ({}, {"MaxItems": 10}, {"MaxItems": 11}):
            await both.compare("list_accounts", config)


async def assert_same_error(both: Pair, op: str, config: dict[str, Any]) -> None:
    def run() -> Any:
        with pytest.raises(botocore.exceptions.ClientError) as info:
            both.boto.get_paginator(op).paginate(**both.kwargs(op, config)).build_full_result()
        return info.value.response["Error"]

    expected = await asyncio.to_thread(run)
    paginator: Any = both.sso.get_paginator(op)  # type: ignore[call-overload]
    with pytest.raises(InvalidRequestException) as info:
        await paginator.paginate(**both.kwargs(op, config)).build_full_result()
    # (str() differs only by botocore's "reached max retries: 0", from total_max_attempts=1.)
    assert info.value.response["Error"] == expected


async def test_page_size_zero_message_matches(boto_session: Any) -> None:
    """PageSize 0 gives botocore's ParamValidationError text (aiosso: at paginate(), no I/O)."""
    async with emulated(boto_session) as (emu, both):

        def run() -> Any:
            it = both.boto.get_paginator("list_accounts").paginate(
                accessToken=emu.token, PaginationConfig={"PageSize": 0}
            )
            with pytest.raises(botocore.exceptions.ParamValidationError) as info:
                next(iter(it))
            return info.value

        expected = await asyncio.to_thread(run)
        with pytest.raises(ParamValidationError) as info:
            both.sso.get_paginator("list_accounts").paginate(
                accessToken=emu.token, PaginationConfig={"PageSize": 0}
            )
        assert str(info.value) == str(expected)
        assert emu.stats.total == 0


# --------------------------------------------------------------------------- odd servers


async def test_repeated_token_matches_botocore(boto_session: Any) -> None:
    """Against a server repeating its token, both yield 2 pages and raise the same message."""
    page = {"accountList": [{"accountId": "1"}], "nextToken": "SAME"}
    async with scripted(boto_session, lambda _: page) as both:

        def run() -> tuple[int, str]:
            pages: list[Any] = []
            it = both.boto.get_paginator("list_accounts").paginate(accessToken="t")
            with pytest.raises(botocore.exceptions.PaginationError) as info:
                pages.extend(it)
            return len(pages), str(info.value)

        count, message = await asyncio.to_thread(run)
        pages: list[Any] = []
        it = both.sso.get_paginator("list_accounts").paginate(accessToken="t")
        with pytest.raises(PaginationError) as info:
            await collect(it, pages)
        assert (
            (len(pages), str(info.value))
            == (count, message)
            == (
                2,
                "Error during pagination: The same next token was received twice: "
                "{'nextToken': 'SAME'}",
            )
        )


async def test_empty_token_and_missing_key_match_botocore(boto_session: Any) -> None:
    """An empty-string token ends pagination and a page without the list gives {} as botocore."""
    answers = {
        None: {"accountList": [{"accountId": "1"}], "nextToken": "A"},
        "A": {"accountList": [{"accountId": "2"}], "nextToken": ""},
    }
    async with scripted(boto_session, lambda t: answers[t]) as both:
        for config in ({}, {"MaxItems": 1}, {"MaxItems": 2}):
            await both.compare("list_accounts", config)
        answers[None] = {"nextToken": "A"}
        answers["A"] = {}
        assert await both.compare("list_accounts", {}) is None
        _, _, full = await both.aiosso("list_accounts", {})
        assert full == {}


async def test_failure_resume_token_resumes_in_botocore(boto_session: Any) -> None:
    """After page 3 fails, aiosso's resume_token continues in botocore exactly from page 3."""
    async with emulated(boto_session, page_size=3) as (emu, both):
        ids = [a.account_id for a in emu.organisation.accounts]
        emu.fail_next("ListAccounts", after=2, status=400, code="InvalidRequestException")
        it = both.sso.get_paginator("list_accounts").paginate(accessToken=emu.token)
        pages: list[Any] = []
        with pytest.raises(InvalidRequestException):
            await collect(it, pages)
        seen = [a["accountId"] for page in pages for a in page["accountList"]]
        token = it.resume_token

        def run() -> Any:
            paginator = both.boto.get_paginator("list_accounts")
            return paginator.paginate(
                accessToken=emu.token, PaginationConfig={"StartingToken": token}
            ).build_full_result()

        rest = await asyncio.to_thread(run)
        assert seen + [a["accountId"] for a in rest["accountList"]] == ids


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_result_key_is_botocores(boto_session: Any, op: str) -> None:
    """AsyncPageIterator.result_key (and the paginator's) is the expression of botocore's
    one result key for the operation."""
    boto = boto_session.create_client(
        "sso",
        region_name="us-east-1",
        config=botocore.config.Config(signature_version=botocore.UNSIGNED),
    )
    try:
        kwargs: dict[str, Any] = {"accessToken": "t"}
        if op == "list_account_roles":
            kwargs["accountId"] = "111122223333"
        theirs = boto.get_paginator(op).paginate(**kwargs)  # lazy: no request yet
        expected = [key.expression for key in theirs.result_keys]
    finally:
        boto.close()
    paginator: Any = AsyncSSOClient("us-east-1").get_paginator(op)  # type: ignore[call-overload]
    ours = paginator.paginate(**kwargs)
    assert expected == [OPERATIONS[op]]
    assert [ours.result_key] == expected
    assert paginator.result_key == ours.result_key
