"""How SSO-OIDC speaks on the wire: routes, OAuth-style errors, redaction, PKCE and redirects.

Reference §8: rest-json, camelCase JSON members, and errors as the service sends them:
``x-amzn-ErrorType: <Code>:<namespace>``, ``x-amzn-RequestId`` and an OAuth body
``{"error": "<snake_case>", "error_description": "..."}`` (no ``message``). Also the browser side of
``GET /authorize``: redirect-URI matching, callback URLs and the small HTML pages it answers.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web

from ._stats import REDACTED
from ._wire import COMPACT, json_error

ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"
OIDC_ROUTES = {
    ("POST", "/client/register"): "RegisterClient",
    ("POST", "/device_authorization"): "StartDeviceAuthorization",
    ("POST", "/token"): "CreateToken",
    ("GET", "/authorize"): "Authorize",
}
VERIFICATION_PATH = "/device"
SECRET_MEMBERS = frozenset(
    {"clientSecret", "deviceCode", "code", "codeVerifier", "refreshToken", "accessToken"}
)
SECRET_QUERY = frozenset({"code", "code_verifier", "client_secret", "refresh_token"})
_SNAKE = {
    "AccessDeniedException": "access_denied",
    "AuthorizationPendingException": "authorization_pending",
    "ExpiredTokenException": "expired_token",
    "InternalServerException": "server_error",
    "InvalidClientException": "invalid_client",
    "InvalidClientMetadataException": "invalid_client_metadata",
    "InvalidGrantException": "invalid_grant",
    "InvalidRedirectUriException": "invalid_redirect_uri",
    "InvalidRequestException": "invalid_request",
    "InvalidScopeException": "invalid_scope",
    "SlowDownException": "slow_down",
    "UnauthorizedClientException": "unauthorized_client",
    "UnsupportedGrantTypeException": "unsupported_grant_type",
}
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})


def error_code_to_oauth(code: str) -> str:
    """The OAuth ``error`` value the service pairs with ``code`` (``invalid_grant``...)."""
    if code in _SNAKE:
        return _SNAKE[code]
    name = code.removesuffix("Exception")
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class OIDCError(Exception):
    """Raised inside SSO-OIDC handlers; becomes the service's OAuth-style error response."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.description = description
        self.status = status


def oidc_error_response(
    status: int, code: str, description: str, extra: Mapping[str, str] | None = None
) -> web.Response:
    """``x-amzn-ErrorType``, ``x-amzn-RequestId``, ``{"error": ..., "error_description": ...}``."""
    payload = {"error": error_code_to_oauth(code), "error_description": description}
    return json_error(status, code, ERROR_NAMESPACE, payload, extra)


def redact_body(raw: bytes) -> tuple[tuple[str, str], ...]:
    """A JSON body's members for the request log, secrets replaced by ``"<redacted>"``."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return ()
    if not isinstance(body, dict):
        return ()
    return tuple(
        (
            str(k),
            REDACTED
            if k in SECRET_MEMBERS
            else (v if isinstance(v, str) else json.dumps(v, separators=COMPACT)),
        )
        for k, v in body.items()
    )


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier``: unpadded base64url of its SHA-256."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _redirect_matches(registered: Iterable[str], requested: str) -> bool:
    """Exact match, or a loopback IP redirect that differs only by port (RFC 8252 §7.3)."""
    if requested in registered:
        return True
    try:
        parts = urlsplit(requested)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "http" or parts.hostname not in _LOOPBACK_HOSTS or port is None:
        return False
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    portless = parts._replace(netloc=host).geturl()
    return portless in registered


def _with_query(url: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote)
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _page(status: int, title: str, text: str) -> web.Response:
    body = (
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return web.Response(status=status, text=body, content_type="text/html")


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _invalid(member: str) -> OIDCError:
    return OIDCError("InvalidRequestException", f"Invalid request: {member} is required")
