"""Differential tests: botocore's sync ``sso`` client (the oracle) and AsyncSSOClient, side by side.

Both clients talk to the same server, one attempt each, and must agree on everything the caller
sees: result dicts (modulo request ids and dates), exception class names, ``str(e)``,
``e.response`` and ``e.operation_name``. botocore runs in legacy retry mode: with a single attempt
it is the mode whose ``MaxAttemptsReached`` marking matches aiosso's (set only on a retryable
failure; standard mode also sets it on every success). Where aiosso deliberately differs, the
test says so and asserts both sides.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _scripted import Reply, ScriptedServer

from aiosso import AsyncSSOClient, ClientConfig
from aiosso.testing import PortalEmulator, RateLimit

botocore = pytest.importorskip("botocore")
botocore_session = pytest.importorskip("botocore.session")
Config = pytest.importorskip("botocore.config").Config

NS = "http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"
API = {
    "get_role_credentials": "GetRoleCredentials",
    "list_account_roles": "ListAccountRoles",
    "list_accounts": "ListAccounts",
    "logout": "Logout",
}
Outcome = tuple[Any, ...]


@pytest.fixture(scope="module")
def oracle_session() -> Any:
    """One botocore session for the module (loading its data is the slow part)."""
    return botocore_session.get_session()


class Pair:
    """A botocore client and an AsyncSSOClient on the same endpoint, one attempt each."""

    def __init__(self, session: Any, url: str, **config: Any) -> None:
        self.oracle = session.create_client(
            "sso",
            region_name="us-east-1",
            endpoint_url=url,
            config=Config(
                signature_version=botocore.UNSIGNED,
                retries={"total_max_attempts": 1, "mode": "legacy"},
                **config,
            ),
        )
        self.client = AsyncSSOClient(
            "us-east-1",
            endpoint_url=url,
            config=ClientConfig(retries={"total_max_attempts": 1}, **config),
        )

    async def botocore(self, op: str, **kwargs: Any) -> Outcome:
        """The oracle's outcome (run in a thread so the loop keeps serving)."""
        try:
            result = await asyncio.to_thread(functools.partial(getattr(self.oracle, op), **kwargs))
        except Exception as exc:
            return describe_error(exc)
        return ("ok", normalise(result))

    async def aiosso(self, op: str, **kwargs: Any) -> Outcome:
        """AsyncSSOClient's outcome."""
        try:
            result = await getattr(self.client, op)(**kwargs)
        except Exception as exc:
            return describe_error(exc)
        return ("ok", normalise(result))

    async def close(self) -> None:
        """Close both clients."""
        self.oracle.close()
        await self.client.close()


def normalise(response: dict[str, Any]) -> dict[str, Any]:
    """Drop what legitimately differs between two requests: request ids, dates, secrets."""
    response = copy.deepcopy(response)
    md = response.get("ResponseMetadata", {})
    headers = md.get("HTTPHeaders", {})
    if _is_uuid(md.get("RequestId")) and headers.get("x-amzn-requestid") == md["RequestId"]:
        # The emulator's per-request ids; scripted ones are fixed and compared as they are.
        md["RequestId"] = "<id>"
        headers["x-amzn-requestid"] = "<id>"
    elif _is_uuid(headers.get("x-amzn-requestid")):
        headers["x-amzn-requestid"] = "<id>"
    md.get("HTTPHeaders", {}).pop("date", None)
    creds = response.get("roleCredentials")
    if isinstance(creds, dict):
        # Every call issues new credentials: compare their shape, not their values.
        response["roleCredentials"] = {k: type(v).__name__ for k, v in creds.items()}
    return response


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def describe_error(exc: Exception) -> Outcome:
    """What a caller can see of an exception."""
    response = getattr(exc, "response", None)
    return (
        "error",
        type(exc).__name__,
        str(exc),
        normalise(response) if response is not None else None,
        getattr(exc, "operation_name", None),
    )


