"""AsyncSSOClient against the emulator: operations, surface, lifecycle, wire headers, secrets."""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from _scripted import Reply, ScriptedServer

import aiosso
from aiosso import (
    AioSSOError,
    AsyncSSOClient,
    ClientClosedError,
    ClientConfig,
    ClientError,
    InvalidRequestException,
    OperationNotPageableError,
    ParamValidationError,
    ResourceNotFoundException,
    TooManyRequestsException,
    UnauthorizedException,
)
from aiosso.testing import Faults, PortalEmulator

ONE_ATTEMPT = ClientConfig(retries={"total_max_attempts": 1})


@pytest.fixture
async def emu() -> AsyncIterator[PortalEmulator]:
    """Five accounts of three roles, served two per page."""
    async with PortalEmulator(accounts=5, roles_per_account=3, page_size=2) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: PortalEmulator) -> AsyncIterator[AsyncSSOClient]:
    """A one-attempt client on the emulator."""
    async with AsyncSSOClient("us-east-1", endpoint_url=emu.url, config=ONE_ATTEMPT) as sso:
        yield sso


# --------------------------------------------------------------------------- operations


async def test_list_accounts_pages(client: AsyncSSOClient, emu: PortalEmulator) -> None:
    """list_accounts returns the organisation page by page, with nextToken until the last."""
    seen: list[dict[str, str]] = []
    token: str | None = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"accessToken": emu.token}
        if token is not None:
            kwargs["nextToken"] = token
        page = await client.list_accounts(**kwargs)
        pages += 1
        assert page["ResponseMetadata"]["HTTPStatusCode"] == 200
        uuid.UUID(page["ResponseMetadata"]["RequestId"])
        assert page["ResponseMetadata"]["RetryAttempts"] == 0
        seen.extend(page["accountList"])
        token = page.get("nextToken")
        if token is None:
            break
    assert pages == 3
    assert seen == [
        {"accountId": a.account_id, "accountName": a.account_name, "emailAddress": a.email_address}
        for a in emu.organisation.accounts
    ]


async def test_list_accounts_max_results(client: AsyncSSOClient, emu: PortalEmulator) -> None:
    """maxResults caps the page size."""
    page = await client.list_accounts(accessToken=emu.token, maxResults=1)
    assert len(page["accountList"]) == 1
    assert "nextToken" in page


async def test_list_account_roles(client: AsyncSSOClient, emu: PortalEmulator) -> None:
    """list_account_roles lists an account's roles across pages."""
    account = emu.organisation.accounts[2]
    first = await client.list_account_roles(accessToken=emu.token, accountId=account.account_id)
    second = await client.list_account_roles(
        accessToken=emu.token, accountId=account.account_id, nextToken=first["nextToken"]
    )
    assert "nextToken" not in second
    roles = first["roleList"] + second["roleList"]
    assert roles == [{"roleName": r, "accountId": account.account_id} for r in account.roles]


async def test_get_role_credentials(client: AsyncSSOClient, emu: PortalEmulator) -> None:
    """get_role_credentials returns the four credential members, expiration in epoch ms."""
    account = emu.organisation.accounts[0]
    result = await client.get_role_credentials(
        accessToken=emu.token, accountId=account.account_id, roleName=account.roles[1]
    )
    assert list(result) == ["ResponseMetadata", "roleCredentials"]
    creds = result["roleCredentials"]
    assert list(creds) == ["accessKeyId", "secretAccessKey", "sessionToken", "expiration"]
    assert creds["accessKeyId"].startswith("ASIA")
    assert type(creds["expiration"]) is int
    assert creds["expiration"] > 1_600_000_000_000


async def test_logout_then_unauthorized(client: AsyncSSOClient, emu: PortalEmulator) -> None:
    """logout returns only ResponseMetadata; the token then gets UnauthorizedException."""
    token = emu.issue_token()
    result = await client.logout(accessToken=token)
    assert list(result) == ["ResponseMetadata"]
    with pytest.raises(UnauthorizedException) as info:
        await client.list_accounts(accessToken=token)
    assert isinstance(info.value, client.exceptions.UnauthorizedException)
    assert info.value.operation_name == "ListAccounts"
    assert info.value.response["Error"]["Code"] == "UnauthorizedException"
    assert info.value.response["message"] == "Session token not found or invalid"


