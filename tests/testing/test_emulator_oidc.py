"""Fidelity proof for the emulated SSO-OIDC service: botocore's own ``sso-oidc`` client (and its
``SSOTokenProvider``) drives the device-code, PKCE and refresh flows against the emulator."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import os
import secrets
import string
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import pytest
import yarl

from aiosso.testing import OIDCSettings, PortalEmulator

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError
NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
CALLBACK = "http://127.0.0.1/oauth/callback"


class Clock:
    """A manual monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def botocore_oidc(_botocore_session: Any) -> Iterator[Callable[[str], Any]]:
    """``make(url)`` -> botocore's sync ``sso-oidc`` client (one attempt, unsigned)."""
    import botocore
    from botocore.config import Config

    clients: list[Any] = []

    def make(url: str) -> Any:
        client = _botocore_session.create_client(
            "sso-oidc",
            region_name="us-east-1",
            endpoint_url=url,
            config=Config(signature_version=botocore.UNSIGNED, retries={"total_max_attempts": 1}),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


async def call(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Run a blocking botocore call off the loop so the emulator keeps serving."""
    return await asyncio.to_thread(functools.partial(fn, **kwargs))


async def raises(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Run a botocore call that must fail; return the ClientError."""
    with pytest.raises(ClientError) as info:
        await call(fn, **kwargs)
    return info.value


def assert_oidc_error(err: Any, client: Any, code: str, error: str, status: int = 400) -> None:
    """botocore made the modeled class with the OAuth members at the top of e.response."""
    assert type(err) is getattr(client.exceptions, code)
    response = err.response
    assert set(response) == {"Error", "ResponseMetadata", "error", "error_description"}
    assert response["error"] == error
    assert response["error_description"]
    # _map_oauth2_errors copies error_description into Message (the body has no message).
    assert response["Error"] == {"Message": response["error_description"], "Code": code}
    meta = response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == status
    uuid.UUID(meta["RequestId"])
    assert meta["HTTPHeaders"]["x-amzn-errortype"] == f"{code}:{NAMESPACE}"
    text = str(err)
    assert f"({code}) when calling the {err.operation_name} operation" in text
    assert text.endswith(": " + response["error_description"])


def pkce_pair() -> tuple[str, str]:
    """A verifier and S256 challenge made the way the AWS CLI makes them."""
    alphabet = string.ascii_letters + string.digits + "-._~"
    verifier = "".join(secrets.choice(alphabet) for _ in range(64))
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize_url(base: str, client_id: str, redirect: str, state: str, challenge: str) -> str:
    """The authorize URL exactly as the AWS CLI builds it (§8.1)."""
    params = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("state", state),
        ("code_challenge_method", "S256"),
        ("scopes", "sso:account:access"),
    ]
    query = "&".join(f"{k}={quote(v, safe='-._~')}" for k, v in params)
    return f"{base}/authorize?{query}&code_challenge={challenge}"


async def test_device_flow_refresh_and_rotation(botocore_oidc: Any, botocore_sso: Any) -> None:
    """Register, device auth, pending, slow down, approve, token, portal use, rotating refresh."""
    clock = Clock()
    settings = OIDCSettings(approval="manual", access_token_ttl=1800)
    async with PortalEmulator(clock=clock, oidc=settings) as emu:
        oidc, sso = botocore_oidc(emu.url), botocore_sso(emu.url)
        before = int(time.time())
        reg = await call(
            oidc.register_client,
            clientName="botocore-client-my-sso",
            clientType="public",
            scopes=["sso:account:access"],
        )
        assert set(reg) - {"ResponseMetadata"} == {
            "clientId",
            "clientSecret",
            "clientIdIssuedAt",
            "clientSecretExpiresAt",
        }
        assert before <= reg["clientIdIssuedAt"] <= time.time()
        assert abs(reg["clientSecretExpiresAt"] - (before + 90 * 86400)) <= 2
        creds = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}
        auth = await call(oidc.start_device_authorization, startUrl="https://x/start", **creds)
        assert (auth["expiresIn"], auth["interval"]) == (600, 5)
        assert auth["verificationUri"] == emu.url + "/device"
        assert auth["verificationUriComplete"].endswith("?user_code=" + auth["userCode"])
        assert emu.pending_user_codes == (auth["userCode"],)
        poll = functools.partial(
            call, oidc.create_token, grantType=DEVICE, deviceCode=auth["deviceCode"], **creds
        )
        with pytest.raises(oidc.exceptions.AuthorizationPendingException) as pending:
            await poll()
        assert_oidc_error(
            pending.value, oidc, "AuthorizationPendingException", "authorization_pending"
        )
        assert pending.value.response["error_description"] == "Authorization is still pending"
        with pytest.raises(ClientError) as slow:
            await poll()
        assert_oidc_error(slow.value, oidc, "SlowDownException", "slow_down")
        clock.now += 5
        emu.approve_device(auth["userCode"])
        token = await poll()
        assert token["tokenType"] == "Bearer"
        assert token["expiresIn"] == 1800
        assert token["refreshToken"].startswith("aor")
        used = await raises(
            oidc.create_token, grantType=DEVICE, deviceCode=auth["deviceCode"], **creds
        )
        assert_oidc_error(used, oidc, "InvalidGrantException", "invalid_grant")
        accounts = await call(sso.list_accounts, accessToken=token["accessToken"])
        assert len(accounts["accountList"]) == len(emu.organisation.accounts)

        refresh = functools.partial(call, oidc.create_token, grantType="refresh_token", **creds)
        second = await refresh(refreshToken=token["refreshToken"])
        assert second["accessToken"] != token["accessToken"]
        assert second["refreshToken"] != token["refreshToken"]
        assert second["expiresIn"] == 1800
        await call(sso.list_accounts, accessToken=second["accessToken"])
        reused = await raises(
            oidc.create_token,
            grantType="refresh_token",
            refreshToken=token["refreshToken"],
            **creds,
        )
        assert_oidc_error(reused, oidc, "InvalidGrantException", "invalid_grant")
        third = await refresh(refreshToken=second["refreshToken"])
        clock.now += 1800
        expired = await raises(sso.list_accounts, accessToken=third["accessToken"])
        assert expired.response["Error"]["Code"] == "UnauthorizedException"
        stats = emu.oidc_stats
    assert (stats.registrations, stats.device_authorizations, stats.refreshes) == (1, 1, 2)
    assert stats.tokens_issued == {"device_code": 1, "refresh_token": 2}
    assert stats.token_errors == {
        "AuthorizationPendingException": 1,
        "SlowDownException": 1,
        "InvalidGrantException": 2,
    }
    assert stats.failed_grants == 2


