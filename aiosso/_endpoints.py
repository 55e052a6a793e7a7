"""Region and partition -> endpoint URL, as botocore's endpoint rule set resolves it.

Also the one place that decides whether a custom endpoint URL is acceptable.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final
from urllib.parse import urlsplit

import attrs

from aiosso.exceptions import InvalidEndpointError, InvalidRegionError

# partition name, region regex, dnsSuffix, dualStackDnsSuffix (botocore data/partitions.json).
_PARTITIONS: Final = (
    ("aws", r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$", "amazonaws.com", "api.aws"),
    ("aws-cn", r"^cn\-\w+\-\d+$", "amazonaws.com.cn", "api.amazonwebservices.com.cn"),
    ("aws-us-gov", r"^us\-gov\-\w+\-\d+$", "amazonaws.com", "api.aws"),
    ("aws-iso", r"^us\-iso\-\w+\-\d+$", "c2s.ic.gov", "api.aws.ic.gov"),
    ("aws-iso-b", r"^us\-isob\-\w+\-\d+$", "sc2s.sgov.gov", "api.aws.scloud"),
    ("aws-iso-e", r"^eu\-isoe\-\w+\-\d+$", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"),
    ("aws-iso-f", r"^us\-isof\-\w+\-\d+$", "csp.hci.ic.gov", "api.aws.hci.ic.gov"),
    ("aws-eusc", r"^eusc\-(de)\-\w+\-\d+$", "amazonaws.eu", "api.amazonwebservices.eu"),
)
_COMPILED: Final = tuple((name, re.compile(rx), dns, ds) for name, rx, dns, ds in _PARTITIONS)
# botocore's validate_region_name: a host label, not all digits; fullmatch (a "$" would let a
# trailing newline through into the host name).
_HOST_LABEL: Final = re.compile(r"(?![0-9]+$)[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?")


@attrs.frozen
class ResolvedEndpoint:
    """The URL requests really go to, and where it came from.

    ``region_name`` is the real region: ``fips-us-east-1`` and ``us-east-1-fips`` give
    ``us-east-1`` (botocore's ``client.meta.region_name``).
    """

    url: str
    partition: str
    region_name: str | None


def partition_of(region: str) -> tuple[str, str, str]:
    """``(partition, dnsSuffix, dualStackDnsSuffix)`` for a region; unknown regions are ``aws``."""
    for name, rx, dns, dual in _COMPILED:
        if rx.match(region):
            return name, dns, dual
    _, _, dns, dual = _COMPILED[0]
    return "aws", dns, dual


def resolve(
    *,
    prefix: str,
    region: str | None,
    endpoint_url: str | None,
    use_fips: bool,
    use_dualstack: bool,
    allow_http: bool,
) -> ResolvedEndpoint:
    """Resolve the base URL of a service (``prefix`` is ``portal.sso`` or ``oidc``).

    A custom ``endpoint_url`` is used verbatim as the base (FIPS and dual-stack are ignored
    with it, as botocore does). Otherwise the region picks the partition, and the
    ``fips-<region>`` / ``<region>-fips`` pseudo-regions turn FIPS on.

    Raises:
        InvalidRegionError: the region cannot be part of a host name (checked even with a
            custom endpoint, as botocore does).
        InvalidEndpointError: the endpoint is not an http(s) URL, or is plain ``http://`` to a
            host that is not loopback and ``allow_http`` is off.
    """
    # botocore validates the region even when a custom endpoint makes it unused for the host.
    if region is not None and not _HOST_LABEL.fullmatch(region):
        raise InvalidRegionError(region_name=region)
    # botocore turns the pseudo-regions into the real region (client.meta.region_name) + FIPS.
    effective = region
    if region is not None and region.startswith("fips-"):
        effective, use_fips = region[len("fips-") :], True
    elif region is not None and region.endswith("-fips"):
        effective, use_fips = region[: -len("-fips")], True
    if endpoint_url is not None:
        check_endpoint_url(endpoint_url, allow_http=allow_http)
        partition = partition_of(effective)[0] if effective else "aws"
        return ResolvedEndpoint(endpoint_url, partition, effective)
    if effective is None:  # pragma: no cover - the client checks first
        raise InvalidRegionError(region_name=region)
    partition, dns, dual = partition_of(effective)
    suffix = dual if use_dualstack else dns
    host_prefix = prefix
    # The rule set has one exception: FIPS in aws-us-gov keeps the plain host (not for
    # dual-stack, which has its own branch).
    if use_fips and not (partition == "aws-us-gov" and not use_dualstack):
        host_prefix = prefix + "-fips"
    return ResolvedEndpoint(f"https://{host_prefix}.{effective}.{suffix}", partition, effective)


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``."""
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_endpoint_url(url: str, *, allow_http: bool) -> None:
    """Refuse URLs that are not http(s) with a host, and cleartext http off loopback.

    The base is used verbatim (already encoded), so characters that would change the
    request line (whitespace, control, non-ASCII) are refused, as are a query or fragment
    (``?``/``#`` would swallow the operation path) and user info (aiohttp would turn it
    into an ``Authorization`` header).
    """
    if not isinstance(url, str):
        raise InvalidEndpointError(endpoint_url=f"not a url: {url!r}")
    # urlsplit silently strips tab/CR/LF, so check the raw string first.
    if not (url.isascii() and url.isprintable()) or " " in url:
        raise InvalidEndpointError(endpoint_url="not a url")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        raise InvalidEndpointError(endpoint_url="not a url") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidEndpointError(endpoint_url="not a url")
    if "?" in url or "#" in url:
        raise InvalidEndpointError(endpoint_url="a query or fragment is not allowed in the base")
    if parts.username is not None or parts.password is not None:
        raise InvalidEndpointError(endpoint_url="user info (credentials) is not allowed in the URL")
    if parts.scheme == "http" and not allow_http and not is_loopback(host):
        raise InvalidEndpointError(
            endpoint_url=(
                f"plain http to {host!r} would send the bearer token in clear text; use https, "
                "or ClientConfig(allow_http=True) if you really mean it"
            )
        )