async def test_service_errors_map_to_classes(client: AsyncSSOClient, emu: PortalEmulator) -> None:
    """404, 403 ForbiddenException, 400 and 429 raise the botocore-named classes."""
    account = emu.organisation.accounts[0]
    with pytest.raises(ResourceNotFoundException):
        await client.list_account_roles(accessToken=emu.token, accountId="000000000000")
    with pytest.raises(ClientError) as info:
        await client.get_role_credentials(
            accessToken=emu.token, accountId=account.account_id, roleName="Nope"
        )
    assert type(info.value) is ClientError
    assert info.value.response["Error"] == {"Message": "No access", "Code": "ForbiddenException"}
    with pytest.raises(InvalidRequestException):
        await client.list_accounts(accessToken=emu.token, nextToken="forged")
    emu.fail_next("ListAccounts", status=429, code="TooManyRequestsException")
    with pytest.raises(TooManyRequestsException) as throttled:
        await client.list_accounts(accessToken=emu.token)
    assert throttled.value.response["ResponseMetadata"]["MaxAttemptsReached"] is True


async def test_retried_call_succeeds(emu: PortalEmulator, no_sleep: None) -> None:
    """With default retries a transient 503 and a 429 are ridden out; RetryAttempts says so."""
    emu.fail_next("ListAccounts", status=503)
    emu.fail_next("ListAccounts", status=429, code="TooManyRequestsException")
    async with AsyncSSOClient("us-east-1", endpoint_url=emu.url) as sso:
        page = await sso.list_accounts(accessToken=emu.token)
    assert page["ResponseMetadata"]["RetryAttempts"] == 2
    assert emu.stats.total == 3


# --------------------------------------------------------------------------- construction & surface


