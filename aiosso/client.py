"""``AsyncSSOClient``: the four portal operations as ordinary typed coroutine methods."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, ClassVar, Final, Literal, NoReturn, cast, overload

from aiosso import _fanout, _protocol
from aiosso._base import ClientMeta, ServiceClient
from aiosso._fanout import AccountFailure, FanOutProgress
from aiosso._operations import (
    ENDPOINT_PREFIX,
    GET_ROLE_CREDENTIALS,
    LIST_ACCOUNT_ROLES,
    LIST_ACCOUNTS,
    LOGOUT,
    OPERATIONS,
    SERVICE_ID,
    Operation,
)
from aiosso.exceptions import (
    ClientError,
    InvalidRequestException,
    OperationNotPageableError,
    ResourceNotFoundException,
    TooManyRequestsException,
    UnauthorizedException,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from aiosso.paginate import ListAccountRolesPaginator, ListAccountsPaginator
    from aiosso.type_defs import (
        AccountInfoTypeDef,
        GetRoleCredentialsRequestTypeDef,
        GetRoleCredentialsResponseTypeDef,
        ListAccountRolesRequestTypeDef,
        ListAccountRolesResponseTypeDef,
        ListAccountsRequestTypeDef,
        ListAccountsResponseTypeDef,
        LogoutRequestTypeDef,
        LogoutResponseTypeDef,
        RoleInfoTypeDef,
    )

__all__ = ["AsyncSSOClient", "ClientMeta", "SSOExceptions"]

log = logging.getLogger("aiosso")

_ClientError = ClientError


class SSOExceptions:
    """``client.exceptions``: the ClientError family, as botocore's ``SSOExceptions``."""

    ClientError = ClientError
    InvalidRequestException = InvalidRequestException
    ResourceNotFoundException = ResourceNotFoundException
    TooManyRequestsException = TooManyRequestsException
    UnauthorizedException = UnauthorizedException

    def from_code(self, code: str) -> type[_ClientError]:
        """The modeled class for an exact wire error code, else :class:`ClientError`."""
        return _protocol.error_class(code)

    if not TYPE_CHECKING:  # so that mypy still flags misspelt exception names

        def __getattr__(self, name: str) -> NoReturn:
            # Only reached for names that do not exist: botocore's message lists them.
            valid = ", ".join(sorted(_protocol.ERROR_CLASSES))
            raise AttributeError(
                f"{self!r} object has no attribute {name}. Valid exceptions are: {valid}"
            )


_EXCEPTIONS: Final = SSOExceptions()


