"""How ``PortalEmulator`` answers HTTP, as the mixin ``EmulatorHTTP``.

One handler takes every request: admin endpoints (``/_emulator/...``), the device verification
page, then routing to a portal or SSO-OIDC operation with counters, scripted and random faults, the
rate limiter and the redacted request log. The four portal operations (ListAccounts,
ListAccountRoles with their pagination, GetRoleCredentials, Logout) are served here; SSO-OIDC ones
go to ``OIDCService`` (``_oidc.py``). The state lives on the emulator (``_emulator.py``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from ._faults import OIDC_OPERATIONS, FaultEngine, RateLimiter
from ._faults import retry_after_headers as _retry_after_headers
from ._oidc import OIDCService
from ._oidc_wire import (
    OIDC_ROUTES,
    SECRET_QUERY,
    VERIFICATION_PATH,
    OIDCError,
    oidc_error_response,
    redact_body,
)
from ._org import Organisation, TokenState, TokenStore
from ._stats import REDACTED, RequestRecord, StatsCollector
from ._wire import (
    COMPACT,
    JSON,
    RESULT_SIZE_MESSAGE,
    ROUTES,
    TOKEN_HEADER,
    PageTokens,
    ServiceError,
    error_response,
    inject,
    missing,
)


class EmulatorHTTP:
    """``PortalEmulator``'s request handling; the emulator's ``__init__`` sets the state below."""

    organisation: Organisation
    page_size: int
    credentials_ttl: float
    null_next_token: bool
    _seed: int
    _clock: Callable[[], float]
    _tokens: TokenStore
    _limiter: RateLimiter
    _faults: FaultEngine
    _stats: StatsCollector
    _oidc: OIDCService
    _page_tokens: PageTokens
    _credentials_issued: int
    _account_items: dict[str, bytes]
    _role_items: dict[str, list[bytes]]
    _visible_items: dict[int, list[bytes]]

    if TYPE_CHECKING:

        def reset(self) -> None: ...

    # -- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_emulator/"):
            return self._admin(request, path)
        if path == VERIFICATION_PATH and request.method == "GET":
            return self._oidc.verification_page(request)
        stats = self._stats
        stats.total += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        key = (request.method, path)
        operation = ROUTES.get(key) or OIDC_ROUTES.get(key)
        if operation == "CreateToken" and "aws_iam" in request.query:
            operation = "CreateTokenWithIAM"
        stats.requests[operation or "Unknown"] += 1
        raw_token = request.headers.get(TOKEN_HEADER)
        fault: str | None = None
        response: web.StreamResponse | None = None
        raw_body = b""
        try:
            if operation is None:
                raise ServiceError(404, "UnknownOperationException", "Unknown operation")
            oidc = operation in OIDC_OPERATIONS
            if oidc and request.method == "POST":
                raw_body = await request.read()
            delay, injection = self._faults.pick(operation)
            if delay > 0:
                await asyncio.sleep(delay)
            if injection is None:
                if oidc:
                    response = self._oidc.serve(request, operation, raw_body)
                else:
                    response = self._serve(request, operation, raw_token)
            else:
                fault = injection.kind
                stats.faults[fault] += 1
                if oidc and injection.kind == "error" and injection.code is not None:
                    message = injection.message or injection.code
                    response = oidc_error_response(injection.status, injection.code, message)
                else:
                    response = await inject(request, injection)
        except ServiceError as err:
            response = error_response(err.status, err.code, err.message, err.headers)
        except OIDCError as err:
            response = oidc_error_response(err.status, err.code, err.description)
        finally:
            stats.in_flight -= 1
        status = None if response is None else response.status
        if status is not None:
            stats.statuses[status] += 1
        stats.log.append(self._record(request, operation, status, raw_token, fault, raw_body))
        if response is None:
            # The transport is closed already; aiohttp ignores this write to it.
            return web.Response(status=499)
        return response

    def _record(
        self,
        request: web.Request,
        operation: str | None,
        status: int | None,
        raw_token: str | None,
        fault: str | None,
        raw_body: bytes = b"",
    ) -> RequestRecord:
        if raw_token is None:
            label = None
        else:
            state = self._tokens.find(raw_token)
            label = "unknown" if state is None else state.label
        tokens = self._tokens
        query = tuple(
            (
                k,
                REDACTED
                if (k == "next_token" and v)
                or k in SECRET_QUERY
                or v in tokens
                or (raw_token and v == raw_token)
                else v,
            )
            for k, v in request.query.items()
        )
        body = redact_body(raw_body) if raw_body else ()
        return RequestRecord(
            time.time(), request.method, request.path, query, operation, status, label, fault, body
        )

    def _serve(self, request: web.Request, operation: str, raw_token: str | None) -> web.Response:
        state = self._tokens.lookup(raw_token, self._clock()) if raw_token else None
        if state is None:
            raise ServiceError(401, "UnauthorizedException", "Session token not found or invalid")
        wait = self._limiter.acquire(state.ident, operation)
        if wait:
            self._stats.throttled += 1
            headers = _retry_after_headers(self._limiter.limit, wait)
            raise ServiceError(429, "TooManyRequestsException", "Too many requests", headers)
        query = request.query
        if operation == "ListAccounts":
            body = self._list_accounts(state, query.get("next_token"), query.get("max_result"))
        elif operation == "ListAccountRoles":
            body = self._list_roles(
                state, query.get("account_id"), query.get("next_token"), query.get("max_result")
            )
        elif operation == "GetRoleCredentials":
            body = self._credentials(state, query.get("role_name"), query.get("account_id"))
        else:
            state.revoked = True
            self._oidc.end_session(state)
            body = b""
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": JSON}
        return web.Response(body=body, headers=headers)

    def _account(self, state: TokenState, account_id: str | None) -> str:
        if account_id is None:
            raise missing("accountId")
        if self.organisation.get(account_id) is None:
            raise ServiceError(404, "ResourceNotFoundException", "Account not found")
        if account_id not in state.visible:
            raise ServiceError(403, "ForbiddenException", "No access")
        return account_id

    def _credentials(self, state: TokenState, role: str | None, account_id: str | None) -> bytes:
        if role is None:
            raise missing("roleName")
        account_id = self._account(state, account_id)
        account = self.organisation.get(account_id)
        if account is None or role not in account.roles:
            raise ServiceError(403, "ForbiddenException", "No access")
        self._credentials_issued += 1
        seed = f"{self._seed}|{self._credentials_issued}|{state.ident}|{account_id}|{role}"
        material = hashlib.shake_256(seed.encode()).digest(10 + 30 + 270)
        credentials = {
            "accessKeyId": "ASIA" + base64.b32encode(material[:10]).decode(),
            "secretAccessKey": base64.b64encode(material[10:40]).decode(),
            "sessionToken": base64.b64encode(material[40:]).decode(),
            "expiration": int((time.time() + self.credentials_ttl) * 1000),
        }
        return json.dumps({"roleCredentials": credentials}, separators=COMPACT).encode()

    def _list_accounts(self, state: TokenState, next_token: str | None, size: str | None) -> bytes:
        items = self._visible_items.get(state.ident)
        if items is None:
            items = [self._account_items[a.account_id] for a in state.accounts]
            self._visible_items[state.ident] = items
        return self._page(b"accountList", items, state, "A", "", next_token, size)

    def _list_roles(
        self, state: TokenState, account_id: str | None, next_token: str | None, size: str | None
    ) -> bytes:
        account_id = self._account(state, account_id)
        items = self._role_items[account_id]
        return self._page(b"roleList", items, state, "R", account_id, next_token, size)

    def _page(
        self,
        key: bytes,
        items: list[bytes],
        state: TokenState,
        op: str,
        account_id: str,
        next_token: str | None,
        size: str | None,
    ) -> bytes:
        limit = self.page_size
        if size is not None:
            if not (size.isascii() and size.isdigit()) or not 1 <= int(size) <= 100:
                raise ServiceError(400, "InvalidRequestException", RESULT_SIZE_MESSAGE)
            limit = min(limit, int(size))
        start = 0
        if next_token:
            start = self._page_tokens.decode(next_token, op, state.ident, account_id, len(items))
        end = start + limit
        parts = [b'{"', key, b'":[', b",".join(items[start:end]), b"]"]
        if end < len(items):
            token = self._page_tokens.encode(op, state.ident, account_id, end)
            parts += [b',"nextToken":"', token.encode(), b'"']
        elif self.null_next_token:
            parts.append(b',"nextToken":null')
        parts.append(b"}")
        return b"".join(parts)

    def _admin(self, request: web.Request, path: str) -> web.Response:
        if path == "/_emulator/stats" and request.method == "GET":
            return web.json_response(self._stats.snapshot().as_dict())
        if path == "/_emulator/reset" and request.method == "POST":
            self.reset()
            return web.json_response({"reset": True})
        return web.json_response({"message": "Unknown emulator endpoint"}, status=404)
