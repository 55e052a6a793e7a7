"""The emulated SSO-OIDC service on the raw wire: exact error bodies, /authorize, approval modes,
helpers, counters, redaction, faults and CLI flags."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from aiosso.testing import Faults, OIDCSettings, PortalEmulator
from aiosso.testing._cli import _emulator_from, build_parser
from aiosso.testing._oidc import _redirect_matches

NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
CALLBACK = "http://127.0.0.1/oauth/callback"
REDIRECT = "http://127.0.0.1:8123/oauth/callback"
VERIFIER = "v" * 43 + "-._~abc"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode()[:-1]


async def post(
    http: aiohttp.ClientSession, emu: PortalEmulator, path: str, body: Any
) -> tuple[int, Any, Any]:
    """POST JSON (or raw bytes) to ``path``; return (status, headers, parsed JSON body)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    async with http.post(emu.url + path, data=data, headers=headers) as r:
        return r.status, r.headers, json.loads(await r.read())


async def authorize(
    http: aiohttp.ClientSession, emu: PortalEmulator, **params: str
) -> tuple[int, str | None, str]:
    """GET /authorize without following redirects; return (status, Location, body text)."""
    async with http.get(emu.url + "/authorize", params=params, allow_redirects=False) as r:
        return r.status, r.headers.get("Location"), await r.text()


def pkce_client(emu: PortalEmulator) -> tuple[str, str]:
    """A registration for the authorization-code flow: (client_id, client_secret)."""
    client_id, secret, _ = emu.register_client(
        grant_types=["authorization_code", "refresh_token"], redirect_uris=[CALLBACK]
    )
    return client_id, secret


