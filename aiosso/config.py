"""Client configuration: frozen value objects, validated at construction."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any, Literal

import attrs

__all__ = ["ClientConfig", "RetryConfig"]

RetryMode = Literal["legacy", "standard", "adaptive"]
_MODES = ("legacy", "standard", "adaptive")


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{attribute.name} must be greater than 0, got {value!r}")


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be 0 or greater, got {value!r}")


def _check_attempts(_inst: object, _attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f'Value provided to "total_max_attempts": {value!r} must be an integer '
            "greater than or equal to 1."
        )


def _check_unreachable(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be an integer of at least 1, got {value!r}")


def _check_max_response_bytes(
    _inst: object, attribute: attrs.Attribute[Any], value: object
) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be an integer of at least 1, got {value!r}")


def _check_verify(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # Only True, False or a context: a truthy string such as "false" must not pass for True.
    if not isinstance(value, (bool, ssl.SSLContext)):
        raise TypeError(
            f"{attribute.name} must be True, False or an ssl.SSLContext, not {type(value).__name__}"
        )


def _check_mode(_inst: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in _MODES:
        raise ValueError(
            f'Invalid value provided to "mode": "{value}" must be one of: "legacy", '
            '"standard", "adaptive"'
        )


@attrs.frozen(kw_only=True)
class RetryConfig:
    """How failed attempts are retried; every call is bounded by attempts *and* time.

    Retried: throttling (``TooManyRequestsException``, any 429), 500/502/503/504, connection
    errors, dropped connections and timeouts. Never retried: any other 4xx, nor a
    certificate that failed verification.

    An endpoint that cannot be reached at all (the connection is refused, the host or network
    is unreachable, the name does not resolve) gets a short budget of its own,
    ``unreachable_max_attempts`` (3 by default: about 0.1 s of backoff), so that a wrong
    endpoint or a service that is down is reported at once: a closed port seldom opens within
    seconds. Everything else that fails on the way (a connect timeout, a TLS handshake that
    failed, a connection dropped mid-exchange, a read timeout, 5xx, throttling) keeps the
    full ``total_max_attempts``.

    Args:
        mode: ``"adaptive"`` (default) also runs the client-side rate limiter that adapts to
            throttling; ``"standard"`` and ``"legacy"`` retry the same failures without it.
            Reported in the User-Agent as botocore does.
        total_max_attempts: attempts per call, the first one included (botocore's
            ``total_max_attempts``). The default, 10, with throttling backoff starting at 1 s and
            capped at 20 s, rides out minutes of throttling so a fan-out over hundreds of
            accounts loses nothing.
        unreachable_max_attempts: a call gives up, raising
            :class:`~aiosso.EndpointConnectionError`, once this many of its attempts could not
            connect at all (refused, unreachable, DNS failure; not a connect *timeout*, nor a
            TLS failure). Default 3; never more than ``total_max_attempts`` in effect. Raise
            it for an endpoint expected to come up within seconds.
        total_timeout: a hard deadline, in seconds, for one whole call: waiting for a place
            among the requests in flight, the rate limiter, every attempt (however slowly its
            reply trickles in: ``read_timeout`` counts silence, not time) and every backoff.
            Past it the call raises :class:`~aiosso.TotalTimeoutError` (a
            ``ReadTimeoutError``). No backoff is started that would end past it. ``None``: no
            deadline.
        throttle_base: first backoff ceiling, in seconds, after a throttling error.
        transient_base: first backoff ceiling, in seconds, after a 5xx or connection error.
        max_backoff: ceiling of any single backoff sleep, in seconds.
        max_retry_after: ceiling honoured for a server's ``Retry-After`` /
            ``x-amz-retry-after``, in seconds.
    """

    mode: RetryMode = attrs.field(default="adaptive", validator=_check_mode)
    total_max_attempts: int = attrs.field(default=10, validator=_check_attempts)
    unreachable_max_attempts: int = attrs.field(default=3, validator=_check_unreachable)
    total_timeout: float | None = attrs.field(default=300.0, validator=_positive)
    throttle_base: float = attrs.field(default=1.0, validator=_non_negative)
    transient_base: float = attrs.field(default=0.05, validator=_non_negative)
    max_backoff: float = attrs.field(default=20.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)

    @classmethod
    def from_botocore(cls, retries: Mapping[str, Any]) -> RetryConfig:
        """Build from botocore's ``Config(retries={...})`` dict.

        ``max_attempts`` counts *retries* (total = max_attempts + 1); ``total_max_attempts``
        counts attempts and wins when both are given. Unknown keys raise ``ValueError``.
        """
        known = {"mode", "max_attempts", "total_max_attempts"}
        unknown = set(retries) - known
        if unknown:
            raise ValueError(
                f"Unknown retries key(s) {sorted(unknown)!r}; valid keys: {sorted(known)!r}"
            )
        kwargs: dict[str, Any] = {}
        if "mode" in retries:
            kwargs["mode"] = retries["mode"]
        if "total_max_attempts" in retries:
            kwargs["total_max_attempts"] = retries["total_max_attempts"]
        elif "max_attempts" in retries:
            retries_count = retries["max_attempts"]
            if (
                isinstance(retries_count, bool)
                or not isinstance(retries_count, int)
                or (retries_count < 0)
            ):
                raise ValueError(
                    f'Value provided to "max_attempts": {retries_count!r} must be an integer '
                    "greater than or equal to 0."
                )
            kwargs["total_max_attempts"] = retries_count + 1
        return cls(**kwargs)

    def to_botocore(self) -> dict[str, Any]:
        """The botocore dict form, as ``client.meta.config.retries`` shows it there."""
        return {"mode": self.mode, "total_max_attempts": self.total_max_attempts}


def _to_retry_config(value: RetryConfig | Mapping[str, Any] | None) -> RetryConfig:
    if value is None:
        return RetryConfig()
    if isinstance(value, RetryConfig):
        return value
    if isinstance(value, Mapping):
        return RetryConfig.from_botocore(value)
    raise TypeError(f"retries must be a RetryConfig or a dict, not {type(value).__name__}")


def _env_flag(name: str) -> bool | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ValueError(f"{name} must be 'true' or 'false', got {raw!r}")


@attrs.frozen(kw_only=True)
class ClientConfig:
    """Transport and behaviour settings of an :class:`~aiosso.AsyncSSOClient`.

    Args:
        connect_timeout: seconds to establish a connection (botocore default 60).
        read_timeout: seconds to wait for data on an open connection (botocore default 60).
        max_pool_connections: requests in flight (and connections kept) at once; any
            number of concurrent calls queue for them inside the client. The default, 10
            (botocore's), carries hundreds of requests per second at real-world latencies,
            above what the portal allows, and keeps the first burst against a throttling
            service small. Raise it for a low-latency endpoint that admits more.
        use_fips_endpoint: use the FIPS endpoint; ``None`` reads ``AWS_USE_FIPS_ENDPOINT``.
        use_dualstack_endpoint: use the dual-stack endpoint; ``None`` reads
            ``AWS_USE_DUALSTACK_ENDPOINT``.
        user_agent_appid: ``app/<id>`` in the User-Agent; ``None`` reads ``AWS_SDK_UA_APP_ID``.
        user_agent_extra: appended to the User-Agent.
        parameter_validation: validate parameters before sending (header-unsafe tokens are
            refused even when this is off).
        retries: a :class:`RetryConfig`, or botocore's dict form
            ``{"mode", "max_attempts", "total_max_attempts"}``.
        allow_http: allow a plain ``http://`` endpoint to a host that is not loopback. Off by
            default: a bearer token must not cross a network in clear text.
        max_response_bytes: the largest reply body accepted, in bytes (default 10 MiB; the
            API's pages are a few KiB). A larger one raises :class:`~aiosso.ResponseTooLargeError`
            without being read into memory, and is not retried.
        verify: TLS certificate verification. ``True`` (default) verifies against the system
            trust store, or against the CA bundle named by ``AWS_CA_BUNDLE`` as botocore does
            (without either, a borrowed session verifies as its connector does); an
            ``ssl.SSLContext`` is used as given (e.g. ``ssl.create_default_context(cafile=...)``
            for a private CA); ``False`` turns verification off, which only an explicit
            setting can do.
    """

    connect_timeout: float = attrs.field(default=60.0, validator=_positive)
    read_timeout: float = attrs.field(default=60.0, validator=_positive)
    max_pool_connections: int = attrs.field(default=10, validator=_positive)
    use_fips_endpoint: bool | None = None
    use_dualstack_endpoint: bool | None = None
    user_agent_appid: str | None = None
    user_agent_extra: str | None = None
    parameter_validation: bool = True
    retries: RetryConfig = attrs.field(factory=RetryConfig, converter=_to_retry_config)
    allow_http: bool = False
    max_response_bytes: int = attrs.field(
        default=10 * 1024 * 1024, validator=_check_max_response_bytes
    )
    verify: bool | ssl.SSLContext = attrs.field(default=True, validator=_check_verify)

    def resolved_fips(self) -> bool:
        """The FIPS setting after falling back to ``AWS_USE_FIPS_ENDPOINT``."""
        if self.use_fips_endpoint is not None:
            return self.use_fips_endpoint
        return bool(_env_flag("AWS_USE_FIPS_ENDPOINT"))

    def resolved_dualstack(self) -> bool:
        """The dual-stack setting after falling back to ``AWS_USE_DUALSTACK_ENDPOINT``."""
        if self.use_dualstack_endpoint is not None:
            return self.use_dualstack_endpoint
        return bool(_env_flag("AWS_USE_DUALSTACK_ENDPOINT"))

    def resolved_appid(self) -> str | None:
        """The app id after falling back to ``AWS_SDK_UA_APP_ID``."""
        if self.user_agent_appid is not None:
            return self.user_agent_appid
        return os.environ.get("AWS_SDK_UA_APP_ID") or None
