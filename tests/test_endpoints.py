"""Endpoint resolution against botocore: the URL botocore really requests is the oracle."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from typing import Any

import pytest
from _scripted import ScriptedServer

from aiosso import (
    AsyncSSOClient,
    ClientConfig,
    InvalidEndpointError,
    InvalidRegionError,
    NoRegionError,
)

botocore = pytest.importorskip("botocore")
botocore_session = pytest.importorskip("botocore.session")
Config = pytest.importorskip("botocore.config").Config
AWSResponse = pytest.importorskip("botocore.awsrequest").AWSResponse
EndpointProvider = pytest.importorskip("botocore.endpoint_provider").EndpointProvider

SAMPLE_REGIONS = {
    "aws": "eu-west-1",
    "aws-cn": "cn-north-1",
    "aws-us-gov": "us-gov-west-1",
    "aws-iso": "us-iso-east-1",
    "aws-iso-b": "us-isob-east-1",
    "aws-iso-e": "eu-isoe-west-1",
    "aws-iso-f": "us-isof-south-1",
    "aws-eusc": "eusc-de-east-1",
}
VARIANTS = [(False, False), (True, False), (False, True), (True, True)]
VARIANT_IDS = ["plain", "fips", "dualstack", "fips+dualstack"]


class _EmptyBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    # One botocore session (it reads the environment at each create_client): saves the data
    # loading that dominates the cost of a botocore client.
    return botocore_session.get_session()


def botocore_requested_url(
    region: str | None = None, endpoint_url: str | None = None, **config: Any
) -> str:
    """The base URL botocore's sso client really sends a request to (captured, never sent)."""
    client = _session().create_client(
        "sso",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(signature_version=botocore.UNSIGNED, **config),
    )
    seen: list[str] = []

    def before_send(request: Any, **_: Any) -> Any:
        seen.append(request.url)
        return AWSResponse(request.url, 200, {}, _EmptyBody())

    client.meta.events.register("before-send.sso.Logout", before_send)
    try:
        client.logout(accessToken="t")
    finally:
        client.close()
    assert seen[0].endswith("/logout")
    return str(seen[0][: -len("/logout")])


@functools.lru_cache(maxsize=1)
def _provider() -> Any:
    loader = _session().get_component("data_loader")
    return EndpointProvider(
        loader.load_service_model("sso", "endpoint-rule-set-1"), loader.load_data("partitions")
    )


def ruleset_url(region: str, fips: bool, dualstack: bool) -> str:
    """What botocore's endpoint rule set resolves (also where its legacy resolver refuses)."""
    return str(
        _provider().resolve_endpoint(Region=region, UseFIPS=fips, UseDualStack=dualstack).url
    )


def aiosso_url(region: str | None = None, **kwargs: Any) -> str:
    """``client.meta.endpoint_url`` of an AsyncSSOClient (construction only, no I/O)."""
    config = kwargs.pop("config", None)
    return AsyncSSOClient(region, config=config, **kwargs).meta.endpoint_url


