"""The sans-I/O HTTP/1.1 request encoder and reply parser in ``aiosso._http``."""

from __future__ import annotations

import gzip
import itertools
import zlib
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosso._http import (
    MAX_HEAD_BYTES,
    BodyTooLargeError,
    HTTPParseError,
    ResponseParser,
    encode_request,
)

LIMIT = 1 << 20
Snapshot = tuple[int, dict[str, str], bytes, bool]


def _reply(
    body: bytes = b"",
    *headers: str,
    status: str = "HTTP/1.1 200 OK",
    length: bool = True,
) -> bytes:
    """A reply with ``headers`` and ``body``, framed by Content-Length unless ``length`` is off."""
    lines = [status, *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _chunked(chunks: Iterable[bytes], *headers: str, trailers: str = "", ext: str = "") -> bytes:
    """A chunked reply carrying ``chunks`` (empty ones are skipped: they would end the body)."""
    head = _reply(b"", "Transfer-Encoding: chunked", *headers, length=False)
    out = [head]
    for chunk in chunks:
        if chunk:
            out.append(f"{len(chunk):x}{ext}\r\n".encode() + chunk + b"\r\n")
    out.append(f"0{ext}\r\n{trailers}\r\n".encode())
    return b"".join(out)


def _feed_all(raw: bytes, limit: int = LIMIT) -> ResponseParser:
    """A parser that was fed ``raw`` at once and reported the reply complete."""
    parser = ResponseParser(limit)
    assert parser.feed(raw) is True
    return parser


def _feed_pieces(pieces: Iterable[bytes], limit: int = LIMIT) -> ResponseParser:
    """A parser fed ``pieces`` in turn; only the last one may complete the reply."""
    parser = ResponseParser(limit)
    results = [parser.feed(piece) for piece in pieces]
    assert results[-1] is True
    assert not any(results[:-1])
    return parser


def _feed_each(parser: ResponseParser, pieces: Iterable[bytes]) -> None:
    """Feed ``pieces`` to ``parser`` in turn, ignoring what each feed returns."""
    for piece in pieces:
        parser.feed(piece)


def _bytewise(raw: bytes) -> list[bytes]:
    """``raw`` split into one-byte pieces."""
    return [raw[i : i + 1] for i in range(len(raw))]


def _snap(parser: ResponseParser) -> Snapshot:
    """What a caller reads from a finished parser."""
    return parser.status, dict(parser.headers), parser.body, parser.keep_alive


def _split(raw: bytes, cuts: Iterable[int]) -> list[bytes]:
    """``raw`` cut at the given offsets (clamped, sorted, deduplicated); no empty pieces."""
    points = sorted({min(max(c, 1), len(raw) - 1) for c in cuts} | {0, len(raw)})
    return [raw[a:b] for a, b in itertools.pairwise(points) if b > a]


# --- encode_request ---------------------------------------------------------------------------


def test_encode_get_without_body() -> None:
    """A GET without a body has no Content-Length and ends with the blank line."""
    got = encode_request("GET", "/federation/credentials?a=1", "portal.example", "X-A: 1\r\n", None)
    assert got == (
        b"GET /federation/credentials?a=1 HTTP/1.1\r\nHost: portal.example\r\nX-A: 1\r\n\r\n"
    )


def test_encode_post_without_body_says_zero_length() -> None:
    """A POST without a body says Content-Length: 0."""
    got = encode_request("POST", "/logout", "h", "", None)
    assert got == b"POST /logout HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"


def test_encode_post_with_body() -> None:
    """A body is announced by Content-Length after the caller's headers and appended verbatim."""
    body = b'{"k": "\xc3\xa9"}'
    got = encode_request("POST", "/x", "h:8443", "A: b\r\nC: d\r\n", body)
    assert got == (
        b"POST /x HTTP/1.1\r\nHost: h:8443\r\nA: b\r\nC: d\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def test_encode_host_is_first_header() -> None:
    """Host follows the request line directly, before any caller header."""
    got = encode_request("GET", "/", "example.com", "Authorization: x\r\n", b"")
    lines = got.split(b"\r\n")
    assert lines[0] == b"GET / HTTP/1.1"
    assert lines[1] == b"Host: example.com"
    assert lines[2] == b"Authorization: x"
    assert b"Content-Length: 0" in lines
    assert got.endswith(b"\r\n\r\n")


def test_encoded_request_round_trips_through_a_parser_shape() -> None:
    """The encoded head ends exactly where the body starts."""
    body = b"payload"
    got = encode_request("POST", "/p", "h", "", body)
    head, sep, rest = got.partition(b"\r\n\r\n")
    assert sep
    assert rest == body
    assert b"Content-Length: 7" in head.split(b"\r\n")


# --- happy paths ------------------------------------------------------------------------------


def test_content_length_body_in_one_feed() -> None:
    """A Content-Length reply fed at once yields status, headers and body."""
    parser = _feed_all(_reply(b'{"ok": true}', "Content-Type: application/json"))
    assert parser.status == 200
    assert parser.headers == {"content-type": "application/json", "content-length": "12"}
    assert parser.body == b'{"ok": true}'
    assert parser.keep_alive is True
    assert parser.received is True


def test_content_length_body_split_across_feeds() -> None:
    """The body may arrive in several feeds after the head."""
    raw = _reply(b"0123456789" * 10, "X: y")
    pieces = _split(raw, [5, len(raw) - 100, len(raw) - 50, len(raw) - 1])
    assert len(pieces) == 5
    assert _snap(_feed_pieces(pieces)) == _snap(_feed_all(raw))
    assert _feed_pieces(pieces).body == b"0123456789" * 10


def test_head_split_exactly_at_terminator() -> None:
    """A feed ending inside the blank line that closes the head is handled."""
    raw = _reply(b"abc")
    end = raw.index(b"\r\n\r\n")
    for cut in range(end, end + 5):
        assert _feed_pieces(_split(raw, [cut])).body == b"abc"


@pytest.mark.parametrize(
    "raw",
    [
        _reply(b"hello, world", "Server: test", "X-Dup: 1", "X-Dup: 2"),
        _reply(b"", "X: 1"),
        _reply(b"", status="HTTP/1.1 204 No Content", length=False),
        _reply(b"tail", "Connection: close", status="HTTP/1.0 200 OK"),
        _reply(b"x", status="HTTP/1.1 100 Continue", length=False)[:-1] + _reply(b"y"),
        _chunked([b"ab", b"cde", b"f" * 40], ext=";ext=1", trailers="X-T: v\r\n"),
        _reply(gzip.compress(b"zipped" * 30), "Content-Encoding: gzip"),
    ],
    ids=["length", "empty", "204", "http10", "interim", "chunked", "gzip"],
)
def test_byte_at_a_time_matches_one_feed(raw: bytes) -> None:
    """Feeding a reply one byte at a time gives the same result as feeding it at once."""
    whole = _snap(_feed_all(raw))
    assert _snap(_feed_pieces(_bytewise(raw))) == whole
    assert whole[0] in (200, 204)


def test_chunked_with_extensions_and_trailers() -> None:
    """Chunk extensions and trailer fields are ignored; the chunks are joined in order."""
    raw = _chunked([b"Hello", b", ", b"chunked", b" world"], ext=";ext=1", trailers="X-T: 1\r\n")
    parser = _feed_all(raw)
    assert parser.status == 200
    assert parser.body == b"Hello, chunked world"
    assert parser.keep_alive is True
    assert "x-t" not in parser.headers


def test_chunked_many_chunks_byte_by_byte() -> None:
    """Hundreds of chunks of varied sizes (hex sizes included) survive byte-wise feeding."""
    chunks = [bytes([i % 251]) * (i % 37 + 1) for i in range(300)]
    raw = _chunked(chunks, ext=";a=b;c", trailers="Expires: 0\r\nX: y\r\n")
    parser = _feed_pieces(_bytewise(raw))
    assert parser.body == b"".join(chunks)


def test_chunked_uppercase_hex_and_padding_in_size() -> None:
    """Chunk sizes are hexadecimal in either case, with optional whitespace before extensions."""
    head = _reply(b"", "Transfer-Encoding: chunked", length=False)
    raw = head + b"A\r\n0123456789\r\n1a ;x\r\n" + b"z" * 26 + b"\r\n0\r\n\r\n"
    assert _feed_all(raw).body == b"0123456789" + b"z" * 26


def test_chunked_transfer_coding_is_case_insensitive() -> None:
    """`Transfer-Encoding: Chunked` is chunked framing."""
    head = _reply(b"", "Transfer-Encoding: Chunked", length=False)
    assert _feed_all(head + b"3\r\nabc\r\n0\r\n\r\n").body == b"abc"


def test_read_until_close() -> None:
    """Without framing the body runs to the end of the connection, which cannot be reused."""
    parser = ResponseParser(LIMIT)
    assert parser.feed(_reply(b"", length=False)) is False
    assert parser.feed(b"part one, ") is False
    assert parser.feed(b"part two") is False
    assert (parser.done, parser.status) == (False, 200)
    assert parser.feed_eof() is True
    assert parser.done
    assert parser.body == b"part one, part two"
    assert parser.keep_alive is False
    assert parser.status == 200


def test_read_until_close_empty_body() -> None:
    """A reply with no framing and no body is complete at end of connection."""
    parser = ResponseParser(LIMIT)
    assert parser.feed(_reply(b"", length=False)) is False
    assert parser.feed_eof() is True
    assert parser.body == b""
    assert parser.keep_alive is False


@pytest.mark.parametrize("status", ["HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified"])
def test_no_body_statuses(status: str) -> None:
    """204 and 304 have no body whatever their headers say."""
    raw = _reply(b"", "Content-Length: 10", "ETag: x", status=status, length=False)
    parser = _feed_all(raw)
    assert parser.status == int(status.split()[1])
    assert parser.body == b""
    assert parser.keep_alive is True
    assert parser.headers["etag"] == "x"


def test_content_length_zero() -> None:
    """Content-Length: 0 completes with the head."""
    parser = _feed_all(_reply(b"", status="HTTP/1.1 201 Created"))
    assert (parser.status, parser.body, parser.keep_alive) == (201, b"", True)


def test_feed_eof_after_complete_reply() -> None:
    """feed_eof after a complete reply is harmless and reports completion."""
    parser = _feed_all(_reply(b"abc"))
    assert parser.feed_eof() is True
    assert parser.body == b"abc"


def test_interim_continue_in_same_feed() -> None:
    """A 100 Continue before the real reply in the same feed is skipped."""
    interim = b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
    parser = _feed_all(interim + _reply(b"final", "X-Final: 1", status="HTTP/1.1 202 Accepted"))
    assert parser.status == 202
    assert parser.body == b"final"
    assert "x-interim" not in parser.headers
    assert parser.headers["x-final"] == "1"


def test_interim_continue_in_separate_feeds() -> None:
    """A 100 Continue alone does not complete the reply; the next head does."""
    parser = ResponseParser(LIMIT)
    assert parser.feed(b"HTTP/1.1 100 Continue\r\n\r\n") is False
    assert not parser.done
    assert parser.status == 0
    assert parser.feed(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n") is False
    assert parser.feed(_reply(b"ok")) is True
    assert (parser.status, parser.body) == (200, b"ok")
    assert "link" not in parser.headers


@pytest.mark.parametrize(
    ("status", "headers", "keep_alive"),
    [
        ("HTTP/1.0 200 OK", (), False),
        ("HTTP/1.0 200 OK", ("Connection: keep-alive",), False),
        ("HTTP/1.1 200 OK", ("Connection: close",), False),
        ("HTTP/1.1 200 OK", ("Connection: Close",), False),
        ("HTTP/1.1 200 OK", ("Connection: keep-alive, close",), False),
        ("HTTP/1.1 200 OK", ("Connection: keep-alive",), True),
        ("HTTP/1.1 200 OK", (), True),
    ],
)
def test_keep_alive(status: str, headers: tuple[str, ...], keep_alive: bool) -> None:
    """Only HTTP/1.1 replies without `Connection: close` leave the connection reusable."""
    parser = _feed_all(_reply(b"x", *headers, status=status))
    assert parser.keep_alive is keep_alive
    assert parser.body == b"x"


def test_duplicate_headers_joined() -> None:
    """Repeated fields, in any case, are joined with ', ' in order."""
    parser = _feed_all(_reply(b"", "Set-Thing: a", "set-thing: b", "SET-THING: c"))
    assert parser.headers["set-thing"] == "a, b, c"


def test_header_names_lower_cased() -> None:
    """Header names are lower-cased; values keep their case."""
    parser = _feed_all(_reply(b"", "X-Amzn-RequestId: AbC", "CONTENT-TYPE: Text/Plain"))
    assert parser.headers["x-amzn-requestid"] == "AbC"
    assert parser.headers["content-type"] == "Text/Plain"
    assert all(name == name.lower() for name in parser.headers)


def test_header_values_stripped() -> None:
    """Spaces and tabs around a value are dropped, inner ones kept; empty values allowed."""
    parser = _feed_all(_reply(b"", "A: \t x  y \t", "B:z", "C:", "D:  "))
    assert parser.headers["a"] == "x  y"
    assert parser.headers["b"] == "z"
    assert parser.headers["c"] == ""
    assert parser.headers["d"] == ""


def test_header_value_keeps_colons() -> None:
    """Only the first colon separates name from value."""
    parser = _feed_all(_reply(b"", "Location: https://h:8443/x"))
    assert parser.headers["location"] == "https://h:8443/x"


@pytest.mark.parametrize("line", ["HTTP/1.1 200", "HTTP/1.1 200 ", "HTTP/1.1 404 Not Found Here"])
def test_reason_phrase_optional(line: str) -> None:
    """The reason phrase may be absent, empty or contain spaces."""
    parser = _feed_all(_reply(b"x", status=line))
    assert parser.status == int(line[9:12])
    assert parser.body == b"x"


def test_extra_bytes_after_content_length_same_feed() -> None:
    """Bytes beyond Content-Length are dropped: the reply stands, the connection cannot."""
    parser = _feed_all(_reply(b"abc") + b"HTTP/1.1 200 OK\r\n")
    assert parser.body == b"abc"
    assert parser.keep_alive is False


def test_extra_bytes_after_content_length_later_feed() -> None:
    """Bytes arriving after a one-feed reply completed neither replace the body nor go unnoticed."""
    parser = _feed_all(_reply(b"abc"))
    assert parser.keep_alive is True
    assert parser.feed(b"xyz") is True
    assert parser.body == b"abc"
    assert parser.keep_alive is False


def test_extra_bytes_after_split_reply_later_feed() -> None:
    """Bytes arriving after a reply completed over several feeds clear keep_alive only."""
    raw = _reply(b"abc")
    parser = _feed_pieces([raw[:-1], raw[-1:]])
    assert parser.keep_alive is True
    assert parser.feed(b"") is True
    assert parser.keep_alive is True
    assert parser.feed(b"xyz") is True
    assert parser.body == b"abc"
    assert parser.keep_alive is False


def test_extra_bytes_after_body_split() -> None:
    """Extra bytes in the feed that finishes a split body clear keep_alive."""
    raw = _reply(b"abcdef")
    parser = _feed_pieces([raw[:-3], raw[-3:] + b"!"])
    assert parser.body == b"abcdef"
    assert parser.keep_alive is False


@pytest.mark.parametrize(
    "raw",
    [
        _chunked([b"abc"]) + b"x",
        _reply(b"", status="HTTP/1.1 204 No Content", length=False) + b"x",
    ],
    ids=["chunked", "204"],
)
def test_extra_bytes_after_other_framings(raw: bytes) -> None:
    """Trailing bytes after a chunked or bodiless reply also clear keep_alive."""
    parser = _feed_all(raw)
    assert parser.keep_alive is False
    assert parser.body in (b"abc", b"")


def test_done_and_received_lifecycle() -> None:
    """`received` turns on with the first bytes, `done` only when the reply is whole."""
    parser = ResponseParser(LIMIT)
    assert (parser.received, parser.done, parser.status) == (False, False, 0)
    raw = _reply(b"abc")
    assert parser.feed(raw[:4]) is False
    assert (parser.received, parser.done) == (True, False)
    assert parser.feed(raw[4:-1]) is False
    assert (parser.status, parser.done) == (200, False)
    assert parser.feed(raw[-1:]) is True
    assert parser.done


@pytest.mark.parametrize(
    "pieces",
    [
        [_reply(b"abc")],
        [_reply(b"abc")[:-1], b"c"],
        [b"HTTP/1.1 100 Continue\r\n\r\n" + _reply(b"abc")],
        [_reply(b"")],
        [_chunked([b"abc"])],
        [_reply(b"", status="HTTP/1.1 204 No Content", length=False)],
        [_reply(gzip.compress(b"abc"), "Content-Encoding: gzip")],
    ],
    ids=["length-one-feed", "length-split", "interim-one-feed", "empty", "chunked", "204", "gzip"],
)
def test_done_once_feed_returns_true(pieces: list[bytes]) -> None:
    """Whenever feed reports the reply complete, `done` agrees and feed_eof accepts it."""
    parser = _feed_pieces(pieces)
    assert parser.done
    assert parser.feed_eof() is True
    assert parser.body in (b"abc", b"")


# --- property: splitting never changes the result ---------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=300),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_property_content_length_split(body: bytes, cuts: list[int]) -> None:
    """Any split of a Content-Length reply parses to the same result as the whole."""
    raw = _reply(body, "X-A: 1", "x-a: 2")
    whole = _snap(_feed_all(raw))
    assert whole == (200, {"x-a": "1, 2", "content-length": str(len(body))}, body, True)
    assert _snap(_feed_pieces(_split(raw, cuts))) == whole


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=40), max_size=10),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
    ext=st.sampled_from(["", ";x=1", ";a;b=c"]),
    trailers=st.sampled_from(["", "X-T: 1\r\n", "A: b\r\nC: d\r\n"]),
)
def test_property_chunked_split(
    chunks: list[bytes], cuts: list[int], ext: str, trailers: str
) -> None:
    """Any split of a chunked reply parses to the same result as the whole."""
    raw = _chunked(chunks, ext=ext, trailers=trailers)
    whole = _snap(_feed_all(raw))
    assert whole == (200, {"transfer-encoding": "chunked"}, b"".join(chunks), True)
    assert _snap(_feed_pieces(_split(raw, cuts))) == whole


