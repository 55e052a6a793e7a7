"""Misuses of the public API that mypy --strict must reject (never executed).

Each offending line carries ``# type: ignore[<code>]``. tests/test_typing.py runs mypy with
``warn_unused_ignores`` (part of --strict): if a misuse stopped being an error, its ignore
would be unused and mypy would fail; if it failed with another error code, that error
would surface. Either way the test fails, so the API cannot silently lose its typing.
"""

from __future__ import annotations

from typing import Any

from aiosso import AsyncSSOClient, ClientConfig, CredentialCache, RetryConfig, RoleCredentials
from aiosso.testing import Faults, PortalEmulator


async def operations(sso: AsyncSSOClient, token: str) -> None:
    await sso.list_accounts(accessToken=token, maxResults="10")  # type: ignore[arg-type]
    await sso.get_role_credentials(accountId="111122223333", accessToken=token)  # type: ignore[call-arg]
    await sso.logout(accessToken=token, Foo=1)  # type: ignore[call-arg]
    await sso.logout(token)  # type: ignore[call-arg]
    await sso.list_accounts(access_token=token)  # type: ignore[call-arg]
    page = await sso.list_accounts(accessToken=token)
    page["accountlist"]  # type: ignore[typeddict-item]
    pending = sso.list_accounts(accessToken=token)
    pending["accountList"]  # type: ignore[index]
    sso.logout(accessToken=token)  # type: ignore[unused-coroutine]
    await sso.list_account_roles(accessToken=token, accountId=111122223333)  # type: ignore[arg-type]


async def paginators(sso: AsyncSSOClient, token: str) -> None:
    sso.get_paginator("logout")  # type: ignore[call-overload]
    pages = sso.get_paginator("list_accounts").paginate(accessToken=token)
    for page in pages:  # type: ignore[attr-defined]
        pass
    sso.get_paginator("list_accounts").paginate(accessToken=token, accountId="1")  # type: ignore[call-arg]
    sso.get_paginator("list_account_roles").paginate(accessToken=token)  # type: ignore[call-arg]
    sso.get_paginator("list_accounts").paginate(
        accessToken=token, PaginationConfig={"MaxItem": 5}  # type: ignore[typeddict-unknown-key]
    )


def errors(sso: AsyncSSOClient) -> Any:
    return sso.exceptions.UnauthorisedException  # type: ignore[attr-defined]


def configs() -> None:
    ClientConfig(retries="standard")  # type: ignore[arg-type]
    RetryConfig(mode="fast")  # type: ignore[arg-type]
    ClientConfig(verify="false")  # type: ignore[arg-type]
    ClientConfig(max_response_bytes=None)  # type: ignore[arg-type]
    Faults(server_error="often")  # type: ignore[arg-type]


async def fan_out(sso: AsyncSSOClient, token: str) -> None:
    sso.iter_account_roles(accessToken=token, max_concurrency="8")  # type: ignore[arg-type]
    sso.iter_account_roles(token)  # type: ignore[call-arg]
    async for account, role in sso.iter_account_roles(accessToken=token):
        account["roleName"]  # type: ignore[typeddict-item]


async def credentials(sso: AsyncSSOClient, token: str, creds: RoleCredentials) -> None:
    CredentialCache(sso, access_token=token)  # type: ignore[call-arg]
    count: int = await CredentialCache(sso, accessToken=token).get("1", "r")  # type: ignore[assignment]
    creds.secret_access_key = "x"  # type: ignore[misc]


async def emulator(emu: PortalEmulator) -> None:
    emu.fail_next(kind="explode")  # type: ignore[arg-type]
    with AsyncSSOClient(endpoint_url=emu.url) as sso:  # type: ignore[attr-defined]
        pass