def test_construction_needs_no_loop_and_does_no_io() -> None:
    """A client is built outside any event loop, with meta ready and no session yet."""
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    config = ClientConfig(max_pool_connections=7)
    # Port 9 on loopback: nothing listens, and nothing must be attempted.
    client = AsyncSSOClient("eu-west-1", endpoint_url="http://127.0.0.1:9", config=config)
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.config is config
    assert client.meta.partition == "aws"
    assert client.meta.service_id == "SSO"
    assert client.meta.method_to_api_mapping == {
        "get_role_credentials": "GetRoleCredentials",
        "list_account_roles": "ListAccountRoles",
        "list_accounts": "ListAccounts",
        "logout": "Logout",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del client
        gc.collect()


def test_default_meta() -> None:
    """The default config and the resolved AWS endpoint are exposed on meta."""
    client = AsyncSSOClient("ap-southeast-2")
    assert client.meta.endpoint_url == "https://portal.sso.ap-southeast-2.amazonaws.com"
    assert client.meta.config == ClientConfig()
    assert client.meta.config.max_pool_connections >= 10


def test_exceptions_object() -> None:
    """client.exceptions exposes the ClientError family and from_code(), shared by clients."""
    first, second = AsyncSSOClient("us-east-1"), AsyncSSOClient("eu-west-1")
    exc = first.exceptions
    assert exc is second.exceptions
    assert exc.ClientError is ClientError
    assert exc.InvalidRequestException is InvalidRequestException
    assert exc.ResourceNotFoundException is ResourceNotFoundException
    assert exc.TooManyRequestsException is TooManyRequestsException
    assert exc.UnauthorizedException is UnauthorizedException
    for cls in (
        InvalidRequestException,
        ResourceNotFoundException,
        TooManyRequestsException,
        UnauthorizedException,
    ):
        assert issubclass(cls, ClientError)
        assert exc.from_code(cls.__name__) is cls
    assert exc.from_code("ForbiddenException") is ClientError
    assert exc.from_code("unauthorizedexception") is ClientError
    with pytest.raises(AttributeError, match="Foo"):
        exc.Foo  # type: ignore[attr-defined]  # noqa: B018


async def test_keyword_only(client: AsyncSSOClient) -> None:
    """Positional arguments raise TypeError (and no coroutine is left un-awaited)."""
    for method in (client.list_accounts, client.logout, client.list_account_roles):
        with pytest.raises(TypeError):
            method("token")  # type: ignore[operator]
    with pytest.raises(TypeError):
        client.get_role_credentials("r", "1", "t")  # type: ignore[call-arg]


def test_paginators_and_waiters() -> None:
    """can_paginate, get_paginator errors, get_waiter and waiter_names as documented."""
    client = AsyncSSOClient("us-east-1")
    assert client.can_paginate("list_accounts") is True
    assert client.can_paginate("list_account_roles") is True
    for name in ("get_role_credentials", "logout", "ListAccounts", "nope", ""):
        assert client.can_paginate(name) is False
    for name in ("get_role_credentials", "logout", "nope"):
        with pytest.raises(OperationNotPageableError) as info:
            client.get_paginator(name)  # type: ignore[call-overload]
        assert str(info.value) == f"Operation cannot be paginated: {name}"
        assert isinstance(info.value, AioSSOError)
    with pytest.raises(ValueError) as waiter:
        client.get_waiter("x")
    assert str(waiter.value) == "Waiter does not exist: x"
    assert client.waiter_names == []


# --------------------------------------------------------------------------- lifecycle


async def test_async_with_and_idempotent_close(emu: PortalEmulator) -> None:
    """async with yields the client; close() is idempotent; the owned session is closed."""
    sso = AsyncSSOClient("us-east-1", endpoint_url=emu.url, config=ONE_ATTEMPT)
    async with sso as entered:
        assert entered is sso
        await sso.list_accounts(accessToken=emu.token)
        assert "open" in repr(sso)
    assert "closed" in repr(sso)
    await sso.close()
    await sso.close()


async def test_close_without_use(emu: PortalEmulator) -> None:
    """Closing a client that never made a call is fine and does no I/O."""
    sso = AsyncSSOClient("us-east-1", endpoint_url=emu.url)
    await sso.close()
    assert emu.stats.total == 0


async def test_use_after_close(emu: PortalEmulator) -> None:
    """Any call or re-entry after close raises ClientClosedError before any I/O."""
    sso = AsyncSSOClient("us-east-1", endpoint_url=emu.url, config=ONE_ATTEMPT)
    async with sso:
        await sso.logout(accessToken=emu.issue_token())
    before = emu.stats.total
    with pytest.raises(ClientClosedError) as info:
        await sso.list_accounts(accessToken=emu.token)
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value, AioSSOError)
    with pytest.raises(ClientClosedError):
        await sso.list_accounts()  # type: ignore[call-arg]  # closed beats validation
    with pytest.raises(ClientClosedError):
        async with sso:
            pass
    assert emu.stats.total == before


async def test_borrowed_session_is_never_closed(emu: PortalEmulator) -> None:
    """A session passed in is used and left open by close() and async with."""
    async with aiohttp.ClientSession() as session:
        async with AsyncSSOClient(
            "us-east-1", endpoint_url=emu.url, session=session, config=ONE_ATTEMPT
        ) as sso:
            await sso.list_accounts(accessToken=emu.token)
        await sso.close()
        assert not session.closed
        async with session.get(emu.url + "/_emulator/stats") as resp:
            assert (await resp.json())["total"] == 1
        again = AsyncSSOClient("us-east-1", endpoint_url=emu.url, session=session)
        await again.list_accounts(accessToken=emu.token)
        # Dropping a client with a borrowed session does not warn: it owns nothing.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            del again
            gc.collect()


async def test_closed_borrowed_session(emu: PortalEmulator) -> None:
    """A borrowed session closed by its owner makes calls raise ClientClosedError, no I/O."""
    session = aiohttp.ClientSession()
    await session.close()
    sso = AsyncSSOClient("us-east-1", endpoint_url=emu.url, session=session, config=ONE_ATTEMPT)
    with pytest.raises(ClientClosedError, match="session"):
        await sso.list_accounts(accessToken=emu.token)
    await sso.close()
    assert emu.stats.total == 0