@pytest.fixture
async def emu() -> AsyncIterator[PortalEmulator]:
    """A small organisation with two pages of accounts."""
    async with PortalEmulator(accounts=3, roles_per_account=2, page_size=2) as emulator:
        yield emulator


@pytest.fixture
async def pair(emu: PortalEmulator, oracle_session: Any) -> AsyncIterator[Pair]:
    """Both clients on the emulator."""
    both = Pair(oracle_session, emu.url)
    yield both
    await both.close()


async def same(pair: Pair, op: str, **kwargs: Any) -> Outcome:
    """Run the call on both clients; assert identical outcomes; return it."""
    expected = await pair.botocore(op, **kwargs)
    actual = await pair.aiosso(op, **kwargs)
    assert actual == expected
    if expected[0] == "ok":
        assert list(actual[1]) == list(expected[1])  # key order: ResponseMetadata, model order
    return actual


# --------------------------------------------------------------------------- successes


async def test_every_operation_succeeds_identically(pair: Pair, emu: PortalEmulator) -> None:
    """All four operations return the same dicts, key order included."""
    account = emu.organisation.accounts[0]
    first = await same(pair, "list_accounts", accessToken=emu.token)
    assert "nextToken" in first[1]
    token = first[1]["nextToken"]
    await same(pair, "list_accounts", accessToken=emu.token, nextToken=token)
    await same(pair, "list_accounts", accessToken=emu.token, maxResults=1)
    await same(pair, "list_accounts", accessToken=emu.token, maxResults=100)
    roles = await same(
        pair, "list_account_roles", accessToken=emu.token, accountId=account.account_id
    )
    assert roles[1]["roleList"][0]["accountId"] == account.account_id
    creds = await same(
        pair,
        "get_role_credentials",
        accessToken=emu.token,
        accountId=account.account_id,
        roleName=account.roles[0],
    )
    assert creds[1]["roleCredentials"] == {
        "accessKeyId": "str",
        "secretAccessKey": "str",
        "sessionToken": "str",
        "expiration": "int",
    }
    one, two = emu.issue_token(), emu.issue_token()
    assert await pair.botocore("logout", accessToken=one) == await pair.aiosso(
        "logout", accessToken=two
    )


async def test_null_next_token_is_omitted(oracle_session: Any) -> None:
    """A last page with "nextToken": null has no nextToken key in either client."""
    async with PortalEmulator(accounts=1, null_next_token=True) as emu:
        both = Pair(oracle_session, emu.url)
        try:
            outcome = await same(both, "list_accounts", accessToken=emu.token)
        finally:
            await both.close()
    assert "nextToken" not in outcome[1]


async def test_requests_are_the_same_on_the_wire(oracle_session: Any) -> None:
    """Same method, path, query, token header, Accept-Encoding and amz-sdk-request."""
    async with ScriptedServer(Reply(body=b'{"accountList":[]}')) as srv:
        both = Pair(oracle_session, srv.url)
        try:
            calls = [
                (
                    "list_accounts",
                    {"accessToken": "t", "maxResults": 5, "nextToken": "a b+c/!\u00e9"},
                ),
                ("list_account_roles", {"accountId": "1", "accessToken": "t", "nextToken": ""}),
                ("get_role_credentials", {"accountId": "1", "roleName": "R", "accessToken": "t"}),
                ("logout", {"accessToken": "t"}),
            ]
            for op, kwargs in calls:
                await both.botocore(op, **kwargs)
                await both.aiosso(op, **kwargs)
        finally:
            await both.close()
    requests = srv.requests
    assert len(requests) == 8
    for theirs, ours in zip(requests[::2], requests[1::2], strict=True):
        assert (ours.method, ours.raw_path, ours.body) == (theirs.method, theirs.raw_path, b"")
        assert sorted(ours.header_names()) == sorted(theirs.header_names())
        for name in ("host", "accept-encoding", "x-amz-sso_bearer_token"):
            assert ours.header(name) == theirs.header(name)
        # botocore's legacy mode omits max on attempt 1; aiosso always states it.
        assert theirs.header("amz-sdk-request") == "attempt=1"
        assert ours.header("amz-sdk-request") == "attempt=1; max=1"
        assert ours.header("content-length") == theirs.header("content-length")