async def test_device_code_expires(botocore_oidc: Any) -> None:
    """A device code older than expiresIn answers ExpiredTokenException (expired_token)."""
    clock = Clock()
    async with PortalEmulator(clock=clock, oidc=OIDCSettings(device_expires_in=60)) as emu:
        oidc = botocore_oidc(emu.url)
        client_id, secret, _ = emu.register_client()
        creds = {"clientId": client_id, "clientSecret": secret}
        auth = await call(oidc.start_device_authorization, startUrl="https://x/start", **creds)
        assert auth["expiresIn"] == 60
        clock.now += 60
        err = await raises(
            oidc.create_token, grantType=DEVICE, deviceCode=auth["deviceCode"], **creds
        )
    assert_oidc_error(err, oidc, "ExpiredTokenException", "expired_token")


@pytest.mark.parametrize("approval", ["auto", "deny"])
async def test_device_auto_decision_after_polls(botocore_oidc: Any, approval: str) -> None:
    """auto/deny decide after device_approval_after_polls pending polls; interval 0 never slows."""
    settings = OIDCSettings(
        approval=approval,  # type: ignore[arg-type]
        device_approval_after_polls=2,
        device_interval=0,
    )
    async with PortalEmulator(oidc=settings) as emu:
        oidc = botocore_oidc(emu.url)
        client_id, secret, _ = emu.register_client()
        creds = {"clientId": client_id, "clientSecret": secret}
        auth = await call(oidc.start_device_authorization, startUrl="https://x/start", **creds)
        assert auth["interval"] == 0
        kwargs = {"grantType": DEVICE, "deviceCode": auth["deviceCode"], **creds}
        for _ in range(2):
            err = await raises(oidc.create_token, **kwargs)
            assert err.response["Error"]["Code"] == "AuthorizationPendingException"
        if approval == "auto":
            assert (await call(oidc.create_token, **kwargs))["tokenType"] == "Bearer"
        else:
            denied = await raises(oidc.create_token, **kwargs)
            assert_oidc_error(denied, oidc, "AccessDeniedException", "access_denied")


