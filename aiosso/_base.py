"""What every aiosso service client shares: configuration, endpoint, lifecycle, the call path.

``AsyncSSOClient`` (the portal) and ``AsyncSSOOIDCClient`` (SSO-OIDC) subclass it and add
their operations as ordinary typed methods; both call :meth:`ServiceClient._call`.
"""

from __future__ import annotations

import itertools
import os
import random
import warnings
from collections.abc import Coroutine, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, NoReturn

import aiohttp
import attrs

from aiosso import _protocol, _retry
from aiosso._endpoints import resolve
from aiosso._operations import Operation
from aiosso._transport import Transport
from aiosso._version import VERSION
from aiosso.config import ClientConfig
from aiosso.exceptions import ClientClosedError, NoRegionError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ClientMeta", "ServiceClient"]


@attrs.frozen
class ClientMeta:
    """``client.meta``: what the client resolved at construction.

    Attributes:
        region_name: the region, or ``None`` when only an endpoint URL was given.
        endpoint_url: the URL every request goes to.
        config: the client's :class:`~aiosso.ClientConfig`.
        partition: the AWS partition of the region (``"aws"``, ``"aws-cn"``...).
        service_id: the service's id, as botocore names it (``"SSO"``, ``"SSO OIDC"``).
        method_to_api_mapping: method name to API operation name
            (``{"list_accounts": "ListAccounts", ...}``).
    """

    region_name: str | None
    endpoint_url: str
    config: ClientConfig
    partition: str
    service_id: str
    method_to_api_mapping: dict[str, str]


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def _invocation_ids() -> Iterator[str]:
    # amz-sdk-invocation-id needs to be unique per call, not unpredictable: a random
    # version-4-shaped prefix per process plus a counter, at a tenth of uuid4()'s cost.
    bits = random.SystemRandom().getrandbits(80)
    head = f"{bits >> 48:08x}-{(bits >> 32) & 0xFFFF:04x}-4{(bits >> 20) & 0xFFF:03x}-"
    variant = f"{0x8000 | ((bits >> 6) & 0x3FFF):04x}-"
    prefix = head + variant
    for n in itertools.count(int(bits & 0x3F) << 40):
        yield f"{prefix}{n & 0xFFFFFFFFFFFF:012x}"


invocation_id = _invocation_ids().__next__
"""A UUID-shaped string, unique per call, for ``amz-sdk-invocation-id``."""


class ServiceClient:
    """Base of the service clients (not used directly).

    Construction does no I/O and needs no running loop. The client's own ``aiohttp`` session
    is opened on first use, in the running loop, and shared by all its calls; ``session=`` is
    used as given instead, and never closed.
    """

    _OPERATIONS: ClassVar[Mapping[str, Operation]]
    _SERVICE_ID: ClassVar[str]
    _ENDPOINT_PREFIX: ClassVar[str]
    _ENDPOINT_ENV: ClassVar[str]

    def __init__(
        self,
        region_name: str | None = None,
        *,
        endpoint_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        config: ClientConfig | None = None,
        rate_budget: _retry.RequestBudget | None = None,
    ) -> None:
        config = ClientConfig() if config is None else config
        region = region_name or _env("AWS_REGION") or _env("AWS_DEFAULT_REGION")
        if (
            endpoint_url is None
            and (_env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") or "").lower() != "true"
        ):
            endpoint_url = _env(self._ENDPOINT_ENV) or _env("AWS_ENDPOINT_URL")
        if region is None and endpoint_url is None:
            raise NoRegionError()
        resolved = resolve(
            prefix=self._ENDPOINT_PREFIX,
            region=region,
            endpoint_url=endpoint_url,
            use_fips=config.resolved_fips(),
            use_dualstack=config.resolved_dualstack(),
            allow_http=config.allow_http,
        )
        self.meta: Final = ClientMeta(
            region_name=resolved.region_name,
            endpoint_url=resolved.url,
            config=config,
            partition=resolved.partition,
            service_id=self._SERVICE_ID,
            method_to_api_mapping={
                name: op.api_name for name, op in sorted(self._OPERATIONS.items())
            },
        )
        user_agent = _protocol.user_agent(
            version=VERSION,
            retry_mode=config.retries.mode,
            appid=config.resolved_appid(),
            extra=config.user_agent_extra,
        )
        self._transport = Transport(
            session=session,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            max_pool_connections=config.max_pool_connections,
            max_response_bytes=config.max_response_bytes,
            verify=config.verify,
            static_headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
            ca_bundle=_env("AWS_CA_BUNDLE"),
        )
        self._validate = config.parameter_validation
        base = resolved.url.rstrip("/")
        self._urls: dict[str, str] = {name: base + op.path for name, op in self._OPERATIONS.items()}
        self._retrier = _retry.Retrier(
            config.retries, config.max_pool_connections, self._OPERATIONS, rate_budget
        )

    def __repr__(self) -> str:
        state = "closed" if self._transport.closed else "open"
        return (
            f"<{type(self).__name__} region_name={self.meta.region_name!r} "
            f"endpoint_url={self.meta.endpoint_url!r} {state}>"
        )

    async def __aenter__(self) -> Self:
        if self._transport.closed:
            self._raise_closed()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Release the connections this client owns; idempotent. A borrowed session stays open."""
        await self._transport.close()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        transport = getattr(self, "_transport", None)
        if transport is not None and transport.owns_open_session:
            _warn(
                f"Unclosed {self!r}: use 'async with' or 'await client.close()'",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    @staticmethod
    def _raise_closed() -> NoReturn:
        raise ClientClosedError(message="This client has been closed; create a new one.")

    def _call(
        self, op: Operation, params: Mapping[str, Any]
    ) -> Coroutine[Any, Any, dict[str, Any]]:
        # Checks and builds the request at once (an operation method runs it when awaited),
        # then hands over the retrier's coroutine: one frame less for every resumption.
        if self._transport.closed:
            self._raise_closed()
        if self._validate:
            _protocol.validate(op, params)
        headers = {"amz-sdk-invocation-id": invocation_id()}
        if op.header_members:
            _protocol.check_header_values(op, params)
            for member in op.header_members:
                value = params.get(member.name)
                if value is not None:
                    headers[member.wire_name] = value
        url = self._urls[op.name]
        if op.query_members:
            url += _protocol.build_query(op, params)
        body = _protocol.build_body(op, params)
        if body is not None:
            headers["Content-Type"] = "application/json"
        return self._retrier.call(op, self._transport, url, headers, body)