# --------------------------------------------------------------------------- service errors


async def test_unauthorized_tokens(pair: Pair, emu: PortalEmulator) -> None:
    """Unknown, empty, expired, revoked and logged-out tokens: the same 401 everywhere."""
    expired = emu.issue_token()
    emu.expire_token(expired)
    revoked = emu.issue_token()
    emu.revoke_token(revoked)
    for token in ("unknown-token", "", expired, revoked):
        for op, extra in (
            ("list_accounts", {}),
            ("list_account_roles", {"accountId": emu.organisation.accounts[0].account_id}),
            ("get_role_credentials", {"accountId": "111122223333", "roleName": "R"}),
            ("logout", {}),
        ):
            outcome = await same(pair, op, accessToken=token, **extra)
            assert outcome[1] == "UnauthorizedException"
    logged_out = emu.issue_token()
    await pair.client.logout(accessToken=logged_out)
    outcome = await same(pair, "list_accounts", accessToken=logged_out)
    assert outcome[2] == (
        "An error occurred (UnauthorizedException) when calling the ListAccounts operation: "
        "Session token not found or invalid"
    )
    assert outcome[3]["message"] == "Session token not found or invalid"


async def test_not_found_and_forbidden(pair: Pair, emu: PortalEmulator) -> None:
    """404 unknown account is modeled; the real service's 403 ForbiddenException is ClientError."""
    account, other = emu.organisation.accounts[0], emu.organisation.accounts[1]
    outcome = await same(
        pair, "list_account_roles", accessToken=emu.token, accountId="000000000000"
    )
    assert outcome[1:3] == (
        "ResourceNotFoundException",
        "An error occurred (ResourceNotFoundException) when calling the ListAccountRoles "
        "operation: Account not found",
    )
    await same(
        pair, "get_role_credentials", accessToken=emu.token, accountId="000000000000", roleName="x"
    )
    outcome = await same(
        pair,
        "get_role_credentials",
        accessToken=emu.token,
        accountId=account.account_id,
        roleName="NotAssigned",
    )
    assert outcome[1] == "ClientError"
    assert outcome[3]["Error"] == {"Message": "No access", "Code": "ForbiddenException"}
    assert "message" not in outcome[3]
    restricted = emu.issue_token(accounts=[account.account_id])
    await same(pair, "list_account_roles", accessToken=restricted, accountId=other.account_id)


async def test_bad_next_tokens(pair: Pair, emu: PortalEmulator) -> None:
    """A forged or foreign nextToken: the same 400 InvalidRequestException."""
    account = emu.organisation.accounts[0]
    page = await pair.client.list_accounts(accessToken=emu.token)
    foreign = page["nextToken"]
    outcome = await same(pair, "list_accounts", accessToken=emu.token, nextToken="forged")
    assert outcome[1] == "InvalidRequestException"
    await same(pair, "list_accounts", accessToken=emu.token, nextToken="")
    await same(
        pair,
        "list_account_roles",
        accessToken=emu.token,
        accountId=account.account_id,
        nextToken=foreign,
    )
    await same(pair, "list_accounts", accessToken=emu.issue_token(), nextToken=foreign)


async def test_throttled_by_rate_limit(pair: Pair, emu: PortalEmulator) -> None:
    """A 429 from the service's rate limit reads the same, including the max-retries note."""
    outcomes = []
    for run in (pair.botocore, pair.aiosso):
        emu.rate_limit = RateLimit(rate=0.001, burst=1)
        assert (await run("list_accounts", accessToken=emu.token))[0] == "ok"
        outcomes.append(await run("list_accounts", accessToken=emu.token))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][1] == "TooManyRequestsException"
    assert outcomes[1][2] == (
        "An error occurred (TooManyRequestsException) when calling the ListAccounts operation "
        "(reached max retries: 0): Too many requests"
    )
    assert outcomes[1][3]["ResponseMetadata"]["MaxAttemptsReached"] is True


