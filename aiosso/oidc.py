"""``AsyncSSOOIDCClient``: the SSO-OIDC operations the login flows and token refresh need.

``RegisterClient``, ``StartDeviceAuthorization`` and ``CreateToken`` on the same protocol,
transport and retry machinery as the portal client, with botocore's ``sso-oidc`` shapes,
errors (``AuthorizationPendingException``, ``SlowDownException``, ...) and messages (an OAuth2
``error_description`` becomes the message, as botocore's handler does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Final, NoReturn, TypedDict, cast

from aiosso import _protocol
from aiosso._base import ServiceClient
from aiosso._operations import (
    CREATE_TOKEN,
    OIDC_ENDPOINT_PREFIX,
    OIDC_MODELED_ERRORS,
    OIDC_OPERATIONS,
    OIDC_SERVICE_ID,
    REGISTER_CLIENT,
    START_DEVICE_AUTHORIZATION,
    Operation,
)
from aiosso.exceptions import (
    AccessDeniedException,
    AuthorizationPendingException,
    ClientError,
    ExpiredTokenException,
    InternalServerException,
    InvalidClientException,
    InvalidClientMetadataException,
    InvalidGrantException,
    InvalidRedirectUriException,
    InvalidRequestException,
    InvalidRequestRegionException,
    InvalidScopeException,
    SlowDownException,
    UnauthorizedClientException,
    UnsupportedGrantTypeException,
)

if TYPE_CHECKING:
    from typing_extensions import NotRequired, Unpack

    from aiosso.type_defs import ResponseMetadataTypeDef

__all__ = [
    "AsyncSSOOIDCClient",
    "CreateTokenRequestTypeDef",
    "CreateTokenResponseTypeDef",
    "RegisterClientRequestTypeDef",
    "RegisterClientResponseTypeDef",
    "SSOOIDCExceptions",
    "StartDeviceAuthorizationRequestTypeDef",
    "StartDeviceAuthorizationResponseTypeDef",
]

DEVICE_CODE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_TOKEN_GRANT: Final = "refresh_token"
AUTHORIZATION_CODE_GRANT: Final = "authorization_code"


class RegisterClientRequestTypeDef(TypedDict):
    """Keyword arguments of ``register_client``."""

    clientName: str
    clientType: str
    scopes: NotRequired[list[str]]
    redirectUris: NotRequired[list[str]]
    grantTypes: NotRequired[list[str]]
    issuerUrl: NotRequired[str]
    entitledApplicationArn: NotRequired[str]


class RegisterClientResponseTypeDef(TypedDict):
    """Result of ``register_client``; ``clientSecretExpiresAt`` is in epoch seconds."""

    ResponseMetadata: ResponseMetadataTypeDef
    clientId: NotRequired[str]
    clientSecret: NotRequired[str]
    clientIdIssuedAt: NotRequired[int]
    clientSecretExpiresAt: NotRequired[int]
    authorizationEndpoint: NotRequired[str]
    tokenEndpoint: NotRequired[str]


class StartDeviceAuthorizationRequestTypeDef(TypedDict):
    """Keyword arguments of ``start_device_authorization``."""

    clientId: str
    clientSecret: str
    startUrl: str


class StartDeviceAuthorizationResponseTypeDef(TypedDict):
    """Result of ``start_device_authorization``; ``expiresIn``/``interval`` in seconds."""

    ResponseMetadata: ResponseMetadataTypeDef
    deviceCode: NotRequired[str]
    userCode: NotRequired[str]
    verificationUri: NotRequired[str]
    verificationUriComplete: NotRequired[str]
    expiresIn: NotRequired[int]
    interval: NotRequired[int]


class CreateTokenRequestTypeDef(TypedDict):
    """Keyword arguments of ``create_token``."""

    clientId: str
    clientSecret: str
    grantType: str
    deviceCode: NotRequired[str]
    code: NotRequired[str]
    refreshToken: NotRequired[str]
    scope: NotRequired[list[str]]
    redirectUri: NotRequired[str]
    codeVerifier: NotRequired[str]


class CreateTokenResponseTypeDef(TypedDict):
    """Result of ``create_token``; ``expiresIn`` in seconds."""

    ResponseMetadata: ResponseMetadataTypeDef
    accessToken: NotRequired[str]
    tokenType: NotRequired[str]
    expiresIn: NotRequired[int]
    refreshToken: NotRequired[str]
    idToken: NotRequired[str]


_ClientError = ClientError


class SSOOIDCExceptions:
    """``client.exceptions`` of the SSO-OIDC client, as botocore's ``SSOOIDCExceptions``."""

    ClientError = ClientError
    AccessDeniedException = AccessDeniedException
    AuthorizationPendingException = AuthorizationPendingException
    ExpiredTokenException = ExpiredTokenException
    InternalServerException = InternalServerException
    InvalidClientException = InvalidClientException
    InvalidClientMetadataException = InvalidClientMetadataException
    InvalidGrantException = InvalidGrantException
    InvalidRedirectUriException = InvalidRedirectUriException
    InvalidRequestException = InvalidRequestException
    InvalidRequestRegionException = InvalidRequestRegionException
    InvalidScopeException = InvalidScopeException
    SlowDownException = SlowDownException
    UnauthorizedClientException = UnauthorizedClientException
    UnsupportedGrantTypeException = UnsupportedGrantTypeException

    def from_code(self, code: str) -> type[_ClientError]:
        """The modeled class for an exact wire error code, else :class:`ClientError`."""
        return _protocol.error_class(code, OIDC_MODELED_ERRORS)

    if not TYPE_CHECKING:  # so that mypy still flags misspelt exception names

        def __getattr__(self, name: str) -> NoReturn:
            valid = ", ".join(sorted(OIDC_MODELED_ERRORS))
            raise AttributeError(
                f"{self!r} object has no attribute {name}. Valid exceptions are: {valid}"
            )


