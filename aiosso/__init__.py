"""aiosso: an asyncio-native client for the AWS IAM Identity Center (SSO) portal API.

A drop-in for aiobotocore's ``sso`` client: the same method names, keyword arguments,
response dicts, exceptions and paginators, on one shared ``aiohttp`` session.
"""

from __future__ import annotations

from aiosso._fanout import AccountFailure, FanOutProgress
from aiosso._retry import set_testing
from aiosso._version import VERSION as __version__
from aiosso.client import AsyncSSOClient
from aiosso.config import ClientConfig, RetryConfig
from aiosso.credentials import CacheStats, CredentialCache, RoleCredentials
from aiosso.exceptions import (
    AioSSOError,
    ClientClosedError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    InvalidEndpointError,
    InvalidRegionError,
    InvalidRequestException,
    NoRegionError,
    OperationNotPageableError,
    PaginationError,
    ParamValidationError,
    ReadTimeoutError,
    ResourceNotFoundException,
    ResponseParserError,
    ResponseTooLargeError,
    TooManyRequestsException,
    UnauthorizedException,
)

__all__ = [
    "AccountFailure",
    "AioSSOError",
    "AsyncSSOClient",
    "CacheStats",
    "ClientClosedError",
    "ClientConfig",
    "ClientError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "CredentialCache",
    "EndpointConnectionError",
    "FanOutProgress",
    "HTTPClientError",
    "InvalidEndpointError",
    "InvalidRegionError",
    "InvalidRequestException",
    "NoRegionError",
    "OperationNotPageableError",
    "PaginationError",
    "ParamValidationError",
    "ReadTimeoutError",
    "ResourceNotFoundException",
    "ResponseParserError",
    "ResponseTooLargeError",
    "RetryConfig",
    "RoleCredentials",
    "TooManyRequestsException",
    "UnauthorizedException",
    "__version__",
    "set_testing",
]
