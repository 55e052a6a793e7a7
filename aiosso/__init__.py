"""aiosso: an asyncio-native client for the AWS IAM Identity Center (SSO) portal API.

A drop-in for aiobotocore's ``sso`` client: the same method names, keyword arguments,
response dicts, exceptions and paginators, on one shared ``aiohttp`` session.
"""

from __future__ import annotations

import importlib

from aiosso._version import VERSION as __version__
from aiosso.exceptions import (
    AccessDeniedException,
    AioSSOError,
    AuthorizationCodeLoadError,
    AuthorizationPendingException,
    CacheFileError,
    CacheLockTimeoutError,
    ClientClosedError,
    ClientError,
    ConfigParseError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CorruptCacheFileError,
    EndpointConnectionError,
    ExpiredTokenException,
    HTTPClientError,
    InternalServerException,
    InvalidClientException,
    InvalidClientMetadataException,
    InvalidConfigError,
    InvalidEndpointError,
    InvalidGrantException,
    InvalidRedirectUriException,
    InvalidRegionError,
    InvalidRequestException,
    InvalidRequestRegionException,
    InvalidScopeException,
    LoginDeniedError,
    LoginError,
    NoRegionError,
    OperationNotPageableError,
    PaginationError,
    ParamValidationError,
    PendingAuthorizationExpiredError,
    ProfileNotFound,
    ReadTimeoutError,
    ResourceNotFoundException,
    ResponseParserError,
    ResponseTooLargeError,
    SlowDownException,
    SSLError,
    SSOTokenLoadError,
    TokenRetrievalError,
    TooManyRequestsException,
    TotalTimeoutError,
    UnauthorizedClientException,
    UnauthorizedException,
    UnauthorizedSSOTokenError,
    UnsupportedGrantTypeException,
)

TYPE_CHECKING = False  # no runtime import of typing: a cache-hit credential-process loads this
if TYPE_CHECKING:
    from typing import Any

    from aiosso._fanout import AccountFailure, FanOutProgress
    from aiosso._retry import set_testing
    from aiosso.awsconfig import SSOProfile, SSOSession, load_config, resolve_sso_profile
    from aiosso.client import AsyncSSOClient
    from aiosso.config import ClientConfig, RetryConfig
    from aiosso.credentials import CacheStats, CredentialCache, RoleCredentials
    from aiosso.oidc import AsyncSSOOIDCClient
    from aiosso.profiles import credentials_for_profile
    from aiosso.tokencache import SSOToken, SSOTokenCache
    from aiosso.tokens import SSOTokenProvider

# Imported on first use: most programs need only the client, and ``import aiosso`` costs
# only the error tree (asyncio and aiohttp come with the first name that needs them, so a
# cache-hit ``aiosso credential-process`` never loads them).
_LAZY = {
    "AccountFailure": "aiosso._fanout",
    "AsyncSSOClient": "aiosso.client",
    "ClientConfig": "aiosso.config",
    "FanOutProgress": "aiosso._fanout",
    "RetryConfig": "aiosso.config",
    "set_testing": "aiosso._retry",
    "AsyncSSOOIDCClient": "aiosso.oidc",
    "CacheStats": "aiosso.credentials",
    "CredentialCache": "aiosso.credentials",
    "RoleCredentials": "aiosso.credentials",
    "SSOProfile": "aiosso.awsconfig",
    "SSOSession": "aiosso.awsconfig",
    "SSOToken": "aiosso.tokencache",
    "SSOTokenCache": "aiosso.tokencache",
    "SSOTokenProvider": "aiosso.tokens",
    "credentials_for_profile": "aiosso.profiles",
    "load_config": "aiosso.awsconfig",
    "resolve_sso_profile": "aiosso.awsconfig",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aiosso' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AccessDeniedException",
    "AccountFailure",
    "AioSSOError",
    "AsyncSSOClient",
    "AsyncSSOOIDCClient",
    "AuthorizationCodeLoadError",
    "AuthorizationPendingException",
    "CacheFileError",
    "CacheLockTimeoutError",
    "CacheStats",
    "ClientClosedError",
    "ClientConfig",
    "ClientError",
    "ConfigParseError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "CorruptCacheFileError",
    "CredentialCache",
    "EndpointConnectionError",
    "ExpiredTokenException",
    "FanOutProgress",
    "HTTPClientError",
    "InternalServerException",
    "InvalidClientException",
    "InvalidClientMetadataException",
    "InvalidConfigError",
    "InvalidEndpointError",
    "InvalidGrantException",
    "InvalidRedirectUriException",
    "InvalidRegionError",
    "InvalidRequestException",
    "InvalidRequestRegionException",
    "InvalidScopeException",
    "LoginDeniedError",
    "LoginError",
    "NoRegionError",
    "OperationNotPageableError",
    "PaginationError",
    "ParamValidationError",
    "PendingAuthorizationExpiredError",
    "ProfileNotFound",
    "ReadTimeoutError",
    "ResourceNotFoundException",
    "ResponseParserError",
    "ResponseTooLargeError",
    "RetryConfig",
    "RoleCredentials",
    "SSLError",
    "SSOProfile",
    "SSOSession",
    "SSOToken",
    "SSOTokenCache",
    "SSOTokenLoadError",
    "SSOTokenProvider",
    "SlowDownException",
    "TokenRetrievalError",
    "TooManyRequestsException",
    "TotalTimeoutError",
    "UnauthorizedClientException",
    "UnauthorizedException",
    "UnauthorizedSSOTokenError",
    "UnsupportedGrantTypeException",
    "__version__",
    "credentials_for_profile",
    "load_config",
    "resolve_sso_profile",
    "set_testing",
]