# --- rejections -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        "garbage",
        "HTTP/2 200 OK",
        "HTTP/1.2 200 OK",
        "http/1.1 200 OK",
        "HTTP/1.1 2x0 OK",
        "HTTP/1.1 abc OK",
        "HTTP/1.1 20",
        "HTTP/1.1 2000",
        "HTTP/1.1 200OK",
        "HTTP/1.1  200 OK",
        "HTTP/1.1\t200 OK",
        " HTTP/1.1 200 OK",
        "",
    ],
)
def test_invalid_status_line(status: str) -> None:
    """A status line that is not `HTTP/1.x NNN[ reason]` is rejected."""
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(_reply(b"", status=status))


def test_status_outside_1xx_to_5xx_is_not_interim() -> None:
    """A 0xx status is malformed, not an interim reply to skip."""
    parser = ResponseParser(LIMIT)
    with pytest.raises(HTTPParseError):
        parser.feed(_reply(b"", status="HTTP/1.1 099 Odd"))


@pytest.mark.parametrize(
    "header",
    [
        "NoColon",
        " folded: value",
        "\tfolded: value",
        "Name : value",
        "Na me: value",
        ": value",
        "Nämé: value",
        "(x): value",
    ],
)
def test_invalid_header_line(header: str) -> None:
    """Header lines without a colon, with obs-fold or with a non-token name are rejected."""
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(_reply(b"", "X: 1", header))


