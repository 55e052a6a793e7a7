"""Property-based tests of the sans-I/O layer: hostile replies and parameters never escape
as anything but aiosso's documented errors, and requests are never malformed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosso import _protocol
from aiosso._operations import OPERATIONS
from aiosso.exceptions import ClientError, ParamValidationError, ResponseParserError

OPS = st.sampled_from(sorted(OPERATIONS.values(), key=lambda op: op.name))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
member_names = st.sampled_from(
    [
        "accountList",
        "roleList",
        "nextToken",
        "roleCredentials",
        "accessKeyId",
        "secretAccessKey",
        "sessionToken",
        "expiration",
        "accountId",
        "roleName",
        "accountName",
        "emailAddress",
        "message",
        "Message",
        "__type",
        "code",
        "Code",
    ]
)
# JSON objects shaped like the service's, with arbitrary member values.
shaped = st.recursive(
    json_values,
    lambda children: (
        st.dictionaries(member_names, children, max_size=5) | st.lists(children, max_size=3)
    ),
    max_leaves=25,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    shaped.map(lambda v: json.dumps(v).encode()),
    shaped.map(lambda v: json.dumps(v).encode()[:-1]),  # truncated JSON
    st.just(b"<html><body>captive portal</body></html>"),
    st.just(b"[" * 5000 + b"]" * 5000),  # deep nesting
    st.just(b"\xff\xfe\x00garbage"),
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=60)
headers = st.dictionaries(
    st.sampled_from(
        ["x-amzn-errortype", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2", "content-type"]
    ),
    header_values,
    max_size=4,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(op=OPS, status=st.integers(min_value=300, max_value=599), headers=headers, body=bodies)
def test_error_replies_always_parse(
    op: Any, status: int, headers: dict[str, str], body: bytes
) -> None:
    """Any error reply becomes botocore's error dict and a ClientError with a printable str."""
    response = _protocol.parse_error(op, status, headers, body, 0)
    assert isinstance(response["Error"]["Code"], str)
    assert response["Error"]["Message"] is None or isinstance(response["Error"]["Message"], str)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    error = _protocol.make_error(op, response)
    assert isinstance(error, ClientError)
    assert op.api_name in str(error)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(op=OPS, status=st.integers(min_value=200, max_value=299), headers=headers, body=bodies)
def test_success_replies_parse_or_raise_parser_error(
    op: Any, status: int, headers: dict[str, str], body: bytes
) -> None:
    """Any 2xx reply is a result dict of the model's members or a ResponseParserError."""
    try:
        result = _protocol.parse_success(op, status, headers, body, 0)
    except ResponseParserError as exc:
        assert op.api_name in str(exc)
        return
    allowed = {"ResponseMetadata"} | {key for key, _ in op.output}
    assert set(result) <= allowed
    for item in result.get("accountList", []) + result.get("roleList", []):
        assert isinstance(item, dict)
        assert all(isinstance(v, str) for v in item.values())
    if "roleCredentials" in result:
        creds = result["roleCredentials"]
        assert isinstance(creds.get("expiration", 0), int)


@settings(max_examples=300)
@given(
    op=OPS,
    values=st.dictionaries(
        st.sampled_from(["nextToken", "accountId", "roleName"]),
        st.text(max_size=40),
        max_size=3,
    ),
    max_results=st.none() | st.integers(min_value=1, max_value=100),
)
def test_query_round_trips_and_is_safe(
    op: Any, values: dict[str, str], max_results: int | None
) -> None:
    """Any parameter text encodes into a query that is plain ASCII and decodes back exactly."""
    params: dict[str, Any] = dict(values)
    if max_results is not None:
        params["maxResults"] = max_results
    query = _protocol.build_query(op, params)
    assert query.isascii()
    assert not any(c in query for c in " \r\n\t\x00#")
    decoded = dict(parse_qsl(query.lstrip("?"), keep_blank_values=True))
    members = op.members_by_name
    expected = {
        members[name].wire_name: str(value)
        for name, value in params.items()
        if name in members and members[name].location == "query"
    }
    assert decoded == expected


@settings(max_examples=500)
@given(token=st.text(max_size=80))
def test_header_values_are_refused_or_safe(token: str) -> None:
    """A token is either refused before sending or safe to put in an HTTP header."""
    op = OPERATIONS["list_accounts"]
    try:
        _protocol.check_header_values(op, {"accessToken": token})
    except ParamValidationError as exc:
        # The message is fixed text: the token itself is never quoted.
        assert str(exc) == (
            "Parameter validation failed:\nInvalid value for parameter accessToken: it contains "
            "characters that are not allowed in an HTTP header (control characters or non-ASCII)"
        )
        return
    assert token.isascii()
    assert all(32 <= ord(c) < 127 for c in token)


@settings(max_examples=300)
@given(
    op=OPS,
    params=st.dictionaries(
        st.sampled_from(["accessToken", "accountId", "roleName", "nextToken", "maxResults", "x"]),
        json_values | st.binary(max_size=10),
        max_size=5,
    ),
)
def test_validation_only_raises_param_validation_error(op: Any, params: dict[str, Any]) -> None:
    """Any parameter dict passes validation or raises ParamValidationError, never leaking a
    wrongly typed access token."""
    try:
        _protocol.validate(op, params)
    except ParamValidationError as exc:
        for line in str(exc).splitlines():
            if line.startswith("Invalid type for parameter accessToken"):
                assert "value: <redacted>," in line
        return
    for name in op.required:
        assert name in params


huge_bodies = st.one_of(
    # Past CPython's 4300-digit int limit: json.loads raises a plain ValueError there.
    st.integers(min_value=4301, max_value=6000).map(
        lambda n: b'{"accountList": [], "nextToken": ' + b"9" * n + b"}"
    ),
    st.integers(min_value=4301, max_value=6000).map(
        lambda n: b'{"roleCredentials": {"expiration": ' + b"9" * n + b"}}"
    ),
    st.sampled_from([b'{"roleCredentials": {"expiration": 1e999}}', b'{"message": -1e999}']),
    st.text(max_size=50).map(lambda s: ("\ufeff" + json.dumps({"message": s})).encode()),
    st.binary(max_size=50).map(lambda b: b'{"message": "' + b + b'"}'),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    op=OPS,
    status=st.integers(min_value=100, max_value=999),
    headers=headers,
    body=bodies | huge_bodies,
)
def test_any_status_and_body_routed_as_the_retrier_does(
    op: Any, status: int, headers: dict[str, str], body: bytes
) -> None:
    """Any 3-digit status (even 1xx or 6xx-9xx) with any body yields a result or an aiosso error."""
    if status < 300:  # the retrier's split between parse_success and parse_error
        try:
            result = _protocol.parse_success(op, status, headers, body, 0)
        except ResponseParserError:
            return
        assert result["ResponseMetadata"]["HTTPStatusCode"] == status
    else:
        error = _protocol.make_error(op, _protocol.parse_error(op, status, headers, body, 0))
        assert isinstance(error, ClientError)
        assert isinstance(str(error), str)
