"""Starting and stopping the aiohttp servers aiosso runs (the broker, the login callback): one
place for the order of ``setup``, ``start`` and ``cleanup``. (The emulator keeps its own: it is
an oracle that imports nothing of the client.)"""

from __future__ import annotations

import ssl

from aiohttp import web


async def listen(
    runner: web.BaseRunner, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> int:
    """Set *runner* up and listen on *host*:*port* (0: any free port).

    Returns:
        The port listened on.

    Raises:
        OSError: the address cannot be bound; the runner is cleaned up first.
    """
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
    except BaseException:
        await runner.cleanup()
        raise
    return int(runner.addresses[0][1])


async def stop(runner: web.BaseRunner | None) -> None:
    """Stop *runner* (if any), closing its open connections."""
    if runner is not None:
        await runner.cleanup()
