"""The one static description of the services: the SSO portal (model ``sso`` 2019-06-10)
and SSO-OIDC (model ``sso-oidc`` 2019-06-10), both rest-json.

Everything the protocol layer needs per operation lives here, written out by hand so readers
and type checkers see all of it: HTTP method and path, where each input member goes on the
wire, its type and range, the required members, the output members, the modeled errors and
the pagination keys.
"""

from __future__ import annotations

from typing import Final, Literal

import attrs

Location = Literal["query", "header", "body"]
_Type = type


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
    item_type: _Type | None = None  # for lists: the type of each item


@attrs.frozen
class Pagination:
    """botocore's paginator description (``paginators-1.json``)."""

    input_token: str
    output_token: str
    limit_key: str
    result_key: str


# Output shapes, as (key, kind) in model member order. kind: "string", "long" (integers too),
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
    errors: dict[str, tuple[str, ...]] = attrs.field(repr=False)
    """The service's modeled error codes -> members lifted to the top of ``e.response``."""
    pagination: Pagination | None = None
    oauth2_errors: bool = False
    """OAuth2-style errors: ``error_description`` becomes the message (SSO-OIDC)."""
    members_by_name: dict[str, Member] = attrs.field(init=False, eq=False, repr=False)
    header_members: tuple[Member, ...] = attrs.field(init=False, eq=False, repr=False)
    query_members: tuple[Member, ...] = attrs.field(init=False, eq=False, repr=False)
    body_members: tuple[Member, ...] = attrs.field(init=False, eq=False, repr=False)
    query_wire: dict[str, str] = attrs.field(init=False, eq=False, repr=False)
    """Query members: input name -> ``wire_name=``."""

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "members_by_name", {m.name: m for m in self.members})
        for location in ("header", "query", "body"):
            chosen = tuple(m for m in self.members if m.location == location)
            object.__setattr__(self, f"{location}_members", chosen)
        wire = {m.name: m.wire_name + "=" for m in self.query_members}
        object.__setattr__(self, "query_wire", wire)

    @property
    def member_names(self) -> tuple[str, ...]:
        """Input member names in model order (botocore lists them in this order)."""
        return tuple(m.name for m in self.members)


SERVICE_ID: Final = "SSO"
API_VERSION: Final = "2019-06-10"
ENDPOINT_PREFIX: Final = "portal.sso"
SIGNING_NAME: Final = "awsssoportal"

# The portal's modeled error shapes -> HTTP status; each carries one member, ``message``.
MODELED_ERRORS: Final[dict[str, int]] = {
    "InvalidRequestException": 400,
    "ResourceNotFoundException": 404,
    "TooManyRequestsException": 429,
    "UnauthorizedException": 401,
}
SSO_ERROR_MEMBERS: Final[dict[str, tuple[str, ...]]] = dict.fromkeys(MODELED_ERRORS, ("message",))

_TOKEN = Member("accessToken", "header", "x-amz-sso_bearer_token", str, sensitive=True)
_NEXT = Member("nextToken", "query", "next_token", str)
_MAX = Member("maxResults", "query", "max_result", int, min_value=1, max_value=100)
_ACCOUNT = Member("accountId", "query", "account_id", str)
_ROLE = Member("roleName", "query", "role_name", str)

_ALL_ERRORS = SSO_ERROR_MEMBERS

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
    errors=SSO_ERROR_MEMBERS,
)

OPERATIONS: Final[dict[str, Operation]] = {
    op.name: op for op in (GET_ROLE_CREDENTIALS, LIST_ACCOUNT_ROLES, LIST_ACCOUNTS, LOGOUT)
}


# --------------------------------------------------------------------------- SSO-OIDC

OIDC_SERVICE_ID: Final = "SSO OIDC"
OIDC_ENDPOINT_PREFIX: Final = "oidc"

_OAUTH = ("error", "error_description")
OIDC_MODELED_ERRORS: Final[dict[str, tuple[str, ...]]] = {
    "AccessDeniedException": ("error", "reason", "error_description"),
    "AuthorizationPendingException": _OAUTH,
    "ExpiredTokenException": _OAUTH,
    "InternalServerException": _OAUTH,
    "InvalidClientException": _OAUTH,
    "InvalidClientMetadataException": _OAUTH,
    "InvalidGrantException": _OAUTH,
    "InvalidRedirectUriException": _OAUTH,
    "InvalidRequestException": ("error", "reason", "error_description"),
    "InvalidRequestRegionException": ("error", "error_description", "endpoint", "region"),
    "InvalidScopeException": _OAUTH,
    "SlowDownException": _OAUTH,
    "UnauthorizedClientException": _OAUTH,
    "UnsupportedGrantTypeException": _OAUTH,
}


def _body(name: str, typ: type = str, *, sensitive: bool = False) -> Member:
    item = str if typ is list else None
    return Member(name, "body", name, typ, sensitive=sensitive, item_type=item)


REGISTER_CLIENT: Final = Operation(
    name="register_client",
    api_name="RegisterClient",
    method="POST",
    path="/client/register",
    members=(
        _body("clientName"),
        _body("clientType"),
        _body("scopes", list),
        _body("redirectUris", list),
        _body("grantTypes", list),
        _body("issuerUrl"),
        _body("entitledApplicationArn"),
    ),
    required=("clientName", "clientType"),
    output=(
        ("clientId", "string"),
        ("clientSecret", "string"),
        ("clientIdIssuedAt", "long"),
        ("clientSecretExpiresAt", "long"),
        ("authorizationEndpoint", "string"),
        ("tokenEndpoint", "string"),
    ),
    errors=OIDC_MODELED_ERRORS,
    oauth2_errors=True,
)

START_DEVICE_AUTHORIZATION: Final = Operation(
    name="start_device_authorization",
    api_name="StartDeviceAuthorization",
    method="POST",
    path="/device_authorization",
    members=(_body("clientId"), _body("clientSecret", sensitive=True), _body("startUrl")),
    required=("clientId", "clientSecret", "startUrl"),
    output=(
        ("deviceCode", "string"),
        ("userCode", "string"),
        ("verificationUri", "string"),
        ("verificationUriComplete", "string"),
        ("expiresIn", "long"),
        ("interval", "long"),
    ),
    errors=OIDC_MODELED_ERRORS,
    oauth2_errors=True,
)

CREATE_TOKEN: Final = Operation(
    name="create_token",
    api_name="CreateToken",
    method="POST",
    path="/token",
    members=(
        _body("clientId"),
        _body("clientSecret", sensitive=True),
        _body("grantType"),
        _body("deviceCode"),
        _body("code"),
        _body("refreshToken", sensitive=True),
        _body("scope", list),
        _body("redirectUri"),
        _body("codeVerifier", sensitive=True),
    ),
    required=("clientId", "clientSecret", "grantType"),
    output=(
        ("accessToken", "string"),
        ("tokenType", "string"),
        ("expiresIn", "long"),
        ("refreshToken", "string"),
        ("idToken", "string"),
    ),
    errors=OIDC_MODELED_ERRORS,
    oauth2_errors=True,
)

OIDC_OPERATIONS: Final[dict[str, Operation]] = {
    op.name: op for op in (CREATE_TOKEN, REGISTER_CLIENT, START_DEVICE_AUTHORIZATION)
}