@pytest.mark.parametrize(("fips", "dualstack"), VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("partition", list(SAMPLE_REGIONS))
def test_partition_endpoints_match_botocore(partition: str, fips: bool, dualstack: bool) -> None:
    """Every partition x {plain, FIPS, dual-stack, both} gives the URL botocore's rule set picks."""
    region = SAMPLE_REGIONS[partition]
    config = ClientConfig(use_fips_endpoint=fips, use_dualstack_endpoint=dualstack)
    client = AsyncSSOClient(region, config=config)
    assert client.meta.endpoint_url == ruleset_url(region, fips, dualstack)
    assert client.meta.partition == partition
    assert client.meta.region_name == region
    try:
        requested = botocore_requested_url(
            region, use_fips_endpoint=fips, use_dualstack_endpoint=dualstack
        )
    except botocore.exceptions.EndpointVariantError:
        # botocore's legacy resolver lacks dual-stack data for aws-iso-e/aws-iso-f and refuses
        # to build the client; its rule set (checked above) is the only oracle there.
        assert dualstack
        assert partition in ("aws-iso-e", "aws-iso-f")
    else:
        assert client.meta.endpoint_url == requested


def test_us_gov_fips_uses_the_url_really_requested() -> None:
    """us-gov FIPS keeps the plain host, as requested, not botocore's meta.endpoint_url."""
    client = AsyncSSOClient("us-gov-west-1", config=ClientConfig(use_fips_endpoint=True))
    assert client.meta.endpoint_url == "https://portal.sso.us-gov-west-1.amazonaws.com"
    oracle = _session().create_client(
        "sso",
        region_name="us-gov-west-1",
        config=Config(signature_version=botocore.UNSIGNED, use_fips_endpoint=True),
    )
    try:
        assert oracle.meta.endpoint_url == "https://portal.sso-fips.us-gov-west-1.amazonaws.com"
    finally:
        oracle.close()


@pytest.mark.parametrize(
    "region", ["fips-us-east-1", "us-east-1-fips", "fips-us-gov-west-1", "us-gov-east-1-fips"]
)
@pytest.mark.parametrize("dualstack", [False, True])
def test_fips_pseudo_regions(region: str, dualstack: bool) -> None:
    """fips-<region> and <region>-fips turn FIPS on for the real region, as botocore does."""
    url = aiosso_url(region, config=ClientConfig(use_dualstack_endpoint=dualstack))
    assert url == botocore_requested_url(region, use_dualstack_endpoint=dualstack)
    assert url.startswith("https://portal.sso")
    assert f".{region}." not in url


@pytest.mark.parametrize("endpoint_url", [None, "https://sso.example.com"])
@pytest.mark.parametrize("region", ["fips-us-east-1", "us-gov-east-1-fips"])
def test_fips_pseudo_region_meta_region_name(region: str, endpoint_url: str | None) -> None:
    """client.meta.region_name is the real region behind a pseudo-region, as botocore's."""
    client = AsyncSSOClient(region, endpoint_url=endpoint_url)
    oracle = _session().create_client(
        "sso",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(signature_version=botocore.UNSIGNED),
    )
    try:
        expected = oracle.meta.region_name
    finally:
        oracle.close()
    assert expected == region.removeprefix("fips-").removesuffix("-fips")
    assert client.meta.region_name == expected


@pytest.mark.parametrize("region", ["xx-fake-1", "local", "US-EAST-1", "a" * 63])
def test_unknown_region_falls_back_to_aws(region: str) -> None:
    """A region matching no partition resolves in the aws partition."""
    client = AsyncSSOClient(region)
    assert client.meta.endpoint_url == f"https://portal.sso.{region}.amazonaws.com"
    assert client.meta.endpoint_url == botocore_requested_url(region)
    assert client.meta.partition == "aws"


@pytest.mark.parametrize("region", ["us east 1", "-bad", "bad-", "123", "a" * 64, "us_east_1"])
@pytest.mark.parametrize("endpoint_url", [None, "https://sso.example.com"])
def test_invalid_region(region: str, endpoint_url: str | None) -> None:
    """A region that is not a host label raises InvalidRegionError, custom endpoint or not."""
    with pytest.raises(InvalidRegionError) as info:
        AsyncSSOClient(region, endpoint_url=endpoint_url)
    assert isinstance(info.value, ValueError)
    with pytest.raises(botocore.exceptions.InvalidRegionError) as oracle:
        botocore_requested_url(region, endpoint_url)
    assert str(info.value) == str(oracle.value)


@pytest.mark.parametrize("region", ["us-east-1\n", "us-east-1\r\nX: y", "\u00e9u-west-1"])
def test_region_with_control_or_non_ascii_characters(region: str) -> None:
    """Deliberate: such a region is an InvalidRegionError (botocore builds a broken URL)."""
    with pytest.raises(InvalidRegionError):
        AsyncSSOClient(region)


def test_no_region() -> None:
    """No region and no endpoint raises NoRegionError with botocore's message."""
    with pytest.raises(NoRegionError) as info:
        AsyncSSOClient()
    with pytest.raises(botocore.exceptions.NoRegionError) as oracle:
        botocore_requested_url()
    assert str(info.value) == str(oracle.value) == "You must specify a region."


def test_empty_region_env_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty AWS_REGION / AWS_DEFAULT_REGION are ignored."""
    monkeypatch.setenv("AWS_REGION", "")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "")
    with pytest.raises(NoRegionError):
        AsyncSSOClient()
    with pytest.raises(NoRegionError):
        AsyncSSOClient("")


def test_endpoint_without_region_is_enough() -> None:
    """Deliberate: a custom endpoint alone suffices (botocore insists on a region)."""
    client = AsyncSSOClient(endpoint_url="https://sso.example.com")
    assert client.meta.endpoint_url == "https://sso.example.com"
    assert client.meta.region_name is None
    assert client.meta.partition == "aws"
    with pytest.raises(botocore.exceptions.NoRegionError):
        botocore_requested_url(None, "https://sso.example.com")


@pytest.mark.parametrize(
    "endpoint_url",
    ["https://sso.example.com", "https://sso.example.com/base/", "https://h.example:8443/a/b"],
)
@pytest.mark.parametrize(("fips", "dualstack"), VARIANTS, ids=VARIANT_IDS)
def test_custom_endpoint_verbatim(endpoint_url: str, fips: bool, dualstack: bool) -> None:
    """A custom endpoint is the base verbatim; FIPS and dual-stack are silently ignored."""
    config = ClientConfig(use_fips_endpoint=fips, use_dualstack_endpoint=dualstack)
    client = AsyncSSOClient("us-gov-west-1", endpoint_url=endpoint_url, config=config)
    assert client.meta.endpoint_url == endpoint_url
    assert client.meta.partition == "aws-us-gov"
    requested = botocore_requested_url(
        "us-gov-west-1", endpoint_url, use_fips_endpoint=fips, use_dualstack_endpoint=dualstack
    )
    assert requested == endpoint_url.rstrip("/")


@pytest.mark.parametrize("base", ["", "/", "/base", "/base/", "/a/b/"])
async def test_custom_endpoint_path_is_prefixed(base: str) -> None:
    """The operation path is appended to the endpoint's path, as botocore requests it."""
    async with ScriptedServer() as srv:
        url = srv.url + base
        oracle = _session().create_client(
            "sso",
            region_name="us-east-1",
            endpoint_url=url,
            config=Config(signature_version=botocore.UNSIGNED, retries={"total_max_attempts": 1}),
        )
        try:
            await asyncio.to_thread(
                functools.partial(oracle.list_accounts, accessToken="t", maxResults=3)
            )
        finally:
            oracle.close()
        async with AsyncSSOClient("us-east-1", endpoint_url=url) as client:
            await client.logout(accessToken="t")
            await client.list_accounts(accessToken="t", maxResults=3)
    botocore_path, logout_path, aiosso_path = (r.raw_path for r in srv.requests)
    assert aiosso_path == botocore_path
    prefix = base.rstrip("/")
    assert aiosso_path == f"{prefix}/assignment/accounts?max_result=3"
    assert logout_path == f"{prefix}/logout"


@pytest.mark.parametrize(
    "endpoint_url",
    [
        "not a url",
        "ftp://example.com",
        "https://",
        "https:///path",
        "//example.com",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:port",
        "http://127.0.0.1/base?x=1",
        "http://127.0.0.1/base?",
        "http://127.0.0.1/base#frag",
        "http://127.0.0.1:1\n",
        "http://127.0.0.1:1/a\r\nHost: evil",
        "http://127.0.0.1/a b",
        "http://127.0.0.1/\u00e4",
        "http://user:secret@127.0.0.1:1",
        "http://user@127.0.0.1:1",
    ],
)
def test_bad_endpoint_url(endpoint_url: str) -> None:
    """An unusable endpoint URL raises InvalidEndpointError (a ValueError) at construction."""
    with pytest.raises(InvalidEndpointError) as info:
        AsyncSSOClient("us-east-1", endpoint_url=endpoint_url)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("Invalid endpoint: ")
    assert "secret" not in str(info.value)


def test_bad_endpoint_message_as_botocore() -> None:
    """The documented case reads as botocore's ValueError."""
    with pytest.raises(InvalidEndpointError) as info:
        AsyncSSOClient("us-east-1", endpoint_url="not a url")
    with pytest.raises(ValueError, match="Invalid endpoint") as oracle:
        botocore_requested_url("us-east-1", "not a url")
    assert str(info.value) == str(oracle.value) == "Invalid endpoint: not a url"


def test_non_string_endpoint_url() -> None:
    """A non-str endpoint_url is refused at construction."""
    with pytest.raises(InvalidEndpointError):
        AsyncSSOClient("us-east-1", endpoint_url=b"https://x.example")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "endpoint_url", ["http://sso.example.com", "http://10.0.0.1:8080", "http://[2001:db8::1]/x"]
)
def test_plain_http_off_loopback_needs_allow_http(endpoint_url: str) -> None:
    """Cleartext http to a non-loopback host is refused unless ClientConfig(allow_http=True)."""
    with pytest.raises(InvalidEndpointError, match="clear text"):
        AsyncSSOClient("us-east-1", endpoint_url=endpoint_url)
    config = ClientConfig(allow_http=True)
    client = AsyncSSOClient("us-east-1", endpoint_url=endpoint_url, config=config)
    assert client.meta.endpoint_url == endpoint_url


