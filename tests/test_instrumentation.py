"""OpenTelemetry's aiohttp-client instrumentation traces aiosso's calls and records no secret.

Every aiosso request goes through an ``aiohttp.ClientSession`` (the client's own, created on
its first call, or a borrowed one), so ``AioHttpClientInstrumentor`` traces it as any other:
one CLIENT span per HTTP exchange. The instrumentation reads its header-capture settings
(``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST``...) when ``instrument()`` runs,
and by default captures no header, so the token's header (``x-amz-sso_bearer_token``) never
reaches a span; reply bodies (the role credentials) are never captured. Capturing request
headers is the user's explicit choice (``...CLIENT_REQUEST=".*"`` records the token's header,
unless ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS`` names it).

The instrumentation is installed with a private SDK ``TracerProvider`` (the global one is left
alone) and always removed after the test.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from _echo import ECHOES, TOKEN, echoing_server

from aiosso import (
    AsyncSSOClient,
    ClientConfig,
    EndpointConnectionError,
    HTTPClientError,
    UnauthorizedException,
)
from aiosso.testing import PortalEmulator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_MISSING = "OpenTelemetry (the test extra: opentelemetry-sdk, ...-instrumentation-aiohttp-client)"
_sdk_trace = pytest.importorskip("opentelemetry.sdk.trace", reason=_MISSING)
_sdk_export = pytest.importorskip("opentelemetry.sdk.trace.export", reason=_MISSING)
_in_memory = pytest.importorskip(
    "opentelemetry.sdk.trace.export.in_memory_span_exporter", reason=_MISSING
)
_aiohttp_client = pytest.importorskip(
    "opentelemetry.instrumentation.aiohttp_client", reason=_MISSING
)
_trace_api = pytest.importorskip("opentelemetry.trace", reason=_MISSING)

SpanKind = _trace_api.SpanKind
StatusCode = _trace_api.StatusCode

ONE_ATTEMPT = ClientConfig(retries={"total_max_attempts": 1})
TOKEN_HEADER = "x-amz-sso_bearer_token"
# The instrumentation emits the old (default) or the new semantic-convention names, or both
# (OTEL_SEMCONV_STABILITY_OPT_IN=http/dup): accept either.
METHOD_KEYS = ("http.method", "http.request.method")
STATUS_KEYS = ("http.status_code", "http.response.status_code")
URL_KEYS = ("http.url", "url.full")
# Settings the instrumentation reads at instrument() time; a test starts from none of them.
_OTEL_SETTINGS = (
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS",
    "OTEL_PYTHON_AIOHTTP_CLIENT_EXCLUDED_URLS",
    "OTEL_PYTHON_EXCLUDED_URLS",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
)

Instrument = Callable[..., "InMemorySpanExporter"]


@pytest.fixture
def instrument(monkeypatch: pytest.MonkeyPatch) -> Iterator[Instrument]:
    """``instrument(**env)``: instrument aiohttp with ``env`` set; always uninstrumented after.

    Returns the in-memory exporter of a private SDK TracerProvider (never the global one).
    """
    for name in _OTEL_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    instrumentor = _aiohttp_client.AioHttpClientInstrumentor()
    assert not instrumentor.is_instrumented_by_opentelemetry, "instrumented by someone else"
    providers: list[Any] = []
    global_provider = _trace_api.get_tracer_provider()

    def start(**env: str) -> InMemorySpanExporter:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        exporter = _in_memory.InMemorySpanExporter()
        provider = _sdk_trace.TracerProvider()
        provider.add_span_processor(_sdk_export.SimpleSpanProcessor(exporter))
        providers.append(provider)
        instrumentor.instrument(tracer_provider=provider)
        # instrument() only logs (and does nothing) on a dependency conflict.
        assert instrumentor.is_instrumented_by_opentelemetry
        return exporter

    try:
        yield start
    finally:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        for provider in providers:
            provider.shutdown()
    # Sessions created from now on carry no OpenTelemetry trace config.
    assert not hasattr(aiohttp.ClientSession.__init__, "__wrapped__")
    assert _trace_api.get_tracer_provider() is global_provider


@pytest.fixture
def spans(instrument: Instrument) -> InMemorySpanExporter:
    """aiohttp instrumented with the default settings."""
    return instrument()


@pytest.fixture
async def emu() -> AsyncIterator[PortalEmulator]:
    """Three accounts, on loopback."""
    async with PortalEmulator(accounts=3) as emulator:
        yield emulator


# --------------------------------------------------------------------------- helpers


def _first(attributes: Any, keys: Sequence[str]) -> Any:
    """The value of the first of ``keys`` present in ``attributes``, or None."""
    for key in keys:
        if key in attributes:
            return attributes[key]
    return None


def _client_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The finished CLIENT spans of the aiohttp instrumentation, oldest first."""
    return [
        span
        for span in exporter.get_finished_spans()
        if span.kind is SpanKind.CLIENT
        and span.instrumentation_scope is not None
        and span.instrumentation_scope.name == _aiohttp_client.__name__
    ]


