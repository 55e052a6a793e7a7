"""How the portal speaks on the wire: routes, error responses, page tokens, injected faults.

Facts from the service model and from botocore's parser (reference §1-§3): errors carry
``x-amzn-ErrorType: <Code>:<namespace>`` plus a ``{"message": ...}`` body and a request id; a 5xx
"from a proxy" is an HTML page without one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from http import HTTPStatus

from aiohttp import web

from ._faults import Injection

ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"
TOKEN_HEADER = "x-amz-sso_bearer_token"
ROUTES = {
    ("GET", "/federation/credentials"): "GetRoleCredentials",
    ("GET", "/assignment/accounts"): "ListAccounts",
    ("GET", "/assignment/roles"): "ListAccountRoles",
    ("POST", "/logout"): "Logout",
}
JSON = "application/json"
COMPACT = (",", ":")
RESULT_SIZE_MESSAGE = "ResultSize parameter must be within the valid limits of: 1-100"
BAD_NEXT_TOKEN = "The pagination token provided is invalid"


class ServiceError(Exception):
    """Raised inside handlers; becomes the service's JSON error response."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def json_error(
    status: int,
    code: str,
    namespace: str,
    payload: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> web.Response:
    """An AWS JSON error: ``x-amzn-ErrorType: <code>:<namespace>``, a request id, the body."""
    headers = {
        "x-amzn-RequestId": str(uuid.uuid4()),
        "x-amzn-ErrorType": f"{code}:{namespace}",
        "Content-Type": JSON,
    }
    if extra:
        headers.update(extra)
    body = json.dumps(payload, separators=COMPACT).encode()
    return web.Response(status=status, body=body, headers=headers)


def error_response(
    status: int, code: str, message: str, extra: Mapping[str, str] | None = None
) -> web.Response:
    """The portal's error: ``x-amzn-ErrorType``, ``x-amzn-RequestId``, ``{"message": ...}``."""
    return json_error(status, code, ERROR_NAMESPACE, {"message": message}, extra)


def missing(member: str) -> ServiceError:
    """The 400 for an absent required query member (worded like the service's validation)."""
    message = (
        f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: "
        "Member must not be null"
    )
    return ServiceError(400, "InvalidRequestException", message)


class PageTokens:
    """Opaque ``nextToken``s: HMAC-signed, bound to token, operation, account and offset."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "<PageTokens>"

    def encode(self, op: str, ident: int, account_id: str, offset: int) -> str:
        """The token for the page of ``op`` starting at ``offset``."""
        payload = f"{op}|{ident}|{account_id}|{offset}".encode()
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()[:16]
        # Standard base64 ('+', '/', '=') like the real tokens: clients must percent-encode.
        return base64.b64encode(mac + payload).decode()

    def decode(self, token: str, op: str, ident: int, account_id: str, n: int) -> int:
        """Return the offset ``token`` stands for.

        Raises:
            ServiceError: 400 InvalidRequestException if forged, corrupted or issued for
                another access token, operation or account, or out of range for ``n`` items.
        """
        try:
            raw = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            raise ServiceError(400, "InvalidRequestException", BAD_NEXT_TOKEN) from None
        mac, payload = raw[:16], raw[16:]
        expected = hmac.new(self._key, payload, hashlib.sha256).digest()[:16]
        prefix = f"{op}|{ident}|{account_id}|".encode()
        if not hmac.compare_digest(mac, expected) or not payload.startswith(prefix):
            raise ServiceError(400, "InvalidRequestException", BAD_NEXT_TOKEN)
        offset = payload[len(prefix) :]
        if not offset.isdigit() or not 0 < int(offset) < n:
            raise ServiceError(400, "InvalidRequestException", BAD_NEXT_TOKEN)
        return int(offset)


def reason(status: int) -> str:
    """The standard reason phrase of ``status``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def inject(request: web.Request, injection: Injection) -> web.StreamResponse | None:
    """Answer ``request`` with ``injection``; None when the connection was dropped instead."""
    if injection.kind == "drop":
        if request.transport is not None:
            request.transport.close()
        return None
    if injection.kind == "malformed_json":
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": JSON}
        return web.Response(body=b'{"accountList": [{"accountId": "1234', headers=headers)
    if injection.kind == "truncated_body":
        response = web.StreamResponse(headers={"x-amzn-RequestId": str(uuid.uuid4())})
        response.content_type = JSON
        response.content_length = 4096
        await response.prepare(request)
        await response.write(b'{"roleList": [{"roleName": "Adm')
        if request.transport is not None:
            request.transport.close()
        return response
    extra: dict[str, str] = {}
    if injection.retry_after is not None:
        extra["Retry-After"] = str(max(0, round(injection.retry_after)))
        extra["x-amz-retry-after"] = str(max(0, round(injection.retry_after * 1000)))
    status = injection.status
    message = injection.message
    if injection.code is not None:
        return error_response(status, injection.code, message or injection.code, extra)
    message = reason(status) if message is None else message
    if status >= 500:
        html = f"<html><body><h1>{status} {message}</h1></body></html>"
        return web.Response(status=status, text=html, content_type="text/html", headers=extra)
    extra["x-amzn-RequestId"] = str(uuid.uuid4())
    extra["Content-Type"] = JSON
    body = json.dumps({"message": message}, separators=COMPACT).encode()
    return web.Response(status=status, body=body, headers=extra)