def auth_params(client_id: str, **overrides: str) -> dict[str, str]:
    """The AWS CLI's /authorize query for ``client_id``."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": "st-1",
        "code_challenge_method": "S256",
        "scopes": "sso:account:access",
        "code_challenge": CHALLENGE,
    }
    params.update(overrides)
    return params


async def test_error_wire_format_is_exact(http: aiohttp.ClientSession) -> None:
    """Errors: x-amzn-ErrorType Code:namespace, request id, JSON {error, error_description} only."""
    async with PortalEmulator() as emu:
        malformed = await post(http, emu, "/token", b"{not json")
        not_object = await post(http, emu, "/token", [1])
        missing = await post(http, emu, "/token", {"clientId": "a", "clientSecret": "b"})
        client = await post(
            http, emu, "/device_authorization", {"clientId": "a", "clientSecret": "b"}
        )
    for status, headers, body in (malformed, not_object, missing):
        assert status == 400
        assert headers["x-amzn-ErrorType"] == f"InvalidRequestException:{NAMESPACE}"
        assert headers["Content-Type"] == "application/json"
        uuid.UUID(headers["x-amzn-RequestId"])
        assert set(body) == {"error", "error_description"}
        assert body["error"] == "invalid_request"
    assert malformed[2]["error_description"] == "Invalid request: malformed JSON body"
    assert missing[2]["error_description"] == "Invalid request: grantType is required"
    assert client[0] == 401
    assert client[1]["x-amzn-ErrorType"] == f"InvalidClientException:{NAMESPACE}"
    assert client[2] == {"error": "invalid_client", "error_description": "Invalid client provided"}


async def test_authorize_rejects_bad_requests(http: aiohttp.ClientSession) -> None:
    """Bad client/redirect: 400 page, no redirect; other faults redirect with error and state."""
    async with PortalEmulator() as emu:
        client_id, _ = pkce_client(emu)
        device_only, _, _ = emu.register_client()
        for params in (
            auth_params("unknown"),
            auth_params(client_id, redirect_uri="http://127.0.0.1:8123/other"),
            auth_params(client_id, redirect_uri="http://localhost:8123/oauth/callback"),
            auth_params(client_id, redirect_uri="http://evil.example/oauth/callback"),
        ):
            status, location, text = await authorize(http, emu, **params)
            assert (status, location) == (400, None)
            assert text.startswith("<!DOCTYPE html>")
        cases = {
            "invalid_request": auth_params(client_id, code_challenge_method="plain"),
            "unsupported_response_type": auth_params(client_id, response_type="token"),
            "invalid_scope": auth_params(client_id, scopes="sso:account:access admin"),
        }
        for error, params in cases.items():
            status, location, _ = await authorize(http, emu, **params)
            assert status == 302
            assert location is not None
            assert location.startswith(REDIRECT + "?")
            query = parse_qs(urlsplit(location).query)
            assert query["error"] == [error]
            assert query["state"] == ["st-1"]
            assert "code" not in query
        emu.expire_registration(client_id)
        assert (await authorize(http, emu, **auth_params(client_id)))[0] == 400
        assert (await authorize(http, emu, **auth_params(device_only)))[0] == 400
        redirecting, _, _ = emu.register_client(redirect_uris=[CALLBACK])
        _, location, _ = await authorize(http, emu, **auth_params(redirecting))
        assert location is not None
        assert parse_qs(urlsplit(location).query)["error"] == ["unauthorized_client"]
        assert emu.oidc_stats.authorizations == 0


async def test_authorize_deny_mode_redirects_access_denied(http: aiohttp.ClientSession) -> None:
    """approval="deny" redirects to the callback with error=access_denied and the state."""
    async with PortalEmulator(oidc=OIDCSettings(approval="deny")) as emu:
        client_id, _ = pkce_client(emu)
        status, location, _ = await authorize(http, emu, **auth_params(client_id))
    assert status == 302
    assert location is not None
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["st-1"]


async def test_manual_authorization_then_exchange(http: aiohttp.ClientSession) -> None:
    """approval="manual": a 200 page, then approve_authorization() gives the callback URL."""
    async with PortalEmulator(oidc=OIDCSettings(approval="manual"), accounts=3) as emu:
        client_id, secret = pkce_client(emu)
        with pytest.raises(LookupError):
            emu.approve_authorization()
        status, location, text = await authorize(http, emu, **auth_params(client_id))
        assert (status, location) == (200, None)
        assert "approve_authorization" in text
        await authorize(http, emu, **auth_params(client_id, state="st-2"))
        pending = emu.pending_authorizations
        assert pending == ("st-1", "st-2")
        with pytest.raises(LookupError):
            emu.approve_authorization()
        denied = emu.deny_authorization("st-2")
        assert parse_qs(urlsplit(denied).query)["error"] == ["access_denied"]
        first = emu.organisation.accounts[0].account_id
        callback = emu.approve_authorization(accounts=[first])
        assert emu.pending_authorizations == ()
        assert callback.startswith(REDIRECT + "?code=")
        query = parse_qs(urlsplit(callback).query)
        assert query["state"] == ["st-1"]
        body = {
            "clientId": client_id,
            "clientSecret": secret,
            "grantType": "authorization_code",
            "code": query["code"][0],
            "redirectUri": REDIRECT,
            "codeVerifier": VERIFIER,
        }
        status, _, token = await post(http, emu, "/token", body)
        assert status == 200
        assert list(token) == ["accessToken", "tokenType", "expiresIn", "refreshToken"]
        headers = {"x-amz-sso_bearer_token": token["accessToken"]}
        async with http.get(emu.url + "/assignment/accounts", headers=headers) as r:
            assert [a["accountId"] for a in (await r.json())["accountList"]] == [first]


async def test_authorization_code_expires(http: aiohttp.ClientSession) -> None:
    """A code older than authorization_code_ttl is ExpiredTokenException (as the CLI expects)."""
    now = [0.0]
    settings = OIDCSettings(authorization_code_ttl=30)
    async with PortalEmulator(oidc=settings, clock=lambda: now[0]) as emu:
        client_id, secret = pkce_client(emu)
        _, location, _ = await authorize(http, emu, **auth_params(client_id))
        assert location is not None
        now[0] += 30
        body = {
            "clientId": client_id,
            "clientSecret": secret,
            "grantType": "authorization_code",
            "code": parse_qs(urlsplit(location).query)["code"][0],
            "redirectUri": REDIRECT,
            "codeVerifier": VERIFIER,
        }
        status, headers, error = await post(http, emu, "/token", body)
    assert status == 400
    assert headers["x-amzn-ErrorType"].startswith("ExpiredTokenException:")
    assert error == {
        "error": "expired_token",
        "error_description": "Authorization code has expired",
    }


async def test_device_approval_helpers(http: aiohttp.ClientSession) -> None:
    """approve_device/deny_device find the user code; approval may narrow the visible accounts."""
    async with PortalEmulator(oidc=OIDCSettings(approval="manual"), accounts=2) as emu:
        client_id, secret, _ = emu.register_client()
        creds = {"clientId": client_id, "clientSecret": secret}
        with pytest.raises(LookupError):
            emu.approve_device()
        with pytest.raises(KeyError):
            emu.approve_device("NOPE-NOPE")
        start = {**creds, "startUrl": "https://x/start"}
        first = (await post(http, emu, "/device_authorization", start))[2]
        second = (await post(http, emu, "/device_authorization", start))[2]
        assert set(emu.pending_user_codes) == {first["userCode"], second["userCode"]}
        assert emu.deny_device(second["userCode"].lower()) == second["userCode"]
        account = emu.organisation.accounts[1].account_id
        assert emu.approve_device(accounts=[account]) == first["userCode"]
        with pytest.raises(ValueError, match="already approved"):
            emu.approve_device(first["userCode"])
        poll = {**creds, "grantType": DEVICE}
        denied = await post(http, emu, "/token", {**poll, "deviceCode": second["deviceCode"]})
        status, _, token = await post(
            http, emu, "/token", {**poll, "deviceCode": first["deviceCode"]}
        )
        async with http.get(emu.url + "/device", params={"user_code": first["userCode"]}) as r:
            page = await r.text()
        headers = {"x-amz-sso_bearer_token": token["accessToken"]}
        async with http.get(emu.url + "/assignment/accounts", headers=headers) as r:
            visible = [a["accountId"] for a in (await r.json())["accountList"]]
        requests = emu.stats.requests
    assert denied[0] == 400
    assert denied[2]["error"] == "access_denied"
    assert status == 200
    assert visible == [account]
    assert f"Code {first['userCode']}: redeemed." in page
    assert "Unknown" not in requests


async def test_token_helpers_and_settings(http: aiohttp.ClientSession) -> None:
    """issue_token_pair seeds a refreshable session; expire_refresh_token ends it; bad input."""
    async with PortalEmulator() as emu:
        client_id, secret, expires_at = emu.register_client(expires_in=120)
        assert expires_at <= int(time.time()) + 121
        pair = emu.issue_token_pair(client_id, expires_in=30)
        assert pair.expires_in == 30
        body = {
            "clientId": client_id,
            "clientSecret": secret,
            "grantType": "refresh_token",
            "refreshToken": pair.refresh_token,
        }
        emu.expire_refresh_token(pair.refresh_token)
        status, _, error = await post(http, emu, "/token", body)
        assert (status, error["error"]) == (400, "invalid_grant")
        with pytest.raises(KeyError):
            emu.issue_token_pair("unknown-client")
        with pytest.raises(ValueError, match="Invalid grant type"):
            emu.register_client(grant_types=["password"])
        with pytest.raises(ValueError, match="Invalid redirect URI"):
            emu.register_client(redirect_uris=["not a uri"])
        with pytest.raises(TypeError):
            emu.oidc_settings = {"approval": "deny"}  # type: ignore[assignment]
        emu.oidc_settings = OIDCSettings(device_interval=0)
        creds = {"clientId": client_id, "clientSecret": secret, "startUrl": "https://x/s"}
        assert (await post(http, emu, "/device_authorization", creds))[2]["interval"] == 0
    with pytest.raises(ValueError):
        OIDCSettings(approval="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        OIDCSettings(access_token_ttl=0)


async def test_request_log_redacts_oidc_secrets(http: aiohttp.ClientSession) -> None:
    """The log names OIDC operations and body members but never secrets, codes or tokens."""
    async with PortalEmulator() as emu:
        reg = (
            await post(
                http,
                emu,
                "/client/register",
                {"clientName": "c", "clientType": "public", "scopes": ["sso:account:access"]},
            )
        )[2]
        creds = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}
        auth = (await post(http, emu, "/device_authorization", {**creds, "startUrl": "u"}))[2]
        token = (
            await post(
                http,
                emu,
                "/token",
                {**creds, "grantType": DEVICE, "deviceCode": auth["deviceCode"]},
            )
        )[2]
        refresh = {**creds, "grantType": "refresh_token", "refreshToken": token["refreshToken"]}
        refreshed = (await post(http, emu, "/token", refresh))[2]
        pkce_id, _ = pkce_client(emu)
        _, location, _ = await authorize(http, emu, **auth_params(pkce_id))
        assert location is not None
        code = parse_qs(urlsplit(location).query)["code"][0]
        await post(
            http,
            emu,
            "/token",
            {
                **creds,
                "grantType": "authorization_code",
                "code": code,
                "redirectUri": REDIRECT,
                "codeVerifier": VERIFIER,
            },
        )
        log = emu.requests
        dumped = repr(log) + repr(emu) + repr(emu.stats) + json.dumps(emu.stats.as_dict())
    secrets = [
        reg["clientSecret"],
        auth["deviceCode"],
        token["accessToken"],
        token["refreshToken"],
        refreshed["accessToken"],
        refreshed["refreshToken"],
        code,
        VERIFIER,
    ]
    for secret in secrets:
        assert secret not in dumped
    assert [r.operation for r in log] == [
        "RegisterClient",
        "StartDeviceAuthorization",
        "CreateToken",
        "CreateToken",
        "Authorize",
        "CreateToken",
    ]
    assert [r.status for r in log] == [200, 200, 200, 200, 302, 400]
    assert log[0].body == (
        ("clientName", "c"),
        ("clientType", "public"),
        ("scopes", '["sso:account:access"]'),
    )
    assert dict(log[3].body) == {
        "clientId": reg["clientId"],
        "clientSecret": "<redacted>",
        "grantType": "refresh_token",
        "refreshToken": "<redacted>",
    }
    assert dict(log[4].query)["client_id"] == pkce_id
    assert all(r.token is None for r in log)


async def test_counters_in_stats_json_and_reset(http: aiohttp.ClientSession) -> None:
    """/_emulator/stats carries the oidc counters; reset_stats zeroes them."""
    async with PortalEmulator() as emu:
        reg = {"clientName": "c", "clientType": "public"}
        await post(http, emu, "/client/register", reg)
        await post(http, emu, "/token?aws_iam=t", {"clientId": "a", "grantType": "x"})
        async with http.get(emu.url + "/_emulator/stats") as r:
            stats = await r.json()
        assert stats == emu.stats.as_dict()
        assert stats["oidc"]["registrations"] == 1
        assert stats["requests"] == {"RegisterClient": 1, "CreateTokenWithIAM": 1}
        assert stats["statuses"] == {"200": 1, "400": 1}
        emu.reset_stats()
        assert emu.oidc_stats.registrations == 0
        assert emu.stats.oidc == emu.oidc_stats


async def test_faults_reach_oidc_only_when_named(http: aiohttp.ClientSession) -> None:
    """fail_next/Faults hit OIDC operations only when named; coded errors use the OAuth body."""
    reg = {"clientName": "c", "clientType": "public"}
    async with PortalEmulator(faults=Faults(server_error=1.0)) as emu:
        assert (await post(http, emu, "/client/register", reg))[0] == 200
    async with PortalEmulator() as emu:
        emu.fail_next()
        assert (await post(http, emu, "/client/register", reg))[0] == 200
        assert emu.pending_failures == 1
        emu.clear_faults()
        emu.fail_next("RegisterClient", status=500, code="InternalServerException", message="boom")
        status, headers, body = await post(http, emu, "/client/register", reg)
        assert status == 500
        assert headers["x-amzn-ErrorType"] == f"InternalServerException:{NAMESPACE}"
        assert body == {"error": "server_error", "error_description": "boom"}
        emu.fail_next("CreateToken", status=503)
        async with http.post(emu.url + "/token", json={}) as r:
            assert r.status == 503
            assert (await r.text()).startswith("<html>")
        assert emu.stats.faults == {"error": 2}


def test_redirect_uri_matching_ignores_loopback_port_only() -> None:
    """A loopback IP redirect matches the registered one at any port; nothing else is relaxed."""
    registered = [CALLBACK, "http://[::1]/cb", "https://app.example/cb"]
    assert _redirect_matches(registered, "http://127.0.0.1:49152/oauth/callback")
    assert _redirect_matches(registered, CALLBACK)
    assert _redirect_matches(registered, "http://[::1]:8080/cb")
    assert not _redirect_matches(registered, "http://127.0.0.1:49152/oauth/callback/x")
    assert not _redirect_matches(registered, "https://127.0.0.1:49152/oauth/callback")
    assert not _redirect_matches(registered, "http://localhost:49152/oauth/callback")
    assert not _redirect_matches(registered, "https://app.example:444/cb")
    assert not _redirect_matches(registered, "http://127.0.0.1:99999/oauth/callback")


def test_cli_oidc_flags() -> None:
    """--approval, --device-interval and --access-token-ttl reach the emulator's OIDCSettings."""
    args = build_parser().parse_args(
        ["--approval", "deny", "--device-interval", "1", "--access-token-ttl", "90"]
    )
    settings = _emulator_from(args).oidc_settings
    assert (settings.approval, settings.device_interval, settings.access_token_ttl) == (
        "deny",
        1,
        90.0,
    )
    assert _emulator_from(build_parser().parse_args([])).oidc_settings == OIDCSettings()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--approval", "manual"])