def test_obs_fold_continuation_rejected() -> None:
    """A continuation line of an obsolete folded header is rejected, not merged."""
    raw = b"HTTP/1.1 200 OK\r\nX-Long: part one\r\n  part two\r\nContent-Length: 0\r\n\r\n"
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\nY: b\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\nX: a\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\rX: a\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\x00\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["nul-value", "lf-header", "lf-status", "cr-value", "cr-status", "nul-status"],
)
def test_bare_cr_lf_nul_in_head(raw: bytes) -> None:
    """NUL, bare LF and bare CR anywhere in the head are rejected."""
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(raw)


def test_bare_lf_only_head_never_completes() -> None:
    """A head terminated only by LFs is not mistaken for a finished head."""
    parser = ResponseParser(LIMIT)
    assert parser.feed(b"HTTP/1.1 200 OK\nContent-Length: 0\n\n") is False
    with pytest.raises(HTTPParseError):
        parser.feed_eof()


@pytest.mark.parametrize(
    "value",
    ["5, 6", "5,6,5", "abc", "-1", "+5", "5.0", "0x5", "", "1 2", "1" * 19, "\xb2"],
)
def test_invalid_content_length(value: str) -> None:
    """Conflicting, non-numeric, signed, empty or over-long Content-Length values are rejected."""
    raw = _reply(b"", f"Content-Length: {value}", length=False) + b"12345"
    with pytest.raises(HTTPParseError):
        ResponseParser(1 << 62).feed(raw)


