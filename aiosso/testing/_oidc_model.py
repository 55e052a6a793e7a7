"""The SSO-OIDC emulator's data: settings, the public result tuples and the records it keeps.

``OIDCSettings`` (how the service behaves), ``ClientRegistration`` and ``TokenPair`` (what the
emulator's direct helpers return), and the plain records of registrations, sign-in sessions,
refresh tokens, device codes, pending ``/authorize`` requests and authorization codes.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import attrs

from ._org import TokenState

__all__ = ["ApprovalMode", "ClientRegistration", "OIDCSettings", "TokenPair"]

ApprovalMode = Literal["auto", "deny", "manual"]
"""How the emulated user answers a login (approve at once, refuse, or wait for the test to
decide)."""

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_GRANT = "refresh_token"
CODE_GRANT = "authorization_code"
GRANT_NAMES = {DEVICE_GRANT: "device_code", REFRESH_GRANT: "refresh_token", CODE_GRANT: CODE_GRANT}


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
