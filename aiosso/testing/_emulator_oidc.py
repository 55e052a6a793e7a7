"""The SSO-OIDC side of ``PortalEmulator``'s test API, as the mixin ``EmulatorOIDC``.

Settings, client registration and token pairs without HTTP, expiring refresh tokens and
registrations, the emulated user's decisions on device codes and ``/authorize`` requests, and the
OIDC counters. Every method delegates to the emulator's ``OIDCService`` (``_oidc.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._oidc import OIDCService
from ._oidc_model import ClientRegistration, OIDCSettings, TokenPair
from ._oidc_wire import OIDCError
from ._stats import OIDCStats, StatsCollector


class EmulatorOIDC:
    """``PortalEmulator``'s SSO-OIDC helpers; the emulator sets ``_oidc`` and ``_stats``."""

    _oidc: OIDCService
    _stats: StatsCollector

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
