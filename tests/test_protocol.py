"""The sans-I/O layer on byte fixtures: validation, requests, replies and errors, no network."""

from __future__ import annotations

import functools
import json
import pickle
import platform
import re
import sys
from typing import Any

import pytest

import aiosso.exceptions
from aiosso import _protocol
from aiosso._operations import (
    CREATE_TOKEN,
    GET_ROLE_CREDENTIALS,
    LIST_ACCOUNT_ROLES,
    LIST_ACCOUNTS,
    LOGOUT,
    MODELED_ERRORS,
    OIDC_OPERATIONS,
    OPERATIONS,
    REGISTER_CLIENT,
    START_DEVICE_AUTHORIZATION,
    Operation,
)
from aiosso.exceptions import (
    AioSSOError,
    AuthorizationPendingException,
    ClientError,
    InvalidClientException,
    InvalidGrantException,
    InvalidRequestException,
    ParamValidationError,
    ResourceNotFoundException,
    ResponseParserError,
    TooManyRequestsException,
    UnauthorizedException,
)

NS = "http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"
MISSING = object()


def error(status: int, body: bytes, **headers: str) -> dict[str, Any]:
    """``parse_error`` with lower-cased headers, as the transport hands them over."""
    lowered = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    return _protocol.parse_error(LIST_ACCOUNTS, status, lowered, body, 0)


def success(op: Operation, body: bytes, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """``parse_success`` of a 200."""
    return _protocol.parse_success(op, 200, headers or {}, body, 0)


@functools.cache
def _botocore_oidc_model() -> Any:
    """botocore's sso-oidc service model (loaded once: it is the oracle of several tests)."""
    botocore_session = pytest.importorskip("botocore.session")
    return botocore_session.get_session().get_service_model("sso-oidc")


# --------------------------------------------------------------------------- parse_error

# (status, headers, body) -> Error dict (key order included), top-level "message", class.
ERROR_TABLE: list[tuple[int, dict[str, str], bytes, dict[str, Any], object, type[ClientError]]] = [
    # §3.3: the service's own answers.
    (
        401,
        {"x_amzn_ErrorType": f"UnauthorizedException:{NS}"},
        b'{"message":"Session token not found or invalid"}',
        {"Message": "Session token not found or invalid", "Code": "UnauthorizedException"},
        "Session token not found or invalid",
        UnauthorizedException,
    ),
    (
        404,
        {},
        b'{"code":"ResourceNotFoundException","Message":"M2"}',
        {"Message": "M2", "Code": "ResourceNotFoundException"},
        MISSING,
        ResourceNotFoundException,
    ),
    (
        403,
        {"x_amzn_ErrorType": f"ForbiddenException:{NS}"},
        b'{"message":"No access"}',
        {"Message": "No access", "Code": "ForbiddenException"},
        MISSING,
        ClientError,
    ),
    (
        403,
        {},
        b'{"message":"forbidden"}',
        {"Message": "forbidden", "Code": "403"},
        MISSING,
        ClientError,
    ),
    (
        403,
        {},
        b"<html><body>Blocked by proxy</body></html>",
        {"Message": "<html><body>Blocked by proxy</body></html>", "Code": "403"},
        MISSING,
        ClientError,
    ),
    # Generic 5xx: empty or "<html>" body (after stripping) -> status + reason phrase.
    (
        502,
        {},
        b"<html><body>x</body></html>",
        {"Code": "502", "Message": "Bad Gateway"},
        MISSING,
        ClientError,
    ),
    (503, {}, b"", {"Code": "503", "Message": "Service Unavailable"}, MISSING, ClientError),
    (504, {}, b" \n<html>", {"Code": "504", "Message": "Gateway Timeout"}, MISSING, ClientError),
    (599, {}, b"", {"Code": "599", "Message": ""}, MISSING, ClientError),
    (
        500,
        {},
        b"<!DOCTYPE html><html></html>",
        {"Message": "<!DOCTYPE html><html></html>", "Code": "500"},
        MISSING,
        ClientError,
    ),
    (
        500,
        {},
        b'{"__type":"InternalServerError","message":"oops"}',
        {"Message": "oops", "Code": "InternalServerError"},
        MISSING,
        ClientError,
    ),
    (
        500,
        {},
        b"Internal failure",
        {"Message": "Internal failure", "Code": "500"},
        MISSING,
        ClientError,
    ),
    (400, {}, b"", {"Message": "", "Code": "400"}, MISSING, ClientError),
    # Whitespace is not empty: botocore's json.loads fails and the text becomes the message.
    (400, {}, b"   ", {"Message": "   ", "Code": "400"}, MISSING, ClientError),
    (
        400,
        {},
        b'{"__type":"WeirdException"}',
        {"Message": "", "Code": "WeirdException"},
        MISSING,
        ClientError,
    ),
    # Header beats body __type; body code/Code beats __type.
    (
        429,
        {"x_amzn_errortype": "TooManyRequestsException"},
        b'{"__type":"InvalidRequestException","message":"m"}',
        {"Message": "m", "Code": "TooManyRequestsException"},
        "m",
        TooManyRequestsException,
    ),
    (
        400,
        {},
        b'{"__type":"A#InvalidRequestException","Code":"Other"}',
        {"Message": "", "Code": "Other"},
        MISSING,
        ClientError,
    ),
    (
        401,
        {},
        b'{"__type":"com.amazonaws.switchboard.portal#UnauthorizedException"}',
        {"Message": "", "Code": "UnauthorizedException"},
        MISSING,
        UnauthorizedException,
    ),
    # ":" cuts first, then the part after the last "#" is kept; "message" beats "Message".
    (
        400,
        {},
        b'{"__type":"a.b#InvalidRequestException:x#y","message":"m","Message":"M"}',
        {"Message": "m", "Code": "InvalidRequestException"},
        "m",
        InvalidRequestException,
    ),
    (
        404,
        {"x_amzn_errortype": "InvalidRequestException:x"},
        b'{"Message":"upper only"}',
        {"Message": "upper only", "Code": "InvalidRequestException"},
        MISSING,
        InvalidRequestException,
    ),
    # Nulls: a null __type empties the code, a null code/Code keeps it, a null message stays.
    (400, {}, b'{"__type":null}', {"Message": "", "Code": ""}, MISSING, ClientError),
    (
        400,
        {},
        b'{"__type":"X","code":null,"message":null}',
        {"Message": None, "Code": "X"},
        MISSING,
        ClientError,
    ),
    (400, {}, b'{"code":null}', {"Message": "", "Code": "400"}, MISSING, ClientError),
    (
        400,
        {},
        b'{"message":"caf\xc3\xa9"}',
        {"Message": "café", "Code": "400"},
        MISSING,
        ClientError,
    ),
    # Where botocore crashes (AttributeError, TypeError, UnicodeDecodeError) aiosso still
    # produces a ClientError: a non-object body is the message, non-string codes become str.
    (400, {}, b"[1,2]", {"Message": "[1,2]", "Code": "400"}, MISSING, ClientError),
    (400, {}, b"null", {"Message": "null", "Code": "400"}, MISSING, ClientError),
    (400, {}, b'{"__type":5}', {"Message": "", "Code": "5"}, MISSING, ClientError),
    (400, {}, b'{"code":5,"message":7}', {"Message": "7", "Code": "5"}, MISSING, ClientError),
    (
        400,
        {},
        b"\xff\xfe bad",
        {"Message": "\ufffd\ufffd bad", "Code": "400"},
        MISSING,
        ClientError,
    ),
]


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected", "message", "cls"),
    ERROR_TABLE,
    ids=[f"{row[0]}-{row[2][:30]!r}" for row in ERROR_TABLE],
)
def test_parse_error_precedence(
    status: int,
    headers: dict[str, str],
    body: bytes,
    expected: dict[str, Any],
    message: object,
    cls: type[ClientError],
) -> None:
    """Code and message follow botocore's precedence: generic 5xx, header, code/Code, __type."""
    response = error(status, body, **headers)
    assert response["Error"] == expected
    assert list(response["Error"]) == list(expected)
    if message is MISSING:
        assert "message" not in response
    else:
        assert response["message"] == message
    assert list(response)[:2] == ["Error", "ResponseMetadata"]
    assert _protocol.error_class(response["Error"]["Code"]) is cls
    exc = _protocol.make_error(LIST_ACCOUNTS, response)
    assert type(exc) is cls
    assert exc.operation_name == "ListAccounts"
    assert exc.response is response


