"""The SSO token provider: the cached token of a session, refreshed before it expires.

Theory of operation
-------------------
``await provider.get_token()`` reads the session's file in ``~/.aws/sso/cache`` (off the
event loop). With more than 15 minutes left (botocore's advisory window) the token is
returned as is. Otherwise, for an sso-session, one caller refreshes it with SSO-OIDC's
``refresh_token`` grant while the others wait: an ``asyncio.Lock`` serialises the tasks of a
process, and the cache's file lock serialises processes. Whoever gets the lock reads the file
again first, so a refresh another task or process just wrote is used, not repeated. The
refreshed token is written back with the fields the AWS CLI writes (atomically, mode 0600).

A failed refresh is not fatal while the old token is still valid: it is returned (a warning
is logged, without secrets) and the refresh is not attempted again for 60 seconds. An
expired token that cannot be refreshed (legacy profiles never are, as in botocore) raises
:class:`~aiosso.UnauthorizedSSOTokenError`: the user must log in again.

A refresh refused with ``InvalidClientException`` (or ``InvalidClientMetadataException``)
means the service no longer knows the client registration (it was reset, or the emulator
restarted): the cached registration is dropped as well, so that the next login registers
again instead of failing on it. Registering here would not save the refresh: a refresh token
belongs to the client it was issued to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Final

from aiosso.awsconfig import SSOSession
from aiosso.exceptions import (
    AioSSOError,
    InvalidClientException,
    InvalidClientMetadataException,
    SSOTokenLoadError,
    UnauthorizedSSOTokenError,
)
from aiosso.tokencache import SSOToken, SSOTokenCache

if TYPE_CHECKING:
    from typing_extensions import Self

    from aiosso.oidc import AsyncSSOOIDCClient

__all__ = ["SSOTokenProvider"]

log = logging.getLogger("aiosso.tokens")

ADVISORY_REFRESH: Final = 15 * 60.0
MANDATORY_REFRESH: Final = 10 * 60.0
RETRY_AFTER_FAILURE: Final = 60.0


class SSOTokenProvider:
    """The access token of an SSO session, kept fresh; single-flight within and across
    processes.

    Args:
        session: the session (from :func:`~aiosso.awsconfig.resolve_profile_session` or a
            profile's ``.session``).
        cache: the token cache (default ``~/.aws/sso/cache``).
        oidc_client: an SSO-OIDC client to refresh with; by default one is created for the
            session's region on first need (honouring ``AWS_ENDPOINT_URL_SSO_OIDC``) and
            closed by :meth:`close`.
        clock: the current UTC time (for tests).
    """

    def __init__(
        self,
        session: SSOSession,
        *,
        cache: SSOTokenCache | None = None,
        oidc_client: AsyncSSOOIDCClient | None = None,
        clock: type[datetime] | None = None,
    ) -> None:
        self.session = session
        self._cache = SSOTokenCache() if cache is None else cache
        self._oidc = oidc_client
        self._owns_oidc = oidc_client is None
        self._lock = asyncio.Lock()
        self._clock = clock
        self._last_failure = 0.0

    def __repr__(self) -> str:
        return f"<SSOTokenProvider session={self.session.display_name!r}>"

    def _now(self) -> datetime:
        return self._clock.now(timezone.utc) if self._clock else datetime.now(timezone.utc)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the OIDC client this provider created; idempotent."""
        if self._owns_oidc and self._oidc is not None:
            await self._oidc.close()
            self._oidc = None

    async def get_token(self) -> SSOToken:
        """The session's token, refreshed first if fewer than 15 minutes remain.

        Returns:
            A token that has not expired.

        Raises:
            SSOTokenLoadError: there is no (readable) token: log in.
            UnauthorizedSSOTokenError: the token expired and could not be refreshed: log in.
            CacheFileError: the cache directory or file is unusable.
        """
        token = await self._cache.load(self.session)
        if not self._needs_refresh(token):
            return token
        async with self._lock:
            # Another task may have refreshed while we waited.
            token = await self._cache.load(self.session)
            if not self._needs_refresh(token):
                return token
            async with self._cache.locked(self.session):
                token = await self._cache.load(self.session)  # or another process did
                if self._needs_refresh(token):
                    token = await self._refresh(token)
        if token.seconds_remaining(self._now()) <= 0:
            raise UnauthorizedSSOTokenError()
        return token

    def _needs_refresh(self, token: SSOToken) -> bool:
        return token.expires_within(ADVISORY_REFRESH, self._now())

    async def _refresh(self, token: SSOToken) -> SSOToken:
        now = self._now()
        name = self.session.display_name
        if self.session.session_name is None:
            log.debug("SSO token for %s is from a legacy profile: not refreshable", name)
            return token
        if not token.can_refresh(now):
            log.info("SSO token for %s cannot be refreshed (no refresh token or client)", name)
            return token
        if time.monotonic() - self._last_failure < RETRY_AFTER_FAILURE and (
            token.seconds_remaining(now) > 0
        ):
            return token
        try:
            fresh = await self._create_token(token, now)
        except (InvalidClientException, InvalidClientMetadataException) as exc:
            # The service no longer knows the client (e.g. it was reset). A refresh token
            # belongs to the client it was issued to, so a new registration cannot refresh
            # it: drop the cached registration so that the next login registers again.
            from aiosso._registration import forget_registration

            self._last_failure = time.monotonic()
            assert token.client_id
            try:
                dropped = await forget_registration(self._cache, self.session, token.client_id)
            except AioSSOError:  # an unusable cache: the next login reports it
                dropped = False
            log.warning(
                "Refreshing the SSO token for %s failed: the service rejected its client "
                "registration (%s)%s; log in again when the token expires",
                name,
                exc.response.get("Error", {}).get("Code"),
                ", which was dropped from the cache" if dropped else "",
            )
            return token
        except AioSSOError as exc:
            self._last_failure = time.monotonic()
            # The exception's message never holds the token or refresh token.
            log.warning("Refreshing the SSO token for %s failed: %s", name, exc)
            return token
        await self._cache.save(self.session, fresh)
        log.info("Refreshed the SSO token for %s", name)
        return fresh

    async def _create_token(self, token: SSOToken, now: datetime) -> SSOToken:
        assert token.client_id
        assert token.client_secret
        assert token.refresh_token
        if self._oidc is None:
            from aiosso.oidc import AsyncSSOOIDCClient

            self._oidc = AsyncSSOOIDCClient(self.session.sso_region)
        reply = await self._oidc.create_token(
            grantType="refresh_token",
            clientId=token.client_id,
            clientSecret=token.client_secret,
            refreshToken=token.refresh_token,
        )
        access = reply.get("accessToken")
        expires_in = reply.get("expiresIn")
        if not access or not isinstance(expires_in, int):
            raise SSOTokenLoadError(error_msg="CreateToken answered without a usable token")
        # The fields botocore and the AWS CLI write after a refresh (others are dropped).
        return SSOToken(
            access_token=access,
            expires_at=now + timedelta(seconds=expires_in),
            start_url=self.session.start_url,
            region=self.session.sso_region,
            client_id=token.client_id,
            client_secret=token.client_secret,
            registration_expires_at=token.registration_expires_at,
            refresh_token=reply.get("refreshToken") or token.refresh_token,
        )