async def test_unclosed_owned_session_warns(emu: PortalEmulator) -> None:
    """An owned session left open warns ResourceWarning when the client is collected."""
    sso = AsyncSSOClient("us-east-1", endpoint_url=emu.url, config=ONE_ATTEMPT)
    await sso.list_accounts(accessToken=emu.token)
    # Keep the session alive past the client, so only aiosso's warning can fire here
    # (aiohttp's own "Unclosed client session" would come from collecting the session).
    session = sso._transport.session
    assert session is not None
    holder = [sso]
    del sso
    with pytest.warns(ResourceWarning, match=r"Unclosed <AsyncSSOClient .*async with"):
        _drop(holder)
    await session.close()


def _drop(objects: list[Any]) -> None:
    """Drop the last references and collect."""
    objects.clear()
    gc.collect()


async def test_cancelled_call_leaves_client_usable(emu: PortalEmulator) -> None:
    """Cancelling a call in flight does not break the client."""
    emu.fail_next("ListAccounts", delay=5.0)
    async with AsyncSSOClient("us-east-1", endpoint_url=emu.url, config=ONE_ATTEMPT) as sso:
        task = asyncio.create_task(sso.list_accounts(accessToken=emu.token))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        emu.clear_faults()
        page = await sso.list_accounts(accessToken=emu.token)
    assert page["accountList"]


async def test_two_thousand_concurrent_calls() -> None:
    """One client serves 2,000 concurrent calls within max_pool_connections connections."""
    # A little server latency makes concurrent requests overlap in the emulator's handler.
    async with PortalEmulator(accounts=3, faults=Faults(latency=0.005)) as emu:
        config = ClientConfig(max_pool_connections=20, retries={"total_max_attempts": 1})
        async with AsyncSSOClient("us-east-1", endpoint_url=emu.url, config=config) as sso:
            results = await asyncio.gather(
                *(sso.list_accounts(accessToken=emu.token) for _ in range(2000))
            )
        stats = emu.stats
    assert all(len(r["accountList"]) == 3 for r in results)
    assert stats.total == 2000
    assert stats.statuses == {200: 2000}
    assert 1 < stats.max_in_flight <= 20


# --------------------------------------------------------------------------- wire headers

GET_HEADERS = {
    "host",
    "user-agent",
    "accept-encoding",
    "x-amz-sso_bearer_token",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
}


@pytest.fixture
async def srv() -> AsyncIterator[ScriptedServer]:
    """A scripted server answering an empty account list."""
    async with ScriptedServer(Reply(body=b'{"accountList":[]}')) as server:
        yield server


@pytest.mark.parametrize("borrowed", [False, True])
async def test_request_headers_exactly(srv: ScriptedServer, borrowed: bool) -> None:
    """GETs carry exactly botocore's headers; Logout adds Content-Length: 0 and nothing else."""
    async with aiohttp.ClientSession() as session:
        sso = AsyncSSOClient(
            "us-east-1", endpoint_url=srv.url, session=session if borrowed else None
        )
        async with sso:
            await sso.list_accounts(accessToken="tok-1", maxResults=5)
            await sso.get_role_credentials(accessToken="tok-1", accountId="1", roleName="R")
            await sso.logout(accessToken="tok-2")
    get, creds, logout = srv.requests
    for request in (get, creds):
        assert request.method == "GET"
        assert set(request.header_names()) == GET_HEADERS
        assert request.body == b""
    assert get.raw_path == "/assignment/accounts?max_result=5"
    assert creds.raw_path == "/federation/credentials?account_id=1&role_name=R"
    assert logout.method == "POST"
    assert logout.raw_path == "/logout"
    assert set(logout.header_names()) == GET_HEADERS | {"content-length"}
    assert logout.header("content-length") == "0"
    assert logout.body == b""
    for request in (get, creds, logout):
        assert request.header("accept-encoding") == "identity"
        assert request.header("host") == srv.url.removeprefix("http://")
        assert len(request.header_names()) == len(set(request.header_names()))
    assert get.header("x-amz-sso_bearer_token") == "tok-1"
    assert logout.header("x-amz-sso_bearer_token") == "tok-2"
    for absent in ("authorization", "accept", "content-type", "x-amz-date", "x-amz-security-token"):
        assert all(absent not in r.header_names() for r in (get, creds, logout))


