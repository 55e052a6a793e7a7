"""SSO-OIDC (``oidc.<region>.amazonaws.com``) served by the emulator next to the portal.

Client registration, the device-code grant, the authorization-code grant with PKCE (including the
browser-facing ``GET /authorize``), refresh-token rotation, and a headless stand-in for the user's
approval in the browser. Wire format per reference §8: rest-json, camelCase JSON members, and
errors as the service sends them: ``x-amzn-ErrorType: <Code>:<namespace>``, ``x-amzn-RequestId``
and an OAuth body ``{"error": "<snake_case>", "error_description": "..."}`` (no ``message``).

Access tokens issued here are ordinary portal tokens of the same emulator (``TokenStore``), so
they work on ``/assignment/...`` and ``/federation/credentials`` at once. Expiry runs on the
emulator's monotonic clock; epoch timestamps on the wire are derived from wall time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple
from urllib.parse import quote, urlencode, urlsplit

import attrs
from aiohttp import web

from ._org import TokenState, TokenStore
from ._stats import REDACTED, StatsCollector
from ._wire import COMPACT, JSON, json_error

__all__ = ["ApprovalMode", "ClientRegistration", "OIDCSettings", "TokenPair"]

ApprovalMode = Literal["auto", "deny", "manual"]
"""How the emulated user answers: approve at once, refuse, or wait for the test to decide."""

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_GRANT = "refresh_token"
CODE_GRANT = "authorization_code"
GRANT_NAMES = {DEVICE_GRANT: "device_code", REFRESH_GRANT: "refresh_token", CODE_GRANT: CODE_GRANT}
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
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
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


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen
class OIDCSettings:
    """How the emulated SSO-OIDC service behaves (``PortalEmulator(oidc=OIDCSettings(...))``).

    Attributes:
        approval: the emulated user's answer to a device code or an ``/authorize`` request:
            ``"auto"`` approves, ``"deny"`` refuses (``AccessDeniedException`` /
            ``error=access_denied``), ``"manual"`` waits for ``emu.approve_device()`` /
            ``emu.approve_authorization()`` (or their ``deny_*`` counterparts).
        device_approval_after_polls: with ``auto``/``deny``, how many ``CreateToken`` polls
            answer ``AuthorizationPendingException`` before the decision (0: the first poll).
        device_interval: ``interval`` (s) of new device codes; polling a device code again
            sooner answers ``SlowDownException`` (0 disables the check).
        device_expires_in: ``expiresIn`` (s) of new device codes.
        access_token_ttl: lifetime (s) of issued access tokens (``expiresIn``).
        refresh_token_ttl: lifetime (s) of a sign-in session: refresh tokens issued for it,
            rotated ones included, stop working this long after the first token.
        rotate_refresh_tokens: each refresh answers a new refresh token and invalidates the
            one used; when False the same refresh token is returned and stays valid.
        registration_ttl: lifetime (s) of client registrations (``clientSecretExpiresAt``).
        authorization_code_ttl: lifetime (s) of codes issued by ``/authorize``.
    """

    approval: ApprovalMode = attrs.field(
        default="auto", validator=attrs.validators.in_(("auto", "deny", "manual"))
    )
    device_approval_after_polls: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    device_interval: int = attrs.field(default=5, validator=attrs.validators.ge(0))
    device_expires_in: int = attrs.field(default=600, validator=attrs.validators.ge(1))
    access_token_ttl: float = attrs.field(default=3600.0, validator=_positive)
    refresh_token_ttl: float = attrs.field(default=8 * 3600.0, validator=_positive)
    rotate_refresh_tokens: bool = True
    registration_ttl: float = attrs.field(default=90 * 86400.0, validator=_positive)
    authorization_code_ttl: float = attrs.field(default=300.0, validator=_positive)


class ClientRegistration(NamedTuple):
    """What ``emu.register_client()`` returns (``clientSecretExpiresAt`` in epoch seconds)."""

    client_id: str
    client_secret: str
    expires_at: int


class TokenPair(NamedTuple):
    """What ``emu.issue_token_pair()`` returns (``expires_in`` in seconds)."""

    access_token: str
    refresh_token: str
    expires_in: int


@attrs.define(repr=False)
class _Client:
    client_id: str
    client_secret: str
    name: str
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...] | None
    issuer_url: str | None
    expires_at: float
    epoch_expires_at: int

    def allows(self, grant: str) -> bool:
        if self.grant_types is not None:
            return grant in self.grant_types
        # Without explicit grant types (the CLI's device flow), refresh tokens come with scopes.
        return grant == DEVICE_GRANT or (grant == REFRESH_GRANT and bool(self.scopes))


@attrs.define(repr=False)
class _Session:
    """One sign-in: the access and refresh tokens issued from a single approval."""

    client_id: str
    accounts: tuple[str, ...] | None
    scopes: tuple[str, ...]
    expires_at: float
    access: list[TokenState] = attrs.Factory(list)
    revoked: bool = False


@attrs.define(repr=False)
class _Refresh:
    session: _Session
    expires_at: float
    used: bool = False


@attrs.define(repr=False)
class _Device:
    client_id: str
    user_code: str
    scopes: tuple[str, ...]
    interval: int
    expires_at: float
    status: Literal["pending", "approved", "denied", "redeemed"] = "pending"
    polls: int = 0
    last_poll: float | None = None
    accounts: tuple[str, ...] | None = None


@attrs.define(repr=False)
class _Pending:
    client_id: str
    redirect_uri: str
    state: str | None
    challenge: str
    scopes: tuple[str, ...]


@attrs.define(repr=False)
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scopes: tuple[str, ...]
    accounts: tuple[str, ...] | None
    expires_at: float
    used: bool = False


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


class OIDCService:
    """The SSO-OIDC state machine; ``PortalEmulator`` routes the OIDC paths here."""

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

    def __repr__(self) -> str:
        return f"<OIDCService clients={len(self._clients)} settings={self.settings!r}>"

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

    # -- HTTP ------------------------------------------------------------------------------

    def serve(self, request: web.Request, operation: str, raw: bytes) -> web.Response:
        """Answer one SSO-OIDC request. Raises OIDCError for the service's errors."""
        if operation == "Authorize":
            return self._authorize(request)
        base = f"{request.scheme}://{request.host}"
        try:
            body = self._body(raw)
            if operation == "RegisterClient":
                data = self._register(body, base)
            elif operation == "StartDeviceAuthorization":
                data = self._start_device(body, base)
            elif operation == "CreateToken":
                data = self._create_token(body)
            else:
                raise OIDCError(
                    "InvalidRequestException", f"{operation} is not supported by the emulator"
                )
        except OIDCError as err:
            if operation == "CreateToken":
                self._stats.oidc.token_errors[err.code] += 1
            raise
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": JSON}
        return web.Response(body=json.dumps(data, separators=COMPACT).encode(), headers=headers)

    @staticmethod
    def _body(raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise OIDCError("InvalidRequestException", "Invalid request: malformed JSON body")
        return body

    @staticmethod
    def _opt(body: Mapping[str, Any], member: str) -> str | None:
        value = body.get(member)
        if value is not None and not isinstance(value, str):
            raise OIDCError("InvalidRequestException", f"Invalid request: bad {member}")
        return value

    @classmethod
    def _req(cls, body: Mapping[str, Any], member: str) -> str:
        value = cls._opt(body, member)
        if not value:
            raise _invalid(member)
        return value

    @staticmethod
    def _strs(body: Mapping[str, Any], member: str) -> list[str] | None:
        value = body.get(member)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise OIDCError("InvalidRequestException", f"Invalid request: bad {member}")
        return value

    def _register(self, body: Mapping[str, Any], base: str) -> dict[str, Any]:
        name = self._req(body, "clientName")
        client_type = self._req(body, "clientType")
        scopes = self._strs(body, "scopes") or []
        redirect_uris = self._strs(body, "redirectUris") or []
        grant_types = self._strs(body, "grantTypes")
        issuer_url = self._opt(body, "issuerUrl")
        self._opt(body, "entitledApplicationArn")
        if client_type != "public":
            raise OIDCError("InvalidClientMetadataException", f"Invalid client type: {client_type}")
        client = self.register(
            name,
            scopes=scopes,
            redirect_uris=redirect_uris,
            grant_types=grant_types,
            issuer_url=issuer_url,
        )
        self._stats.oidc.registrations += 1
        data: dict[str, Any] = {
            "clientId": client.client_id,
            "clientSecret": client.client_secret,
            "clientIdIssuedAt": int(time.time()),
            "clientSecretExpiresAt": client.epoch_expires_at,
        }
        if client.allows(CODE_GRANT):
            data["authorizationEndpoint"] = f"{base}/authorize"
            data["tokenEndpoint"] = f"{base}/token"
        return data

    def _authenticate(self, body: Mapping[str, Any]) -> _Client:
        client_id = self._req(body, "clientId")
        secret = self._req(body, "clientSecret")
        client = self._clients.get(client_id)
        if client is None or not hmac.compare_digest(client.client_secret, secret):
            raise OIDCError("InvalidClientException", "Invalid client provided", 401)
        if self._clock() >= client.expires_at:
            raise OIDCError("InvalidClientException", "Client registration has expired", 401)
        return client

    def _start_device(self, body: Mapping[str, Any], base: str) -> dict[str, Any]:
        client = self._authenticate(body)
        self._req(body, "startUrl")
        if not client.allows(DEVICE_GRANT):
            raise OIDCError(
                "UnauthorizedClientException", "Client is not authorized for the device flow"
            )
        settings = self.settings
        user_code = self._user_code()
        device = _Device(
            client.client_id,
            user_code,
            client.scopes,
            settings.device_interval,
            self._clock() + settings.device_expires_in,
        )
        device_code = self._b64(64)
        self._devices[device_code] = device
        self._user_codes[user_code] = device
        self._stats.oidc.device_authorizations += 1
        return {
            "deviceCode": device_code,
            "userCode": user_code,
            "verificationUri": f"{base}{VERIFICATION_PATH}",
            "verificationUriComplete": f"{base}{VERIFICATION_PATH}?user_code={user_code}",
            "expiresIn": settings.device_expires_in,
            "interval": settings.device_interval,
        }

    def _create_token(self, body: Mapping[str, Any]) -> dict[str, Any]:
        for member in ("clientId", "clientSecret", "grantType"):
            self._req(body, member)
        client = self._authenticate(body)
        grant = body["grantType"]
        if grant not in GRANT_NAMES:
            raise OIDCError("UnsupportedGrantTypeException", f"Unsupported grant type: {grant}")
        if not client.allows(grant):
            raise OIDCError(
                "UnauthorizedClientException", f"Client is not authorized for grant type {grant}"
            )
        if grant == DEVICE_GRANT:
            data = self._device_token(client, body)
        elif grant == REFRESH_GRANT:
            data = self._refresh_token(client, body)
        else:
            data = self._code_token(client, body)
        self._stats.oidc.tokens_issued[GRANT_NAMES[grant]] += 1
        return data

    def _tokens_for(
        self, client: _Client, accounts: Sequence[str] | None, scopes: tuple[str, ...]
    ) -> dict[str, Any]:
        access, refresh, expires_in = self.issue(
            client, accounts, scopes, refresh=client.allows(REFRESH_GRANT)
        )
        data: dict[str, Any] = {
            "accessToken": access,
            "tokenType": "Bearer",
            "expiresIn": expires_in,
        }
        if refresh is not None:
            data["refreshToken"] = refresh
        return data

    def _device_token(self, client: _Client, body: Mapping[str, Any]) -> dict[str, Any]:
        device_code = self._req(body, "deviceCode")
        device = self._devices.get(device_code)
        if device is None or device.client_id != client.client_id:
            raise OIDCError("InvalidGrantException", "Invalid device code provided")
        if device.status == "redeemed":
            raise OIDCError("InvalidGrantException", "Device code has already been used")
        now = self._clock()
        if now >= device.expires_at:
            raise OIDCError("ExpiredTokenException", "Device code has expired")
        if device.status == "denied":
            raise OIDCError("AccessDeniedException", "The user denied the request")
        last, device.last_poll = device.last_poll, now
        if last is not None and now - last < device.interval:
            raise OIDCError("SlowDownException", "Client is polling too quickly")
        settings = self.settings
        if device.status == "pending":
            if (
                settings.approval != "manual"
                and device.polls >= settings.device_approval_after_polls
            ):
                device.status = "approved" if settings.approval == "auto" else "denied"
            else:
                device.polls += 1
                raise OIDCError("AuthorizationPendingException", "Authorization is still pending")
        if device.status == "denied":
            raise OIDCError("AccessDeniedException", "The user denied the request")
        device.status = "redeemed"
        return self._tokens_for(client, device.accounts, device.scopes)

    def _refresh_token(self, client: _Client, body: Mapping[str, Any]) -> dict[str, Any]:
        token = self._req(body, "refreshToken")
        record = self._refresh.get(token)
        if record is None or record.session.client_id != client.client_id:
            raise OIDCError("InvalidGrantException", "Invalid refresh token provided")
        if record.used:
            raise OIDCError("InvalidGrantException", "Refresh token has already been used")
        if record.session.revoked:
            raise OIDCError("InvalidGrantException", "The session has ended")
        now = self._clock()
        if now >= record.expires_at:
            raise OIDCError("InvalidGrantException", "Refresh token has expired")
        session = record.session
        access = self._access_token(session, now + self.settings.access_token_ttl)
        if self.settings.rotate_refresh_tokens:
            record.used = True
            token = self._new_refresh(session, record.expires_at)
        return {
            "accessToken": access,
            "tokenType": "Bearer",
            "expiresIn": max(0, int(self.settings.access_token_ttl)),
            "refreshToken": token,
        }

    def _code_token(self, client: _Client, body: Mapping[str, Any]) -> dict[str, Any]:
        code = self._req(body, "code")
        redirect_uri = self._req(body, "redirectUri")
        verifier = self._req(body, "codeVerifier")
        record = self._codes.get(code)
        if record is None or record.client_id != client.client_id:
            raise OIDCError("InvalidGrantException", "Invalid authorization code provided")
        if record.used:
            raise OIDCError("InvalidGrantException", "Authorization code has already been used")
        if self._clock() >= record.expires_at:
            raise OIDCError("ExpiredTokenException", "Authorization code has expired")
        if redirect_uri != record.redirect_uri:
            raise OIDCError("InvalidGrantException", "redirectUri does not match the authorization")
        if not hmac.compare_digest(s256(verifier), record.challenge):
            raise OIDCError(
                "InvalidGrantException", "codeVerifier does not match the code challenge"
            )
        record.used = True
        return self._tokens_for(client, record.accounts, record.scopes)

    def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        client = self._clients.get(query.get("client_id", ""))
        if client is None or self._clock() >= client.expires_at:
            return _page(400, "Invalid client", "The client_id is unknown or expired.")
        redirect_uri = query.get("redirect_uri")
        if redirect_uri is None or not _redirect_matches(client.redirect_uris, redirect_uri):
            return _page(400, "Invalid redirect URI", "redirect_uri is not registered.")
        state = query.get("state")

        def fail(error: str, description: str) -> web.Response:
            params = {"error": error, "error_description": description, "state": state}
            return _redirect(_with_query(redirect_uri, params))

        if query.get("response_type") != "code":
            return fail("unsupported_response_type", "response_type must be code")
        if not client.allows(CODE_GRANT):
            return fail("unauthorized_client", "Client is not authorized for authorization_code")
        challenge = query.get("code_challenge")
        if not challenge or query.get("code_challenge_method") != "S256":
            return fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
        scopes = tuple(query.get("scopes", query.get("scope", "")).split())
        if client.scopes and not set(scopes) <= set(client.scopes):
            return fail("invalid_scope", "Requested scopes are not registered")
        pending = _Pending(client.client_id, redirect_uri, state, challenge, scopes)
        self._stats.oidc.authorizations += 1
        approval = self.settings.approval
        if approval == "auto":
            return _redirect(self._code_redirect(pending, None))
        key = state if state is not None else f"request-{uuid.uuid4()}"
        self._pending[key] = pending
        if approval == "deny":
            return _redirect(self.decide_authorization(key, False, None))
        return _page(
            200,
            "Authorize request",
            f"Waiting for approval of {client.name} (state {state}); the test calls "
            "emu.approve_authorization() or emu.deny_authorization().",
        )

    def verification_page(self, request: web.Request) -> web.Response:
        """``GET /device[?user_code=...]``: what the verification URI shows (informational)."""
        user_code = request.query.get("user_code", "").upper()
        device = self._user_codes.get(user_code)
        if device is None:
            return _page(200, "Device verification", "Enter the code shown by your device.")
        return _page(200, "Device verification", f"Code {user_code}: {device.status}.")