def _everything(spans: Sequence[ReadableSpan]) -> str:
    """All a span exporter could send: names, status, attributes, events, links, resource."""
    parts: list[str] = []
    for span in spans:
        parts += [repr(span.name), repr(span.status.description), repr(span.context)]
        parts += [f"{k!r}={v!r}" for k, v in (span.attributes or {}).items()]
        for event in span.events:
            parts.append(repr(event.name))
            parts += [f"{k!r}={v!r}" for k, v in (event.attributes or {}).items()]
        for link in span.links:
            parts.append(repr(link.context))
            parts += [f"{k!r}={v!r}" for k, v in (link.attributes or {}).items()]
        parts += [f"{k!r}={v!r}" for k, v in span.resource.attributes.items()]
        parts.append(span.to_json(indent=None))  # the exporters' own rendering
    return "\n".join(parts)


class SecretInSpans(AssertionError):
    """A secret was found in the spans (the message does not quote it)."""


def _assert_absent(secret: str, dump: str) -> None:
    """Neither ``secret`` nor a 16-character end of it is in ``dump``."""
    assert len(secret) >= 16
    for needle in (secret, secret[:16], secret[-16:]):
        if needle in dump:
            raise SecretInSpans(f"a secret ({len(secret)} characters) is in the spans")


def _assert_present(secret: str, dump: str) -> None:
    """The scan finds ``secret`` in ``dump``: the positive control of :func:`_assert_absent`."""
    with pytest.raises(SecretInSpans):
        _assert_absent(secret, dump)


async def _four_calls(sso: AsyncSSOClient, emu: PortalEmulator) -> dict[str, Any]:
    """ListAccounts, ListAccountRoles, GetRoleCredentials, Logout; the role credentials."""
    account = emu.organisation.accounts[1]
    page = await sso.list_accounts(accessToken=emu.token)
    assert len(page["accountList"]) == 3
    roles = await sso.list_account_roles(accessToken=emu.token, accountId=account.account_id)
    assert [r["roleName"] for r in roles["roleList"]] == list(account.roles)
    creds = await sso.get_role_credentials(
        accessToken=emu.token, accountId=account.account_id, roleName=account.roles[0]
    )
    await sso.logout(accessToken=emu.token)
    return dict(creds["roleCredentials"])


_FOUR_REQUESTS = [
    ("GET", "/assignment/accounts"),
    ("GET", "/assignment/roles"),
    ("GET", "/federation/credentials"),
    ("POST", "/logout"),
]


def _method_and_path(span: ReadableSpan, base: str) -> tuple[str, str]:
    """The span's HTTP method and URL path; the URL must be on ``base``."""
    attributes = span.attributes or {}
    url = _first(attributes, URL_KEYS)
    assert isinstance(url, str)
    assert url.startswith(base + "/"), url
    return _first(attributes, METHOD_KEYS), url[len(base) :].split("?", 1)[0]


# --------------------------------------------------------------------------- spans


