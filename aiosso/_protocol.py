"""Sans-I/O rest-json protocol: validate parameters, build a request, parse a reply.

Pure functions over dicts and bytes; nothing here knows about sockets or aiohttp. The
behaviour mirrors botocore's ``sso`` client (validator, rest-json serializer and parser) and
is stricter where botocore fails silently: a success reply that is not a JSON object, or
whose members have the wrong types, raises :class:`~aiosso.exceptions.ResponseParserError`
instead of reading as an empty result.
"""

from __future__ import annotations

import json
import platform
import re
import string
import sys
from collections.abc import Mapping
from http import HTTPStatus
from itertools import chain
from typing import Any, Final, cast
from urllib.parse import quote

from aiosso import exceptions as _exc
from aiosso._operations import MODELED_ERRORS, OIDC_MODELED_ERRORS, Member, Operation, OutputSpec
from aiosso.exceptions import (
    ClientError,
    InvalidRequestException,
    ParamValidationError,
    ResourceNotFoundException,
    ResponseParserError,
    TooManyRequestsException,
    UnauthorizedException,
)

ERROR_CLASSES: Final[dict[str, type[ClientError]]] = {
    "InvalidRequestException": InvalidRequestException,
    "ResourceNotFoundException": ResourceNotFoundException,
    "TooManyRequestsException": TooManyRequestsException,
    "UnauthorizedException": UnauthorizedException,
}
assert set(ERROR_CLASSES) == set(MODELED_ERRORS)

OIDC_ERROR_CLASSES: Final[dict[str, type[ClientError]]] = {
    code: getattr(_exc, code) for code in OIDC_MODELED_ERRORS
}
_ALL_ERROR_CLASSES: Final = {**ERROR_CLASSES, **OIDC_ERROR_CLASSES}

_REDACTED: Final = "<redacted>"


# --------------------------------------------------------------------------- validation


def _type_line(member: Member, value: object, valid: str | None = None) -> str:
    shown = _REDACTED if member.sensitive else value
    return (
        f"Invalid type for parameter {member.name}, value: {shown}, type: {type(value)}, "
        f"valid types: {valid or member.type}"
    )


def validate(op: Operation, params: Mapping[str, Any]) -> None:
    """Check parameters as botocore's validator does; report every problem at once.

    Order of the report (botocore's): missing required members in model order, then unknown
    names in input order, then type and range problems in input order. Beyond botocore,
    ``maxResults`` above its model maximum (100) is refused too: the service rejects it.

    Raises:
        ParamValidationError: with botocore's report lines; sensitive values are redacted.
    """
    members = op.members_by_name
    # Fast path: every name known, every value of the exact type, nothing out of range.
    for name, value in params.items():
        member = members.get(name)
        if member is None or type(value) is not member.type or member.item_type is not None:
            break
        number: Any = value
        if member.type is int and not (
            (member.min_value is None or number >= member.min_value)
            and (member.max_value is None or number <= member.max_value)
        ):
            break
    else:
        for name in op.required:
            if name not in params:
                break
        else:
            return
    report: list[str] = [
        f'Missing required parameter in input: "{name}"'
        for name in op.required
        if name not in params
    ]
    known: list[Member] = []
    for name in params:
        member = members.get(name)
        if member is None:
            report.append(
                f'Unknown parameter in input: "{name}", must be one of: '
                + ", ".join(op.member_names)
            )
        else:
            known.append(member)
    for member in known:
        value = params[member.name]
        if member.type is int:
            if not isinstance(value, int):
                report.append(_type_line(member, value))
                continue
            if member.min_value is not None and value < member.min_value:
                report.append(
                    f"Invalid value for parameter {member.name}, value: {value}, "
                    f"valid min value: {member.min_value}"
                )
            elif member.max_value is not None and value > member.max_value:
                report.append(
                    f"Invalid value for parameter {member.name}, value: {value}, "
                    f"valid max value: {member.max_value}"
                )
        elif member.type is list:
            if not isinstance(value, (list, tuple)):
                report.append(_type_line(member, value, "<class 'list'>, <class 'tuple'>"))
                continue
            for index, item in enumerate(value):
                if member.item_type is not None and not isinstance(item, member.item_type):
                    shown = _REDACTED if member.sensitive else item
                    report.append(
                        f"Invalid type for parameter {member.name}[{index}], value: {shown}, "
                        f"type: {type(item)}, valid types: {member.item_type}"
                    )
        elif not isinstance(value, member.type):
            report.append(_type_line(member, value))
    if report:
        raise ParamValidationError(report="\n".join(report))