INJECTED = [
    {"status": 429, "code": "TooManyRequestsException"},
    {"status": 429},
    {"status": 400, "code": "ThrottlingException"},
    {"status": 500, "code": "InternalServerError", "message": "oops"},
    {"status": 500},
    {"status": 502},
    {"status": 503},
    {"status": 504},
    {"status": 400},
    {"status": 403},
    {"status": 404},
    {"status": 403, "code": "ForbiddenException", "message": "No access"},
    {"status": 400, "code": "InvalidRequestException", "message": "bad"},
    {"status": 401, "code": "UnauthorizedException"},
    {"status": 404, "code": "ResourceNotFoundException", "message": "gone"},
]


@pytest.mark.parametrize("op", ["list_accounts", "logout"])
@pytest.mark.parametrize("injection", INJECTED, ids=lambda i: "-".join(map(str, i.values())))
async def test_injected_errors(
    pair: Pair, emu: PortalEmulator, op: str, injection: dict[str, Any]
) -> None:
    """Injected service, proxy and throttling errors read the same in both clients."""
    outcomes = []
    for run in (pair.botocore, pair.aiosso):
        emu.fail_next(API[op], **injection)
        outcomes.append(await run(op, accessToken=emu.token))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][0] == "error"


async def test_dropped_connection(pair: Pair, emu: PortalEmulator) -> None:
    """A connection dropped without a reply is ConnectionClosedError naming the URL in both."""
    outcomes = []
    for run in (pair.botocore, pair.aiosso):
        emu.fail_next("Logout", kind="drop")
        outcomes.append(await run("logout", accessToken=emu.token))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][:3] == (
        "error",
        "ConnectionClosedError",
        "Connection was closed before we received a valid response from endpoint URL: "
        f'"{emu.url}/logout".',
    )


async def test_dropped_connection_on_get(pair: Pair, emu: PortalEmulator) -> None:
    """A GET dropped every time is ConnectionClosedError (aiohttp reconnects once on its own)."""
    emu.fail_next("ListAccounts", kind="drop")
    expected = await pair.botocore("list_accounts", accessToken=emu.token)
    emu.fail_next("ListAccounts", count=2, kind="drop")
    assert await pair.aiosso("list_accounts", accessToken=emu.token) == expected
    assert expected[1] == "ConnectionClosedError"


async def test_deliberate_max_results_above_100(pair: Pair, emu: PortalEmulator) -> None:
    """Deliberate: maxResults > 100 is refused client-side; botocore sends it and gets a 400."""
    theirs = await pair.botocore("list_accounts", accessToken=emu.token, maxResults=1000)
    assert theirs[1] == "InvalidRequestException"
    before = emu.stats.total
    ours = await pair.aiosso("list_accounts", accessToken=emu.token, maxResults=1000)
    assert ours[:3] == (
        "error",
        "ParamValidationError",
        "Parameter validation failed:\n"
        "Invalid value for parameter maxResults, value: 1000, valid max value: 100",
    )
    assert emu.stats.total == before


async def test_deliberate_malformed_and_truncated_success(pair: Pair, emu: PortalEmulator) -> None:
    """Deliberate: a 200 with broken JSON or a cut body is an error; botocore returns {}."""
    emu.fail_next("ListAccounts", kind="malformed_json")
    theirs = await pair.botocore("list_accounts", accessToken=emu.token)
    assert theirs[0] == "ok"
    assert list(theirs[1]) == ["ResponseMetadata"]
    emu.fail_next("ListAccounts", kind="malformed_json")
    ours = await pair.aiosso("list_accounts", accessToken=emu.token)
    assert ours[:3] == (
        "error",
        "ResponseParserError",
        "Unable to parse response for the ListAccounts operation: "
        "HTTP 200 with a body that is not JSON",
    )
    account = emu.organisation.accounts[0].account_id
    emu.fail_next("ListAccountRoles", kind="truncated_body")
    theirs = await pair.botocore("list_account_roles", accessToken=emu.token, accountId=account)
    assert theirs[0] == "ok"
    assert list(theirs[1]) == ["ResponseMetadata"]
    emu.fail_next("ListAccountRoles", count=2, kind="truncated_body")
    ours = await pair.aiosso("list_account_roles", accessToken=emu.token, accountId=account)
    assert ours[1] == "ConnectionClosedError"


