"""SSO-OIDC (``oidc.<region>.amazonaws.com``) served by the emulator next to the portal.

Client registration, the device-code grant, the authorization-code grant with PKCE (including the
browser-facing ``GET /authorize``), refresh-token rotation, and a headless stand-in for the user's
approval in the browser. Wire format per reference §8: rest-json, camelCase JSON members, and
errors as the service sends them: ``x-amzn-ErrorType: <Code>:<namespace>``, ``x-amzn-RequestId``
and an OAuth body ``{"error": "<snake_case>", "error_description": "..."}`` (no ``message``).

Access tokens issued here are ordinary portal tokens of the same emulator (``TokenStore``), so
they work on ``/assignment/...`` and ``/federation/credentials`` at once. Expiry runs on the
emulator's monotonic clock; epoch timestamps on the wire are derived from wall time.

This module holds ``OIDCService``, the HTTP operations; the state they work on and the direct
operations tests drive are in ``_oidc_store.py``, settings and records in ``_oidc_model.py``,
wire-format helpers (errors, redaction, PKCE, redirects) in ``_oidc_wire.py``. Names that lived
here before that split are re-exported.
"""

from __future__ import annotations

import hmac
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

# ``name as name`` imports are explicit re-exports of names that lived here before the split.
from ._oidc_model import (
    CODE_GRANT,
    DEVICE_GRANT,
    GRANT_NAMES,
    REFRESH_GRANT,
    ApprovalMode,
    ClientRegistration,
    OIDCSettings,
    TokenPair,
    _Client,
    _Device,
    _Pending,
)
from ._oidc_store import OIDCStore
from ._oidc_wire import ERROR_NAMESPACE as ERROR_NAMESPACE
from ._oidc_wire import OIDC_ROUTES as OIDC_ROUTES
from ._oidc_wire import SECRET_MEMBERS as SECRET_MEMBERS
from ._oidc_wire import SECRET_QUERY as SECRET_QUERY
from ._oidc_wire import (
    VERIFICATION_PATH,
    OIDCError,
    _invalid,
    _page,
    _redirect,
    _with_query,
    s256,
)
from ._oidc_wire import _redirect_matches as _redirect_matches
from ._oidc_wire import error_code_to_oauth as error_code_to_oauth
from ._oidc_wire import oidc_error_response as oidc_error_response
from ._oidc_wire import redact_body as redact_body
from ._wire import COMPACT, JSON

__all__ = ["ApprovalMode", "ClientRegistration", "OIDCSettings", "TokenPair"]


class OIDCService(OIDCStore):
    """The SSO-OIDC state machine; ``PortalEmulator`` routes the OIDC paths here."""

    def __repr__(self) -> str:
        return f"<OIDCService clients={len(self._clients)} settings={self.settings!r}>"

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
