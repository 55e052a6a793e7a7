"""Everything aiosso raises on purpose, under one root.

The names are botocore's, so ``except`` clauses written for botocore/aiobotocore keep
working when the import line changes::

    AioSSOError
    ├── ClientError                      the service answered (.response, .operation_name)
    │   ├── InvalidRequestException      400
    │   ├── UnauthorizedException        401: token expired, revoked or logged out
    │   ├── ResourceNotFoundException    404
    │   └── TooManyRequestsException     429: throttled
    ├── ParamValidationError             bad parameters, raised before any I/O (also ValueError)
    ├── NoRegionError                    neither a region nor an endpoint URL was given
    ├── InvalidRegionError               the region is not a valid host label (also ValueError)
    ├── InvalidEndpointError             the endpoint URL is unusable (also ValueError)
    ├── OperationNotPageableError        get_paginator() on an operation without pages
    ├── PaginationError                  the service returned the same nextToken twice
    ├── ClientClosedError                the client was used after close() (also RuntimeError)
    ├── ResponseParserError              a reply that is not what the API promises
    ├── ResponseTooLargeError            a reply beyond ``max_response_bytes`` (not read)
    └── HTTPClientError                  the HTTP exchange itself failed
        ├── EndpointConnectionError      could not connect
        │   └── ConnectTimeoutError      connecting took too long (also TimeoutError)
        ├── ReadTimeoutError             the reply took too long (also TimeoutError)
        └── ConnectionClosedError        the connection dropped mid-exchange

Messages never contain access tokens, secret keys or session tokens.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AioSSOError",
    "ClientClosedError",
    "ClientError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "EndpointConnectionError",
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
    "TooManyRequestsException",
    "UnauthorizedException",
]


class AioSSOError(Exception):
    """Root of every error aiosso raises on purpose.

    Subclasses with a ``fmt`` build their message from keyword arguments, which stay
    available as ``e.kwargs`` (botocore's convention).
    """

    fmt = "An unspecified error occurred"

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        super().__init__(self.fmt.format(**kwargs))

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.kwargs)


def _rebuild(cls: type[AioSSOError], kwargs: dict[str, Any]) -> AioSSOError:
    return cls(**kwargs)


class ClientError(AioSSOError):
    """The service answered with an error.

    ``e.response`` is the parsed reply (``Error``, ``ResponseMetadata`` and any modeled
    members); ``e.operation_name`` is the API name (``"ListAccounts"``).
    """

    MSG_TEMPLATE = (
        "An error occurred ({error_code}) when calling the {operation_name} "
        "operation{retry_info}: {error_message}"
    )

    def __init__(self, error_response: dict[str, Any], operation_name: str) -> None:
        error = error_response.get("Error", {})
        metadata = error_response.get("ResponseMetadata", {})
        retry_info = ""
        if metadata.get("MaxAttemptsReached", False):
            retry_info = f" (reached max retries: {metadata.get('RetryAttempts', 'unknown')})"
        msg = self.MSG_TEMPLATE.format(
            error_code=error.get("Code", "Unknown"),
            error_message=error.get("Message", "Unknown"),
            operation_name=operation_name,
            retry_info=retry_info,
        )
        Exception.__init__(self, msg)
        self.kwargs = {}
        self.response = error_response
        self.operation_name = operation_name

    def __reduce__(self) -> tuple[Any, ...]:
        # As botocore: a pickled modeled error comes back as a plain ClientError.
        return ClientError, (self.response, self.operation_name)


class InvalidRequestException(ClientError):
    """400: the request was rejected, e.g. a malformed or foreign ``nextToken``."""


class UnauthorizedException(ClientError):
    """401: the access token is missing, expired, revoked or logged out; log in again."""


class ResourceNotFoundException(ClientError):
    """404: the account does not exist or is not visible to this token."""


class TooManyRequestsException(ClientError):
    """429: the service throttled the request (retried automatically before surfacing)."""


class ParamValidationError(AioSSOError, ValueError):
    """Parameters failed validation before any request was sent.

    ``e.kwargs["report"]`` holds botocore's report lines, one problem per line.
    """

    fmt = "Parameter validation failed:\n{report}"


class NoRegionError(AioSSOError):
    """Neither a region nor an endpoint URL was given or found in the environment."""

    fmt = "You must specify a region."


class InvalidRegionError(AioSSOError, ValueError):
    """The region name cannot be part of a host name."""

    fmt = "Provided region_name '{region_name}' doesn't match a supported format."


class InvalidEndpointError(AioSSOError, ValueError):
    """The endpoint URL is unusable (not a URL, or plain http to a non-loopback host)."""

    fmt = "Invalid endpoint: {endpoint_url}"


class OperationNotPageableError(AioSSOError):
    """``get_paginator()`` was asked for an operation that has no pages."""

    fmt = "Operation cannot be paginated: {operation_name}"


class PaginationError(AioSSOError):
    """Pagination cannot continue safely (the same ``nextToken`` came back twice)."""

    fmt = "Error during pagination: {message}"


class ClientClosedError(AioSSOError, RuntimeError):
    """The client (or the session it was given) was used after being closed."""

    fmt = "{message}"


class ResponseParserError(AioSSOError):
    """A reply that is not what the API promises (e.g. an HTML page with status 200)."""

    fmt = "Unable to parse response for the {operation_name} operation: {reason}"


class HTTPClientError(AioSSOError):
    """The HTTP exchange failed before a complete reply arrived.

    ``__cause__`` carries the underlying aiohttp or OS error.
    """

    fmt = "An HTTP Client raised an unhandled exception: {error}"


class EndpointConnectionError(HTTPClientError):
    """Could not connect to the endpoint (DNS, refused, TLS or network failure)."""

    fmt = 'Could not connect to the endpoint URL: "{endpoint_url}"'


class ConnectTimeoutError(EndpointConnectionError, TimeoutError):
    """Connecting to the endpoint took longer than ``connect_timeout``."""

    fmt = 'Connect timeout on endpoint URL: "{endpoint_url}"'


class ReadTimeoutError(HTTPClientError, TimeoutError):
    """The reply took longer than ``read_timeout``."""

    fmt = 'Read timeout on endpoint URL: "{endpoint_url}"'


class ConnectionClosedError(HTTPClientError):
    """The connection was dropped before the reply was complete."""

    fmt = (
        "Connection was closed before we received a valid response from endpoint URL: "
        '"{endpoint_url}".'
    )


class ResponseTooLargeError(AioSSOError):
    """The reply's body exceeds ``ClientConfig.max_response_bytes``; it is not read (not retried)."""

    fmt = 'Response from endpoint URL "{endpoint_url}" exceeds {limit} bytes'
