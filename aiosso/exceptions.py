"""Everything aiosso raises on purpose, under one root.

The names are botocore's, so ``except`` clauses written for botocore/aiobotocore keep
working when the import line changes::

    AioSSOError
    ├── ClientError                      the service answered (.response, .operation_name)
    │   ├── InvalidRequestException      400
    │   ├── UnauthorizedException        401: token expired, revoked or logged out
    │   ├── ResourceNotFoundException    404
    │   ├── TooManyRequestsException     429: throttled
    │   ├── AccessDeniedException        SSO-OIDC 400: the user denied the request
    │   ├── AuthorizationPendingException  SSO-OIDC 400: not approved yet, keep polling
    │   ├── ExpiredTokenException        SSO-OIDC 400: the device or authorization code expired
    │   ├── InternalServerException      SSO-OIDC 500
    │   ├── InvalidClientException       SSO-OIDC 401: bad or expired client registration
    │   ├── InvalidClientMetadataException  SSO-OIDC 400
    │   ├── InvalidGrantException        SSO-OIDC 400: refresh token, code or device code invalid
    │   ├── InvalidRedirectUriException  SSO-OIDC 400
    │   ├── InvalidRequestRegionException  SSO-OIDC 400
    │   ├── InvalidScopeException        SSO-OIDC 400
    │   ├── SlowDownException            SSO-OIDC 400: polling too fast
    │   ├── UnauthorizedClientException  SSO-OIDC 400
    │   └── UnsupportedGrantTypeException  SSO-OIDC 400
    ├── ParamValidationError             bad parameters, raised before any I/O (also ValueError)
    ├── NoRegionError                    neither a region nor an endpoint URL was given
    ├── InvalidRegionError               the region is not a valid host label (also ValueError)
    ├── InvalidEndpointError             the endpoint URL is unusable (also ValueError)
    ├── OperationNotPageableError        get_paginator() on an operation without pages
    ├── PaginationError                  the service returned the same nextToken twice
    ├── ClientClosedError                the client was used after close() (also RuntimeError)
    ├── InvalidConfigError               ~/.aws/config is not a usable SSO setup (also ValueError)
    │   └── ConfigParseError             ... or is not valid INI
    ├── ProfileNotFound                  the profile is in neither ~/.aws/config nor credentials
    ├── SSOTokenLoadError                no usable token in ~/.aws/sso/cache: log in
    ├── UnauthorizedSSOTokenError        the SSO session expired and cannot be refreshed: log in
    ├── TokenRetrievalError              a token could not be refreshed
    ├── LoginError                       a login did not complete: try again
    │   ├── PendingAuthorizationExpiredError  the device or browser authorization expired
    │   ├── AuthorizationCodeLoadError   the browser's answer was not usable (state, no code)
    │   └── LoginDeniedError             the user (or the service) denied the login
    ├── CacheFileError                   a cache file or its folder is unusable or unsafe
    │   ├── CorruptCacheFileError        ... not a JSON object (truncated, empty, ...)
    │   └── CacheLockTimeoutError        its lock was held too long (also TimeoutError)
    ├── ResponseParserError              a reply that is not what the API promises
    ├── ResponseTooLargeError            a reply beyond ``max_response_bytes`` (not read)
    └── HTTPClientError                  the HTTP exchange itself failed
        ├── EndpointConnectionError      could not connect
        │   ├── ConnectTimeoutError      connecting took too long (also TimeoutError)
        │   └── SSLError                 TLS failed: certificate not trusted, handshake error
        ├── ReadTimeoutError             the reply took too long (also TimeoutError)
        │   └── TotalTimeoutError        ... past the call's hard deadline, total_timeout
        └── ConnectionClosedError        the connection dropped mid-exchange

Messages never contain access tokens, secret keys or session tokens.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "AccessDeniedException",
    "AioSSOError",
    "AuthorizationCodeLoadError",
    "AuthorizationPendingException",
    "CacheFileError",
    "CacheLockTimeoutError",
    "ClientClosedError",
    "ClientError",
    "ConfigParseError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "CorruptCacheFileError",
    "EndpointConnectionError",
    "ExpiredTokenException",
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
    "SSLError",
    "SSOTokenLoadError",
    "SlowDownException",
    "TokenRetrievalError",
    "TooManyRequestsException",
    "TotalTimeoutError",
    "UnauthorizedClientException",
    "UnauthorizedException",
    "UnauthorizedSSOTokenError",
    "UnsupportedGrantTypeException",
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


#: The most characters of a service's error code or message that ``str(e)`` quotes.
MAX_QUOTED_CHARS = 500


def bounded(text: object, limit: int = MAX_QUOTED_CHARS) -> object:
    """*text* if it is not a string longer than *limit*, else its start, an ellipsis and its
    length: what an exception message may quote of a reply."""
    if not isinstance(text, str) or len(text) <= limit:
        return text
    return f"{text[:limit]}... [truncated: {len(text)} characters in all, see e.response]"


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
        # The message quotes at most MAX_QUOTED_CHARS of what the service sent (a proxy's
        # 1 MiB page must not become a 1 MiB message); e.response keeps all of it.
        msg = self.MSG_TEMPLATE.format(
            error_code=bounded(error.get("Code", "Unknown")),
            error_message=bounded(error.get("Message", "Unknown")),
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


class AccessDeniedException(ClientError):
    """400 (SSO-OIDC): the user denied the authorization, or KMS refused access."""


class AuthorizationPendingException(ClientError):
    """400 (SSO-OIDC): the user has not approved the device yet; keep polling."""


class ExpiredTokenException(ClientError):
    """400 (SSO-OIDC): the device code or authorization code expired; start again."""


class InternalServerException(ClientError):
    """500 (SSO-OIDC): a server-side failure."""


class InvalidClientException(ClientError):
    """401 (SSO-OIDC): the client id or secret is wrong or the registration expired."""


class InvalidClientMetadataException(ClientError):
    """400 (SSO-OIDC): the registration request is invalid."""


class InvalidGrantException(ClientError):
    """400 (SSO-OIDC): the grant (refresh token, code, device code) is invalid or used."""


class InvalidRedirectUriException(ClientError):
    """400 (SSO-OIDC): the redirect URI is not registered."""


class InvalidRequestRegionException(ClientError):
    """400 (SSO-OIDC): the request went to the wrong region."""


class InvalidScopeException(ClientError):
    """400 (SSO-OIDC): a requested scope is invalid."""


class SlowDownException(ClientError):
    """400 (SSO-OIDC): polling too fast; add 5 seconds to the interval."""


class UnauthorizedClientException(ClientError):
    """400 (SSO-OIDC): the client may not use this grant."""


class UnsupportedGrantTypeException(ClientError):
    """400 (SSO-OIDC): the grant type is not supported."""


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


class SSLError(EndpointConnectionError):
    """The TLS handshake failed (an untrusted certificate, a name mismatch, a protocol error).

    Not retried when the certificate failed verification: that does not fix itself.
    """

    fmt = "SSL validation failed for {endpoint_url} {error}"


class ReadTimeoutError(HTTPClientError, TimeoutError):
    """The reply took longer than ``read_timeout``."""

    fmt = 'Read timeout on endpoint URL: "{endpoint_url}"'


class TotalTimeoutError(ReadTimeoutError):
    """The call's hard deadline, ``RetryConfig.total_timeout``, passed before it could end.

    The deadline covers the whole call: waiting for a place among the requests in flight,
    the rate limiter, every attempt (even a reply that trickles in byte by byte, which no
    per-read timeout catches) and every backoff. Not retried: the time is spent.
    """

    fmt = (
        'Read timeout on endpoint URL: "{endpoint_url}" '
        "(the call's total_timeout of {seconds:g} s ran out)"
    )


class ConnectionClosedError(HTTPClientError):
    """The connection was dropped before the reply was complete."""

    fmt = (
        "Connection was closed before we received a valid response from endpoint URL: "
        '"{endpoint_url}".'
    )


class ResponseTooLargeError(AioSSOError):
    """The body exceeds ``ClientConfig.max_response_bytes``: it is not read, nor retried."""

    fmt = 'Response from endpoint URL "{endpoint_url}" exceeds {limit} bytes'


class InvalidConfigError(AioSSOError, ValueError):
    """The config file is readable but does not describe a usable SSO profile or session.

    The message names the profile or session and the offending keys, with botocore's wording
    where botocore has one.
    """

    fmt = "{error_msg}"


class ConfigParseError(InvalidConfigError):
    """The config file cannot be read or is not valid INI.

    The message names the file and the line numbers, never the content of a line (a config
    file may hold secrets).
    """

    fmt = "Unable to parse config file: {path}: {reason}"


class ProfileNotFound(AioSSOError):
    """The named profile is in neither the config file nor the shared credentials file
    (botocore's name and message)."""

    fmt = "The config profile ({profile}) could not be found"


class SSOTokenLoadError(AioSSOError):
    """No usable SSO token in the cache: absent, incomplete or unreadable (botocore's name).

    Messages are botocore's where it has them: ``Error loading SSO Token: Token for my-sso
    does not exist`` and ``Error loading SSO Token: Token for <start URL> is invalid``.
    Running ``aws sso login`` (or aiosso's login) replaces the file.
    """

    fmt = "Error loading SSO Token: {error_msg}"


class CacheFileError(AioSSOError):
    """A cache file or directory cannot be used safely: I/O error, unsafe permissions.

    ``e.kwargs["path"]`` is the file or directory concerned.
    """

    fmt = "{error_msg}"


class CorruptCacheFileError(CacheFileError):
    """A cache file exists but is not a JSON object (truncated, empty, not UTF-8, too big)."""


class CacheLockTimeoutError(CacheFileError, TimeoutError):
    """Another process or task held a cache lock for longer than the caller would wait."""


class UnauthorizedSSOTokenError(AioSSOError):
    """The SSO session is expired or invalid and cannot be refreshed: log in again."""

    fmt = (
        "The SSO session associated with this profile has expired or is otherwise invalid. "
        "To refresh this SSO session run aws sso login (or aiosso login) with the "
        "corresponding profile."
    )


class TokenRetrievalError(AioSSOError):
    """A token provider could not produce a valid token (botocore's name and message)."""

    fmt = "Error when retrieving token from {provider}: {error_msg}"


class LoginError(AioSSOError):
    """A login did not complete; the message says why and what to do."""

    fmt = "{error_msg}"


class PendingAuthorizationExpiredError(LoginError):
    """The authorization was not completed in time (device code or browser wait expired)."""


class AuthorizationCodeLoadError(LoginError):
    """The browser's callback did not bring a usable authorization code (bad ``state``, an
    ``error`` instead of a code)."""


class LoginDeniedError(LoginError):
    """The user (or the directory) refused the authorization request."""