@pytest.mark.parametrize(
    "endpoint_url",
    [
        "http://127.0.0.1:8080",
        "http://127.10.0.1",
        "http://localhost:1",
        "http://LOCALHOST:1/",
        "http://api.localhost",
        "http://[::1]:9",
    ],
)
def test_plain_http_to_loopback_is_fine(endpoint_url: str) -> None:
    """Cleartext http to loopback (the emulator) needs no opt-in."""
    assert aiosso_url("us-east-1", endpoint_url=endpoint_url) == endpoint_url


# --------------------------------------------------------------------------- environment


def test_region_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Region: argument, then AWS_REGION, then AWS_DEFAULT_REGION."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert AsyncSSOClient().meta.region_name == "eu-west-1"
    assert aiosso_url() == botocore_requested_url() == "https://portal.sso.eu-west-1.amazonaws.com"
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert AsyncSSOClient().meta.region_name == "ap-south-1"
    assert aiosso_url() == "https://portal.sso.ap-south-1.amazonaws.com"
    assert AsyncSSOClient("cn-north-1").meta.region_name == "cn-north-1"


def test_aws_region_env_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliberate: AWS_REGION (the SDKs' standard variable) is honoured; botocore ignores it."""
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert AsyncSSOClient().meta.region_name == "ap-south-1"
    with pytest.raises(botocore.exceptions.NoRegionError):
        botocore_requested_url()


def test_endpoint_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Endpoint: argument, then AWS_ENDPOINT_URL_SSO, then AWS_ENDPOINT_URL (as botocore)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://global.example.com")
    assert aiosso_url("us-east-1") == botocore_requested_url("us-east-1")
    assert aiosso_url("us-east-1") == "https://global.example.com"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", "https://sso.example.com")
    assert aiosso_url("us-east-1") == botocore_requested_url("us-east-1")
    assert aiosso_url("us-east-1") == "https://sso.example.com"
    explicit = "https://explicit.example.com"
    assert aiosso_url("us-east-1", endpoint_url=explicit) == explicit
    assert botocore_requested_url("us-east-1", explicit) == explicit


def test_ignore_configured_endpoint_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true ignores env endpoints, not the argument."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", "https://sso.example.com")
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert aiosso_url("us-east-1") == botocore_requested_url("us-east-1")
    assert aiosso_url("us-east-1") == "https://portal.sso.us-east-1.amazonaws.com"
    explicit = "https://explicit.example.com"
    assert aiosso_url("us-east-1", endpoint_url=explicit) == explicit
    assert botocore_requested_url("us-east-1", explicit) == explicit


