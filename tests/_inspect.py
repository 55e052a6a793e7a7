"""Looking inside a client's transport: the connections of its aiohttp session."""

from __future__ import annotations

from aiosso._transport import Transport


def connections(transport: Transport) -> tuple[int, int]:
    """``(in use, idle)`` live connections the transport's session holds right now.

    aiohttp drops a kept-alive connection the server closed only when it next looks at it:
    such a dead one is not counted.
    """
    session = transport.session
    if session is None or session.connector is None:
        return 0, 0
    connector = session.connector
    idle = sum(
        1
        for conns in connector._conns.values()  # type: ignore[attr-defined]
        for proto, _ in conns
        if proto.is_connected()
    )
    return len(connector._acquired), idle  # type: ignore[attr-defined]
