"""PortalEmulator: the IAM Identity Center portal API served by ``aiohttp.web`` on loopback.

The four portal operations answer byte-for-byte the way the service does as far as botocore can tell
(paths, query names, header, JSON keys, ``x-amzn-ErrorType`` / ``x-amzn-RequestId`` headers), so
botocore, aiobotocore and aiosso all parse it as the real thing. This module must not import the
aiosso client: it is the independent oracle the client is tested against.

The same server also speaks SSO-OIDC (``/client/register``, ``/device_authorization``,
``/token``, ``/authorize``; see ``_oidc.py``), so one base URL is both the portal and the OIDC
endpoint.

This module holds construction, lifecycle, tokens, fault and rate-limit knobs and observation;
``PortalEmulator`` gets its request handling and the portal operations from ``EmulatorHTTP``
(``_emulator_http.py``) and its SSO-OIDC test helpers from ``EmulatorOIDC`` (``_emulator_oidc.py``).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from types import TracebackType

from aiohttp import web

from ._emulator_http import EmulatorHTTP
from ._emulator_oidc import EmulatorOIDC
from ._faults import FaultEngine, FaultKind, Faults, Injection, RateLimit, RateLimiter
from ._oidc import OIDCService
from ._oidc_model import OIDCSettings
from ._org import Organisation, OrganisationLike, TokenState, TokenStore
from ._stats import EmulatorStats, RequestRecord, StatsCollector
from ._wire import COMPACT, PageTokens

__all__ = ["PortalEmulator"]


class PortalEmulator(EmulatorOIDC, EmulatorHTTP):
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