async def test_legacy_registration_gets_no_refresh_token(botocore_oidc: Any) -> None:
    """A registration without scopes or grant types (legacy profile) gets no refresh token."""
    async with PortalEmulator() as emu:
        oidc = botocore_oidc(emu.url)
        reg = await call(oidc.register_client, clientName="botocore-client-1", clientType="public")
        creds = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}
        auth = await call(oidc.start_device_authorization, startUrl="https://x/start", **creds)
        token = await call(
            oidc.create_token, grantType=DEVICE, deviceCode=auth["deviceCode"], **creds
        )
        assert "refreshToken" not in token
        err = await raises(oidc.create_token, grantType="refresh_token", refreshToken="x", **creds)
    assert_oidc_error(err, oidc, "UnauthorizedClientException", "unauthorized_client")


async def test_refresh_without_rotation_and_session_expiry(botocore_oidc: Any) -> None:
    """Without rotation the refresh token stays; it dies refresh_token_ttl after the login."""
    clock = Clock()
    settings = OIDCSettings(rotate_refresh_tokens=False, refresh_token_ttl=100)
    async with PortalEmulator(clock=clock, oidc=settings) as emu:
        oidc = botocore_oidc(emu.url)
        client_id, secret, _ = emu.register_client()
        pair = emu.issue_token_pair(client_id)
        kwargs = {
            "grantType": "refresh_token",
            "clientId": client_id,
            "clientSecret": secret,
            "refreshToken": pair.refresh_token,
        }
        clock.now += 50
        for _ in range(2):
            assert (await call(oidc.create_token, **kwargs))["refreshToken"] == pair.refresh_token
        clock.now += 50
        err = await raises(oidc.create_token, **kwargs)
    assert_oidc_error(err, oidc, "InvalidGrantException", "invalid_grant")
    assert err.response["error_description"] == "Refresh token has expired"


