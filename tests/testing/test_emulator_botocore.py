"""Fidelity proof: botocore's own sync ``sso`` client parses the emulator as the real service."""

from __future__ import annotations

import asyncio
import functools
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from aiosso.testing import Organisation, PortalEmulator, RateLimit

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError

MODELED = (
    "InvalidRequestException",
    "ResourceNotFoundException",
    "TooManyRequestsException",
    "UnauthorizedException",
)


async def call(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Run a blocking botocore call off the loop so the emulator keeps serving."""
    return await asyncio.to_thread(functools.partial(fn, **kwargs))


async def raises(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Run a botocore call that must fail; return the ClientError."""
    with pytest.raises(ClientError) as info:
        await call(fn, **kwargs)
    return info.value


def assert_service_error(err: Any, client: Any, code: str, message: str, status: int) -> None:
    """The error is what botocore makes of a real service error with that code."""
    assert err.response["Error"] == {"Message": message, "Code": code}
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == status
    uuid.UUID(err.response["ResponseMetadata"]["RequestId"])
    if code in MODELED:
        assert type(err) is getattr(client.exceptions, code)
        assert err.response["message"] == message
    else:
        assert type(err) is ClientError


def drain(client: Any, operation: str, pagination: dict[str, Any], **kwargs: Any) -> list[Any]:
    """All pages of a botocore paginator (blocking)."""
    paginator = client.get_paginator(operation)
    return list(paginator.paginate(PaginationConfig=pagination, **kwargs))


async def test_get_role_credentials_parses(botocore_sso: Any) -> None:
    """GetRoleCredentials returns the four credential fields, expiration in epoch ms."""
    async with PortalEmulator(credentials_ttl=900) as emu:
        client = botocore_sso(emu.url)
        account = emu.organisation.accounts[0]
        before = time.time()
        response = await call(
            client.get_role_credentials,
            accessToken=emu.token,
            accountId=account.account_id,
            roleName=account.roles[0],
        )
    creds = response["roleCredentials"]
    assert set(creds) == {"accessKeyId", "secretAccessKey", "sessionToken", "expiration"}
    assert creds["accessKeyId"].startswith("ASIA")
    assert len(creds["accessKeyId"]) == 20
    assert len(creds["secretAccessKey"]) == 40
    assert isinstance(creds["expiration"], int)
    assert before + 899 < creds["expiration"] / 1000 < time.time() + 901
    meta = response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 200
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]


async def test_list_accounts_and_roles_parse(botocore_sso: Any) -> None:
    """ListAccounts and ListAccountRoles return the model's items, without nextToken at the end."""
    org = Organisation.from_mapping({"111122223333": ["Admin", "ReadOnly"], "444455556666": []})
    async with PortalEmulator(organisation=org) as emu:
        client = botocore_sso(emu.url)
        accounts = await call(client.list_accounts, accessToken=emu.token)
        roles = await call(
            client.list_account_roles, accessToken=emu.token, accountId="111122223333"
        )
        empty = await call(
            client.list_account_roles, accessToken=emu.token, accountId="444455556666"
        )
    assert accounts["accountList"] == [
        {
            "accountId": "111122223333",
            "accountName": "Account 111122223333",
            "emailAddress": "aws+111122223333@example.com",
        },
        {
            "accountId": "444455556666",
            "accountName": "Account 444455556666",
            "emailAddress": "aws+444455556666@example.com",
        },
    ]
    assert "nextToken" not in accounts
    assert roles["roleList"] == [
        {"roleName": "Admin", "accountId": "111122223333"},
        {"roleName": "ReadOnly", "accountId": "111122223333"},
    ]
    assert empty["roleList"] == []