_EXCEPTIONS: Final = SSOOIDCExceptions()


class AsyncSSOOIDCClient(ServiceClient):
    """An asyncio client for SSO-OIDC (``oidc.{region}.amazonaws.com``), a drop-in for
    aiobotocore's ``sso-oidc`` client for the three operations login needs.

    Args:
        region_name: the IAM Identity Center region; falls back to ``AWS_REGION`` then
            ``AWS_DEFAULT_REGION``.
        endpoint_url: a base URL used verbatim; falls back to ``AWS_ENDPOINT_URL_SSO_OIDC``
            then ``AWS_ENDPOINT_URL``.
        session: an ``aiohttp.ClientSession`` to borrow.
        config: a :class:`~aiosso.ClientConfig`.

    Raises:
        NoRegionError, InvalidRegionError, InvalidEndpointError: as
            :class:`~aiosso.AsyncSSOClient`.
    """

    _OPERATIONS: ClassVar[Mapping[str, Operation]] = OIDC_OPERATIONS
    _SERVICE_ID: ClassVar[str] = OIDC_SERVICE_ID
    _ENDPOINT_PREFIX: ClassVar[str] = OIDC_ENDPOINT_PREFIX
    _ENDPOINT_ENV: ClassVar[str] = "AWS_ENDPOINT_URL_SSO_OIDC"

    exceptions: Final = _EXCEPTIONS
    waiter_names: Final[list[str]] = []

    async def register_client(
        self, **kwargs: Unpack[RegisterClientRequestTypeDef]
    ) -> RegisterClientResponseTypeDef:
        """Register a public client (``clientType="public"``) and get its id and secret.

        Raises:
            ParamValidationError: before any I/O.
            ClientError: the service's answer: :exc:`~aiosso.InvalidClientMetadataException`,
                :exc:`~aiosso.InvalidScopeException`,
                :exc:`~aiosso.InvalidRedirectUriException` or another.
        """
        return cast("RegisterClientResponseTypeDef", await self._call(REGISTER_CLIENT, kwargs))

    async def start_device_authorization(
        self, **kwargs: Unpack[StartDeviceAuthorizationRequestTypeDef]
    ) -> StartDeviceAuthorizationResponseTypeDef:
        """Start the device-code flow: a user code and a verification URL to show the user.

        Raises:
            ParamValidationError: before any I/O.
            InvalidClientException, UnauthorizedClientException, ClientError: the answer.
        """
        result = await self._call(START_DEVICE_AUTHORIZATION, kwargs)
        return cast("StartDeviceAuthorizationResponseTypeDef", result)

    async def create_token(
        self, **kwargs: Unpack[CreateTokenRequestTypeDef]
    ) -> CreateTokenResponseTypeDef:
        """Exchange a device code, an authorization code or a refresh token for tokens.

        Raises:
            ParamValidationError: before any I/O.
            AuthorizationPendingException: the device is not approved yet (keep polling).
            SlowDownException: polling too fast (add 5 s to the interval).
            ExpiredTokenException: the device or authorization code expired.
            InvalidGrantException: the grant is invalid, expired or already used.
            InvalidClientException, AccessDeniedException, ClientError: the answer.
        """
        return cast("CreateTokenResponseTypeDef", await self._call(CREATE_TOKEN, kwargs))

    def get_waiter(self, waiter_name: str) -> NoReturn:
        """SSO-OIDC has no waiters.

        Raises:
            ValueError: always, with botocore's message.
        """
        raise ValueError(f"Waiter does not exist: {waiter_name}")

    def can_paginate(self, operation_name: str) -> bool:
        """SSO-OIDC has no paginators: always False."""
        return False