async def test_owned_client_calls_make_one_client_span_each(
    spans: InMemorySpanExporter, emu: PortalEmulator
) -> None:
    """An owned client's four operations make four CLIENT spans: method, 200, the emulator URL."""
    async with AsyncSSOClient(endpoint_url=emu.url, region_name="us-east-1") as sso:
        await _four_calls(sso, emu)
    assert [r.operation for r in emu.requests] == [
        "ListAccounts",
        "ListAccountRoles",
        "GetRoleCredentials",
        "Logout",
    ]
    traced = _client_spans(spans)
    assert len(traced) == 4 == len(spans.get_finished_spans())
    assert [_method_and_path(span, emu.url) for span in traced] == _FOUR_REQUESTS
    for span in traced:
        attributes = span.attributes or {}
        assert span.name == _first(attributes, METHOD_KEYS)
        assert _first(attributes, STATUS_KEYS) == 200
        assert span.status.status_code is StatusCode.UNSET
        assert span.events == ()
    # One trace each: the calls are not nested in one another.
    assert len({span.context.trace_id for span in traced}) == 4


async def test_client_built_before_instrumenting_is_traced_from_its_first_call(
    instrument: Instrument, emu: PortalEmulator
) -> None:
    """A client constructed before instrument() is traced: its session opens on the first call."""
    async with AsyncSSOClient(endpoint_url=emu.url, region_name="us-east-1") as sso:
        exporter = instrument()
        await sso.list_accounts(accessToken=emu.token)
    traced = _client_spans(exporter)
    assert [_method_and_path(span, emu.url) for span in traced] == [_FOUR_REQUESTS[0]]


async def test_borrowed_session_calls_are_traced(
    spans: InMemorySpanExporter, emu: PortalEmulator
) -> None:
    """A borrowed session created while instrumented traces the calls made through it."""
    account = emu.organisation.accounts[0]
    session = aiohttp.ClientSession()
    # Uninstrumented before the calls: sessions created from now on (an owned one) are not
    # traced, so the spans can only come from the borrowed session.
    try:
        _aiohttp_client.AioHttpClientInstrumentor().uninstrument()
        async with AsyncSSOClient(
            endpoint_url=emu.url, region_name="us-east-1", session=session
        ) as sso:
            await sso.list_accounts(accessToken=emu.token)
            await sso.get_role_credentials(
                accessToken=emu.token, accountId=account.account_id, roleName=account.roles[0]
            )
        assert not session.closed  # the client leaves a borrowed session open
        async with AsyncSSOClient(endpoint_url=emu.url, region_name="us-east-1") as owned:
            await owned.list_accounts(accessToken=emu.token)  # its session is not instrumented
    finally:
        await session.close()
    assert len(emu.requests) == 3
    traced = _client_spans(spans)
    assert [_method_and_path(span, emu.url) for span in traced] == [
        _FOUR_REQUESTS[0],
        _FOUR_REQUESTS[2],
    ]
    assert [_first(span.attributes or {}, STATUS_KEYS) for span in traced] == [200, 200]


# --------------------------------------------------------------------------- secrets


async def test_spans_hold_no_token_and_no_role_credentials(
    spans: InMemorySpanExporter, emu: PortalEmulator
) -> None:
    """By default no span holds the token, secret key or session token: no header, no body."""
    # Capturing the token's header takes OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST
    # naming it (the next test): the user's explicit choice, not aiosso's.
    async with AsyncSSOClient(endpoint_url=emu.url, region_name="us-east-1") as sso:
        creds = await _four_calls(sso, emu)
    # The token went out on every request, and the emulator recognised it.
    assert [r.token for r in emu.requests] == ["token-1"] * 4
    traced = _client_spans(spans)
    assert len(traced) == 4
    dump = _everything(traced)
    # The scan covers what the spans hold: the URLs, with their account id and role name.
    assert emu.url in dump
    assert emu.organisation.accounts[1].account_id in dump
    assert emu.organisation.accounts[1].roles[0] in dump
    for span in traced:
        assert not [key for key in span.attributes or {} if ".header." in key]
    _assert_absent(emu.token, dump)
    _assert_absent(creds["secretAccessKey"], dump)
    _assert_absent(creds["sessionToken"], dump)