async def test_invocation_id_and_attempt_header(srv: ScriptedServer) -> None:
    """amz-sdk-invocation-id is a fresh uuid4 per call; amz-sdk-request is attempt=1; max=N."""
    config = ClientConfig(retries={"total_max_attempts": 3})
    async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config) as sso:
        for _ in range(5):
            await sso.list_accounts(accessToken="t")
    async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
        await sso.list_accounts(accessToken="t")
    ids = [r.header("amz-sdk-invocation-id") for r in srv.requests]
    assert len(set(ids)) == 6
    for value in ids:
        assert uuid.UUID(str(value)).version == 4
        assert str(uuid.UUID(str(value))) == value
    assert [r.header("amz-sdk-request") for r in srv.requests] == [
        *["attempt=1; max=3"] * 5,
        "attempt=1; max=10",
    ]


async def test_invocation_id_kept_across_retries(srv: ScriptedServer, no_sleep: None) -> None:
    """A retried call keeps its invocation id and counts attempts in amz-sdk-request."""
    srv.script(Reply(503, body=b""), Reply(500, body=b""))
    config = ClientConfig(retries={"total_max_attempts": 4})
    async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config) as sso:
        await sso.list_accounts(accessToken="t")
    assert len({r.header("amz-sdk-invocation-id") for r in srv.requests}) == 1
    assert [r.header("amz-sdk-request") for r in srv.requests] == [
        "attempt=1; max=4",
        "attempt=2; max=4",
        "attempt=3; max=4",
    ]


@pytest.mark.parametrize("mode", ["legacy", "standard", "adaptive"])
async def test_user_agent(srv: ScriptedServer, mode: str) -> None:
    """User-Agent: aiosso/<version> ua/2.1 ..., the retry mode, app id and extra at the end."""
    config = ClientConfig(
        retries={"mode": mode}, user_agent_appid="my-app", user_agent_extra="extra/1 x"
    )
    async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config) as sso:
        await sso.list_accounts(accessToken="t")
    ua = str(srv.requests[0].header("user-agent"))
    assert ua.startswith(f"aiosso/{aiosso.__version__} ua/2.1 os/")
    assert " lang/python#" in ua
    assert " md/pyimpl#" in ua
    assert ua.endswith(f" cfg/retry-mode#{mode} app/my-app extra/1 x")


