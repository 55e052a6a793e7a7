"""Error text from the service is bounded: a huge error body, end to end, against botocore."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _scripted import Reply, ScriptedServer

from aiosso import AsyncSSOClient, ClientConfig
from aiosso.exceptions import ClientError, UnauthorizedException

botocore = pytest.importorskip("botocore")
botocore_session = pytest.importorskip("botocore.session")
Config = pytest.importorskip("botocore.config").Config

MIB = 1 << 20
#: A proxy's or WAF's HTML page of exactly 1 MiB (a 403 with <html> is not the generic 5xx).
PAGE = (b"<!DOCTYPE html>\n<html><body>\n" + b"<p>Request blocked by policy.</p>\n" * 32_000)[:MIB]
TRUNCATED = re.compile(r"\.\.\. \[truncated: (\d+) characters in all, see e\.response\]$")


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    """A scripted loopback server."""
    async with ScriptedServer() as srv:
        yield srv


def _oracle(url: str) -> Any:
    """botocore's sso client on *url*, one attempt."""
    return botocore_session.get_session().create_client(
        "sso",
        region_name="us-east-1",
        endpoint_url=url,
        config=Config(
            signature_version=botocore.UNSIGNED,
            retries={"total_max_attempts": 1, "mode": "legacy"},
        ),
    )


def _client(url: str, attempts: int = 1) -> AsyncSSOClient:
    """AsyncSSOClient on *url*, *attempts* attempts."""
    return AsyncSSOClient(
        "us-east-1", endpoint_url=url, config=ClientConfig(retries={"total_max_attempts": attempts})
    )


def _comparable(response: dict[str, Any]) -> dict[str, Any]:
    """*response* without what differs between two requests (date, request id)."""
    md = dict(response["ResponseMetadata"])
    md["HTTPHeaders"] = {k: v for k, v in md["HTTPHeaders"].items() if k != "date"}
    return {**response, "ResponseMetadata": md}


async def test_one_mib_html_error_page_is_quoted_briefly(server: ScriptedServer) -> None:
    """A 1 MiB HTML 403: e.response equals botocore's (whole page); str(e) quotes 500 chars."""
    oracle, client = _oracle(server.url), _client(server.url)
    server.script(Reply(403, (), PAGE), Reply(403, (), PAGE))
    try:
        with pytest.raises(botocore.exceptions.ClientError) as theirs:
            await asyncio.to_thread(functools.partial(oracle.list_accounts, accessToken="t"))
        with pytest.raises(ClientError) as ours:
            await client.list_accounts(accessToken="t")
    finally:
        oracle.close()
        await client.close()
    assert _comparable(ours.value.response) == _comparable(theirs.value.response)
    assert ours.value.response["Error"] == {"Message": PAGE.decode(), "Code": "403"}
    assert len(str(theirs.value)) > MIB  # botocore quotes it all
    message = str(ours.value)
    assert message.startswith(
        "An error occurred (403) when calling the ListAccounts operation: "
        + PAGE.decode()[:500]
        + "... [truncated: "
    )
    match = TRUNCATED.search(message)
    assert match is not None
    assert int(match[1]) == MIB
    assert len(message) < 700


async def test_huge_text_error_after_retries_is_bounded(
    server: ScriptedServer, no_sleep: None
) -> None:
    """A retried 500 with 1 MiB of text: the final error is bounded and says it was retried."""
    text = (b"upstream exploded " * 60_000)[:MIB]
    server.script(*[Reply(500, (), text)] * 3)
    client = _client(server.url, attempts=3)
    try:
        with pytest.raises(ClientError) as info:
            await client.list_accounts(accessToken="t")
    finally:
        await client.close()
    assert len(server.requests) == 3
    assert str(info.value).startswith(
        "An error occurred (500) when calling the ListAccounts operation "
        "(reached max retries: 2): upstream exploded "
    )
    assert TRUNCATED.search(str(info.value)) is not None
    assert info.value.response["Error"]["Message"] == text.decode()


async def test_huge_message_of_a_modeled_error_is_bounded(server: ScriptedServer) -> None:
    """A modeled error (UnauthorizedException) with a huge message keeps its class."""
    body = b'{"message":"' + b"x" * 200_000 + b'"}'
    server.script(Reply(401, (("x-amzn-ErrorType", "UnauthorizedException"),), body))
    client = _client(server.url)
    try:
        with pytest.raises(UnauthorizedException) as info:
            await client.list_accounts(accessToken="t")
    finally:
        await client.close()
    assert str(info.value).endswith(
        "x" * 500 + "... [truncated: 200000 characters in all, see e.response]"
    )
    assert len(info.value.response["Error"]["Message"]) == 200_000