def test_error_metadata_request_id_only_from_x_amzn_requestid() -> None:
    """On errors RequestId comes from x-amzn-requestid only: no x-amz-request-id fallback."""
    with_id = error(404, b"{}", x_amzn_requestid="rid-1")
    assert with_id["ResponseMetadata"] == {
        "RequestId": "rid-1",
        "HTTPStatusCode": 404,
        "HTTPHeaders": {"x-amzn-requestid": "rid-1"},
        "RetryAttempts": 0,
    }
    fallback = error(404, b"{}", x_amz_request_id="rid-2", x_amz_id_2="host")
    assert "RequestId" not in fallback["ResponseMetadata"]
    assert "HostId" not in fallback["ResponseMetadata"]


def test_generic_5xx_drops_request_id() -> None:
    """The generic 5xx path records no RequestId even when the header is present."""
    response = error(503, b"", x_amzn_requestid="rid")
    assert response["ResponseMetadata"] == {
        "HTTPStatusCode": 503,
        "HTTPHeaders": {"x-amzn-requestid": "rid"},
        "RetryAttempts": 0,
    }


def test_error_retry_attempts_passed_through() -> None:
    """RetryAttempts in an error's metadata is the value given by the retry layer."""
    response = _protocol.parse_error(LOGOUT, 500, {}, b"", 3)
    assert response["ResponseMetadata"]["RetryAttempts"] == 3


def test_client_error_message_format() -> None:
    """str(e) is botocore's template, with the retry note only when MaxAttemptsReached."""
    response = error(429, b'{"message":"Too many"}', x_amzn_errortype="TooManyRequestsException")
    exc = _protocol.make_error(LIST_ACCOUNTS, response)
    assert str(exc) == (
        "An error occurred (TooManyRequestsException) when calling the ListAccounts "
        "operation: Too many"
    )
    response["ResponseMetadata"].update(RetryAttempts=4, MaxAttemptsReached=True)
    exc = _protocol.make_error(LIST_ACCOUNTS, response)
    assert str(exc) == (
        "An error occurred (TooManyRequestsException) when calling the ListAccounts "
        "operation (reached max retries: 4): Too many"
    )
    assert str(ClientError({}, "Logout")) == (
        "An error occurred (Unknown) when calling the Logout operation: Unknown"
    )


TRUNCATED = re.compile(r"\.\.\. \[truncated: (\d+) characters in all, see e\.response\]$")