def _is_header_safe(value: str) -> bool:
    # Visible ASCII and space only: CR/LF/NUL would split or truncate the header, and
    # non-ASCII has no agreed encoding in HTTP/1.1 headers.
    return value.isascii() and value.isprintable()


def check_header_values(op: Operation, params: Mapping[str, Any]) -> None:
    """Refuse header-bound values that could split or corrupt an HTTP header.

    Runs even with ``parameter_validation`` off: a header value must be a ``str`` of visible
    ASCII (``None`` means no header). The value is never quoted in the message.

    Raises:
        ParamValidationError: naming the parameter.
    """
    report = []
    for member in op.header_members:
        value = params.get(member.name)
        if value is None:
            continue
        if not isinstance(value, str):
            # Without this, aiohttp raises a bare TypeError that quotes the value (a token).
            report.append(_type_line(member, value))
        elif not _is_header_safe(value):
            report.append(
                f"Invalid value for parameter {member.name}: it contains characters that are "
                "not allowed in an HTTP header (control characters or non-ASCII)"
            )
    if report:
        raise ParamValidationError(report="\n".join(report))


# --------------------------------------------------------------------------- requests


_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*\Z").match


def _encode(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if _UNRESERVED(text):  # ids, role names, numbers: nothing to escape
        return text
    return quote(text, safe="-._~")


def build_query(op: Operation, params: Mapping[str, Any]) -> str:
    """The query string (with its ``?``), in the caller's keyword order as botocore does.

    ``None`` values are dropped; an empty string is sent as ``name=``.
    """
    wire = op.query_wire
    parts = []
    for name, value in params.items():
        prefix = wire.get(name)
        if prefix is None or value is None:
            continue
        # ids and role names are usually letters and digits: nothing to escape
        if type(value) is str and value.isalnum() and value.isascii():
            parts.append(prefix + value)
        else:
            parts.append(prefix + _encode(value))
    return "?" + "&".join(parts) if parts else ""


def user_agent(
    *, version: str, retry_mode: str, appid: str | None = None, extra: str | None = None
) -> str:
    """A User-Agent in botocore's ``ua/2.1`` format, led by ``aiosso/<version>``."""
    system = platform.system().lower()
    os_name = {"linux": "linux", "darwin": "macos", "windows": "windows"}.get(system, "other")
    impl = platform.python_implementation()
    parts = [
        f"aiosso/{version}",
        "ua/2.1",
        f"os/{os_name}#{_ua_safe(platform.release())}",
        f"md/arch#{_ua_safe(platform.machine().lower())}",
        f"lang/python#{'.'.join(map(str, sys.version_info[:3]))}",
        f"md/pyimpl#{impl}",
        f"cfg/retry-mode#{retry_mode}",
    ]
    if appid:
        parts.append(f"app/{_ua_safe(appid)}")
    if extra:
        parts.append(extra)
    value = " ".join(parts)
    return value if _is_header_safe(value) else "".join(c for c in value if _is_header_safe(c))


# botocore's sanitize_user_agent_string_component(..., allow_hash=True).
_UA_ALLOWED: Final = frozenset(string.ascii_letters + string.digits + "!$%&'*+-.^_`|~,#")


def _ua_safe(value: str) -> str:
    return "".join(c if c in _UA_ALLOWED else "-" for c in value) or "unknown"


# --------------------------------------------------------------------------- replies


def response_metadata(
    status: int, headers: dict[str, str], retry_attempts: int, *, success: bool
) -> dict[str, Any]:
    """``ResponseMetadata`` in botocore's key order (``RequestId`` only when present)."""
    md: dict[str, Any] = {}
    request_id = headers.get("x-amzn-requestid")
    if request_id is not None:
        md["RequestId"] = request_id
    elif success and "x-amz-request-id" in headers:
        md["RequestId"] = headers["x-amz-request-id"]
        md["HostId"] = headers.get("x-amz-id-2", "")
    md["HTTPStatusCode"] = status
    md["HTTPHeaders"] = headers
    md["RetryAttempts"] = retry_attempts
    return md


def _fail(op: Operation, reason: str) -> ResponseParserError:
    return ResponseParserError(operation_name=op.api_name, reason=reason)


def _parse_long(op: Operation, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _fail(op, f"member {key!r} is not a number")
    try:
        return int(value)
    except (ValueError, OverflowError):
        raise _fail(op, f"member {key!r} is not a number") from None


_LEAF_TYPES: Final[Mapping[str, type]] = {"string": str, "long": int}
_FLAT: dict[int, dict[str, tuple[type, int]] | None] = {}


def _flat_members(spec: OutputSpec) -> dict[str, tuple[type, int]] | None:
    """Each member's Python type and position, if every member is a string or a long."""
    # Keyed by identity: the specs are static.
    key = id(spec)
    if key not in _FLAT:
        members = {
            name: (_LEAF_TYPES[kind], index)
            for index, (name, kind) in enumerate(spec)
            if isinstance(kind, str) and kind in _LEAF_TYPES
        }
        _FLAT[key] = members if len(members) == len(spec) else None
    return _FLAT[key]


def _parse_struct(op: Operation, spec: OutputSpec, data: Any, where: str) -> dict[str, Any]:
    if type(data) is not dict:
        raise _fail(op, f"{where} is not a JSON object")
    members = _flat_members(spec)
    if members is not None:
        # Fast path, the common case: only known members, in model order, each of its exact
        # type (no null, no float for a long, no bool for a number): kept as it is.
        after = 0
        for key, value in data.items():
            member = members.get(key)
            if member is None or member[0] is not type(value) or member[1] < after:
                break
            after = member[1]
        else:
            return cast("dict[str, Any]", data)
    out: dict[str, Any] = {}
    for key, kind in spec:
        value = data.get(key)
        if value is None:
            continue
        if kind == "string":
            if type(value) is not str:
                raise _fail(op, f"member {key!r} is not a string")
            out[key] = value
        elif kind == "long":
            out[key] = _parse_long(op, key, value)
        else:
            shape, inner = cast("tuple[str, OutputSpec]", kind)
            if shape == "struct":
                out[key] = _parse_struct(op, inner, value, f"member {key!r}")
            else:
                out[key] = _parse_list(op, inner, value, key)
    return out


_DICT_ONLY: Final = frozenset({dict})


_KEYS: dict[int, frozenset[str]] = {}


def _member_keys(spec: OutputSpec) -> frozenset[str]:
    # Keyed by identity: the specs are static, and hashing nested tuples costs microseconds.
    keys = _KEYS.get(id(spec))
    if keys is None:
        keys = _KEYS[id(spec)] = frozenset(key for key, _ in spec)
    return keys


def _parse_list(op: Operation, spec: OutputSpec, value: Any, key: str) -> list[dict[str, Any]]:
    if type(value) is not list:
        raise _fail(op, f"member {key!r} is not a list")
    keys = _member_keys(spec)
    # Fast path, the common case: every item an object with only known members, all of them
    # strings; the list is kept as it is. str.join refuses anything but strings, in C.
    if set(map(type, value)) <= _DICT_ONLY and keys.issuperset(chain.from_iterable(value)):
        try:
            "".join(chain.from_iterable(map(dict.values, value)))
        except TypeError:
            pass
        else:
            return value
    return [_parse_struct(op, spec, item, f"an item of {key!r}") for item in value]


def parse_success(
    op: Operation, status: int, headers: dict[str, str], body: bytes, retry_attempts: int
) -> dict[str, Any]:
    """Parse a 2xx reply into botocore's result dict (``ResponseMetadata`` first).

    Unknown members are dropped and ``null`` members omitted, as botocore does.

    Raises:
        ResponseParserError: the body is not a JSON object, or a member has the wrong type.
            An empty body is accepted only for operations without output members (Logout).
    """
    result: dict[str, Any] = {
        "ResponseMetadata": response_metadata(status, headers, retry_attempts, success=True)
    }
    if not op.output:
        return result
    if not body:
        raise _fail(op, f"HTTP {status} with an empty body")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise _fail(op, f"HTTP {status} with a body that is not JSON") from None
    if type(data) is not dict:
        raise _fail(op, f"HTTP {status} with a JSON body that is not an object")
    result.update(_parse_struct(op, op.output, data, "the body"))
    return result


def _clean_code(code: str) -> str:
    return code.split(":", 1)[0].rsplit("#", 1)[-1]


def parse_error(
    op: Operation, status: int, headers: dict[str, str], body: bytes, retry_attempts: int
) -> dict[str, Any]:
    """Parse an error reply into botocore's ``e.response`` dict.

    Precedence (botocore's): a 5xx with an empty or ``<html>`` body is a generic error named
    by its status; otherwise the code comes from header ``x-amzn-ErrorType``, else body
    ``code``/``Code``, else body ``__type``, else the status; the namespace suffix after ``:``
    and prefix before ``#`` are dropped. Modeled errors also carry a top-level ``message``.
    """
    stripped = body.strip()
    if status >= 500 and (not stripped or stripped.startswith(b"<html>")):
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        md = response_metadata(status, headers, retry_attempts, success=True)
        md.pop("RequestId", None)
        md.pop("HostId", None)
        return {"Error": {"Code": str(status), "Message": phrase}, "ResponseMetadata": md}

    parsed: Any
    if not body:
        parsed = {}
    else:
        # botocore: a body that is not JSON (whitespace included) becomes the message.
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            parsed = {"message": body.decode("utf-8", "replace")}
        if type(parsed) is not dict:
            parsed = {"message": body.decode("utf-8", "replace")}

    if op.oauth2_errors and status >= 400:
        # botocore's _map_oauth2_errors: OAuth2 puts the text in "error_description".
        description = parsed.get("error_description")
        if description and not parsed.get("Message", parsed.get("message")):
            parsed = {**parsed, "Message": description}
    message = parsed.get("message", parsed.get("Message", ""))
    # botocore: a null "__type" leaves the code empty; a null "code"/"Code" leaves it as is.
    code: Any = parsed.get("__type", str(status))
    if code is None:
        code = ""
    elif isinstance(code, str):
        code = _clean_code(code)
    header_code = headers.get("x-amzn-errortype")
    if header_code is not None:
        code = _clean_code(header_code)
    elif "code" in parsed or "Code" in parsed:
        body_code = parsed.get("code", parsed.get("Code", ""))
        if body_code is not None:
            code = _clean_code(body_code) if isinstance(body_code, str) else body_code
    if not isinstance(code, str):
        code = str(code)
    if not isinstance(message, str) and message is not None:
        message = str(message)

    md = response_metadata(status, headers, retry_attempts, success=False)
    response: dict[str, Any] = {"Error": {"Message": message, "Code": code}, "ResponseMetadata": md}
    lifted = op.errors.get(code)
    if lifted:
        for member in lifted:
            if isinstance(parsed.get(member), str):
                response[member] = parsed[member]
    return response


def error_class(code: str, modeled: Mapping[str, object] = MODELED_ERRORS) -> type[ClientError]:
    """The modeled exception class for a wire code of a service, else :class:`ClientError`."""
    if code in modeled:
        return _ALL_ERROR_CLASSES.get(code, ClientError)
    return ClientError


#: The most characters of the service's error code or message that ``str(e)`` quotes.
def make_error(op: Operation, response: dict[str, Any]) -> ClientError:
    """The exception botocore would raise for this parsed error response.

    ``e.response`` is *response* as it is, the service's whole text included (botocore's
    shape: an error body that is not JSON is ``e.response["Error"]["Message"]``, whatever
    its size). ``str(e)`` quotes at most
    :data:`~aiosso.exceptions.MAX_QUOTED_CHARS` characters of the code and of the message.
    """
    return error_class(response["Error"]["Code"], op.errors)(response, op.api_name)


def build_body(op: Operation, params: Mapping[str, Any]) -> bytes | None:
    """The JSON body of an operation with body members (``None`` values dropped)."""
    if not op.body_members:
        return None
    body = {
        m.name: list(value) if isinstance(value, tuple) else value
        for m in op.body_members
        if (value := params.get(m.name)) is not None
    }
    return json.dumps(body, separators=(",", ":")).encode()
