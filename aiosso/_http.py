"""Sans-I/O HTTP/1.1 for the client side: encode a request, parse a reply from bytes.

Only what the portal API needs and strictly: one request per connection at a time, no
pipelining, no upgrades. Replies framed by ``Content-Length``, ``chunked`` or the end of the
connection are understood; anything malformed raises :class:`HTTPParseError` rather than
being guessed at. Sizes are bounded: the head by :data:`MAX_HEAD_BYTES`, the body (after
decompression) by the caller's limit, which a declared ``Content-Length`` is checked against
before any of the body is read.
"""

from __future__ import annotations

import re
import zlib
from typing import Final

__all__ = [
    "MAX_HEAD_BYTES",
    "BodyTooLargeError",
    "HTTPParseError",
    "ResponseParser",
    "encode_request",
]

#: The largest reply head (status line and headers) accepted, in bytes.
MAX_HEAD_BYTES: Final = 64 * 1024
_MAX_CHUNK_LINE: Final = 1024

# RFC 9110 token characters: what a header name may be made of.
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEX: Final = frozenset("0123456789abcdefABCDEF")

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_CLOSE, _DONE = range(8)


class HTTPParseError(ValueError):
    """The bytes received are not a well-formed HTTP/1.1 reply (the reason says why)."""


class BodyTooLargeError(ValueError):
    """The reply body is, or would be, larger than the parser's limit."""


def encode_request(method: str, target: str, host: str, headers: str, body: bytes | None) -> bytes:
    """The bytes of one request.

    Args:
        method: ``GET`` or ``POST``.
        target: the origin-form target (path and query), already percent-encoded.
        host: the ``Host`` header value.
        headers: pre-serialised ``"Name: value\\r\\n"`` lines (checked by the caller).
        body: the body, or ``None`` for none. A ``POST`` without a body says
            ``Content-Length: 0``, as servers and proxies expect.
    """
    if body is None:
        length = "Content-Length: 0\r\n" if method == "POST" else ""
        return f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{headers}{length}\r\n".encode()
    length = f"Content-Length: {len(body)}\r\n"
    return f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{headers}{length}\r\n".encode() + body