def test_conflicting_content_length_fields() -> None:
    """Two Content-Length fields with different values are rejected."""
    raw = _reply(b"", "Content-Length: 5", "Content-Length: 6", length=False) + b"12345"
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(raw)


@pytest.mark.parametrize(
    "headers",
    [
        ("Content-Length: 5, 5",),
        ("Content-Length: 5", "Content-Length: 5"),
        ("Content-Length:5 ,5",),
    ],
)
def test_equal_duplicate_content_length_accepted(headers: tuple[str, ...]) -> None:
    """Repeated Content-Length values that agree are accepted as one."""
    parser = _feed_all(_reply(b"12345", *headers, length=False))
    assert parser.body == b"12345"
    assert parser.keep_alive is True


def test_eighteen_digit_content_length_within_limit() -> None:
    """An 18-digit Content-Length is a number, checked against the limit rather than refused."""
    parser = ResponseParser(10**18)
    raw = _reply(b"", f"Content-Length: {'0' * 17}3", length=False)
    assert parser.feed(raw) is False
    assert parser.feed(b"abc") is True
    assert parser.body == b"abc"


@pytest.mark.parametrize(
    "size_line",
    [b"zz", b"", b";ext", b"1" * 17, b"-1", b"0x5", b"5 5", b"\xff"],
    ids=["zz", "empty", "ext-only", "17-digits", "negative", "0x", "inner-space", "latin1"],
)
def test_invalid_chunk_size(size_line: bytes) -> None:
    """A chunk size that is not 1 to 16 hex digits is rejected."""
    head = _reply(b"", "Transfer-Encoding: chunked", length=False)
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(head + size_line + b"\r\nhello\r\n0\r\n\r\n")


