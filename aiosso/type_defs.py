"""Typed shapes of requests and responses, named as the mypy-boto3-sso stubs name them.

These are ``TypedDict``s: at run time the values are plain ``dict`` objects, exactly what
botocore returns, so code written against ``mypy_boto3_sso.type_defs`` type-checks unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from typing_extensions import NotRequired

__all__ = [
    "AccountInfoTypeDef",
    "GetRoleCredentialsRequestTypeDef",
    "GetRoleCredentialsResponseTypeDef",
    "ListAccountRolesRequestTypeDef",
    "ListAccountRolesResponseTypeDef",
    "ListAccountsRequestTypeDef",
    "ListAccountsResponseTypeDef",
    "LogoutRequestTypeDef",
    "LogoutResponseTypeDef",
    "PaginationConfigTypeDef",
    "ResponseMetadataTypeDef",
    "RoleCredentialsTypeDef",
    "RoleInfoTypeDef",
]


class ResponseMetadataTypeDef(TypedDict):
    """``ResponseMetadata`` as botocore builds it (``RequestId`` absent if the reply had none)."""

    RequestId: NotRequired[str]
    HostId: NotRequired[str]
    HTTPStatusCode: int
    HTTPHeaders: dict[str, str]
    RetryAttempts: int
    MaxAttemptsReached: NotRequired[bool]


class RoleCredentialsTypeDef(TypedDict, total=False):
    """Short-term credentials; ``expiration`` is in epoch milliseconds."""

    accessKeyId: str
    secretAccessKey: str
    sessionToken: str
    expiration: int


class AccountInfoTypeDef(TypedDict, total=False):
    """One account the token's user may access."""

    accountId: str
    accountName: str
    emailAddress: str


class RoleInfoTypeDef(TypedDict, total=False):
    """One role the token's user may assume in an account."""

    roleName: str
    accountId: str


class GetRoleCredentialsRequestTypeDef(TypedDict):
    """Keyword arguments of ``get_role_credentials``."""

    roleName: str
    accountId: str
    accessToken: str


class ListAccountRolesRequestTypeDef(TypedDict):
    """Keyword arguments of ``list_account_roles``."""

    accessToken: str
    accountId: str
    nextToken: NotRequired[str]
    maxResults: NotRequired[int]


class ListAccountsRequestTypeDef(TypedDict):
    """Keyword arguments of ``list_accounts``."""

    accessToken: str
    nextToken: NotRequired[str]
    maxResults: NotRequired[int]


class LogoutRequestTypeDef(TypedDict):
    """Keyword arguments of ``logout``."""

    accessToken: str


class GetRoleCredentialsResponseTypeDef(TypedDict):
    """Result of ``get_role_credentials``."""

    ResponseMetadata: ResponseMetadataTypeDef
    roleCredentials: NotRequired[RoleCredentialsTypeDef]


class ListAccountRolesResponseTypeDef(TypedDict):
    """Result of ``list_account_roles`` (one page)."""

    ResponseMetadata: ResponseMetadataTypeDef
    nextToken: NotRequired[str]
    roleList: NotRequired[list[RoleInfoTypeDef]]


class ListAccountsResponseTypeDef(TypedDict):
    """Result of ``list_accounts`` (one page)."""

    ResponseMetadata: ResponseMetadataTypeDef
    nextToken: NotRequired[str]
    accountList: NotRequired[list[AccountInfoTypeDef]]


class LogoutResponseTypeDef(TypedDict):
    """Result of ``logout``: only the metadata."""

    ResponseMetadata: ResponseMetadataTypeDef


class PaginationConfigTypeDef(TypedDict, total=False):
    """``PaginationConfig`` accepted by ``paginate()``."""

    MaxItems: int
    PageSize: int
    StartingToken: str