async def test_logout_then_token_is_unauthorized(botocore_sso: Any) -> None:
    """Logout answers an empty 200 (only ResponseMetadata) and invalidates the token."""
    async with PortalEmulator() as emu:
        client = botocore_sso(emu.url)
        response = await call(client.logout, accessToken=emu.token)
        err = await raises(client.list_accounts, accessToken=emu.token)
        again = await raises(client.logout, accessToken=emu.token)
    assert set(response) == {"ResponseMetadata"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    msg = "Session token not found or invalid"
    assert_service_error(err, client, "UnauthorizedException", msg, 401)
    assert_service_error(again, client, "UnauthorizedException", msg, 401)


@pytest.mark.parametrize("how", ["unknown", "issued-expired", "expired-later", "revoked"])
async def test_bad_tokens_raise_unauthorized(botocore_sso: Any, how: str) -> None:
    """Unknown, expired or revoked tokens raise the modeled UnauthorizedException everywhere."""
    async with PortalEmulator() as emu:
        client = botocore_sso(emu.url)
        token = "not-a-token" if how == "unknown" else emu.issue_token()
        if how == "issued-expired":
            token = emu.issue_token(expires_in=0)
        elif how == "expired-later":
            emu.expire_token(token)
        elif how == "revoked":
            emu.revoke_token(token)
        account = emu.organisation.accounts[0]
        calls: list[tuple[Callable[..., Any], dict[str, Any]]] = [
            (client.list_accounts, {}),
            (client.list_account_roles, {"accountId": account.account_id}),
            (client.get_role_credentials, {"accountId": account.account_id, "roleName": "x"}),
            (client.logout, {}),
        ]
        for fn, kwargs in calls:
            err = await raises(fn, accessToken=token, **kwargs)
            msg = "Session token not found or invalid"
            assert_service_error(err, client, "UnauthorizedException", msg, 401)


async def test_unknown_account_raises_resource_not_found(botocore_sso: Any) -> None:
    """An account id outside the organisation raises the modeled ResourceNotFoundException."""
    async with PortalEmulator() as emu:
        client = botocore_sso(emu.url)
        roles = await raises(client.list_account_roles, accessToken=emu.token, accountId="0" * 12)
        creds = await raises(
            client.get_role_credentials, accessToken=emu.token, accountId="0" * 12, roleName="A"
        )
    for err in (roles, creds):
        assert_service_error(err, client, "ResourceNotFoundException", "Account not found", 404)


async def test_role_not_held_is_plain_client_error_forbidden(botocore_sso: Any) -> None:
    """A role not held (or a hidden account) is the unmodeled ForbiddenException 'No access'."""
    async with PortalEmulator(accounts=2) as emu:
        client = botocore_sso(emu.url)
        first, second = emu.organisation.accounts
        narrow = emu.issue_token(accounts=[first.account_id])
        no_role = await raises(
            client.get_role_credentials,
            accessToken=emu.token,
            accountId=first.account_id,
            roleName="NotARole",
        )
        hidden_creds = await raises(
            client.get_role_credentials,
            accessToken=narrow,
            accountId=second.account_id,
            roleName=second.roles[0],
        )
        hidden_roles = await raises(
            client.list_account_roles, accessToken=narrow, accountId=second.account_id
        )
    for err in (no_role, hidden_creds, hidden_roles):
        assert_service_error(err, client, "ForbiddenException", "No access", 403)
        # Older botocore releases add " (reached max retries: 0)" to an error it never retried.
        assert re.search(r"operation( \(reached max retries: 0\))?: No access$", str(err))


async def test_max_results_above_100_is_invalid_request(botocore_sso: Any) -> None:
    """maxResults=101 passes botocore's validation; the service answers InvalidRequestException."""
    async with PortalEmulator() as emu:
        client = botocore_sso(emu.url)
        account_id = emu.organisation.accounts[0].account_id
        errs = [
            await raises(client.list_accounts, accessToken=emu.token, maxResults=101),
            await raises(
                client.list_account_roles,
                accessToken=emu.token,
                accountId=account_id,
                maxResults=1000,
            ),
        ]
    msg = "ResultSize parameter must be within the valid limits of: 1-100"
    for err in errs:
        assert_service_error(err, client, "InvalidRequestException", msg, 400)


async def test_forged_and_foreign_next_tokens_are_invalid_request(botocore_sso: Any) -> None:
    """A forged nextToken, or one issued to another token/operation/account, raises 400."""
    async with PortalEmulator(accounts=3, roles_per_account=3, page_size=1) as emu:
        client = botocore_sso(emu.url)
        a, b = emu.organisation.accounts[:2]
        other = emu.issue_token()
        accounts_token = (await call(client.list_accounts, accessToken=emu.token))["nextToken"]
        roles_a = await call(
            client.list_account_roles, accessToken=emu.token, accountId=a.account_id
        )
        roles_token = roles_a["nextToken"]
        attempts = [
            (client.list_accounts, {"accessToken": emu.token, "nextToken": "forged"}),
            (client.list_accounts, {"accessToken": emu.token, "nextToken": accounts_token[:-4]}),
            (client.list_accounts, {"accessToken": other, "nextToken": accounts_token}),
            (client.list_accounts, {"accessToken": emu.token, "nextToken": roles_token}),
            (
                client.list_account_roles,
                {"accessToken": emu.token, "accountId": b.account_id, "nextToken": roles_token},
            ),
            (
                client.list_account_roles,
                {"accessToken": emu.token, "accountId": a.account_id, "nextToken": accounts_token},
            ),
        ]
        for fn, kwargs in attempts:
            err = await raises(fn, **kwargs)
            msg = "The pagination token provided is invalid"
            assert_service_error(err, client, "InvalidRequestException", msg, 400)


async def test_throttling_raises_too_many_requests(botocore_sso: Any) -> None:
    """The rate limiter's 429 is botocore's modeled TooManyRequestsException, headers intact."""
    limit = RateLimit(rate=0.001, burst=1, retry_after=True, amz_retry_after=True)
    async with PortalEmulator(rate_limit=limit) as emu:
        client = botocore_sso(emu.url)
        await call(client.list_accounts, accessToken=emu.token)
        err = await raises(client.list_accounts, accessToken=emu.token)
        assert emu.stats.throttled == 1
    assert_service_error(err, client, "TooManyRequestsException", "Too many requests", 429)
    headers = err.response["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["retry-after"]) >= 1
    assert int(headers["x-amz-retry-after"]) >= 1000


@pytest.mark.parametrize(("page_size", "cap"), [(7, 20), (50, 20), (3, 3), (100, 100)])
async def test_paginator_chains_cover_every_account_once(
    botocore_sso: Any, page_size: int, cap: int
) -> None:
    """PageSize pages are min(PageSize, server cap) long and the nextToken chain is complete."""
    async with PortalEmulator(accounts=45, page_size=cap) as emu:
        client = botocore_sso(emu.url)
        pages = await asyncio.to_thread(
            drain, client, "list_accounts", {"PageSize": page_size}, accessToken=emu.token
        )
        expected = [a.account_id for a in emu.organisation.accounts]
    seen = [item["accountId"] for page in pages for item in page["accountList"]]
    assert seen == expected
    size = min(page_size, cap)
    assert [len(p["accountList"]) for p in pages[:-1]] == [size] * (len(pages) - 1)
    assert all("nextToken" in p for p in pages[:-1])
    assert "nextToken" not in pages[-1]


async def test_paginator_max_items_and_starting_token_resume(botocore_sso: Any) -> None:
    """MaxItems truncates mid-page and StartingToken resumes exactly after the last item."""
    async with PortalEmulator(accounts=1, roles_per_account=23, page_size=20) as emu:
        client = botocore_sso(emu.url)
        account_id = emu.organisation.accounts[0].account_id
        paginator = client.get_paginator("list_account_roles")
        seen: list[str] = []
        token = None
        for _ in range(10):
            config: dict[str, Any] = {"PageSize": 4, "MaxItems": 6}
            if token is not None:
                config["StartingToken"] = token
            result = await asyncio.to_thread(
                paginator.paginate(
                    accessToken=emu.token, accountId=account_id, PaginationConfig=config
                ).build_full_result
            )
            seen += [role["roleName"] for role in result["roleList"]]
            token = result.get("NextToken")
            if token is None:
                break
        expected = list(emu.organisation.accounts[0].roles)
    assert seen == expected


async def test_null_next_token_knob_ends_pagination(botocore_sso: Any) -> None:
    """With null_next_token, botocore drops the null key and the paginator stops normally."""
    async with PortalEmulator(accounts=5, page_size=2, null_next_token=True) as emu:
        client = botocore_sso(emu.url)
        pages = await asyncio.to_thread(drain, client, "list_accounts", {}, accessToken=emu.token)
    assert [len(p["accountList"]) for p in pages] == [2, 2, 1]
    assert "nextToken" not in pages[-1]


async def test_scripted_failure_then_recovery(botocore_sso: Any) -> None:
    """fail_next fails exactly the second page with an HTML 503; the retry of it succeeds."""
    async with PortalEmulator(accounts=4, page_size=2) as emu:
        client = botocore_sso(emu.url)
        first = await call(client.list_accounts, accessToken=emu.token)
        emu.fail_next("ListAccounts", status=503)
        err = await raises(
            client.list_accounts, accessToken=emu.token, nextToken=first["nextToken"]
        )
        second = await call(
            client.list_accounts, accessToken=emu.token, nextToken=first["nextToken"]
        )
    assert err.response["Error"] == {"Code": "503", "Message": "Service Unavailable"}
    assert "RequestId" not in err.response["ResponseMetadata"]
    assert len(second["accountList"]) == 2
    assert "nextToken" not in second


async def test_scripted_json_throttle_is_modeled(botocore_sso: Any) -> None:
    """A scripted 429 with a code is TooManyRequestsException carrying the retry-after headers."""
    async with PortalEmulator() as emu:
        client = botocore_sso(emu.url)
        emu.fail_next(status=429, code="TooManyRequestsException", message="Slow", retry_after=2)
        err = await raises(client.list_accounts, accessToken=emu.token)
    assert_service_error(err, client, "TooManyRequestsException", "Slow", 429)
    headers = err.response["ResponseMetadata"]["HTTPHeaders"]
    assert (headers["retry-after"], headers["x-amz-retry-after"]) == ("2", "2000")


async def test_dropped_connection_is_connection_closed(botocore_sso: Any) -> None:
    """A dropped connection surfaces in botocore as ConnectionClosedError (no response)."""
    async with PortalEmulator() as emu:
        client = botocore_sso(emu.url)
        emu.fail_next("ListAccounts", kind="drop")
        with pytest.raises(botocore_exceptions.ConnectionClosedError):
            await call(client.list_accounts, accessToken=emu.token)
        assert emu.requests[-1].status is None


async def test_malformed_json_is_silently_empty_in_botocore(botocore_sso: Any) -> None:
    """botocore parses a 200 with invalid JSON as an empty result (the weakness aiosso fixes)."""
    async with PortalEmulator() as emu:
        client = botocore_sso(emu.url)
        emu.fail_next(kind="malformed_json")
        response = await call(client.list_accounts, accessToken=emu.token)
    assert set(response) == {"ResponseMetadata"}