def test_env_endpoint_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint from the environment is validated like an argument."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", "http://sso.example.com")
    with pytest.raises(InvalidEndpointError):
        AsyncSSOClient("us-east-1")


@pytest.mark.parametrize(
    ("fips_env", "dual_env"), [("true", None), (None, "true"), ("true", "true"), ("false", "false")]
)
def test_fips_dualstack_env(
    monkeypatch: pytest.MonkeyPatch, fips_env: str | None, dual_env: str | None
) -> None:
    """AWS_USE_FIPS_ENDPOINT / AWS_USE_DUALSTACK_ENDPOINT apply as botocore applies them."""
    if fips_env is not None:
        monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", fips_env)
    if dual_env is not None:
        monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", dual_env)
    for region in ("us-east-1", "us-gov-west-1", "cn-north-1"):
        assert aiosso_url(region) == botocore_requested_url(region)


def test_config_overrides_env_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit use_fips_endpoint/use_dualstack_endpoint=False beats the environment."""
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
    config = ClientConfig(use_fips_endpoint=False, use_dualstack_endpoint=False)
    url = aiosso_url("us-east-1", config=config)
    assert url == "https://portal.sso.us-east-1.amazonaws.com"
    assert url == botocore_requested_url(
        "us-east-1", use_fips_endpoint=False, use_dualstack_endpoint=False
    )