def test_huge_unparseable_error_body_is_bounded_in_str_only() -> None:
    """A 1 MiB HTML error page: str(e) quotes 500 characters and the length; e.response all."""
    page = "<!DOCTYPE html><html><body>" + "Blocked by policy. " * 55_188
    body = page.encode()[: 1 << 20]
    response = error(403, body)
    assert response["Error"] == {"Message": body.decode(), "Code": "403"}
    exc = _protocol.make_error(LIST_ACCOUNTS, response)
    assert exc.response is response
    assert response["Error"]["Message"] == body.decode()  # not altered by make_error
    prefix = "An error occurred (403) when calling the ListAccounts operation: "
    message = str(exc)
    assert message.startswith(prefix + body.decode()[:500] + "... [truncated: ")
    match = TRUNCATED.search(message)
    assert match is not None
    assert int(match[1]) == len(body) == 1 << 20
    assert len(message) < 700


@pytest.mark.parametrize(("size", "cut"), [(500, False), (501, True), (10_000, True)])
def test_error_message_bound_is_500_characters(size: int, cut: bool) -> None:
    """Up to 500 characters the message is botocore's, verbatim; past that it is cut."""
    text = "é" * size  # characters, not bytes
    exc = _protocol.make_error(LIST_ACCOUNTS, error(400, text.encode()))
    assert exc.response["Error"]["Message"] == text
    assert str(exc).endswith(text) is not cut
    assert (TRUNCATED.search(str(exc)) is not None) is cut
    assert aiosso.exceptions.MAX_QUOTED_CHARS == 500


def test_huge_json_message_and_code_are_bounded() -> None:
    """A huge JSON message or __type is cut in str(e) too; the modeled class is kept."""
    long_message = "m" * 100_000
    response = error(
        401,
        json.dumps({"message": long_message}).encode(),
        x_amzn_errortype="UnauthorizedException",
    )
    exc = _protocol.make_error(LIST_ACCOUNTS, response)
    assert type(exc) is UnauthorizedException
    assert exc.response["Error"]["Message"] == long_message
    assert str(exc).endswith(
        "m" * 500 + "... [truncated: 100000 characters in all, see e.response]"
    )
    long_code = "C" * 5_000
    response = error(400, json.dumps({"__type": long_code, "message": "short"}).encode())
    exc = _protocol.make_error(LIST_ACCOUNTS, response)
    assert exc.response["Error"] == {"Message": "short", "Code": long_code}
    assert str(exc).startswith(
        f"An error occurred ({'C' * 500}... [truncated: 5000 characters in all, see e.response]) "
    )
    assert str(exc).endswith(" operation: short")


def test_bounded_message_keeps_the_retry_note() -> None:
    """After retries, str(e) still says so, and e.response keeps the whole body and metadata."""
    response = error(500, b"Internal failure " * 10_000)
    response["ResponseMetadata"].update(RetryAttempts=2, MaxAttemptsReached=True)
    exc = _protocol.make_error(LIST_ACCOUNTS, response)
    assert str(exc).startswith(
        "An error occurred (500) when calling the ListAccounts operation "
        "(reached max retries: 2): Internal failure "
    )
    assert TRUNCATED.search(str(exc)) is not None
    assert exc.response is response
    assert exc.response["ResponseMetadata"]["MaxAttemptsReached"] is True


def test_unpickled_error_is_bounded_too() -> None:
    """A pickled ClientError comes back (as botocore's, a plain ClientError) still bounded."""
    exc = _protocol.make_error(LIST_ACCOUNTS, error(500, b"x" * 100_000))
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is ClientError
    assert str(again) == str(exc)
    assert len(str(again)) < 700
    assert again.response["Error"]["Message"] == "x" * 100_000


def test_error_class_is_exact_code_lookup() -> None:
    """error_class maps the four modeled codes exactly; anything else is ClientError."""
    assert set(_protocol.ERROR_CLASSES) == set(MODELED_ERRORS)
    for code, cls in _protocol.ERROR_CLASSES.items():
        assert cls.__name__ == code
        assert _protocol.error_class(code) is cls
    for code in ("ForbiddenException", "unauthorizedexception", "", "400"):
        assert _protocol.error_class(code) is ClientError


# --------------------------------------------------------------------------- OAuth2 errors

# SSO-OIDC errors (CreateToken) -> Error dict, as botocore's _map_oauth2_errors and parser.
OAUTH2_TABLE: list[tuple[int, dict[str, str], bytes, dict[str, str]]] = [
    (
        400,
        {"x-amzn-errortype": "InvalidGrantException"},
        b'{"error":"invalid_grant","error_description":"Invalid grant provided"}',
        {"Message": "Invalid grant provided", "Code": "InvalidGrantException"},
    ),
    (
        400,
        {},
        b'{"error":"authorization_pending","error_description":"Pending"}',
        {"Message": "Pending", "Code": "400"},
    ),
    (
        401,
        {"x-amzn-errortype": "InvalidClientException"},
        b'{"error":"invalid_client","error_description":"Bad client"}',
        {"Message": "Bad client", "Code": "InvalidClientException"},
    ),
    # A message already present wins over error_description, whichever its case.
    (
        400,
        {},
        b'{"Message":"kept","error_description":"dropped"}',
        {"Message": "kept", "Code": "400"},
    ),
    (
        400,
        {},
        b'{"message":"kept","error_description":"dropped"}',
        {"Message": "kept", "Code": "400"},
    ),
    # An empty message is no message.
    (400, {}, b'{"Message":"","error_description":"used"}', {"Message": "used", "Code": "400"}),
    (400, {}, b'{"error_description":""}', {"Message": "", "Code": "400"}),
    (500, {}, b'{"error_description":"boom"}', {"Message": "boom", "Code": "500"}),
    # Below 400 nothing is mapped.
    (303, {}, b'{"error_description":"moved"}', {"Message": "", "Code": "303"}),
]


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    OAUTH2_TABLE,
    ids=[f"{row[0]}-{row[2][:40]!r}" for row in OAUTH2_TABLE],
)
def test_oauth2_error_description_is_the_message(
    status: int, headers: dict[str, str], body: bytes, expected: dict[str, str]
) -> None:
    """SSO-OIDC errors of 400 and above take error_description as the message, unless the
    body has a non-empty Message or message; botocore gives the same Error."""
    response = _protocol.parse_error(CREATE_TOKEN, status, headers, body, 0)
    assert response["Error"] == expected
    assert list(response["Error"]) == ["Message", "Code"]
    model = _botocore_oidc_model()
    from botocore import handlers, parsers

    wire = {"status_code": status, "headers": headers, "body": body}
    handlers._map_oauth2_errors(wire)
    parsed = parsers.create_parser("rest-json").parse(
        wire, model.operation_model("CreateToken").output_shape
    )
    assert parsed["Error"] == expected


