"""Looking inside a client's transport, whichever route it took (pool or aiohttp)."""

from __future__ import annotations

from aiosso._transport import Transport


def connections(transport: Transport) -> tuple[int, int]:
    """``(in use, idle)`` connections the transport holds right now."""
    pool = transport._pool
    if pool is not None:
        return len(pool._busy), len(pool._idle)
    session = transport._session
    if session is None or session.connector is None:
        return 0, 0
    connector = session.connector
    idle = sum(len(conns) for conns in connector._conns.values())  # type: ignore[attr-defined]
    return len(connector._acquired), idle  # type: ignore[attr-defined]
