"""AsyncSSOOIDCClient: botocore's sso-oidc behaviour, checked against botocore on the emulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import botocore
import botocore.session
import pytest
from aiohttp import web
from botocore.config import Config

import aiosso
from aiosso.oidc import DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT, AsyncSSOOIDCClient
from aiosso.testing import OIDCSettings, PortalEmulator

START_URL = "https://d-1234567890.awsapps.com/start"


@pytest.fixture
async def emu() -> AsyncIterator[PortalEmulator]:
    """An emulator whose device codes need one pending poll before approval."""
    settings = OIDCSettings(device_approval_after_polls=1, device_interval=0)
    async with PortalEmulator(accounts=2, oidc=settings) as emulator:
        yield emulator


@pytest.fixture
def boto(emu: PortalEmulator) -> Iterator[Any]:
    """botocore's own sso-oidc client on the same emulator (the oracle)."""
    client = botocore.session.get_session().create_client(
        "sso-oidc",
        region_name="us-east-1",
        endpoint_url=emu.url,
        config=Config(
            signature_version=botocore.UNSIGNED,
            retries={"total_max_attempts": 1, "mode": "legacy"},
        ),
    )
    yield client
    client.close()


@pytest.fixture
async def oidc(emu: PortalEmulator) -> AsyncIterator[AsyncSSOOIDCClient]:
    """Our client, single attempt like the oracle."""
    config = aiosso.ClientConfig(retries={"total_max_attempts": 1})
    async with AsyncSSOOIDCClient("us-east-1", endpoint_url=emu.url, config=config) as client:
        yield client


def _strip(response: dict[str, Any]) -> dict[str, Any]:
    out = dict(response)
    out.pop("ResponseMetadata", None)
    return out


async def _raises(coro: Any) -> Exception:
    try:
        await coro
    except Exception as exc:
        return exc
    raise AssertionError("no exception")