def test_oauth2_400_error_is_the_modeled_exception() -> None:
    """A 400 invalid_grant is InvalidGrantException with error and error_description lifted
    to the top of e.response, and the description as its message."""
    body = b'{"error":"invalid_grant","error_description":"Invalid grant provided"}'
    response = _protocol.parse_error(
        CREATE_TOKEN, 400, {"x-amzn-errortype": "InvalidGrantException"}, body, 0
    )
    assert response["error"] == "invalid_grant"
    assert response["error_description"] == "Invalid grant provided"
    exc = _protocol.make_error(CREATE_TOKEN, response)
    assert type(exc) is InvalidGrantException
    assert str(exc) == (
        "An error occurred (InvalidGrantException) when calling the CreateToken operation: "
        "Invalid grant provided"
    )
    pending = _protocol.parse_error(
        CREATE_TOKEN,
        400,
        {"x-amzn-errortype": "AuthorizationPendingException"},
        b'{"error":"authorization_pending"}',
        0,
    )
    assert type(_protocol.make_error(CREATE_TOKEN, pending)) is AuthorizationPendingException
    assert pending["Error"]["Message"] == ""
    client = _protocol.parse_error(
        REGISTER_CLIENT, 401, {"x-amzn-errortype": "InvalidClientException"}, b"{}", 0
    )
    assert type(_protocol.make_error(REGISTER_CLIENT, client)) is InvalidClientException


def test_portal_errors_ignore_error_description() -> None:
    """Only SSO-OIDC maps error_description: a portal error keeps its own (empty) message."""
    response = error(400, b'{"error":"invalid_grant","error_description":"not for the portal"}')
    assert response["Error"] == {"Message": "", "Code": "400"}


# --------------------------------------------------------------------------- parse_success


def test_success_drops_unknown_keys_and_nulls() -> None:
    """Unknown members are dropped and null members omitted; ResponseMetadata comes first."""
    body = (
        b'{"extra":1,"accountList":[{"accountId":"1","zz":2,"accountName":null,'
        b'"emailAddress":"e"}],"nextToken":null}'
    )
    result = success(LIST_ACCOUNTS, body)
    assert list(result) == ["ResponseMetadata", "accountList"]
    assert result["accountList"] == [{"accountId": "1", "emailAddress": "e"}]
    assert list(result["accountList"][0]) == ["accountId", "emailAddress"]


def test_success_keys_follow_model_order() -> None:
    """Top-level members are in model order (nextToken before the list), not body order."""
    result = success(LIST_ACCOUNT_ROLES, b'{"roleList":[],"nextToken":"n"}')
    assert list(result) == ["ResponseMetadata", "nextToken", "roleList"]
    assert result["nextToken"] == "n"
    assert result["roleList"] == []


def test_success_items_with_only_known_string_members_are_kept() -> None:
    """Well-formed items (the fast path) come back equal to the JSON objects."""
    body = b'{"roleList":[{"roleName":"Admin","accountId":"1"},{"roleName":"Ro"}]}'
    result = success(LIST_ACCOUNT_ROLES, body)
    assert result["roleList"] == [{"roleName": "Admin", "accountId": "1"}, {"roleName": "Ro"}]


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        (b'"accessKeyId":"A","secretAccessKey":"S","sessionToken":"T","expiration":5', None),
        (b'"accessKeyId":"A","extra":"x","expiration":5', {"accessKeyId": "A", "expiration": 5}),
        (b'"accessKeyId":"A","sessionToken":null', {"accessKeyId": "A"}),
        (b'"accessKeyId":"A","expiration":false', "not a number"),
    ],
    ids=["well-formed", "unknown-member", "null-member", "bool-long"],
)
def test_success_credentials_struct(members: bytes, expected: object) -> None:
    """A flat struct is kept as sent only when well-formed; else unknowns/nulls are dropped."""
    body = b'{"roleCredentials":{' + members + b"}}"
    if isinstance(expected, str):
        with pytest.raises(ResponseParserError, match=expected):
            success(GET_ROLE_CREDENTIALS, body)
        return
    creds = success(GET_ROLE_CREDENTIALS, body)["roleCredentials"]
    if expected is None:
        expected = {
            "accessKeyId": "A",
            "secretAccessKey": "S",
            "sessionToken": "T",
            "expiration": 5,
        }
    assert creds == expected
    assert list(creds) == list(expected)


@pytest.mark.parametrize(
    ("raw", "value"),
    [(b"1700000000000", 1700000000000), (b'"123"', 123), (b"1.7e12", 1700000000000)],
)
def test_success_long_coercion(raw: bytes, value: int) -> None:
    """``expiration`` (a long) goes through int() as botocore does."""
    body = b'{"roleCredentials":{"accessKeyId":"A","expiration":' + raw + b"}}"
    result = success(GET_ROLE_CREDENTIALS, body)
    assert result["roleCredentials"] == {"accessKeyId": "A", "expiration": value}
    assert type(result["roleCredentials"]["expiration"]) is int