# --------------------------------------------------------------------------- bad inputs

BAD_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("list_accounts", {}),
    ("list_accounts", {"accessToken": "t", "maxResults": 0}),
    ("list_accounts", {"accessToken": "t", "maxResults": -1}),
    ("list_accounts", {"accessToken": "t", "maxResults": "5"}),
    ("list_accounts", {"accessToken": "t", "maxResults": 5.0}),
    ("list_accounts", {"accessToken": "t", "maxResults": None}),
    ("list_accounts", {"accessToken": "t", "nextToken": None}),
    ("list_accounts", {"accessToken": "t", "nextToken": 3}),
    ("list_accounts", {"accessToken": "t", "Foo": 1, "maxResults": "x", "Bar": 2}),
    ("list_accounts", {"Foo": 1, "maxResults": "x", "nextToken": b"x"}),
    ("list_accounts", {"accessToken": "t", "NextToken": "x"}),
    ("list_account_roles", {"accessToken": "t"}),
    ("list_account_roles", {"accountId": ["x"], "maxResults": 0, "zz": 1}),
    ("list_account_roles", {"accessToken": "t", "accountId": 111122223333}),
    ("get_role_credentials", {}),
    ("get_role_credentials", {"accountId": 1, "roleName": None}),
    ("get_role_credentials", {"roleName": "r", "accountId": "1", "accessToken": "t", "x": 1}),
    ("logout", {}),
    ("logout", {"accessToken": "t", "nextToken": "x"}),
]


@pytest.mark.parametrize(("op", "kwargs"), BAD_INPUTS, ids=lambda v: str(v)[:40])
async def test_bad_inputs(pair: Pair, emu: PortalEmulator, op: str, kwargs: dict[str, Any]) -> None:
    """Missing, unknown, mistyped, None and too-small parameters: the same report, no I/O."""
    before = emu.stats.total
    outcome = await same(pair, op, **kwargs)
    assert outcome[:2] == ("error", "ParamValidationError")
    assert emu.stats.total == before


@pytest.mark.parametrize("token", [None, 5, b"token-bytes", ["token-list"]])
async def test_deliberate_token_type_errors_are_redacted(pair: Pair, token: object) -> None:
    """Deliberate: a mistyped accessToken is reported as botocore does, minus its value."""
    theirs = await pair.botocore("logout", accessToken=token)
    ours = await pair.aiosso("logout", accessToken=token)
    assert theirs[1] == ours[1] == "ParamValidationError"
    assert ours[2] == theirs[2].replace(f"value: {token}, ", "value: <redacted>, ")
    assert ours[2] != theirs[2]


async def test_positional_arguments(pair: Pair) -> None:
    """Positional arguments are a TypeError in both clients."""
    with pytest.raises(TypeError):
        pair.oracle.list_accounts("t")
    with pytest.raises(TypeError):
        await pair.client.list_accounts("t")  # type: ignore[misc]