class ResponseParser:
    """Parses one reply fed in pieces; :meth:`feed` returns True once it is complete.

    Afterwards ``status``, ``headers`` (names lower-cased, repeated fields joined with
    ``", "``), ``body`` (decoded from ``gzip``/``deflate`` if so labelled) and ``keep_alive``
    (whether the connection can carry another request) are set. Interim ``1xx`` replies are
    skipped.

    Args:
        limit: the largest body accepted, in bytes, after decompression.
    """

    __slots__ = (
        "_buf",
        "_limit",
        "_parts",
        "_remaining",
        "_size",
        "_state",
        "body",
        "headers",
        "keep_alive",
        "received",
        "status",
    )

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._state = _HEAD
        self._buf = b""
        self._parts: list[bytes] = []
        self._size = 0
        self._remaining = 0
        self.received = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.keep_alive = False

    @property
    def done(self) -> bool:
        """True once a whole reply has been parsed."""
        return self._state == _DONE

    def feed(self, data: bytes) -> bool:
        """Consume bytes from the connection; True when the reply is complete.

        Bytes beyond the end of the reply are dropped and clear ``keep_alive``.

        Raises:
            HTTPParseError: the reply is malformed.
            BodyTooLargeError: the body exceeds the limit.
        """
        if not data:
            return self._state == _DONE
        self.received = True
        state = self._state
        if state == _HEAD:
            buf = self._buf + data if self._buf else data
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD_BYTES + 3:  # 3: a terminator may be arriving
                    raise HTTPParseError("the reply head is too large")
                self._buf = buf
                return False
            if end > MAX_HEAD_BYTES:
                raise HTTPParseError("the reply head is too large")
            self._buf = b""
            self._head(buf[:end])
            data = buf[end + 4 :]
            state = self._state
            if state == _LENGTH and len(data) == self._remaining:
                self.body = data  # the usual case: the whole body came with the head
                self._state = _DONE
                return self._finish()
            if state == _HEAD:  # an interim 1xx reply: the real one follows
                return self.feed(data) if data else False
        elif state == _DONE:
            if data:
                self.keep_alive = False
            return True
        if data:
            self._body(data)
        if self._state == _DONE:
            return self._finish()
        return False

    def feed_eof(self) -> bool:
        """The server closed the connection; True if that completes the reply.

        Raises:
            HTTPParseError: the reply was cut short (``received`` tells whether any of it came).
        """
        if self._state == _UNTIL_CLOSE:
            self._state = _DONE
            return self._finish()
        if self._state == _DONE:
            return True
        raise HTTPParseError("the connection closed before the reply was complete")

    def _head(self, raw: bytes) -> None:
        text = raw.decode("latin-1")
        crlf = text.count("\r\n")
        if text.count("\r") != crlf or text.count("\n") != crlf or "\0" in text:
            raise HTTPParseError("a bare CR, LF or NUL in the reply head")
        lines = text.split("\r\n")
        line = lines[0]
        # Errors quote at most 16 characters of the status line ("SSH-2.0-OpenSSH_", "HTTP/2
        # 200"), and no other line: a server or proxy that echoes the request back must not
        # put the bearer token into an exception message.
        if (
            len(line) < 12
            or not line.startswith(("HTTP/1.1 ", "HTTP/1.0 "))
            or not line[9:12].isdecimal()
            or (len(line) > 12 and line[12] != " ")
        ):
            raise HTTPParseError(f"invalid status line {line[:16]!r}...")
        status = int(line[9:12])
        if status < 100:
            raise HTTPParseError(f"invalid status line {line[:16]!r}...")
        headers: dict[str, str] = {}
        for number, field in enumerate(lines[1:], 2):
            name, colon, value = field.partition(":")
            if not colon or not _TOKEN.fullmatch(name):
                raise HTTPParseError(f"invalid header line (line {number} of the reply)")
            name = name.lower()
            value = value.strip(" \t")
            if name in headers:
                value = f"{headers[name]}, {value}"
            headers[name] = value
        if status < 200:
            if status == 101:
                raise HTTPParseError("the server switched protocols")
            return  # 1xx: stay in _HEAD for the final reply
        self.status = status
        self.headers = headers
        connection = headers.get("connection")
        self.keep_alive = line[7] == "1" and (
            connection is None or "close" not in connection.lower()
        )
        if status in (204, 304):
            self._state = _DONE
            return
        coding = headers.get("transfer-encoding")
        if coding is not None:
            codings = [c.strip().lower() for c in coding.split(",")]
            if codings[-1] != "chunked":
                self._until_close()  # RFC 9112 6.3: read until the server closes
                return
            if (
                any(c not in ("chunked", "identity") for c in codings)
                or codings.count("chunked") > 1
            ):
                raise HTTPParseError(f"unsupported transfer coding {coding[:40]!r}")
            if "content-length" in headers:
                self.keep_alive = False  # RFC 9112 6.1: do not trust this connection again
            self._state = _CHUNK_SIZE
            return
        declared = headers.get("content-length")
        if declared is None:
            self._until_close()
            return
        if "," in declared:
            values = {v.strip() for v in declared.split(",")}
            if len(values) != 1:
                raise HTTPParseError("conflicting Content-Length values")
            declared = values.pop()
        if not (declared.isdecimal() and declared.isascii()) or len(declared) > 18:
            raise HTTPParseError(f"invalid Content-Length {declared[:40]!r}")
        length = int(declared)
        if length > self._limit:
            raise BodyTooLargeError(length)
        self._remaining = length
        self._state = _LENGTH if length else _DONE

    def _until_close(self) -> None:
        self.keep_alive = False
        self._state = _UNTIL_CLOSE

    def _add(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise BodyTooLargeError(self._size)
        self._parts.append(data)

    def _body(self, data: bytes) -> None:
        while data:
            state = self._state
            if state in (_LENGTH, _CHUNK_DATA):
                take = data[: self._remaining]
                self._add(take)
                self._remaining -= len(take)
                data = data[len(take) :]
                if not self._remaining:
                    self._state = _DONE if state == _LENGTH else _CHUNK_END
            elif state == _UNTIL_CLOSE:
                self._add(data)
                return
            elif state == _DONE:
                # More than the reply declared: the reply stands, the connection cannot.
                self.keep_alive = False
                return
            else:  # a line: chunk size, the CRLF after a chunk, or a trailer field
                buf = self._buf + data if self._buf else data
                end = buf.find(b"\r\n")
                longest = _MAX_CHUNK_LINE if state != _TRAILER else MAX_HEAD_BYTES
                if end < 0:
                    if len(buf) > longest + 1:  # 1: the CR of a CRLF may have arrived
                        raise HTTPParseError("an over-long line in a chunked body")
                    self._buf = buf
                    return
                if end > longest:
                    raise HTTPParseError("an over-long line in a chunked body")
                self._buf = b""
                line, data = buf[:end], buf[end + 2 :]
                self._line(state, line)

    def _line(self, state: int, line: bytes) -> None:
        if state == _CHUNK_END:
            if line:
                raise HTTPParseError("a chunk longer than its declared size")
            self._state = _CHUNK_SIZE
        elif state == _CHUNK_SIZE:
            size = line.split(b";", 1)[0].strip(b" \t").decode("latin-1")
            if not size or len(size) > 16 or not _HEX.issuperset(size):
                raise HTTPParseError("invalid chunk size line")
            self._remaining = int(size, 16)
            if self._remaining:
                if self._size + self._remaining > self._limit:
                    raise BodyTooLargeError(self._size + self._remaining)
                self._state = _CHUNK_DATA
            else:
                self._state = _TRAILER
        elif not line:  # the empty line that ends the trailer section
            self._state = _DONE
        elif b":" not in line:
            raise HTTPParseError("invalid trailer line")
        else:
            self._remaining += len(line)  # trailers are ignored, but bounded like a head
            if self._remaining > MAX_HEAD_BYTES:
                raise HTTPParseError("the reply trailers are too large")

    def _finish(self) -> bool:
        if self._parts:  # a body that came in pieces (the one-piece fast path set it already)
            self.body = b"".join(self._parts)
        encoding = self.headers.get("content-encoding")
        if encoding is not None and self.body:
            self.body = _decode(encoding.strip().lower(), self.body, self._limit)
        return True


def _decode(encoding: str, body: bytes, limit: int) -> bytes:
    """``body`` decompressed per ``Content-Encoding``, bounded by ``limit`` (a bomb stops there).

    ``identity`` and unknown codings pass through unchanged: the caller then sees bytes that
    are not JSON and says so.
    """
    gzip = encoding in ("gzip", "x-gzip")
    if gzip:
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        # "deflate" is zlib-wrapped by the RFC, raw deflate by some servers: accept both.
        wbits = zlib.MAX_WBITS if _zlib_header(body) else -zlib.MAX_WBITS
    else:
        return body
    parts: list[bytes] = []
    size = 0
    rest = body
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(rest, limit + 1 - size)
        except zlib.error as exc:
            raise HTTPParseError(f"a {encoding} body that does not decompress ({exc})") from None
        size += len(out)
        if size > limit or inflater.unconsumed_tail:
            raise BodyTooLargeError(size)
        if not inflater.eof:
            raise HTTPParseError(f"a truncated {encoding} body")
        parts.append(out)
        rest = inflater.unused_data
        if not rest:
            return b"".join(parts)
        if not gzip:  # gzip may hold several members back to back; deflate is one stream
            raise HTTPParseError(f"bytes after the end of the {encoding} body")


def _zlib_header(body: bytes) -> bool:
    """Whether ``body`` starts with a valid zlib header (RFC 1950), not raw deflate."""
    if len(body) < 2:
        return False
    cmf, flg = body[0], body[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