def test_success_role_credentials_order_and_null_struct() -> None:
    """Credential members come back in model order; a null struct is omitted."""
    body = (
        b'{"roleCredentials":{"expiration":5,"sessionToken":"s","secretAccessKey":"k",'
        b'"accessKeyId":"A"}}'
    )
    creds = success(GET_ROLE_CREDENTIALS, body)["roleCredentials"]
    assert list(creds) == ["accessKeyId", "secretAccessKey", "sessionToken", "expiration"]
    assert success(GET_ROLE_CREDENTIALS, b'{"roleCredentials":null}') == {
        "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}
    }


@pytest.mark.parametrize(
    ("op", "body", "reason"),
    [
        (LIST_ACCOUNTS, b"", "empty body"),
        (LIST_ACCOUNTS, b"<html>captive portal</html>", "not JSON"),
        (LIST_ACCOUNTS, b"   ", "not JSON"),
        (LIST_ACCOUNTS, b"\xff\xfe", "not JSON"),
        (LIST_ACCOUNTS, b"[" * 100_000, "not JSON"),
        (LIST_ACCOUNTS, b"[]", "not an object"),
        (LIST_ACCOUNTS, b'"text"', "not an object"),
        (LIST_ACCOUNTS, b"null", "not an object"),
        (LIST_ACCOUNTS, b'{"accountList":"x"}', "'accountList' is not a list"),
        (LIST_ACCOUNTS, b'{"accountList":[1]}', "not a JSON object"),
        (LIST_ACCOUNTS, b'{"accountList":[{"accountId":5}]}', "'accountId' is not a string"),
        (LIST_ACCOUNTS, b'{"nextToken":7}', "'nextToken' is not a string"),
        (GET_ROLE_CREDENTIALS, b'{"roleCredentials":[]}', "not a JSON object"),
        (GET_ROLE_CREDENTIALS, b'{"roleCredentials":{"expiration":"soon"}}', "not a number"),
        (GET_ROLE_CREDENTIALS, b'{"roleCredentials":{"expiration":true}}', "not a number"),
        (GET_ROLE_CREDENTIALS, b'{"roleCredentials":{"expiration":{}}}', "not a number"),
        (GET_ROLE_CREDENTIALS, b'{"roleCredentials":{"expiration":NaN}}', "not a number"),
        (GET_ROLE_CREDENTIALS, b'{"roleCredentials":{"expiration":Infinity}}', "not a number"),
    ],
)
def test_success_that_breaks_the_contract_is_a_parser_error(
    op: Operation, body: bytes, reason: str
) -> None:
    """A 2xx that is not a JSON object of the model's types raises ResponseParserError."""
    with pytest.raises(ResponseParserError) as info:
        success(op, body)
    assert isinstance(info.value, AioSSOError)
    assert str(info.value).startswith(f"Unable to parse response for the {op.api_name} operation: ")
    assert reason in str(info.value)


@pytest.mark.parametrize("body", [b"", b'{"x":1}', b"<html>", b"garbage"])
def test_logout_ignores_the_body(body: bytes) -> None:
    """Logout (no output members) returns exactly ResponseMetadata, whatever the body."""
    result = _protocol.parse_success(LOGOUT, 200, {"x-amzn-requestid": "r"}, body, 0)
    assert result == {
        "ResponseMetadata": {
            "RequestId": "r",
            "HTTPStatusCode": 200,
            "HTTPHeaders": {"x-amzn-requestid": "r"},
            "RetryAttempts": 0,
        }
    }


def test_success_metadata_request_id_fallbacks() -> None:
    """RequestId: x-amzn-requestid, else x-amz-request-id with HostId (x-amz-id-2 or '')."""
    both = {"x-amzn-requestid": "a", "x-amz-request-id": "b", "x-amz-id-2": "h"}
    md = success(LOGOUT, b"", both)["ResponseMetadata"]
    assert md == {"RequestId": "a", "HTTPStatusCode": 200, "HTTPHeaders": both, "RetryAttempts": 0}
    md = success(LOGOUT, b"", {"x-amz-request-id": "b", "x-amz-id-2": "h"})["ResponseMetadata"]
    assert (md["RequestId"], md["HostId"]) == ("b", "h")
    assert list(md) == ["RequestId", "HostId", "HTTPStatusCode", "HTTPHeaders", "RetryAttempts"]
    md = success(LOGOUT, b"", {"x-amz-request-id": "b"})["ResponseMetadata"]
    assert (md["RequestId"], md["HostId"]) == ("b", "")
    md = success(LOGOUT, b"", {})["ResponseMetadata"]
    assert "RequestId" not in md
    assert "HostId" not in md
    md = _protocol.parse_success(LOGOUT, 201, {}, b"", 2)["ResponseMetadata"]
    assert (md["HTTPStatusCode"], md["RetryAttempts"]) == (201, 2)


# --------------------------------------------------------------------------- validate


def report_of(op: Operation, **params: Any) -> str:
    """The report of the ParamValidationError that validate() raises."""
    with pytest.raises(ParamValidationError) as info:
        _protocol.validate(op, params)
    assert str(info.value) == "Parameter validation failed:\n" + info.value.kwargs["report"]
    assert isinstance(info.value, ValueError)
    return str(info.value.kwargs["report"])


def test_validate_accepts_good_input() -> None:
    """Correct parameters (bool counts as int, str subclasses as str) pass silently."""

    class Token(str):
        pass

    _protocol.validate(LIST_ACCOUNTS, {"accessToken": Token("t"), "maxResults": True})
    _protocol.validate(LIST_ACCOUNTS, {"accessToken": "", "nextToken": "", "maxResults": 100})
    _protocol.validate(
        GET_ROLE_CREDENTIALS, {"roleName": "r", "accountId": "1", "accessToken": "t"}
    )