async def test_register_client_matches_botocore(oidc: AsyncSSOOIDCClient, boto: Any) -> None:
    """RegisterClient returns the same members, with the same types, as botocore parses."""
    kwargs = {"clientName": "aiosso-test", "clientType": "public", "scopes": ["sso:account:access"]}
    ours = await oidc.register_client(**kwargs)  # type: ignore[arg-type]
    theirs = await asyncio.to_thread(boto.register_client, **kwargs)
    assert set(_strip(ours)) == set(_strip(theirs))
    for key, value in _strip(theirs).items():
        assert type(ours[key]) is type(value), key  # type: ignore[literal-required]
    assert ours["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert ours["ResponseMetadata"]["RequestId"]


async def test_device_flow_end_to_end(oidc: AsyncSSOOIDCClient, emu: PortalEmulator) -> None:
    """Register, start a device authorization, poll through pending, get a working token."""
    reg = await oidc.register_client(
        clientName="aiosso-test", clientType="public", scopes=["sso:account:access"]
    )
    device = await oidc.start_device_authorization(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=START_URL
    )
    assert device["verificationUriComplete"].startswith("http")
    poll = {
        "clientId": reg["clientId"],
        "clientSecret": reg["clientSecret"],
        "grantType": DEVICE_CODE_GRANT,
        "deviceCode": device["deviceCode"],
    }
    with pytest.raises(oidc.exceptions.AuthorizationPendingException) as pending:
        await oidc.create_token(**poll)  # type: ignore[arg-type]
    assert pending.value.response["error"] == "authorization_pending"
    token = await oidc.create_token(**poll)  # type: ignore[arg-type]
    assert token["tokenType"] == "Bearer"
    assert token["expiresIn"] > 0
    async with aiosso.AsyncSSOClient(endpoint_url=emu.url) as sso:
        page = await sso.list_accounts(accessToken=token["accessToken"])
    assert len(page["accountList"]) == 2
    refreshed = await oidc.create_token(
        clientId=reg["clientId"],
        clientSecret=reg["clientSecret"],
        grantType=REFRESH_TOKEN_GRANT,
        refreshToken=token["refreshToken"],
    )
    assert refreshed["accessToken"] != token["accessToken"]


async def test_errors_match_botocore(
    oidc: AsyncSSOOIDCClient, boto: Any, emu: PortalEmulator
) -> None:
    """Pending, invalid grant and invalid client errors: same class, str and e.response."""
    client_id, secret, _ = emu.register_client()
    devices = [
        await oidc.start_device_authorization(
            clientId=client_id, clientSecret=secret, startUrl=START_URL
        )
        for _ in range(2)
    ]
    pending = [
        {  # the first poll of a fresh device code: pending
            "clientId": client_id,
            "clientSecret": secret,
            "grantType": DEVICE_CODE_GRANT,
            "deviceCode": device["deviceCode"],
        }
        for device in devices
    ]
    cases = [
        {  # a refresh token that was never issued
            "clientId": client_id,
            "clientSecret": secret,
            "grantType": REFRESH_TOKEN_GRANT,
            "refreshToken": "nope",
        },
        {"clientId": client_id, "clientSecret": "wrong", "grantType": REFRESH_TOKEN_GRANT},
        {"clientId": client_id, "clientSecret": secret, "grantType": "password"},
    ]
    pairs = [(pending[0], pending[1])] + [(kwargs, kwargs) for kwargs in cases]
    for boto_kwargs, kwargs in pairs:
        theirs = await _raises(asyncio.to_thread(boto.create_token, **boto_kwargs))
        ours = await _raises(oidc.create_token(**kwargs))
        assert type(ours).__name__ == type(theirs).__name__, kwargs
        assert str(ours) == str(theirs)
        assert _strip(ours.response) == _strip(theirs.response)  # type: ignore[attr-defined]
        assert ours.operation_name == theirs.operation_name == "CreateToken"  # type: ignore[attr-defined]


async def test_param_validation_matches_botocore(oidc: AsyncSSOOIDCClient, boto: Any) -> None:
    """Missing, unknown and wrongly typed members give botocore's report, before any I/O."""
    cases: list[dict[str, Any]] = [
        {},
        {"clientName": "x", "clientType": "public", "scopes": "sso:account:access"},
        {"clientName": "x", "clientType": "public", "scopes": ["ok", 5]},
        {"clientName": 5, "clientType": "public", "bogus": 1},
    ]
    for kwargs in cases:
        theirs = await _raises(asyncio.to_thread(boto.register_client, **kwargs))
        ours = await _raises(oidc.register_client(**kwargs))
        assert isinstance(ours, aiosso.ParamValidationError)
        assert str(ours) == str(theirs)


async def test_secrets_are_redacted_in_validation(oidc: AsyncSSOOIDCClient) -> None:
    """A wrongly typed client secret or refresh token is never quoted in the message."""
    with pytest.raises(aiosso.ParamValidationError) as info:
        await oidc.create_token(
            clientId="c",
            clientSecret=b"s3cr3t-value",  # type: ignore[typeddict-item]
            grantType=REFRESH_TOKEN_GRANT,
            refreshToken=["r3fr3sh-value"],  # type: ignore[typeddict-item]
        )
    assert "s3cr3t-value" not in str(info.value)
    assert "r3fr3sh-value" not in str(info.value)


def test_exceptions_and_from_code() -> None:
    """client.exceptions lists the OIDC classes; from_code maps only the service's codes."""
    client = AsyncSSOOIDCClient("us-east-1")
    assert client.exceptions.from_code("SlowDownException") is aiosso.SlowDownException
    assert client.exceptions.from_code("UnauthorizedException") is aiosso.ClientError
    assert client.exceptions.InvalidGrantException is aiosso.InvalidGrantException
    with pytest.raises(AttributeError, match="Valid exceptions are: AccessDeniedException"):
        _ = client.exceptions.Nope  # type: ignore[attr-defined]
    sso = aiosso.AsyncSSOClient("us-east-1")
    assert sso.exceptions.from_code("SlowDownException") is aiosso.ClientError


@pytest.mark.parametrize(
    ("region", "fips", "dual", "url"),
    [
        ("us-east-1", False, False, "https://oidc.us-east-1.amazonaws.com"),
        ("us-east-1", True, False, "https://oidc-fips.us-east-1.amazonaws.com"),
        ("eu-west-1", False, True, "https://oidc.eu-west-1.api.aws"),
        ("us-gov-west-1", True, False, "https://oidc.us-gov-west-1.amazonaws.com"),
        ("cn-north-1", False, False, "https://oidc.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_endpoints(region: str, fips: bool, dual: bool, url: str) -> None:
    """OIDC endpoints follow the rule set: oidc[-fips].{region}.{suffix}."""
    config = aiosso.ClientConfig(use_fips_endpoint=fips, use_dualstack_endpoint=dual)
    assert AsyncSSOOIDCClient(region, config=config).meta.endpoint_url == url


def test_endpoint_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_ENDPOINT_URL_SSO_OIDC points the OIDC client (and only it) elsewhere."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9")
    assert AsyncSSOOIDCClient("us-east-1").meta.endpoint_url == "http://127.0.0.1:9"
    assert aiosso.AsyncSSOClient("us-east-1").meta.endpoint_url.startswith("https://portal.sso")


async def test_request_is_json_post() -> None:
    """Requests are POSTs with a JSON body of the given members and the JSON content type."""
    seen: list[tuple[str, str, dict[str, Any]]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.method, request.headers["Content-Type"], await request.json()))
        return web.json_response({"clientId": "c", "clientSecret": "s", "extra": 1})

    app = web.Application()
    app.router.add_post("/client/register", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with AsyncSSOOIDCClient(endpoint_url=url) as client:
            reply = await client.register_client(
                clientName="n", clientType="public", scopes=["a", "b"]
            )
    finally:
        await runner.cleanup()
    assert seen == [
        (
            "POST",
            "application/json",
            {"clientName": "n", "clientType": "public", "scopes": ["a", "b"]},
        )
    ]
    assert _strip(reply) == {"clientId": "c", "clientSecret": "s"}
    assert json.loads(json.dumps(reply["ResponseMetadata"]))["HTTPStatusCode"] == 200