async def test_user_agent_default_and_env_app_id(
    srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default UA ends with the retry mode; AWS_SDK_UA_APP_ID adds app/<id>; config wins."""
    async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
        await sso.list_accounts(accessToken="t")
    monkeypatch.setenv("AWS_SDK_UA_APP_ID", "from-env")
    async with AsyncSSOClient("us-east-1", endpoint_url=srv.url) as sso:
        await sso.list_accounts(accessToken="t")
    config = ClientConfig(user_agent_appid="from-config")
    async with AsyncSSOClient("us-east-1", endpoint_url=srv.url, config=config) as sso:
        await sso.list_accounts(accessToken="t")
    plain, env, explicit = (str(r.header("user-agent")) for r in srv.requests)
    assert plain.endswith(" cfg/retry-mode#adaptive")
    assert env == plain + " app/from-env"
    assert explicit == plain + " app/from-config"


# --------------------------------------------------------------------------- validation


async def test_validation_before_io(client: AsyncSSOClient, emu: PortalEmulator) -> None:
    """Every validation problem is reported at once, before any request."""
    with pytest.raises(ParamValidationError) as info:
        await client.list_account_roles(maxResults=0, Foo=1)  # type: ignore[call-arg,typeddict-unknown-key]
    assert str(info.value).splitlines() == [
        "Parameter validation failed:",
        'Missing required parameter in input: "accessToken"',
        'Missing required parameter in input: "accountId"',
        'Unknown parameter in input: "Foo", must be one of: '
        "nextToken, maxResults, accessToken, accountId",
        "Invalid value for parameter maxResults, value: 0, valid min value: 1",
    ]
    assert emu.stats.total == 0


@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize(
    "token", ["tok\r\nX-Injected: 1", "tok\n", "tok\x00", "t\u00f6k", 12345, b"bytes-token"]
)
async def test_unsafe_tokens_refused_before_io(
    emu: PortalEmulator, validate: bool, token: object
) -> None:
    """Header-unsafe or non-str tokens never reach the wire, even with validation off."""
    config = ClientConfig(parameter_validation=validate, retries={"total_max_attempts": 1})
    async with AsyncSSOClient("us-east-1", endpoint_url=emu.url, config=config) as sso:
        with pytest.raises(ParamValidationError) as info:
            await sso.logout(accessToken=token)  # type: ignore[arg-type]
    shown = token.decode() if isinstance(token, bytes) else str(token)
    assert shown not in str(info.value)
    assert emu.stats.total == 0


async def test_validation_off_sends_as_given(emu: PortalEmulator) -> None:
    """With parameter_validation=False, unknown names are ignored and values sent as given."""
    config = ClientConfig(parameter_validation=False, retries={"total_max_attempts": 1})
    async with AsyncSSOClient("us-east-1", endpoint_url=emu.url, config=config) as sso:
        page = await sso.list_accounts(accessToken=emu.token, Foo=1)  # type: ignore[typeddict-unknown-key]
        assert page["accountList"]
        with pytest.raises(InvalidRequestException):
            await sso.list_accounts(accessToken=emu.token, maxResults="abc")  # type: ignore[typeddict-item]
        with pytest.raises(UnauthorizedException):
            await sso.list_accounts(accessToken=None)  # type: ignore[typeddict-item]
    assert [r.query for r in emu.requests] == [(), (("max_result", "abc"),), ()]
    assert [r.token for r in emu.requests][2] is None


# --------------------------------------------------------------------------- secrets


async def test_secrets_never_in_reprs_messages_or_logs(
    emu: PortalEmulator, caplog: pytest.LogCaptureFixture, no_sleep: None
) -> None:
    """Tokens, secret keys and session tokens appear in no repr, str(e) or log record (DEBUG)."""
    caplog.set_level(logging.DEBUG)
    account = emu.organisation.accounts[0]
    token = emu.issue_token()
    secrets: list[str] = [token, emu.token]
    errors: list[BaseException] = []
    async with AsyncSSOClient("us-east-1", endpoint_url=emu.url) as sso:
        creds = await sso.get_role_credentials(
            accessToken=token, accountId=account.account_id, roleName=account.roles[0]
        )
        secrets += [
            creds["roleCredentials"]["secretAccessKey"],
            creds["roleCredentials"]["sessionToken"],
        ]
        await sso.list_accounts(accessToken=token)
        emu.fail_next("ListAccounts", status=429, code="TooManyRequestsException")
        emu.fail_next("ListAccounts", status=503)
        await sso.list_accounts(accessToken=token)
        expired = emu.issue_token()
        emu.expire_token(expired)
        secrets.append(expired)
        calls: list[Any] = [
            lambda: sso.list_accounts(accessToken=expired),
            lambda: sso.list_account_roles(accessToken=token, accountId="000000000000"),
            lambda: sso.list_accounts(accessToken=token, nextToken="forged"),
            lambda: sso.logout(accessToken=token, Foo=1),
            lambda: sso.logout(accessToken=token + "\r\n"),
            lambda: sso.logout(accessToken=token.encode()),
            lambda: sso.list_accounts(accessToken=[token]),
        ]
        for call in calls:
            try:
                await call()
            except AioSSOError as exc:
                errors.append(exc)
        emu.fail_next("Logout", kind="drop")
        async with AsyncSSOClient("us-east-1", endpoint_url=emu.url, config=ONE_ATTEMPT) as one:
            try:
                await one.logout(accessToken=token)
            except AioSSOError as exc:
                errors.append(exc)
        await sso.logout(accessToken=token)
        texts = [repr(sso), repr(sso.meta), str(sso.meta)]
    assert len(errors) == 8
    for exc in errors:
        texts += [str(exc), repr(exc), repr(getattr(exc, "response", None))]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.exc_text) for record in caplog.records]
    assert caplog.records, "expected some DEBUG logging to check"
    for secret in secrets:
        assert len(secret) > 20
        for text in texts:
            assert secret not in text
    gc.collect()