def test_client_surface_matches(oracle_session: Any) -> None:
    """Method names, meta, exceptions, can_paginate, get_paginator errors and waiters agree."""
    oracle = oracle_session.create_client(
        "sso", region_name="us-gov-west-1", config=Config(signature_version=botocore.UNSIGNED)
    )
    client = AsyncSSOClient("us-gov-west-1")
    try:
        assert client.meta.method_to_api_mapping == oracle.meta.method_to_api_mapping
        assert client.meta.partition == oracle.meta.partition
        assert client.meta.region_name == oracle.meta.region_name
        assert client.meta.service_id == oracle.meta.service_model.service_id
        assert client.waiter_names == oracle.waiter_names == []
        for name in oracle.meta.method_to_api_mapping:
            assert callable(getattr(client, name))
            assert client.can_paginate(name) == oracle.can_paginate(name)
        for name in ("get_role_credentials", "logout"):
            with pytest.raises(Exception) as theirs:
                oracle.get_paginator(name)
            with pytest.raises(Exception) as ours:
                client.get_paginator(name)
            assert type(ours.value).__name__ == type(theirs.value).__name__
            assert str(ours.value) == str(theirs.value)
        with pytest.raises(ValueError) as theirs_w:
            oracle.get_waiter("x")
        with pytest.raises(ValueError) as ours_w:
            client.get_waiter("x")
        assert str(ours_w.value) == str(theirs_w.value)
        for code in ("UnauthorizedException", "ForbiddenException", "InvalidRequestException"):
            assert (
                client.exceptions.from_code(code).__name__
                == oracle.exceptions.from_code(code).__name__
            )
        modeled = [n for n in dir(oracle.exceptions) if n.endswith("Exception")]
        for name in [*modeled, "ClientError"]:
            assert getattr(client.exceptions, name).__name__ == name
    finally:
        oracle.close()


def test_deliberate_can_paginate_unknown_names(oracle_session: Any) -> None:
    """Deliberate: can_paginate is False for unknown names, where botocore raises KeyError."""
    oracle = oracle_session.create_client(
        "sso", region_name="us-east-1", config=Config(signature_version=botocore.UNSIGNED)
    )
    try:
        with pytest.raises(KeyError):
            oracle.can_paginate("ListAccounts")
    finally:
        oracle.close()
    client = AsyncSSOClient("us-east-1")
    assert client.can_paginate("ListAccounts") is False
    assert client.can_paginate("nope") is False


# --------------------------------------------------------------------------- scripted replies