def test_validate_report_order_and_lines() -> None:
    """Missing (model order), then unknown (input order), then type/range (input order)."""
    report = report_of(
        LIST_ACCOUNT_ROLES, zz=1, maxResults="5", Foo=2, nextToken=None, accountId=["x"]
    )
    assert report.splitlines() == [
        'Missing required parameter in input: "accessToken"',
        'Unknown parameter in input: "zz", must be one of: '
        "nextToken, maxResults, accessToken, accountId",
        'Unknown parameter in input: "Foo", must be one of: '
        "nextToken, maxResults, accessToken, accountId",
        "Invalid type for parameter maxResults, value: 5, type: <class 'str'>, "
        "valid types: <class 'int'>",
        "Invalid type for parameter nextToken, value: None, type: <class 'NoneType'>, "
        "valid types: <class 'str'>",
        "Invalid type for parameter accountId, value: ['x'], type: <class 'list'>, "
        "valid types: <class 'str'>",
    ]


def test_validate_missing_in_required_order() -> None:
    """Every missing required member is reported, in the model's required order."""
    assert report_of(GET_ROLE_CREDENTIALS).splitlines() == [
        'Missing required parameter in input: "roleName"',
        'Missing required parameter in input: "accountId"',
        'Missing required parameter in input: "accessToken"',
    ]


@pytest.mark.parametrize(
    ("value", "line"),
    [
        (0, "Invalid value for parameter maxResults, value: 0, valid min value: 1"),
        (-3, "Invalid value for parameter maxResults, value: -3, valid min value: 1"),
        (101, "Invalid value for parameter maxResults, value: 101, valid max value: 100"),
        (
            5.0,
            "Invalid type for parameter maxResults, value: 5.0, type: <class 'float'>, "
            "valid types: <class 'int'>",
        ),
        (
            None,
            "Invalid type for parameter maxResults, value: None, type: <class 'NoneType'>, "
            "valid types: <class 'int'>",
        ),
    ],
)
def test_validate_max_results(value: object, line: str) -> None:
    """maxResults must be an int in 1..100 (the max is aiosso's addition)."""
    assert report_of(LIST_ACCOUNTS, accessToken="t", maxResults=value) == line


@pytest.mark.parametrize("value", [None, 5, b"secret-bytes", ["secret-list"]])
def test_validate_redacts_sensitive_values(value: object) -> None:
    """A wrongly typed accessToken is reported without its value."""
    report = report_of(LOGOUT, accessToken=value)
    assert report == (
        f"Invalid type for parameter accessToken, value: <redacted>, type: {type(value)}, "
        "valid types: <class 'str'>"
    )


def test_max_results_bounds_on_the_full_check() -> None:
    """maxResults 1 and 100 are valid on the full check too: with another member forcing
    it, the report has no range line for them."""

    class Token(str):
        pass

    for value in (1, 100):
        # A str subclass is not the exact type: the fast path hands over to the full check.
        _protocol.validate(LIST_ACCOUNTS, {"accessToken": Token("t"), "maxResults": value})
        assert report_of(LIST_ACCOUNTS, accessToken="t", maxResults=value, nextToken=5) == (
            "Invalid type for parameter nextToken, value: 5, type: <class 'int'>, "
            "valid types: <class 'str'>"
        )
    assert report_of(LIST_ACCOUNTS, accessToken=Token("t"), maxResults=101) == (
        "Invalid value for parameter maxResults, value: 101, valid max value: 100"
    )


LIST_ITEM_CASES: list[tuple[Operation, dict[str, Any]]] = [
    (REGISTER_CLIENT, {"clientName": "n", "clientType": "public", "scopes": ["a", 1, "b", None]}),
    (REGISTER_CLIENT, {"clientName": "n", "clientType": "public", "grantTypes": ("x", b"y")}),
    (REGISTER_CLIENT, {"clientName": "n", "clientType": "public", "scopes": "sso:account:access"}),
    (
        CREATE_TOKEN,
        {"clientId": "c", "clientSecret": "s", "grantType": "g", "scope": [["nested"]]},
    ),
]


@pytest.mark.parametrize(("op", "params"), LIST_ITEM_CASES)
def test_validate_list_items_as_botocore(op: Operation, params: dict[str, Any]) -> None:
    """A list member takes a list or tuple of strings; each wrong item is reported by its
    index, in order, with botocore's lines."""
    ours = report_of(op, **params)
    assert ours
    model = _botocore_oidc_model()
    from botocore.validate import ParamValidator

    shape = model.operation_model(op.api_name).input_shape
    assert ours == ParamValidator().validate(params, shape).generate_report()


def test_validate_accepts_lists_and_tuples_of_strings() -> None:
    """Lists and tuples of strings, empty ones too, are valid list members."""
    base = {"clientName": "n", "clientType": "public"}
    for value in (["a", "b"], ("a",), [], ()):
        _protocol.validate(REGISTER_CLIENT, {**base, "scopes": value, "grantTypes": value})
    assert report_of(REGISTER_CLIENT, **base, scopes=["a", 1, "b", None]).splitlines() == [
        "Invalid type for parameter scopes[1], value: 1, type: <class 'int'>, "
        "valid types: <class 'str'>",
        "Invalid type for parameter scopes[3], value: None, type: <class 'NoneType'>, "
        "valid types: <class 'str'>",
    ]


# --------------------------------------------------------------------------- header values