def test_sixteen_hex_digit_chunk_size_is_a_size() -> None:
    """Sixteen hex digits are accepted as a size (and then bounded by the limit)."""
    head = _reply(b"", "Transfer-Encoding: chunked", length=False)
    assert _feed_all(head + b"0000000000000003\r\nabc\r\n0\r\n\r\n").body == b"abc"
    with pytest.raises(BodyTooLargeError):
        ResponseParser(LIMIT).feed(head + b"ffffffffffffffff\r\n")


@pytest.mark.parametrize("split", [False, True])
def test_chunk_longer_than_declared(split: bool) -> None:
    """Chunk data not followed by CRLF at the declared size is rejected."""
    raw = _reply(b"", "Transfer-Encoding: chunked", length=False) + b"3\r\nabcd\r\n0\r\n\r\n"
    parser = ResponseParser(LIMIT)
    with pytest.raises(HTTPParseError):
        _feed_each(parser, _bytewise(raw) if split else [raw])


def test_invalid_trailer_line() -> None:
    """A trailer line without a colon is rejected."""
    raw = _chunked([b"abc"], trailers="not a field\r\n")
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(raw)


def test_trailers_bounded_like_a_head() -> None:
    """Trailer fields adding up past MAX_HEAD_BYTES are rejected; a few small ones are not."""
    field = "X-Trailer: " + "t" * 1000 + "\r\n"
    assert _feed_all(_chunked([b"abc"], trailers=field * 3)).body == b"abc"
    raw = _chunked([b"abc"], trailers=field * (MAX_HEAD_BYTES // len(field) + 2))
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(raw)


def test_over_long_unterminated_chunk_line() -> None:
    """A chunk-size line that never ends is rejected rather than buffered without bound."""
    head = _reply(b"", "Transfer-Encoding: chunked", length=False)
    parser = ResponseParser(LIMIT)
    parser.feed(head)
    with pytest.raises(HTTPParseError):
        _feed_each(parser, [b"0" * 100] * 100)


def test_chunk_line_length_does_not_depend_on_split() -> None:
    """A long chunk extension is accepted or rejected the same way however it is fed."""
    raw = _chunked([b"abc"], ext=";" + "x" * 2000)

    def outcome(pieces: list[bytes]) -> bytes | str:
        parser = ResponseParser(LIMIT)
        try:
            for piece in pieces:
                parser.feed(piece)
        except HTTPParseError:
            return "rejected"
        assert parser.done
        return parser.body

    assert outcome(_split(raw, range(0, len(raw), 100))) == outcome([raw])


@pytest.mark.parametrize(
    "coding",
    [
        "gzip, chunked",
        "deflate, chunked",
        "chunked, chunked",
        "br,chunked",
        "foo, identity, chunked",
    ],
)
def test_unsupported_transfer_coding(coding: str) -> None:
    """A chunked transfer coding stacked on anything but identity is rejected."""
    raw = _reply(b"", f"Transfer-Encoding: {coding}", length=False) + b"3\r\nabc\r\n0\r\n\r\n"
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(raw)


def test_identity_then_chunked_accepted() -> None:
    """`identity, chunked` is plain chunked framing."""
    raw = _reply(b"", "Transfer-Encoding: identity, chunked", length=False)
    assert _feed_all(raw + b"3\r\nabc\r\n0\r\n\r\n").body == b"abc"


def test_switching_protocols_rejected() -> None:
    """A 101 Switching Protocols reply is rejected: the client never asks to upgrade."""
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")


def test_head_too_large_without_terminator() -> None:
    """A head growing past MAX_HEAD_BYTES with no end in sight is rejected."""
    parser = ResponseParser(LIMIT)
    assert parser.feed(b"HTTP/1.1 200 OK\r\n") is False
    filler = b"X-Filler: " + b"a" * 1000 + b"\r\n"
    with pytest.raises(HTTPParseError):
        _feed_each(parser, [filler] * (MAX_HEAD_BYTES // len(filler) + 2))


def test_head_too_large_in_one_feed() -> None:
    """A complete head longer than MAX_HEAD_BYTES is rejected too."""
    raw = _reply(b"", "X-Big: " + "a" * MAX_HEAD_BYTES)
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(raw)


def _head_of_size(size: int) -> bytes:
    """A Content-Length: 0 reply whose head, up to the closing CRLFCRLF, is ``size`` bytes."""
    prefix, suffix = b"HTTP/1.1 200 OK\r\nX: ", b"\r\nContent-Length: 0"
    raw = prefix + b"a" * (size - len(prefix) - len(suffix)) + suffix + b"\r\n\r\n"
    assert raw.index(b"\r\n\r\n") == size
    return raw


def test_head_near_max_size_accepted() -> None:
    """A head well within MAX_HEAD_BYTES is accepted, in one feed or in 4 KiB pieces."""
    raw = _head_of_size(MAX_HEAD_BYTES - 100)
    assert _snap(_feed_all(raw))[0] == 200
    assert _snap(_feed_pieces(_split(raw, range(0, len(raw), 4096)))) == _snap(_feed_all(raw))


@pytest.mark.parametrize("size", [MAX_HEAD_BYTES - 2, MAX_HEAD_BYTES])
def test_head_size_limit_does_not_depend_on_split(size: int) -> None:
    """A head the limit admits in one feed is admitted when its last byte arrives separately."""
    raw = _head_of_size(size)
    whole = _snap(_feed_all(raw))
    assert _snap(_feed_pieces([raw[:-1], raw[-1:]])) == whole


def test_feed_eof_with_nothing_received() -> None:
    """EOF before any byte is an error, and `received` says nothing came."""
    parser = ResponseParser(LIMIT)
    with pytest.raises(HTTPParseError):
        parser.feed_eof()
    assert parser.received is False


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\nContent-Le",
        _reply(b"abcdef")[:-2],
        _chunked([b"abc", b"def"])[:-3],
        _chunked([b"abc"])[:-2],
        b"HTTP/1.1 100 Continue\r\n\r\n",
    ],
    ids=["in-head", "in-length-body", "in-chunks", "in-trailer", "after-interim"],
)
def test_feed_eof_before_complete(partial: bytes) -> None:
    """EOF in the middle of a reply is an error, and `received` says something came."""
    parser = ResponseParser(LIMIT)
    assert parser.feed(partial) is False
    with pytest.raises(HTTPParseError):
        parser.feed_eof()
    assert parser.received is True
    assert not parser.done


# --- framing choices --------------------------------------------------------------------------


def test_chunked_wins_over_content_length() -> None:
    """With both Transfer-Encoding: chunked and Content-Length, chunked frames the body."""
    raw = _chunked([b"abc", b"defgh"], "Content-Length: 3")
    parser = _feed_all(raw)
    assert parser.body == b"abcdefgh"
    assert parser.keep_alive is False


@pytest.mark.parametrize("coding", ["identity", "gzip", "chunked, gzip"])
def test_transfer_encoding_not_ending_in_chunked_reads_until_close(coding: str) -> None:
    """A Transfer-Encoding not ending in chunked means read until close, ignoring Content-Length."""
    raw = _reply(b"", f"Transfer-Encoding: {coding}", "Content-Length: 2", length=False)
    parser = ResponseParser(LIMIT)
    assert parser.feed(raw + b"abcdef") is False
    assert parser.feed_eof() is True
    assert parser.body == b"abcdef"
    assert parser.keep_alive is False


# --- limits -----------------------------------------------------------------------------------


def test_declared_length_over_limit_raises_before_body() -> None:
    """A declared Content-Length over the limit is refused from the head alone."""
    parser = ResponseParser(100)
    with pytest.raises(BodyTooLargeError):
        parser.feed(_reply(b"", "Content-Length: 101", length=False))


@pytest.mark.parametrize("split", [False, True])
def test_content_length_exactly_at_limit(split: bool) -> None:
    """A body of exactly the limit is accepted."""
    raw = _reply(b"q" * 100)
    parser = _feed_pieces(_split(raw, [len(raw) - 50]) if split else [raw], limit=100)
    assert parser.body == b"q" * 100


def test_chunked_over_limit_raises() -> None:
    """Chunks adding up past the limit are refused."""
    raw = _chunked([b"a" * 60, b"b" * 41])
    with pytest.raises(BodyTooLargeError):
        ResponseParser(100).feed(raw)


def test_chunked_over_limit_raises_on_declared_size() -> None:
    """A chunk whose declared size would pass the limit is refused before its data."""
    parser = ResponseParser(100)
    parser.feed(_reply(b"", "Transfer-Encoding: chunked", length=False) + b"10\r\n" + b"x" * 16)
    with pytest.raises(BodyTooLargeError):
        parser.feed(b"\r\n55\r\n")


def test_chunked_exactly_at_limit() -> None:
    """Chunks adding up to exactly the limit are accepted, byte by byte too."""
    raw = _chunked([b"a" * 60, b"b" * 40])
    assert _feed_all(raw, limit=100).body == b"a" * 60 + b"b" * 40
    assert _feed_pieces(_bytewise(raw), limit=100).body == b"a" * 60 + b"b" * 40


def test_until_close_over_limit_raises() -> None:
    """A read-until-close body growing past the limit is refused."""
    parser = ResponseParser(100)
    assert parser.feed(_reply(b"", length=False) + b"x" * 60) is False
    with pytest.raises(BodyTooLargeError):
        parser.feed(b"y" * 41)


def test_until_close_exactly_at_limit() -> None:
    """A read-until-close body of exactly the limit is accepted."""
    parser = ResponseParser(100)
    assert parser.feed(_reply(b"", length=False) + b"x" * 60) is False
    assert parser.feed(b"y" * 40) is False
    assert parser.feed_eof() is True
    assert parser.body == b"x" * 60 + b"y" * 40


# --- Content-Encoding -------------------------------------------------------------------------

PLAIN = b'{"accountList": [' + b'{"accountId": "123456789012"}, ' * 50 + b"{}]}"


def _raw_deflate(data: bytes) -> bytes:
    """``data`` as a raw deflate stream, without the zlib wrapper."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("gzip", gzip.compress(PLAIN)),
        ("GZIP", gzip.compress(PLAIN)),
        ("x-gzip", gzip.compress(PLAIN)),
        (" gzip ", gzip.compress(PLAIN)),
        ("deflate", zlib.compress(PLAIN)),
        ("deflate", _raw_deflate(PLAIN)),
    ],
    ids=["gzip", "GZIP", "x-gzip", "spaced", "deflate-zlib", "deflate-raw"],
)
def test_content_encoding_decompressed(encoding: str, encoded: bytes) -> None:
    """gzip and deflate (zlib-wrapped or raw) bodies are decompressed."""
    assert encoded != PLAIN
    parser = _feed_all(_reply(encoded, f"Content-Encoding: {encoding}"))
    assert parser.body == PLAIN
    assert _feed_pieces(_split(_reply(encoded, f"Content-Encoding: {encoding}"), [100])).body == (
        PLAIN
    )


def test_gzip_chunked_decompressed() -> None:
    """A gzip body carried in chunks is decompressed once it is whole."""
    encoded = gzip.compress(PLAIN)
    raw = _chunked([encoded[:10], encoded[10:50], encoded[50:]], "Content-Encoding: gzip")
    assert _feed_all(raw).body == PLAIN


def test_gzip_until_close_decompressed() -> None:
    """A gzip body read until close is decompressed at end of connection."""
    parser = ResponseParser(LIMIT)
    parser.feed(_reply(b"", "Content-Encoding: gzip", length=False) + gzip.compress(PLAIN))
    assert parser.feed_eof() is True
    assert parser.body == PLAIN


def test_zlib_small_window_deflate_decompressed() -> None:
    """A zlib-wrapped deflate body made with a small window is still recognised as zlib."""
    compressor = zlib.compressobj(wbits=9)
    encoded = compressor.compress(PLAIN) + compressor.flush()
    assert zlib.decompress(encoded) == PLAIN
    assert _feed_all(_reply(encoded, "Content-Encoding: deflate")).body == PLAIN


def test_gzip_bomb_raises() -> None:
    """A small gzip body inflating past the limit is refused."""
    bomb = gzip.compress(b"\0" * (11 << 20))
    assert len(bomb) < LIMIT
    with pytest.raises(BodyTooLargeError):
        ResponseParser(LIMIT).feed(_reply(bomb, "Content-Encoding: gzip"))


def test_deflate_bomb_raises() -> None:
    """A raw deflate bomb is refused just like a gzip one."""
    bomb = _raw_deflate(b"\0" * (4 << 20))
    with pytest.raises(BodyTooLargeError):
        ResponseParser(LIMIT).feed(_reply(bomb, "Content-Encoding: deflate"))


def test_gzip_exactly_at_limit() -> None:
    """A gzip body inflating to exactly the limit is accepted; one byte more is not."""
    data = bytes(range(256)) * 4
    assert _feed_all(_reply(gzip.compress(data), "Content-Encoding: gzip"), 1024).body == data
    with pytest.raises(BodyTooLargeError):
        ResponseParser(1023).feed(_reply(gzip.compress(data), "Content-Encoding: gzip"))


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", b"not gzip at all"),
        ("gzip", gzip.compress(PLAIN)[:10] + b"\xff" * 40),
        ("gzip", gzip.compress(PLAIN)[:-8] + b"\0\0\0\0" + gzip.compress(PLAIN)[-4:]),
        ("deflate", b"\x78\x9cnot zlib"),
        ("deflate", b"\xff\xff\xff\xff"),
    ],
    ids=["gzip-garbage", "gzip-corrupt-data", "gzip-bad-crc", "zlib-garbage", "raw-garbage"],
)
def test_corrupt_compressed_body(encoding: str, body: bytes) -> None:
    """A body that does not decompress is a parse error."""
    with pytest.raises(HTTPParseError):
        ResponseParser(LIMIT).feed(_reply(body, f"Content-Encoding: {encoding}"))


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("gzip", gzip.compress(PLAIN)[:-8]),
        ("gzip", gzip.compress(PLAIN)[: len(gzip.compress(PLAIN)) // 2]),
        ("deflate", zlib.compress(PLAIN)[:-4]),
        ("deflate", _raw_deflate(PLAIN)[: len(_raw_deflate(PLAIN)) // 2]),
    ],
    ids=["gzip-no-trailer", "gzip-half", "zlib-no-checksum", "raw-half"],
)
def test_truncated_compressed_body(encoding: str, encoded: bytes) -> None:
    """A compressed stream cut short is a parse error, not a silently shortened body."""
    parser = ResponseParser(LIMIT)
    parser.feed(_reply(b"", f"Content-Encoding: {encoding}", length=False) + encoded)
    with pytest.raises(HTTPParseError):
        parser.feed_eof()


def test_multi_member_gzip_not_truncated() -> None:
    """A gzip body of several members is either wholly decoded or refused, never cut short."""
    encoded = gzip.compress(b"hello ") + gzip.compress(b"world")
    assert gzip.decompress(encoded) == b"hello world"
    parser = ResponseParser(LIMIT)
    try:
        parser.feed(_reply(encoded, "Content-Encoding: gzip"))
    except HTTPParseError:
        return
    assert parser.body == b"hello world"


@pytest.mark.parametrize("encoding", ["br", "identity", "zstd", "compress"])
def test_other_content_encodings_pass_through(encoding: str) -> None:
    """identity and unknown codings leave the body bytes unchanged."""
    body = gzip.compress(b"still compressed")
    parser = _feed_all(_reply(body, f"Content-Encoding: {encoding}"))
    assert parser.body == body
    assert parser.headers["content-encoding"] == encoding


def test_content_encoding_on_empty_body() -> None:
    """An empty body labelled gzip stays empty rather than failing to decompress."""
    assert _feed_all(_reply(b"", "Content-Encoding: gzip")).body == b""
    raw = _reply(b"", "Content-Encoding: gzip", status="HTTP/1.1 304 Not Modified", length=False)
    assert _feed_all(raw).body == b""