SCRIPTED: list[tuple[str, int, tuple[tuple[str, str], ...], bytes]] = [
    (
        "list_accounts",
        401,
        (("x-amzn-ErrorType", f"UnauthorizedException:{NS}"), ("x-amzn-RequestId", "r1")),
        b'{"message":"Session token not found or invalid"}',
    ),
    ("list_accounts", 404, (), b'{"code":"ResourceNotFoundException","Message":"M2"}'),
    ("list_accounts", 403, (), b'{"message":"forbidden"}'),
    ("list_accounts", 403, (), b"<html><body>Blocked by proxy</body></html>"),
    ("list_accounts", 502, (("x-amzn-RequestId", "r1"),), b"<html><body>bad</body></html>"),
    ("list_accounts", 503, (), b""),
    ("list_accounts", 504, (), b"  \n<html>x"),
    ("list_accounts", 599, (), b""),
    ("list_accounts", 500, (), b"<!DOCTYPE html><html></html>"),
    ("list_accounts", 500, (), b'{"__type":"InternalServerError","message":"oops"}'),
    ("list_accounts", 500, (), b"Internal failure"),
    ("list_accounts", 400, (), b""),
    ("list_accounts", 400, (), b"   "),
    ("list_accounts", 400, (), b'{"__type":"WeirdException"}'),
    (
        "list_accounts",
        429,
        (("x-amzn-errortype", "TooManyRequestsException"),),
        b'{"__type":"InvalidRequestException","message":"m"}',
    ),
    ("list_accounts", 400, (), b'{"__type":"A#InvalidRequestException","Code":"Other"}'),
    (
        "list_accounts",
        401,
        (),
        b'{"__type":"com.amazonaws.switchboard.portal#UnauthorizedException"}',
    ),
    (
        "list_accounts",
        400,
        (),
        b'{"__type":"a.b#InvalidRequestException:x","message":"m","Message":"M"}',
    ),
    ("list_accounts", 400, (), b'{"__type":null}'),
    ("list_accounts", 400, (), b'{"__type":"X","code":null,"message":null}'),
    ("list_accounts", 400, (), b'{"message": "caf\xc3\xa9"}'),
    (
        "list_accounts",
        404,
        (("x-amz-request-id", "rid"), ("x-amz-id-2", "hid")),
        b'{"message":"x","__type":"ResourceNotFoundException"}',
    ),
    ("list_accounts", 400, (("X-Amzn-ErrorType", "UnauthorizedException"),), b"{}"),
    (
        "list_accounts",
        404,
        (("x-amzn-ErrorType", "InvalidRequestException:x"),),
        b'{"Message":"upper"}',
    ),
    ("list_accounts", 301, (("Location", "http://127.0.0.1:1/"),), b""),
    ("list_accounts", 304, (), b""),
    (
        "list_accounts",
        200,
        (("x-amz-request-id", "rid"), ("x-amz-id-2", "hid")),
        b'{"accountList":[],"extra":1,"nextToken":null}',
    ),
    (
        "list_accounts",
        200,
        (("x-amz-request-id", "rid"),),
        b'{"accountList":[{"accountId":"1","zz":2,"accountName":null}]}',
    ),
    (
        "list_accounts",
        200,
        (("X-Custom", "a"), ("X-Custom", "b")),
        b'{"accountList":[{"accountId":"1","emailAddress":"e"}],"nextToken":"n"}',
    ),
    ("list_accounts", 201, (), b'{"nextToken":"n"}'),
    (
        "get_role_credentials",
        200,
        (),
        b'{"roleCredentials":{"accessKeyId":"A","expiration":"123"}}',
    ),
    ("get_role_credentials", 200, (), b'{"roleCredentials":{"expiration":1.7e12}}'),
    ("get_role_credentials", 200, (), b'{"roleCredentials":null}'),
    ("get_role_credentials", 200, (), b"{}"),
    ("list_accounts", 401, (("x-amzn-ErrorType", "UnauthorizedException"),), b"Denied"),
    ("list_accounts", 429, (("x-amzn-ErrorType", "TooManyRequestsException"),), b""),
    ("list_accounts", 500, (("x-amzn-ErrorType", "InvalidRequestException"),), b""),
    ("list_accounts", 400, (("x-amzn-ErrorType", "ThrottlingException"),), b"{}"),
    ("logout", 200, (), b""),
    ("logout", 200, (), b'{"x":1}'),
    ("logout", 200, (), b"<html>"),
    ("logout", 204, (), b""),
    ("logout", 401, (("x-amzn-ErrorType", "UnauthorizedException"),), b'{"message":"gone"}'),
]

KWARGS = {
    "list_accounts": {"accessToken": "t"},
    "get_role_credentials": {"accessToken": "t", "accountId": "1", "roleName": "r"},
    "logout": {"accessToken": "t"},
}


@pytest.fixture
async def scripted(oracle_session: Any) -> AsyncIterator[tuple[ScriptedServer, Pair]]:
    """A scripted server and both clients on it."""
    async with ScriptedServer() as srv:
        both = Pair(oracle_session, srv.url)
        yield srv, both
        await both.close()


async def run_scripted(
    scripted: tuple[ScriptedServer, Pair], op: str, reply: Reply
) -> tuple[Outcome, Outcome]:
    """Serve the same reply to botocore then aiosso; return both outcomes."""
    srv, both = scripted
    srv.script(reply, reply)
    theirs = await both.botocore(op, **KWARGS[op])
    ours = await both.aiosso(op, **KWARGS[op])
    return theirs, ours


@pytest.mark.parametrize(
    ("op", "status", "headers", "body"), SCRIPTED, ids=[f"{r[1]}-{r[3][:24]!r}" for r in SCRIPTED]
)
async def test_scripted_replies(
    scripted: tuple[ScriptedServer, Pair],
    op: str,
    status: int,
    headers: tuple[tuple[str, str], ...],
    body: bytes,
) -> None:
    """Exact reply bytes (§3.2/§3.3 and success edge cases) parse the same in both clients."""
    theirs, ours = await run_scripted(scripted, op, Reply(status, headers, body))
    assert ours == theirs
    if theirs[0] == "ok":
        assert list(ours[1]) == list(theirs[1])
    else:
        assert list(ours[3]) == list(theirs[3])
        assert list(ours[3]["Error"]) == list(theirs[3]["Error"])