async def test_capturing_request_headers_is_an_explicit_opt_in(
    instrument: Instrument, emu: PortalEmulator
) -> None:
    """Header capture is opt-in: ".*" records the token's header, a sanitize field redacts it."""
    # OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST=".*" asks for every header, the
    # token's included; ..._SANITIZE_FIELDS naming it records "[REDACTED]" instead. This is
    # also the positive control of the scan in the test above: it does find a leaked token.
    attribute = "http.request.header." + TOKEN_HEADER.replace("-", "_")
    for sanitize in ("", TOKEN_HEADER):
        settings = {"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST": ".*"}
        if sanitize:
            settings["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"] = sanitize
        exporter = instrument(**settings)
        try:
            async with AsyncSSOClient(endpoint_url=emu.url, region_name="us-east-1") as sso:
                await sso.list_accounts(accessToken=emu.token)
        finally:
            _aiohttp_client.AioHttpClientInstrumentor().uninstrument()
        traced = _client_spans(exporter)
        assert len(traced) == 1
        captured = (traced[0].attributes or {}).get(attribute)
        if sanitize:
            assert captured == ("[REDACTED]",)
            _assert_absent(emu.token, _everything(traced))
        else:
            assert captured == (emu.token,)
            _assert_present(emu.token, _everything(traced))


# --------------------------------------------------------------------------- errors


async def test_unauthorized_call_makes_an_error_span_without_the_token(
    spans: InMemorySpanExporter, emu: PortalEmulator
) -> None:
    """A 401 (UnauthorizedException) makes one span: status 401, ERROR, and no token in it."""
    bad_token = "not-a-portal-token-" + "x" * 32
    async with AsyncSSOClient(
        endpoint_url=emu.url, region_name="us-east-1", config=ONE_ATTEMPT
    ) as sso:
        with pytest.raises(UnauthorizedException):
            await sso.list_accounts(accessToken=bad_token)
    assert [(r.status, r.token) for r in emu.requests] == [(401, "unknown")]
    traced = _client_spans(spans)
    assert len(traced) == 1
    span = traced[0]
    assert _method_and_path(span, emu.url) == _FOUR_REQUESTS[0]
    assert _first(span.attributes or {}, STATUS_KEYS) == 401
    assert span.status.status_code is StatusCode.ERROR
    dump = _everything(traced)
    _assert_absent(bad_token, dump)
    _assert_absent(emu.token, dump)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_error_span_records_the_exception_without_the_token(
    spans: InMemorySpanExporter,
) -> None:
    """A refused connection ends its span as ERROR with an exception event holding no token."""
    token = "token-that-never-arrives-" + "y" * 32
    url = f"http://127.0.0.1:{_closed_port()}"
    async with AsyncSSOClient(endpoint_url=url, region_name="us-east-1", config=ONE_ATTEMPT) as sso:
        with pytest.raises(EndpointConnectionError):
            await sso.list_accounts(accessToken=token)
    traced = _client_spans(spans)
    assert len(traced) == 1
    span = traced[0]
    assert span.status.status_code is StatusCode.ERROR
    assert _first(span.attributes or {}, STATUS_KEYS) is None
    assert [event.name for event in span.events] == ["exception"]
    assert "ClientConnector" in str((span.events[0].attributes or {}).get("exception.type"))
    _assert_absent(token, _everything(traced))


@pytest.mark.parametrize("echo", list(ECHOES.values()), ids=list(ECHOES))
async def test_a_server_echoing_the_token_header_leaks_no_token_into_spans(
    spans: InMemorySpanExporter, echo: tuple[bytes, bytes]
) -> None:
    """A reply echoing the token's header line: no span, event or exception text holds it."""
    token = TOKEN
    before, _ = echo
    async with echoing_server(echo) as (url, seen):
        async with AsyncSSOClient(
            endpoint_url=url, region_name="us-east-1", config=ONE_ATTEMPT
        ) as sso:
            with pytest.raises(HTTPClientError) as info:
                await sso.list_accounts(accessToken=token)
    assert token.encode() in seen[0]  # the token really went out, and came back
    assert token[:6] not in repr(info.value)  # aiosso's own error is scrubbed
    traced = _client_spans(spans)
    assert len(traced) == 1
    if not before.endswith(b"\r\n\r\n"):  # the head itself was unreadable
        assert traced[0].status.status_code is StatusCode.ERROR
        assert [event.name for event in traced[0].events] == ["exception"]
    _assert_absent(token, _everything(traced))