class AsyncSSOClient(ServiceClient):
    """An asyncio client for the IAM Identity Center portal API, a drop-in for
    aiobotocore's ``sso`` client.

    Construction does no I/O and needs no running loop. The client's own
    ``aiohttp.ClientSession`` is opened on first use, in the running loop, and shared by all
    its calls; ``session=`` is used as given instead, and never closed.
    Use ``async with`` (or ``await close()``) to release what the client owns.

    Args:
        region_name: the IAM Identity Center region; falls back to ``AWS_REGION`` then
            ``AWS_DEFAULT_REGION``.
        endpoint_url: a base URL used verbatim; falls back to ``AWS_ENDPOINT_URL_SSO`` then
            ``AWS_ENDPOINT_URL`` (unless ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true``).
        session: an ``aiohttp.ClientSession`` to send through (its connector, proxy and TLS
            settings apply).
        config: a :class:`~aiosso.ClientConfig`.
        rate_budget: a request budget shared with other clients and processes
            (:meth:`aiosso.fleet.RedisStore.rate_budget`): each request waits for its slot
            before it is sent, within the call's deadline; the adaptive limiter still
            applies on top.

    Raises:
        NoRegionError: neither a region nor an endpoint URL was found.
        InvalidRegionError: the region cannot be part of a host name.
        InvalidEndpointError: the endpoint URL is unusable, or plain http off loopback.
    """

    _OPERATIONS: ClassVar[Mapping[str, Operation]] = OPERATIONS
    _SERVICE_ID: ClassVar[str] = SERVICE_ID
    _ENDPOINT_PREFIX: ClassVar[str] = ENDPOINT_PREFIX
    _ENDPOINT_ENV: ClassVar[str] = "AWS_ENDPOINT_URL_SSO"

    exceptions: Final = _EXCEPTIONS
    waiter_names: Final[list[str]] = []

    # ------------------------------------------------------------------ operations

    async def get_role_credentials(
        self, **kwargs: Unpack[GetRoleCredentialsRequestTypeDef]
    ) -> GetRoleCredentialsResponseTypeDef:
        """Short-term AWS credentials for a role the token's user may assume.

        Keyword Args:
            roleName: the role (permission set) name.
            accountId: the 12-digit account id.
            accessToken: the SSO access token (sent only in the ``x-amz-sso_bearer_token``
                header; never logged).

        Returns:
            ``{"ResponseMetadata": ..., "roleCredentials": {"accessKeyId", "secretAccessKey",
            "sessionToken", "expiration"}}`` with ``expiration`` in epoch milliseconds.

        Raises:
            ParamValidationError: before any I/O, with botocore's report.
            ClientError: the service's answer: :exc:`~aiosso.UnauthorizedException`,
                :exc:`~aiosso.InvalidRequestException`,
                :exc:`~aiosso.ResourceNotFoundException`,
                :exc:`~aiosso.TooManyRequestsException`, or a plain ``ClientError``
                (``ForbiddenException`` "No access" arrives as one).
            HTTPClientError: the exchange failed after all retries.
        """
        return cast(
            "GetRoleCredentialsResponseTypeDef", await self._call(GET_ROLE_CREDENTIALS, kwargs)
        )

    async def list_account_roles(
        self, **kwargs: Unpack[ListAccountRolesRequestTypeDef]
    ) -> ListAccountRolesResponseTypeDef:
        """One page of the roles the token's user may assume in an account.

        Keyword Args:
            accessToken: the SSO access token.
            accountId: the account.
            nextToken: the token of the page to fetch (from the previous page).
            maxResults: page size, 1..100 (refused client-side outside that range).

        Returns:
            ``{"ResponseMetadata", "roleList": [{"roleName", "accountId"}], "nextToken"?}``.

        Raises:
            ParamValidationError, ClientError, HTTPClientError: as
                :meth:`get_role_credentials`.
        """
        return cast("ListAccountRolesResponseTypeDef", await self._call(LIST_ACCOUNT_ROLES, kwargs))

    async def list_accounts(
        self, **kwargs: Unpack[ListAccountsRequestTypeDef]
    ) -> ListAccountsResponseTypeDef:
        """One page of the accounts the token's user may access.

        Keyword Args:
            accessToken: the SSO access token.
            nextToken: the token of the page to fetch (from the previous page).
            maxResults: page size, 1..100 (refused client-side outside that range).

        Returns:
            ``{"ResponseMetadata", "accountList": [{"accountId", "accountName",
            "emailAddress"}], "nextToken"?}``.

        Raises:
            ParamValidationError, ClientError, HTTPClientError: as
                :meth:`get_role_credentials`.
        """
        return cast("ListAccountsResponseTypeDef", await self._call(LIST_ACCOUNTS, kwargs))

    async def logout(self, **kwargs: Unpack[LogoutRequestTypeDef]) -> LogoutResponseTypeDef:
        """End the portal session of an access token (the token stops working).

        Keyword Args:
            accessToken: the SSO access token.

        Returns:
            ``{"ResponseMetadata": ...}`` only.

        Raises:
            ParamValidationError, ClientError, HTTPClientError: as
                :meth:`get_role_credentials` (there is no ``ResourceNotFoundException``).
        """
        return cast("LogoutResponseTypeDef", await self._call(LOGOUT, kwargs))

    # ------------------------------------------------------------------ fan-out

    def iter_accounts(
        self, *, accessToken: str, page_size: int = 100
    ) -> AsyncIterator[AccountInfoTypeDef]:
        """Every account the token's user may access, streamed page by page.

        Args:
            accessToken: the SSO access token.
            page_size: accounts per request (1..100).

        Returns:
            An async iterator of ``{"accountId", "accountName", "emailAddress"}`` dicts, in
            the service's order. Nothing is requested before iteration starts.

        Raises:
            ParamValidationError, ClientError, HTTPClientError: as :meth:`list_accounts`,
                while iterating.
        """
        return _fanout.iter_accounts(self, accessToken=accessToken, page_size=page_size)

    def iter_account_roles(
        self,
        *,
        accessToken: str,
        max_concurrency: int = 16,
        failures: list[AccountFailure] | None = None,
        page_size: int = 100,
        progress: Callable[[FanOutProgress], None] | None = None,
    ) -> AsyncIterator[tuple[AccountInfoTypeDef, RoleInfoTypeDef]]:
        """Every ``(account, role)`` pair the token's user holds, as the pages arrive.

        Accounts are listed while their roles are, by ``max_concurrency`` workers over the
        paginators, through the client's retries and adaptive rate limiter. Memory is bounded
        by the concurrency, not by the size of the organisation. **Order is not guaranteed**:
        pairs of one account page stay together, but accounts interleave.

        Args:
            accessToken: the SSO access token.
            max_concurrency: accounts whose roles are listed at the same time.
            failures: by default a failure to list one account's roles raises (after the
                pairs already yielded; no silent partial result). Pass a list to collect
                :class:`AccountFailure` entries there instead and carry on.
            page_size: items per request (1..100).
            progress: called with a :class:`FanOutProgress` after each account.

        Returns:
            An async iterator of ``(account, role)`` dicts as botocore shapes them. Leaving
            the loop early (``break``) or cancelling stops every request it started.

        Raises:
            AioSSOError: the client's errors, while iterating: always for the account listing
                itself; for an account's roles unless ``failures`` is given.
        """
        return _fanout.iter_account_roles(
            self,
            accessToken=accessToken,
            max_concurrency=max_concurrency,
            failures=failures,
            page_size=page_size,
            progress=progress,
        )

    # ------------------------------------------------------------------ paginators & co

    def can_paginate(self, operation_name: str) -> bool:
        """True for ``list_accounts`` and ``list_account_roles``; False for anything else."""
        op = OPERATIONS.get(operation_name)
        return op is not None and op.pagination is not None

    @overload
    def get_paginator(self, operation_name: Literal["list_accounts"]) -> ListAccountsPaginator: ...

    @overload
    def get_paginator(
        self, operation_name: Literal["list_account_roles"]
    ) -> ListAccountRolesPaginator: ...

    def get_paginator(
        self, operation_name: str
    ) -> ListAccountsPaginator | ListAccountRolesPaginator:
        """A paginator for ``list_accounts`` or ``list_account_roles``.

        Raises:
            OperationNotPageableError: for any other name.
        """
        from aiosso import paginate

        if operation_name == "list_accounts":
            return paginate.ListAccountsPaginator(self)
        if operation_name == "list_account_roles":
            return paginate.ListAccountRolesPaginator(self)
        raise OperationNotPageableError(operation_name=operation_name)

    def get_waiter(self, waiter_name: str) -> NoReturn:
        """The SSO service has no waiters.

        Raises:
            ValueError: always, with botocore's message.
        """
        raise ValueError(f"Waiter does not exist: {waiter_name}")