# Deliberate differences: botocore's outcome (type name, str or result keys) vs aiosso's.
DELIBERATE: list[tuple[str, int, bytes, str, str]] = [
    # 2xx bodies that are not the promised JSON: botocore {} or a crash; aiosso a parser error.
    ("list_accounts", 200, b"<html>captive</html>", "ok", "ResponseParserError"),
    ("list_accounts", 200, b"", "ok", "ResponseParserError"),
    ("list_accounts", 200, b"[]", "AttributeError", "ResponseParserError"),
    ("list_accounts", 200, b'{"accountList":"x"}', "AttributeError", "ResponseParserError"),
    ("list_accounts", 200, b'{"accountList":[1]}', "AttributeError", "ResponseParserError"),
    ("list_accounts", 200, b'{"accountList":[{"accountId":5}]}', "ok", "ResponseParserError"),
    (
        "get_role_credentials",
        200,
        b'{"roleCredentials":{"expiration":"soon"}}',
        "ValueError",
        "ResponseParserError",
    ),
    (
        "get_role_credentials",
        200,
        b'{"roleCredentials":{"expiration":true}}',
        "ok",
        "ResponseParserError",
    ),
    # Error bodies botocore crashes on: aiosso still raises a ClientError.
    ("list_accounts", 400, b"[1,2]", "AttributeError", "ClientError"),
    ("list_accounts", 400, b"null", "AttributeError", "ClientError"),
    ("list_accounts", 400, b'{"__type":5}', "TypeError", "ClientError"),
    ("list_accounts", 400, b"\xff\xfe bad", "UnicodeDecodeError", "ClientError"),
]


@pytest.mark.parametrize(
    ("op", "status", "body", "botocore_kind", "aiosso_kind"),
    DELIBERATE,
    ids=[f"{r[1]}-{r[2][:24]!r}" for r in DELIBERATE],
)
async def test_scripted_deliberate_differences(
    scripted: tuple[ScriptedServer, Pair],
    op: str,
    status: int,
    body: bytes,
    botocore_kind: str,
    aiosso_kind: str,
) -> None:
    """Deliberate: where botocore returns {} or crashes, aiosso raises a clear AioSSOError."""
    theirs, ours = await run_scripted(scripted, op, Reply(status, (), body))
    assert theirs[0 if botocore_kind == "ok" else 1] == botocore_kind
    assert ours[1] == aiosso_kind
    if aiosso_kind == "ClientError":
        error = ours[3]["Error"]
        assert isinstance(error["Code"], str)
        assert isinstance(error["Message"], str)
        assert ours[2] == (
            f"An error occurred ({error['Code']}) when calling the {API[op]} operation: "
            f"{error['Message']}"
        )


async def test_scripted_deliberate_non_string_code_and_message(
    scripted: tuple[ScriptedServer, Pair],
) -> None:
    """Deliberate: non-string JSON code/message become str (botocore keeps 5 and 7)."""
    theirs, ours = await run_scripted(scripted, "logout", Reply(400, (), b'{"code":5,"message":7}'))
    assert theirs[3]["Error"] == {"Message": 7, "Code": 5}
    assert ours[3]["Error"] == {"Message": "7", "Code": "5"}
    assert ours[:3] == theirs[:3]


async def test_scripted_deliberate_status_300(scripted: tuple[ScriptedServer, Pair]) -> None:
    """Deliberate: a 300 is a ClientError coded "300"; botocore parses it as a success first."""
    theirs, ours = await run_scripted(scripted, "logout", Reply(300, (), b"{}"))
    assert theirs[2] == "An error occurred (Unknown) when calling the Logout operation: Unknown"
    assert "Error" not in theirs[3]
    assert ours[2] == "An error occurred (300) when calling the Logout operation: "
    assert ours[3]["Error"] == {"Message": "", "Code": "300"}