@pytest.mark.parametrize(
    "token",
    ["tok\r\nX-Evil: 1", "tok\n", "tok\r", "tok\x00", "tok\t", "tok\x7f", "caf\u00e9", "\u2603"],
)
def test_header_unsafe_tokens_refused(token: str) -> None:
    """CR, LF, NUL, other controls and non-ASCII are refused; the token is never quoted."""
    with pytest.raises(ParamValidationError) as info:
        _protocol.check_header_values(LIST_ACCOUNTS, {"accessToken": token})
    assert str(info.value) == (
        "Parameter validation failed:\nInvalid value for parameter accessToken: it contains "
        "characters that are not allowed in an HTTP header (control characters or non-ASCII)"
    )
    assert token not in str(info.value)


@pytest.mark.parametrize("token", [5, b"bytes-token", ["x"]])
def test_header_value_must_be_str(token: object) -> None:
    """A non-str token is refused (redacted) even without validation: aiohttp would echo it."""
    with pytest.raises(ParamValidationError) as info:
        _protocol.check_header_values(LOGOUT, {"accessToken": token})
    assert "value: <redacted>" in str(info.value)
    assert repr(token) not in str(info.value)


@pytest.mark.parametrize(
    "params", [{}, {"accessToken": None}, {"accessToken": ""}, {"accessToken": "a b~!"}]
)
def test_header_safe_values_pass(params: dict[str, Any]) -> None:
    """Absent, None, empty and visible-ASCII tokens pass the header check."""
    _protocol.check_header_values(LIST_ACCOUNTS, params)


# --------------------------------------------------------------------------- build_query


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a b+c", "a%20b%2Bc"),
        ("a/b", "a%2Fb"),
        ("wow!", "wow%21"),
        ("caf\u00e9", "caf%C3%A9"),
        ("-._~", "-._~"),
        ("k=v&x;y", "k%3Dv%26x%3By"),
        ("%41", "%2541"),
        ("", ""),
    ],
)
def test_build_query_encoding(value: str, encoded: str) -> None:
    """Values are percent-encoded with only -._~ safe, as botocore's percent_encode."""
    assert _protocol.build_query(LIST_ACCOUNTS, {"nextToken": value}) == f"?next_token={encoded}"


def test_build_query_matches_botocore_percent_encode() -> None:
    """The encoding equals botocore's percent_encode for a spread of characters."""
    utils = pytest.importorskip("botocore.utils")
    samples = ["".join(chr(c) for c in range(32, 127)), "\u00e9\u4e2d\U0001f600", "a b+c/="]
    for sample in samples:
        query = _protocol.build_query(LIST_ACCOUNTS, {"nextToken": sample})
        assert query == "?next_token=" + utils.percent_encode(sample)


def test_build_query_order_none_and_locations() -> None:
    """Caller order is kept, None dropped, '' kept, header and unknown members left out."""
    params = {"accessToken": "t", "maxResults": 5, "Foo": "x", "nextToken": "a b+c"}
    assert _protocol.build_query(LIST_ACCOUNTS, params) == "?max_result=5&next_token=a%20b%2Bc"
    params = {"nextToken": "n", "accountId": "1", "maxResults": None}
    assert _protocol.build_query(LIST_ACCOUNT_ROLES, params) == "?next_token=n&account_id=1"
    assert _protocol.build_query(LIST_ACCOUNTS, {"nextToken": ""}) == "?next_token="
    assert _protocol.build_query(LIST_ACCOUNTS, {"maxResults": True}) == "?max_result=True"
    assert _protocol.build_query(LIST_ACCOUNTS, {"accessToken": "t"}) == ""
    assert _protocol.build_query(LOGOUT, {"accessToken": "t"}) == ""
    query = _protocol.build_query(
        GET_ROLE_CREDENTIALS, {"accountId": "1", "roleName": "R o", "accessToken": "t"}
    )
    assert query == "?account_id=1&role_name=R%20o"


# --------------------------------------------------------------------------- build_body


def test_build_body_json() -> None:
    """The body is compact JSON of the given members in model order: None dropped, empty
    strings and lists kept, tuples sent as lists."""
    body = _protocol.build_body(
        REGISTER_CLIENT,
        {"scopes": ("a", "b"), "issuerUrl": None, "clientType": "public", "clientName": ""},
    )
    assert body == b'{"clientName":"","clientType":"public","scopes":["a","b"]}'
    body = _protocol.build_body(
        CREATE_TOKEN,
        {"grantType": "g", "clientId": "c", "clientSecret": "s", "scope": [], "code": None},
    )
    assert body == b'{"clientId":"c","clientSecret":"s","grantType":"g","scope":[]}'
    assert _protocol.build_body(START_DEVICE_AUTHORIZATION, {}) == b"{}"
    assert _protocol.build_body(CREATE_TOKEN, {"clientId": "caf\u00e9"}) == (
        b'{"clientId":"caf\\u00e9"}'
    )


def test_build_body_none_without_body_members() -> None:
    """Portal operations carry no body: their members go to the query and headers."""
    params = {"accessToken": "t", "accountId": "1", "roleName": "r", "maxResults": 5}
    for op in OPERATIONS.values():
        assert _protocol.build_body(op, params) is None


@pytest.mark.parametrize("op", list(OIDC_OPERATIONS.values()), ids=list(OIDC_OPERATIONS))
def test_build_body_matches_botocore(op: Operation) -> None:
    """Every member given (tuples for lists) gives the JSON object botocore's serializer sends."""
    params: dict[str, Any] = {
        m.name: ("x", "y") if m.type is list else f"{m.name}-value" for m in op.members
    }
    ours = _protocol.build_body(op, params)
    assert ours is not None
    model = _botocore_oidc_model()
    from botocore import serialize

    serializer = serialize.create_serializer("rest-json", include_validation=False)
    theirs = serializer.serialize_to_request(params, model.operation_model(op.api_name))["body"]
    assert json.loads(ours) == json.loads(theirs)
    assert list(json.loads(ours)) == [m.name for m in op.body_members]