async def test_pkce_authorization_code_flow(
    botocore_oidc: Any, botocore_sso: Any, http: aiohttp.ClientSession
) -> None:
    """RegisterClient for PKCE, GET /authorize -> 302 code+state, CreateToken checks verifier."""
    async with PortalEmulator() as emu:
        oidc, sso = botocore_oidc(emu.url), botocore_sso(emu.url)
        reg = await call(
            oidc.register_client,
            clientName="botocore-client-my-sso",
            clientType="public",
            scopes=["sso:account:access"],
            grantTypes=["authorization_code", "refresh_token"],
            redirectUris=[CALLBACK],
            issuerUrl="https://d-123.awsapps.com/start",
        )
        assert reg["authorizationEndpoint"] == emu.url + "/authorize"
        assert reg["tokenEndpoint"] == emu.url + "/token"
        creds = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}
        verifier, challenge = pkce_pair()
        state = str(uuid.uuid4())
        redirect = "http://127.0.0.1:54321/oauth/callback"
        url = authorize_url(emu.url, reg["clientId"], redirect, state, challenge)
        async with http.get(yarl.URL(url, encoded=True), allow_redirects=False) as resp:
            assert resp.status == 302
            location = urlsplit(resp.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
        query = parse_qs(location.query)
        assert query["state"] == [state]
        code = query["code"][0]
        exchange = functools.partial(
            call, oidc.create_token, grantType="authorization_code", code=code, **creds
        )
        wrong = await raises(
            oidc.create_token,
            grantType="authorization_code",
            code=code,
            redirectUri=redirect,
            codeVerifier=pkce_pair()[0],
            **creds,
        )
        assert_oidc_error(wrong, oidc, "InvalidGrantException", "invalid_grant")
        other_port = await raises(
            oidc.create_token,
            grantType="authorization_code",
            code=code,
            redirectUri="http://127.0.0.1:1/oauth/callback",
            codeVerifier=verifier,
            **creds,
        )
        assert_oidc_error(other_port, oidc, "InvalidGrantException", "invalid_grant")
        token = await exchange(redirectUri=redirect, codeVerifier=verifier)
        assert token["tokenType"] == "Bearer"
        assert token["refreshToken"]
        await call(sso.list_accounts, accessToken=token["accessToken"])
        reused = await raises(
            oidc.create_token,
            grantType="authorization_code",
            code=code,
            redirectUri=redirect,
            codeVerifier=verifier,
            **creds,
        )
        assert_oidc_error(reused, oidc, "InvalidGrantException", "invalid_grant")
        refreshed = await call(
            oidc.create_token,
            grantType="refresh_token",
            refreshToken=token["refreshToken"],
            **creds,
        )
        assert refreshed["refreshToken"] != token["refreshToken"]
        stats = emu.oidc_stats
    assert stats.authorizations == 1
    assert stats.tokens_issued == {"authorization_code": 1, "refresh_token": 1}


async def test_bad_client_credentials_are_invalid_client_401(botocore_oidc: Any) -> None:
    """A wrong secret, unknown client or expired registration is InvalidClientException (401)."""
    async with PortalEmulator() as emu:
        oidc = botocore_oidc(emu.url)
        client_id, secret, _ = emu.register_client()
        bad = [
            await raises(
                oidc.create_token,
                clientId=client_id,
                clientSecret=secret + "x",
                grantType="refresh_token",
                refreshToken="r",
            ),
            await raises(
                oidc.start_device_authorization,
                clientId="nope",
                clientSecret=secret,
                startUrl="https://x/start",
            ),
        ]
        emu.expire_registration(client_id)
        bad.append(
            await raises(
                oidc.start_device_authorization,
                clientId=client_id,
                clientSecret=secret,
                startUrl="https://x/start",
            )
        )
    for err in bad:
        assert_oidc_error(err, oidc, "InvalidClientException", "invalid_client", 401)


async def test_unsupported_and_unauthorized_grants(botocore_oidc: Any) -> None:
    """Unknown grant: UnsupportedGrantType; a grant outside grantTypes: UnauthorizedClient."""
    async with PortalEmulator() as emu:
        oidc = botocore_oidc(emu.url)
        client_id, secret, _ = emu.register_client(
            grant_types=["authorization_code", "refresh_token"], redirect_uris=[CALLBACK]
        )
        creds = {"clientId": client_id, "clientSecret": secret}
        unsupported = await raises(oidc.create_token, grantType="password", **creds)
        device = await raises(oidc.create_token, grantType=DEVICE, deviceCode="d", **creds)
        start = await raises(oidc.start_device_authorization, startUrl="https://x/s", **creds)
        metadata = await raises(oidc.register_client, clientName="n", clientType="confidential")
        redirect = await raises(
            oidc.register_client,
            clientName="n",
            clientType="public",
            grantTypes=["authorization_code"],
        )
    assert_oidc_error(unsupported, oidc, "UnsupportedGrantTypeException", "unsupported_grant_type")
    assert_oidc_error(device, oidc, "UnauthorizedClientException", "unauthorized_client")
    assert_oidc_error(start, oidc, "UnauthorizedClientException", "unauthorized_client")
    assert_oidc_error(metadata, oidc, "InvalidClientMetadataException", "invalid_client_metadata")
    assert_oidc_error(redirect, oidc, "InvalidRedirectUriException", "invalid_redirect_uri")


async def test_logout_ends_the_session(botocore_oidc: Any, botocore_sso: Any) -> None:
    """Portal Logout with an OIDC access token ends the sign-in: its refresh token stops working."""
    async with PortalEmulator() as emu:
        oidc, sso = botocore_oidc(emu.url), botocore_sso(emu.url)
        client_id, secret, _ = emu.register_client()
        pair = emu.issue_token_pair(client_id)
        other = emu.issue_token_pair(client_id)
        await call(sso.logout, accessToken=pair.access_token)
        err = await raises(
            oidc.create_token,
            grantType="refresh_token",
            clientId=client_id,
            clientSecret=secret,
            refreshToken=pair.refresh_token,
        )
        await call(sso.list_accounts, accessToken=other.access_token)
    assert_oidc_error(err, oidc, "InvalidGrantException", "invalid_grant")


async def test_botocore_sso_token_provider_refreshes(
    monkeypatch: pytest.MonkeyPatch, botocore_sso: Any
) -> None:
    """botocore's SSOTokenProvider refreshes a near-expiry cached token and rewrites the file."""
    import botocore.session
    from botocore.tokens import SSOTokenProvider
    from botocore.utils import JSONFileCache

    home = Path(os.environ["HOME"])  # a fresh folder, from the autouse isolation fixture
    aws = home / ".aws"
    (aws / "sso" / "cache").mkdir(parents=True)
    (aws / "config").write_text(
        "[profile dev]\nsso_session = my-sso\n\n"
        "[sso-session my-sso]\nsso_start_url = https://d-123.awsapps.com/start\n"
        "sso_region = us-east-1\n"
    )
    async with PortalEmulator() as emu:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", emu.url)
        client_id, secret, reg_expires = emu.register_client("botocore-client-my-sso")
        pair = emu.issue_token_pair(client_id, expires_in=60)
        now = datetime.now(timezone.utc)

        def stamp(when: datetime) -> str:
            return when.strftime("%Y-%m-%dT%H:%M:%SZ")

        cache_file = aws / "sso" / "cache" / (hashlib.sha1(b"my-sso").hexdigest() + ".json")
        cache_file.write_text(
            json.dumps(
                {
                    "startUrl": "https://d-123.awsapps.com/start",
                    "region": "us-east-1",
                    "accessToken": pair.access_token,
                    "expiresAt": stamp(now + timedelta(seconds=60)),
                    "clientId": client_id,
                    "clientSecret": secret,
                    "registrationExpiresAt": stamp(
                        datetime.fromtimestamp(reg_expires, timezone.utc)
                    ),
                    "refreshToken": pair.refresh_token,
                }
            )
        )

        def load() -> Any:
            session = botocore.session.Session(profile="dev")
            cache = JSONFileCache(str(aws / "sso" / "cache"))
            return SSOTokenProvider(session, cache=cache).load_token().get_frozen_token()

        frozen = await asyncio.to_thread(load)
        saved = json.loads(cache_file.read_text())
        assert frozen.token == saved["accessToken"] != pair.access_token
        assert saved["refreshToken"] != pair.refresh_token
        assert saved["clientId"] == client_id
        await call(botocore_sso(emu.url).list_accounts, accessToken=frozen.token)
        stats = emu.oidc_stats
    assert stats.refreshes == 1
    assert stats.failed_grants == 0
