"""PortalEmulator: the IAM Identity Center portal API served by ``aiohttp.web`` on loopback.

The four portal operations answer byte-for-byte the way the service does as far as botocore can tell
(paths, query names, header, JSON keys, ``x-amzn-ErrorType`` / ``x-amzn-RequestId`` headers), so
botocore, aiobotocore and aiosso all parse it as the real thing. This module must not import the
aiosso client: it is the independent oracle the client is tested against.

The same server also speaks SSO-OIDC (``/client/register``, ``/device_authorization``,
``/token``, ``/authorize``; see ``_oidc.py``), so one base URL is both the portal and the OIDC
endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from types import TracebackType

from aiohttp import web

from ._faults import (
    OIDC_OPERATIONS,
    FaultEngine,
    FaultKind,
    Faults,
    Injection,
    RateLimit,
    RateLimiter,
)
from ._faults import retry_after_headers as _retry_after_headers
from ._oidc import (
    OIDC_ROUTES,
    SECRET_QUERY,
    VERIFICATION_PATH,
    ClientRegistration,
    OIDCError,
    OIDCService,
    OIDCSettings,
    TokenPair,
    oidc_error_response,
    redact_body,
)
from ._org import Organisation, OrganisationLike, TokenState, TokenStore
from ._stats import REDACTED, EmulatorStats, OIDCStats, RequestRecord, StatsCollector
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

__all__ = ["PortalEmulator"]


class PortalEmulator:
    """A local IAM Identity Center portal (``portal.sso``) for tests and benchmarks.

    Use ``async with PortalEmulator(...) as emu:`` (or ``await emu.start()`` /
    ``await emu.close()``) and point a client at ``emu.url`` with ``emu.token``. ``emu.url`` is
    also the SSO-OIDC endpoint (RegisterClient, StartDeviceAuthorization, CreateToken and the
    browser's ``GET /authorize``); access tokens it issues are portal tokens of this emulator.

    Args:
        organisation: explicit accounts: an :class:`Organisation`, ``{account_id: [roles]}`` or
            an iterable of :class:`Account`; default: generated from the next two arguments.
        accounts: number of generated accounts.
        roles_per_account: number of generated roles per account.
        page_size: server-side cap on items per page; a page holds
            ``min(max_result, page_size)`` items (``page_size`` when ``max_result`` is absent).
        token_ttl: lifetime in seconds of ``emu.token`` and of tokens issued without
            ``expires_in`` (default 8 h, the service's default session).
        credentials_ttl: lifetime in seconds of issued role credentials (``expiration``).
        rate_limit: a :class:`RateLimit`, or None for no throttling.
        faults: random :class:`Faults`, or None.
        null_next_token: send ``"nextToken": null`` on last pages instead of omitting the key.
        seed: makes account ids, tokens, credentials and random faults reproducible.
        host: interface to bind (loopback by default).
        port: TCP port; 0 picks a free one.
        log_limit: how many :class:`RequestRecord` entries to keep (oldest dropped first).
        clock: monotonic clock (seconds) for token expiry and rate limiting.
        oidc: :class:`OIDCSettings` for the SSO-OIDC service (approval mode, device-code
            interval and expiry, token lifetimes, refresh-token rotation...); default
            ``OIDCSettings()``.

    Raises:
        ValueError: invalid organisation or settings.
    """

    def __init__(
        self,
        *,
        organisation: OrganisationLike | None = None,
        accounts: int = 3,
        roles_per_account: int = 2,
        page_size: int = 20,
        token_ttl: float = 8 * 3600.0,
        credentials_ttl: float = 3600.0,
        rate_limit: RateLimit | None = None,
        faults: Faults | None = None,
        null_next_token: bool = False,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        log_limit: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        oidc: OIDCSettings | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        if organisation is None:
            self.organisation = Organisation.generate(accounts, roles_per_account, seed=seed)
        else:
            self.organisation = Organisation.coerce(organisation)
        self.page_size = page_size
        self.token_ttl = token_ttl
        self.credentials_ttl = credentials_ttl
        self.null_next_token = null_next_token
        self.host = host
        self._port = port
        self._seed = seed
        self._clock = clock
        self._tokens = TokenStore(self.organisation, seed=seed)
        self._limiter = RateLimiter(rate_limit, clock)
        self._faults = FaultEngine(faults, seed)
        self._stats = StatsCollector(log_limit)
        self._oidc = OIDCService(oidc or OIDCSettings(), self._tokens, self._stats, clock, seed)
        self._page_tokens = PageTokens(random.Random(f"aiosso-pages-{seed}").randbytes(32))
        self._credentials_issued = 0
        self._account_items = {
            a.account_id: json.dumps(
                {
                    "accountId": a.account_id,
                    "accountName": a.account_name,
                    "emailAddress": a.email_address,
                },
                separators=COMPACT,
            ).encode()
            for a in self.organisation.accounts
        }
        self._role_items = {
            a.account_id: [
                json.dumps({"roleName": r, "accountId": a.account_id}, separators=COMPACT).encode()
                for r in a.roles
            ]
            for a in self.organisation.accounts
        }
        self._visible_items: dict[int, list[bytes]] = {}
        self._runner: web.AppRunner | None = None
        self._closed = False
        self.token = self.issue_token()
        """A valid access token seeing the whole organisation."""

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._runner else "new")
        return (
            f"<PortalEmulator {state} url={self.url if self._runner else None} "
            f"accounts={len(self.organisation.accounts)} tokens={len(self._tokens)}>"
        )

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://<host>:<port>``; valid once started."""
        if self._runner is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self._port}"

    @property
    def port(self) -> int:
        """The bound TCP port (the requested one before start)."""
        return self._port

    async def start(self) -> None:
        """Bind and start serving.

        Raises:
            OSError: the address cannot be bound (e.g. port in use).
            RuntimeError: already started or closed.
        """
        if self._runner is not None or self._closed:
            raise RuntimeError("a PortalEmulator can be started only once")
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=0.25,
            # A handler whose client went away (e.g. cancelled) stops too, so no task lingers.
            handler_cancellation=True,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def close(self) -> None:
        """Stop serving, closing open connections; idempotent."""
        self._closed = True
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> PortalEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- tokens ----------------------------------------------------------------------------

    def issue_token(
        self, *, expires_in: float | None = None, accounts: Sequence[str] | None = None
    ) -> str:
        """Issue a new access token.

        Args:
            expires_in: seconds until it expires (default ``token_ttl``); <= 0 is already expired.
            accounts: account ids it may see (default: the whole organisation).

        Raises:
            ValueError: an account id is not in the organisation.
        """
        ttl = self.token_ttl if expires_in is None else expires_in
        return self._tokens.issue(self._clock() + ttl, accounts)

    def expire_token(self, token: str) -> None:
        """Make ``token`` expired from now on (401 ``UnauthorizedException``)."""
        self._state_of(token).expires_at = self._clock()

    def revoke_token(self, token: str) -> None:
        """Invalidate ``token`` as ``POST /logout`` does."""
        self._state_of(token).revoked = True

    def _state_of(self, token: str) -> TokenState:
        state = self._tokens.find(token)
        if state is None:
            raise KeyError("unknown token")
        return state

    # -- knobs -----------------------------------------------------------------------------

    @property
    def rate_limit(self) -> RateLimit | None:
        """The current rate limit; assigning replaces it and refills every bucket."""
        return self._limiter.limit

    @rate_limit.setter
    def rate_limit(self, value: RateLimit | None) -> None:
        self._limiter.reset(value)

    @property
    def faults(self) -> Faults | None:
        """The current random faults; assign None (or new Faults) at any time."""
        return self._faults.faults

    @faults.setter
    def faults(self, value: Faults | None) -> None:
        self._faults.faults = value

    def fail_next(
        self,
        operation: str | None = None,
        count: int = 1,
        *,
        after: int = 0,
        kind: FaultKind = "error",
        status: int = 503,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
    ) -> None:
        """Script the next ``count`` requests to ``operation`` (None: any portal one) to fail.

        The first ``after`` matching requests are served normally. Scripted failures take
        precedence over random :attr:`faults` and are used in the order queued. See
        :class:`Injection` for the meaning of ``kind``, ``status``, ``code``, ``message``,
        ``retry_after`` and ``delay``; e.g. ``fail_next("ListAccounts", status=429,
        code="TooManyRequestsException", retry_after=1)`` or ``fail_next(kind="drop")``.
        SSO-OIDC operations (``"CreateToken"``...) fail only when named; with a ``code`` they
        answer the OAuth-style body (``error``, ``error_description`` = ``message``).

        Raises:
            ValueError: unknown operation name, ``count < 1`` or ``after < 0``.
        """
        injection = Injection(kind, status, code, message, retry_after, delay)
        self._faults.script(operation, count, after, injection)

    def clear_faults(self) -> None:
        """Drop scripted failures not yet used and disable random faults."""
        self._faults.clear()
        self._faults.faults = None

    @property
    def pending_failures(self) -> int:
        """Scripted failures not yet used."""
        return self._faults.pending

    # -- SSO-OIDC --------------------------------------------------------------------------

    @property
    def oidc_settings(self) -> OIDCSettings:
        """The SSO-OIDC settings; assigning new ones takes effect for the next request
        (device codes keep the interval and expiry they were issued with)."""
        return self._oidc.settings

    @oidc_settings.setter
    def oidc_settings(self, value: OIDCSettings) -> None:
        if not isinstance(value, OIDCSettings):
            raise TypeError("oidc_settings must be an OIDCSettings")
        self._oidc.settings = value

    def register_client(
        self,
        name: str = "aiosso-test-client",
        *,
        scopes: Sequence[str] = ("sso:account:access",),
        grant_types: Sequence[str] | None = None,
        redirect_uris: Sequence[str] = (),
        issuer_url: str | None = None,
        expires_in: float | None = None,
    ) -> ClientRegistration:
        """Register an OIDC client without HTTP (not counted in :attr:`oidc_stats`).

        The default (scopes, no grant types) is what the AWS CLI's device flow registers for an
        sso-session: it may use the device-code and refresh-token grants. For the PKCE flow pass
        ``grant_types=["authorization_code", "refresh_token"]`` and
        ``redirect_uris=["http://127.0.0.1/oauth/callback"]``.

        Args:
            expires_in: seconds until the registration expires (default
                ``oidc_settings.registration_ttl``).

        Returns:
            ``(client_id, client_secret, expires_at)``, ``expires_at`` in epoch seconds (the
            ``clientSecretExpiresAt`` of RegisterClient).

        Raises:
            ValueError: an unknown grant type or a malformed redirect URI.
        """
        try:
            client = self._oidc.register(
                name,
                scopes=scopes,
                redirect_uris=redirect_uris,
                grant_types=grant_types,
                issuer_url=issuer_url,
                expires_in=expires_in,
            )
        except OIDCError as err:
            raise ValueError(err.description) from None
        return ClientRegistration(client.client_id, client.client_secret, client.epoch_expires_at)

    def issue_token_pair(
        self,
        client_id: str,
        *,
        expires_in: float | None = None,
        refresh_expires_in: float | None = None,
        accounts: Sequence[str] | None = None,
    ) -> TokenPair:
        """Sign in without HTTP: a new session of ``client_id`` with a refresh token.

        Seeds token caches for token-provider tests: the access token is a portal token, the
        refresh token works with the ``refresh_token`` grant of that client.

        Args:
            expires_in: access token lifetime in seconds (default
                ``oidc_settings.access_token_ttl``); <= 0 is already expired.
            refresh_expires_in: session (refresh token) lifetime in seconds (default
                ``oidc_settings.refresh_token_ttl``).
            accounts: account ids the tokens may see (default: the whole organisation).

        Raises:
            KeyError: unknown ``client_id``.
            ValueError: an account id is not in the organisation.
        """
        client = self._oidc.client(client_id)
        access, refresh, expires = self._oidc.issue(
            client,
            accounts,
            client.scopes,
            refresh=True,
            access_ttl=expires_in,
            session_ttl=refresh_expires_in,
        )
        assert refresh is not None
        return TokenPair(access, refresh, expires)

    def expire_refresh_token(self, refresh_token: str) -> None:
        """Make ``refresh_token`` expired from now on (``InvalidGrantException``).

        Raises:
            KeyError: unknown refresh token.
        """
        self._oidc.expire_refresh_token(refresh_token)

    def expire_registration(self, client_id: str) -> None:
        """Make a client registration expired from now on (401 ``InvalidClientException``).

        Raises:
            KeyError: unknown client id.
        """
        self._oidc.expire_registration(client_id)

    @property
    def pending_user_codes(self) -> tuple[str, ...]:
        """User codes of device authorizations still awaiting a decision."""
        return self._oidc.pending_user_codes

    def approve_device(
        self, user_code: str | None = None, *, accounts: Sequence[str] | None = None
    ) -> str:
        """Approve a pending device authorization, as the user would in the browser.

        Args:
            user_code: e.g. ``"BCDF-GHJK"``; None approves the only pending one.
            accounts: account ids the issued tokens may see (default: all).

        Returns:
            The user code approved.

        Raises:
            LookupError: ``user_code`` is None and not exactly one is pending.
            KeyError: unknown user code.
            ValueError: that device code was already approved, denied or used.
        """
        return self._oidc.decide_device(user_code, True, accounts)

    def deny_device(self, user_code: str | None = None) -> str:
        """Deny a pending device authorization (polls then get ``AccessDeniedException``).

        Raises:
            LookupError, KeyError, ValueError: as :meth:`approve_device`.
        """
        return self._oidc.decide_device(user_code, False, None)

    @property
    def pending_authorizations(self) -> tuple[str, ...]:
        """``state`` values of ``/authorize`` requests awaiting a decision (manual approval)."""
        return self._oidc.pending_authorizations

    def approve_authorization(
        self, state: str | None = None, *, accounts: Sequence[str] | None = None
    ) -> str:
        """Approve a pending ``/authorize`` request (``approval="manual"``).

        Returns:
            The callback URL the browser would be redirected to,
            ``<redirect_uri>?code=...&state=...``; the test fetches it to finish the login.

        Raises:
            LookupError: ``state`` is None and not exactly one request is pending.
            KeyError: no pending request has that state.
        """
        return self._oidc.decide_authorization(state, True, accounts)

    def deny_authorization(self, state: str | None = None) -> str:
        """Deny a pending ``/authorize`` request; returns the ``?error=access_denied`` callback.

        Raises:
            LookupError, KeyError: as :meth:`approve_authorization`.
        """
        return self._oidc.decide_authorization(state, False, None)

    @property
    def oidc_stats(self) -> OIDCStats:
        """A snapshot of the SSO-OIDC counters (also ``stats.oidc``)."""
        return self._stats.oidc.snapshot()

    # -- observation -----------------------------------------------------------------------

    @property
    def stats(self) -> EmulatorStats:
        """A snapshot of the counters (see :class:`EmulatorStats`)."""
        return self._stats.snapshot()

    @property
    def requests(self) -> tuple[RequestRecord, ...]:
        """The request log, oldest first, tokens redacted."""
        return tuple(self._stats.log)

    def reset_stats(self) -> None:
        """Zero the counters and empty the request log (the rate limit is left as it is)."""
        self._stats.reset()

    def reset(self) -> None:
        """Start afresh for a new measurement: zero the counters, empty the request log and
        refill every rate-limit bucket (what ``POST /_emulator/reset`` does)."""
        self._stats.reset()
        self._limiter.reset(self._limiter.limit)

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