# --------------------------------------------------------------------------- user agent


def test_user_agent_format() -> None:
    """aiosso/<v> ua/2.1 os/ md/arch lang/python md/pyimpl cfg/retry-mode [app/] [extra]."""
    ua = _protocol.user_agent(version="1.2.3", retry_mode="standard", appid="my-app", extra="x/1")
    parts = ua.split(" ")
    assert parts[0] == "aiosso/1.2.3"
    assert parts[1] == "ua/2.1"
    assert re.fullmatch(r"os/(linux|macos|windows|other)#\S+", parts[2])
    assert parts[3] == f"md/arch#{platform.machine().lower()}"
    assert parts[4] == "lang/python#{}.{}.{}".format(*sys.version_info[:3])
    assert parts[5] == f"md/pyimpl#{platform.python_implementation()}"
    assert parts[6:] == ["cfg/retry-mode#standard", "app/my-app", "x/1"]
    bare = _protocol.user_agent(version="1", retry_mode="adaptive")
    assert bare.split(" ")[-1] == "cfg/retry-mode#adaptive"
    assert "app/" not in bare


def test_user_agent_appid_sanitised_as_botocore() -> None:
    """The app id is sanitised with botocore's character set (allowing '#')."""
    useragent = pytest.importorskip("botocore.useragent")
    appid = "a,b c\u00e9#d/e:f"
    ua = _protocol.user_agent(version="1", retry_mode="legacy", appid=appid)
    expected = useragent.sanitize_user_agent_string_component(appid, allow_hash=True)
    assert ua.split(" ")[-1] == f"app/{expected}"


def test_user_agent_never_header_unsafe() -> None:
    """A user_agent_extra with control or non-ASCII characters cannot corrupt the header."""
    ua = _protocol.user_agent(version="1", retry_mode="legacy", extra="x\r\nEvil: 1 caf\u00e9")
    assert ua.isascii()
    assert ua.isprintable()
    assert ua.endswith("xEvil: 1 caf")


# --------------------------------------------------------------------------- the op table


def test_operation_table_matches_botocore_model() -> None:
    """_operations describes exactly botocore's sso model: wire bindings, types, outputs."""
    session = pytest.importorskip("botocore.session")
    model = session.get_session().get_service_model("sso")
    assert model.service_id == "SSO"
    assert model.api_version == "2019-06-10"
    assert model.endpoint_prefix == "portal.sso"
    assert set(model.operation_names) == {op.api_name for op in OPERATIONS.values()}
    py_names = {"get_role_credentials", "list_account_roles", "list_accounts", "logout"}
    assert set(OPERATIONS) == py_names
    for op in OPERATIONS.values():
        om = model.operation_model(op.api_name)
        assert (op.method, op.path) == (om.http["method"], om.http["requestUri"])
        shape = om.input_shape
        assert op.required == tuple(shape.required_members)
        assert op.member_names == tuple(shape.members)
        for member in op.members:
            ms = shape.members[member.name]
            location = {"querystring": "query", "header": "header"}[ms.serialization["location"]]
            assert (member.location, member.wire_name) == (location, ms.serialization["name"])
            assert member.type is {"string": str, "integer": int}[ms.type_name]
            assert member.sensitive == bool(ms.metadata.get("sensitive"))
            assert member.min_value == ms.metadata.get("min")
            assert member.max_value == ms.metadata.get("max")
        # op.errors is the service's set of modeled errors (botocore's from_code is too),
        # with the members each lifts to the top of e.response.
        assert {e.name for e in om.error_shapes} <= set(op.errors)
        assert set(op.errors) == {e.name for e in model.error_shapes}
        assert _spec(op.output) == _botocore_spec(om.output_shape)
        for name in op.errors:
            assert MODELED_ERRORS[name] == model.shape_for(name).metadata["error"]["httpStatusCode"]
            assert op.errors[name] == tuple(model.shape_for(name).members)


def test_oidc_operation_table_matches_botocore_model() -> None:
    """The SSO-OIDC operations match botocore's sso-oidc model: body members, outputs, errors."""
    session = pytest.importorskip("botocore.session")
    model = session.get_session().get_service_model("sso-oidc")
    for op in OIDC_OPERATIONS.values():
        om = model.operation_model(op.api_name)
        assert (op.method, op.path) == (om.http["method"], om.http["requestUri"])
        shape = om.input_shape
        assert op.required == tuple(shape.required_members)
        assert op.member_names == tuple(shape.members)
        for member in op.members:
            ms = shape.members[member.name]
            assert (member.location, member.wire_name) == ("body", member.name)
            assert member.type is {"string": str, "list": list}[ms.type_name]
            assert member.sensitive == bool(ms.metadata.get("sensitive"))
        assert set(op.errors) == {e.name for e in model.error_shapes}
        for name, members in op.errors.items():
            assert members == tuple(model.shape_for(name).members)
        assert [k for k, _ in op.output] == list(om.output_shape.members)


def _spec(spec: Any) -> Any:
    return [
        (key, kind if isinstance(kind, str) else (kind[0], _spec(kind[1]))) for key, kind in spec
    ]


def _botocore_spec(shape: Any) -> Any:
    if shape is None:
        return []
    out: list[Any] = []
    for name, member in shape.members.items():
        if member.type_name == "structure":
            out.append((name, ("struct", _botocore_spec(member))))
        elif member.type_name == "list":
            out.append((name, ("list", _botocore_spec(member.member))))
        else:
            out.append((name, member.type_name))
    return out
