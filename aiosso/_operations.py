"""The one static description of the SSO portal service (model ``sso`` 2019-06-10).

Everything the protocol layer needs per operation lives here, written out by hand so readers
and type checkers see all of it: HTTP method and path, where each input member goes on the
wire, its type and range, the required members, the output members, the modeled errors and
the pagination keys.
"""

from __future__ import annotations

from typing import Final, Literal

import attrs

Location = Literal["query", "header"]


@attrs.frozen
class Member:
    """One input member: its wire location and name, its Python type and range."""

    name: str
    location: Location
    wire_name: str
    type: type
    min_value: int | None = None
    max_value: int | None = None
    sensitive: bool = False


@attrs.frozen
class Pagination:
    """botocore's paginator description (``paginators-1.json``)."""

    input_token: str
    output_token: str
    limit_key: str
    result_key: str


# Output shapes, as (key, kind) in model member order. kind: "string", "long",
# ("struct", members) or ("list", members-of-struct).
OutputSpec = tuple[tuple[str, object], ...]


@attrs.frozen
class Operation:
    """One API operation."""

    name: str
    api_name: str
    method: Literal["GET", "POST"]
    path: str
    members: tuple[Member, ...]
    required: tuple[str, ...]
    output: OutputSpec
    errors: tuple[str, ...]
    pagination: Pagination | None = None
    members_by_name: dict[str, Member] = attrs.field(init=False, eq=False, repr=False)
    header_members: tuple[Member, ...] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "members_by_name", {m.name: m for m in self.members})
        object.__setattr__(
            self, "header_members", tuple(m for m in self.members if m.location == "header")
        )

    @property
    def member_names(self) -> tuple[str, ...]:
        """Input member names in model order (botocore lists them in this order)."""
        return tuple(m.name for m in self.members)


SERVICE_ID: Final = "SSO"
API_VERSION: Final = "2019-06-10"
ENDPOINT_PREFIX: Final = "portal.sso"
SIGNING_NAME: Final = "awsssoportal"

# Modeled error shapes -> HTTP status, for documentation and the exceptions factory.
MODELED_ERRORS: Final[dict[str, int]] = {
    "InvalidRequestException": 400,
    "ResourceNotFoundException": 404,
    "TooManyRequestsException": 429,
    "UnauthorizedException": 401,
}

_TOKEN = Member("accessToken", "header", "x-amz-sso_bearer_token", str, sensitive=True)
_NEXT = Member("nextToken", "query", "next_token", str)
_MAX = Member("maxResults", "query", "max_result", int, min_value=1, max_value=100)
_ACCOUNT = Member("accountId", "query", "account_id", str)
_ROLE = Member("roleName", "query", "role_name", str)

_ALL_ERRORS = (
    "InvalidRequestException",
    "UnauthorizedException",
    "TooManyRequestsException",
    "ResourceNotFoundException",
)

GET_ROLE_CREDENTIALS: Final = Operation(
    name="get_role_credentials",
    api_name="GetRoleCredentials",
    method="GET",
    path="/federation/credentials",
    members=(_ROLE, _ACCOUNT, _TOKEN),
    required=("roleName", "accountId", "accessToken"),
    output=(
        (
            "roleCredentials",
            (
                "struct",
                (
                    ("accessKeyId", "string"),
                    ("secretAccessKey", "string"),
                    ("sessionToken", "string"),
                    ("expiration", "long"),
                ),
            ),
        ),
    ),
    errors=_ALL_ERRORS,
)

LIST_ACCOUNT_ROLES: Final = Operation(
    name="list_account_roles",
    api_name="ListAccountRoles",
    method="GET",
    path="/assignment/roles",
    members=(_NEXT, _MAX, _TOKEN, _ACCOUNT),
    required=("accessToken", "accountId"),
    output=(
        ("nextToken", "string"),
        ("roleList", ("list", (("roleName", "string"), ("accountId", "string")))),
    ),
    errors=_ALL_ERRORS,
    pagination=Pagination("nextToken", "nextToken", "maxResults", "roleList"),
)

LIST_ACCOUNTS: Final = Operation(
    name="list_accounts",
    api_name="ListAccounts",
    method="GET",
    path="/assignment/accounts",
    members=(_NEXT, _MAX, _TOKEN),
    required=("accessToken",),
    output=(
        ("nextToken", "string"),
        (
            "accountList",
            (
                "list",
                (("accountId", "string"), ("accountName", "string"), ("emailAddress", "string")),
            ),
        ),
    ),
    errors=_ALL_ERRORS,
    pagination=Pagination("nextToken", "nextToken", "maxResults", "accountList"),
)

LOGOUT: Final = Operation(
    name="logout",
    api_name="Logout",
    method="POST",
    path="/logout",
    members=(_TOKEN,),
    required=("accessToken",),
    output=(),
    errors=("InvalidRequestException", "UnauthorizedException", "TooManyRequestsException"),
)

OPERATIONS: Final[dict[str, Operation]] = {
    op.name: op for op in (GET_ROLE_CREDENTIALS, LIST_ACCOUNT_ROLES, LIST_ACCOUNTS, LOGOUT)
}
