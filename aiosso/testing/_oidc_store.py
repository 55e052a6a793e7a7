"""The SSO-OIDC service's state and the operations tests drive on it directly.

``OIDCStore`` keeps client registrations, device codes, pending ``/authorize`` requests,
authorization codes, sign-in sessions and refresh tokens; it registers clients, starts sessions,
rotates refresh tokens and records the emulated user's decisions. ``OIDCService`` (``_oidc.py``)
adds the HTTP operations on top. Access tokens are ordinary portal tokens of the emulator's
``TokenStore``; expiry runs on the emulator's monotonic clock.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from ._oidc_model import (
    CODE_GRANT,
    GRANT_NAMES,
    OIDCSettings,
    _Client,
    _Code,
    _Device,
    _Pending,
    _Refresh,
    _Session,
)
from ._oidc_wire import OIDCError, _with_query
from ._org import TokenState, TokenStore
from ._stats import StatsCollector

_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


class OIDCStore:
    """The SSO-OIDC state machine's data and its direct operations (no HTTP)."""

    def __init__(
        self,
        settings: OIDCSettings,
        tokens: TokenStore,
        stats: StatsCollector,
        clock: Callable[[], float],
        seed: int,
    ) -> None:
        self.settings = settings
        self._tokens = tokens
        self._stats = stats
        self._clock = clock
        self._rng = random.Random(f"aiosso-oidc-{seed}")
        self._clients: dict[str, _Client] = {}
        self._devices: dict[str, _Device] = {}
        self._user_codes: dict[str, _Device] = {}
        self._pending: dict[str, _Pending] = {}
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._sessions: dict[int, _Session] = {}

    # -- secrets ---------------------------------------------------------------------------

    def _b64(self, n: int) -> str:
        return base64.urlsafe_b64encode(self._rng.randbytes(n)).decode().rstrip("=")

    def _user_code(self) -> str:
        while True:
            chars = "".join(self._rng.choice(_USER_CODE_ALPHABET) for _ in range(8))
            code = f"{chars[:4]}-{chars[4:]}"
            if code not in self._user_codes:
                return code

    # -- helpers for tests -----------------------------------------------------------------

    def register(
        self,
        name: str,
        *,
        scopes: Sequence[str] = (),
        redirect_uris: Sequence[str] = (),
        grant_types: Sequence[str] | None = None,
        issuer_url: str | None = None,
        expires_in: float | None = None,
    ) -> _Client:
        """Create a registration (validated like ``RegisterClient``)."""
        for grant in grant_types or ():
            if grant not in GRANT_NAMES:
                raise OIDCError("InvalidClientMetadataException", f"Invalid grant type: {grant}")
        for uri in redirect_uris:
            parts = urlsplit(uri)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
                raise OIDCError("InvalidRedirectUriException", f"Invalid redirect URI: {uri}")
        if grant_types is not None and CODE_GRANT in grant_types and not redirect_uris:
            raise OIDCError(
                "InvalidRedirectUriException", "redirectUris are required for authorization_code"
            )
        ttl = self.settings.registration_ttl if expires_in is None else expires_in
        client_id = self._b64(16) + "dXMtZWFzdC0x"
        header = base64.urlsafe_b64encode(b'{"kid":"key-1","alg":"HS384"}').decode().rstrip("=")
        secret = f"{header}.{self._b64(180)}.{self._b64(48)}"
        client = _Client(
            client_id=client_id,
            client_secret=secret,
            name=name,
            scopes=tuple(scopes),
            redirect_uris=tuple(redirect_uris),
            grant_types=None if grant_types is None else tuple(grant_types),
            issuer_url=issuer_url,
            expires_at=self._clock() + ttl,
            epoch_expires_at=int(time.time() + ttl),
        )
        self._clients[client_id] = client
        return client

    def client(self, client_id: str) -> _Client:
        """The registration of ``client_id``; KeyError if unknown."""
        return self._clients[client_id]

    def issue(
        self,
        client: _Client,
        accounts: Sequence[str] | None,
        scopes: tuple[str, ...],
        *,
        refresh: bool,
        access_ttl: float | None = None,
        session_ttl: float | None = None,
    ) -> tuple[str, str | None, int]:
        """Start a session for ``client``: ``(access_token, refresh_token or None, expiresIn)``."""
        now = self._clock()
        settings = self.settings
        access_ttl = settings.access_token_ttl if access_ttl is None else access_ttl
        session_ttl = settings.refresh_token_ttl if session_ttl is None else session_ttl
        session = _Session(
            client.client_id,
            None if accounts is None else tuple(accounts),
            scopes,
            now + session_ttl,
        )
        access = self._access_token(session, now + access_ttl)
        refresh_token = self._new_refresh(session, session.expires_at) if refresh else None
        return access, refresh_token, max(0, int(access_ttl))

    def _access_token(self, session: _Session, expires_at: float) -> str:
        token = self._tokens.issue(expires_at, session.accounts)
        state = self._tokens.find(token)
        assert state is not None
        session.access.append(state)
        self._sessions[state.ident] = session
        return token

    def _new_refresh(self, session: _Session, expires_at: float) -> str:
        token = "aor" + base64.b64encode(self._rng.randbytes(96)).decode()
        self._refresh[token] = _Refresh(session, expires_at)
        return token

    def expire_refresh_token(self, token: str) -> None:
        """Make ``token`` expired from now on."""
        self._refresh[token].expires_at = self._clock()

    def expire_registration(self, client_id: str) -> None:
        """Make the registration expired from now on (``InvalidClientException``)."""
        self._clients[client_id].expires_at = self._clock()

    def end_session(self, state: TokenState) -> None:
        """``Logout`` with an access token: its whole sign-in session ends, refresh included."""
        session = self._sessions.get(state.ident)
        if session is None:
            return
        session.revoked = True
        for access in session.access:
            access.revoked = True

    def _device(self, user_code: str | None) -> _Device:
        if user_code is None:
            pending = [d for d in self._user_codes.values() if d.status == "pending"]
            if len(pending) != 1:
                raise LookupError(f"{len(pending)} device codes are pending; name the user code")
            return pending[0]
        device = self._user_codes.get(user_code.strip().upper())
        if device is None:
            raise KeyError(f"unknown user code {user_code!r}")
        return device

    def decide_device(
        self, user_code: str | None, approve: bool, accounts: Sequence[str] | None
    ) -> str:
        """Approve or deny a pending device code; returns its user code."""
        device = self._device(user_code)
        if device.status != "pending":
            raise ValueError(f"device code {device.user_code} is already {device.status}")
        device.status = "approved" if approve else "denied"
        device.accounts = None if accounts is None else tuple(accounts)
        return device.user_code

    @property
    def pending_user_codes(self) -> tuple[str, ...]:
        return tuple(c for c, d in self._user_codes.items() if d.status == "pending")

    @property
    def pending_authorizations(self) -> tuple[str, ...]:
        return tuple(self._pending)

    def decide_authorization(
        self, key: str | None, approve: bool, accounts: Sequence[str] | None
    ) -> str:
        """Answer a pending ``/authorize``; returns the callback URL the browser would open."""
        if key is None:
            if len(self._pending) != 1:
                raise LookupError(f"{len(self._pending)} authorizations are pending; name a state")
            key = next(iter(self._pending))
        pending = self._pending.pop(key)
        if approve:
            return self._code_redirect(pending, accounts)
        return _with_query(
            pending.redirect_uri,
            {
                "error": "access_denied",
                "error_description": "The user denied the request",
                "state": pending.state,
            },
        )

    def _code_redirect(self, pending: _Pending, accounts: Sequence[str] | None) -> str:
        code = self._b64(48)
        self._codes[code] = _Code(
            pending.client_id,
            pending.redirect_uri,
            pending.challenge,
            pending.scopes,
            None if accounts is None else tuple(accounts),
            self._clock() + self.settings.authorization_code_ttl,
        )
        return _with_query(pending.redirect_uri, {"code": code, "state": pending.state})
