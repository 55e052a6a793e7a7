"""The public API as users write it, checked by ``mypy --strict`` (never executed).

tests/test_typing.py runs mypy on this file: every line here must type-check, and the
``assert_type`` calls pin what the API promises to return. Misuses that must be *rejected*
live in misuse.py next to this file.
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
from typing_extensions import assert_type

import aiosso
from aiosso import (
    AccountFailure,
    AioSSOError,
    AsyncSSOClient,
    CacheStats,
    ClientConfig,
    ClientError,
    CredentialCache,
    FanOutProgress,
    HTTPClientError,
    ParamValidationError,
    ResponseTooLargeError,
    RetryConfig,
    RoleCredentials,
    UnauthorizedException,
)
from aiosso.paginate import ListAccountRolesPageIterator, ListAccountsPageIterator
from aiosso.testing import Faults, PortalEmulator, RateLimit
from aiosso.type_defs import (
    AccountInfoTypeDef,
    GetRoleCredentialsResponseTypeDef,
    ListAccountRolesResponseTypeDef,
    ListAccountsResponseTypeDef,
    LogoutResponseTypeDef,
    RoleInfoTypeDef,
)


def configs() -> ClientConfig:
    retries = RetryConfig(mode="standard", total_max_attempts=5, total_timeout=None)
    assert_type(retries.mode, "aiosso.config.RetryMode")
    context = ssl.create_default_context()
    config = ClientConfig(
        connect_timeout=2.0,
        read_timeout=5,
        max_pool_connections=50,
        retries=retries,
        allow_http=False,
        max_response_bytes=1 << 20,
        verify=context,
    )
    assert_type(config.retries, RetryConfig)
    assert_type(config.verify, "bool | ssl.SSLContext")
    ClientConfig(retries={"mode": "adaptive", "max_attempts": 3})  # botocore's dict form
    return config


async def operations(token: str) -> None:
    async with AsyncSSOClient("us-east-1", config=configs()) as sso:
        assert_type(sso, AsyncSSOClient)
        creds = await sso.get_role_credentials(
            roleName="Admin", accountId="111122223333", accessToken=token
        )
        assert_type(creds, GetRoleCredentialsResponseTypeDef)
        role_credentials = creds.get("roleCredentials")
        if role_credentials is not None:
            assert_type(role_credentials.get("accessKeyId"), "str | None")
            assert_type(role_credentials.get("expiration"), "int | None")
        assert_type(creds["ResponseMetadata"]["HTTPStatusCode"], int)
        assert_type(creds["ResponseMetadata"]["HTTPHeaders"], "dict[str, str]")

        page = await sso.list_accounts(accessToken=token, maxResults=10)
        assert_type(page, ListAccountsResponseTypeDef)
        for account in page.get("accountList", []):
            assert_type(account, AccountInfoTypeDef)
        next_token = page.get("nextToken")
        if next_token:
            await sso.list_accounts(accessToken=token, nextToken=next_token)

        roles = await sso.list_account_roles(accessToken=token, accountId="111122223333")
        assert_type(roles, ListAccountRolesResponseTypeDef)
        assert_type(roles.get("roleList", []), "list[RoleInfoTypeDef]")
        assert_type(await sso.logout(accessToken=token), LogoutResponseTypeDef)

        # A dict of arguments, as botocore users build them.
        kwargs: dict[str, Any] = {"accessToken": token}
        await sso.list_accounts(**kwargs)

        assert_type(sso.can_paginate("list_accounts"), bool)
        assert_type(sso.meta.region_name, "str | None")
        assert_type(sso.meta.endpoint_url, str)
        await sso.close()


async def paginators(token: str) -> None:
    async with aiohttp.ClientSession() as session:
        sso = AsyncSSOClient(endpoint_url="https://example.com", session=session)
        pages = sso.get_paginator("list_accounts").paginate(
            accessToken=token, PaginationConfig={"MaxItems": 50, "PageSize": 10}
        )
        assert_type(pages, ListAccountsPageIterator)
        async for page in pages:
            assert_type(page, ListAccountsResponseTypeDef)
        async for account in pages.items():
            assert_type(account, AccountInfoTypeDef)
        resume: str | None = pages.resume_token
        full = await sso.get_paginator("list_account_roles").paginate(
            accessToken=token,
            accountId="111122223333",
            PaginationConfig={"StartingToken": resume or ""},
        ).build_full_result()
        assert_type(full, "dict[str, Any]")
        role_pages = sso.get_paginator("list_account_roles").paginate(
            accessToken=token, accountId="111122223333"
        )
        assert_type(role_pages, ListAccountRolesPageIterator)
        async for role_page in role_pages:
            assert_type(role_page, ListAccountRolesResponseTypeDef)
        await sso.close()


async def errors(sso: AsyncSSOClient, token: str) -> str:
    try:
        await sso.list_accounts(accessToken=token)
    except sso.exceptions.UnauthorizedException as e:
        assert_type(e, UnauthorizedException)
        assert_type(e.response, "dict[str, Any]")
        assert_type(e.operation_name, str)
        return str(e.response["Error"]["Code"])
    except sso.exceptions.TooManyRequestsException:
        pass
    except ClientError as e:
        cls = sso.exceptions.from_code(e.response["Error"]["Code"])
        assert_type(cls, "type[ClientError]")
    except ParamValidationError as e:
        assert isinstance(e, ValueError)
    except ResponseTooLargeError as e:
        assert_type(e.kwargs, "dict[str, Any]")
    except (aiosso.ReadTimeoutError, aiosso.ConnectTimeoutError) as e:
        assert isinstance(e, TimeoutError)
    except HTTPClientError:
        pass
    except AioSSOError:
        pass
    return ""


async def fan_out(sso: AsyncSSOClient, token: str) -> list[tuple[str, str]]:
    failures: list[AccountFailure] = []

    def report(progress: FanOutProgress) -> None:
        assert_type(progress.accounts_done, int)

    pairs = []
    async for account, role in sso.iter_account_roles(
        accessToken=token, max_concurrency=8, failures=failures, progress=report
    ):
        assert_type(account, AccountInfoTypeDef)
        assert_type(role, RoleInfoTypeDef)
        pairs.append((account.get("accountId", ""), role.get("roleName", "")))
    for failure in failures:
        assert_type(failure.error, Exception)
    async for account in sso.iter_accounts(accessToken=token):
        assert_type(account, AccountInfoTypeDef)
    return pairs


async def credentials(sso: AsyncSSOClient, token: str) -> dict[str, str]:
    async with CredentialCache(sso, accessToken=token, max_entries=100) as cache:
        creds = await cache.get("111122223333", "Admin")
        assert_type(creds, RoleCredentials)
        assert_type(creds.secret_access_key, str)
        assert_type(creds.is_expired(margin=60), bool)
        many = await cache.get_many([("111122223333", "Admin")], max_concurrency=4)
        assert_type(many, "dict[tuple[str, str], RoleCredentials]")
        assert_type(cache.stats, CacheStats)
        assert_type(cache.invalidate(account_id="111122223333"), int)
        return creds.to_env()


async def emulator() -> None:
    async with PortalEmulator(
        accounts=10,
        roles_per_account=2,
        rate_limit=RateLimit(rate=10, burst=2),
        faults=Faults(server_error=0.1, latency=(0.0, 0.01)),
    ) as emu:
        assert_type(emu.url, str)
        assert_type(emu.token, str)
        emu.fail_next("ListAccounts", 2, status=429, code="TooManyRequestsException")
        emu.fail_next(kind="drop")
        assert_type(emu.stats.total, int)
        async with AsyncSSOClient(endpoint_url=emu.url) as sso:
            await fan_out(sso, emu.issue_token(expires_in=60))
