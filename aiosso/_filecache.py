"""A directory of JSON files shared between processes: atomic writes, per-key locks.

The machinery under :mod:`aiosso.tokencache` (which re-exports the public names):

* A file is only ever replaced whole: a temporary file in the same directory is written,
  flushed and fsynced, then renamed over the old one (and the directory fsynced). A crash
  or an error mid-write leaves the previous content, even a corrupt one, and no temporary
  file.
* ``async with cache.locked(key):`` holds an exclusive ``flock`` on a sibling
  ``<key>.lock`` file (``msvcrt.locking`` on Windows, best effort: there a rename over a
  file another process has open can fail, which surfaces as :class:`CacheFileError`).
  Tasks of one process first queue on an ``asyncio.Lock`` per key and event loop; the
  head task then polls the non-blocking file lock with ``asyncio.sleep``, so waiting never
  blocks the event loop and cancellation is immediate. Lock files are empty, 0600 and never
  deleted: deleting a lock file another process waits on would split the lock. A lock file
  is opened without following a symbolic link (``O_NOFOLLOW``), and must be a regular file:
  a planted ``<key>.lock`` link never makes aiosso create or open a file elsewhere.
* Files are created 0600, and every folder aiosso creates 0700, the missing parents too
  (``~/.aws`` and ``~/.aws/sso`` for ``~/.aws/sso/cache``), even under umask 000. A
  world-writable directory is refused (anyone could plant or swap entries); a group-writable
  one is used, with one warning in the log; a file readable by others is still read, with one
  warning in the log per file and mode.
* The async methods do file work in a worker thread; the blocking ones are for CLI code.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

from aiosso.exceptions import (
    CacheFileError,
    CacheLockTimeoutError,
    CorruptCacheFileError,
)

__all__ = ["CacheFileError", "CacheLockTimeoutError", "CorruptCacheFileError", "JSONFileCache"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    import logging
    from typing import Any, TypeVar

    _T = TypeVar("_T")


def _log() -> logging.Logger:
    # logging (and tempfile, in write) are imported on first use: a cache hit of the command
    # line reads a file here, and both cost more to import than the read itself.
    import logging

    return logging.getLogger(__name__)


#: Files larger than this are not a cache entry (a token file is a few KiB).
_MAX_FILE_BYTES = 1 << 20
_KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+=-]{0,199}")
_POSIX = os.name == "posix"


# -- locking primitives -------------------------------------------------------------------

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


async def to_thread(func: Callable[..., _T], /, *args: Any) -> _T:
    """``asyncio.to_thread``, with asyncio imported on first use: the command line's cache-hit
    paths read these files without an event loop, and without paying for asyncio."""
    import asyncio

    return await asyncio.to_thread(func, *args)


async def _in_thread_closing_on_cancel(func: Callable[[], int]) -> int:
    """Run *func* (which opens a file descriptor) in a thread; if the caller is cancelled
    meanwhile, close the descriptor when it arrives instead of leaking it."""
    import asyncio

    task = asyncio.ensure_future(asyncio.to_thread(func))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:

        def _close(done: asyncio.Future[int]) -> None:
            if not done.cancelled() and done.exception() is None:
                os.close(done.result())

        task.add_done_callback(_close)
        raise


async def _acquire(lock: asyncio.Lock, timeout: float | None) -> bool:
    """Acquire *lock* within *timeout* seconds; ``False`` on timeout. Never leaves the lock
    held on timeout or cancellation (unlike ``wait_for`` races on older Pythons)."""
    import asyncio

    if timeout is None:
        await lock.acquire()
        return True
    waiter: asyncio.Future[bool] = asyncio.ensure_future(lock.acquire())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=max(timeout, 0.0))
    except asyncio.CancelledError:
        _abandon(waiter, lock)
        raise
    if done:
        return True
    _abandon(waiter, lock)
    return False


def _abandon(waiter: asyncio.Future[bool], lock: asyncio.Lock) -> None:
    def _release_if_acquired(done: asyncio.Future[bool]) -> None:
        if not done.cancelled() and done.exception() is None:
            lock.release()

    if waiter.done():
        _release_if_acquired(waiter)
        return
    waiter.cancel()
    waiter.add_done_callback(_release_if_acquired)


# -- the generic file cache ---------------------------------------------------------------


def make_private_dirs(directory: Path) -> None:
    """Create *directory* and each missing parent with mode 0700 (``os.makedirs`` gives the
    parents the umask's default: 0777 under umask 000). Existing folders are left as they are.

    Raises:
        OSError: a level cannot be created.
    """
    missing: list[Path] = []
    current = directory
    while not os.path.isdir(current):
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for level in reversed(missing):
        try:
            os.mkdir(level, 0o700)
        except FileExistsError:
            if not os.path.isdir(level):
                raise
            # another process created it meanwhile


class JSONFileCache:
    """A directory of JSON objects, one ``<key>.json`` file per key, shared between processes.

    Reads return ``None`` for an absent file and raise :class:`CorruptCacheFileError` for a
    file that is not a JSON object. Writes are atomic replacements, mode 0600, in a directory
    created 0700 (its missing parents too). A world-writable directory is refused for reads,
    writes and locks; a group-writable one is used with a warning in the log.

    Keys are file-name safe strings (hex digests in practice); anything with a path separator
    or a leading dot is refused with ``ValueError``.

    Args:
        directory: the cache directory (created on first write or lock).
        poll_interval: the longest pause between two tries of a contended lock, in seconds.
    """

    def __init__(self, directory: str | os.PathLike[str], *, poll_interval: float = 0.05) -> None:
        self._dir = Path(directory)
        self._poll_interval = poll_interval
        self._task_locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()
        self._warned: set[tuple[str, int]] = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._dir)!r})"

    @property
    def directory(self) -> Path:
        """The cache directory."""
        return self._dir

    def path(self, key: str) -> Path:
        """The file of *key*: ``<directory>/<key>.json``.

        Raises:
            ValueError: *key* is not a safe file name.
        """
        if not _KEY_RE.fullmatch(key):
            raise ValueError(f"not a usable cache key: {key!r}")
        return self._dir / f"{key}.json"

    def lock_path(self, key: str) -> Path:
        """The lock file of *key*: ``<directory>/<key>.lock``."""
        return self.path(key).with_suffix(".lock")

    # -- directory safety

    def _check_directory(self, *, create: bool) -> bool:
        """Make sure the directory is safe to use; ``False`` if absent and not *create*."""
        if create:
            try:
                make_private_dirs(self._dir)
            except OSError as e:
                raise CacheFileError(
                    error_msg=f"Cannot create the cache directory {self._dir}: "
                    f"{e.strerror or type(e).__name__}",
                    path=str(self._dir),
                ) from None
        try:
            st = os.stat(self._dir)
        except FileNotFoundError:
            return False
        except OSError as e:
            raise CacheFileError(
                error_msg=f"Cannot use the cache directory {self._dir}: "
                f"{e.strerror or type(e).__name__}",
                path=str(self._dir),
            ) from None
        if not stat.S_ISDIR(st.st_mode):
            raise CacheFileError(
                error_msg=f"The cache directory {self._dir} is not a directory",
                path=str(self._dir),
            )
        if _POSIX and st.st_mode & stat.S_IWOTH:
            raise CacheFileError(
                error_msg=(
                    f"Refusing to use the cache directory {self._dir}: it is world-writable "
                    f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 700 {self._dir}"
                ),
                path=str(self._dir),
            )
        if _POSIX and st.st_mode & stat.S_IWGRP and self._first_time(self._dir, st.st_mode):
            _log().warning(
                "Cache directory %s is writable by its group (mode %04o): other members of "
                "the group could plant or swap entries; it should be 0700: chmod 700 %s",
                self._dir,
                stat.S_IMODE(st.st_mode),
                self._dir,
            )
        return True

    def _first_time(self, path: Path, mode: int) -> bool:
        """``True`` the first time *path* is seen with *mode* (one warning each)."""
        mark = (str(path), stat.S_IMODE(mode))
        if mark in self._warned:
            return False
        self._warned.add(mark)
        return True

    def _warn_if_exposed(self, path: Path, mode: int) -> None:
        if not _POSIX or not mode & 0o077 or not self._first_time(path, mode):
            return
        _log().warning(
            "Cache file %s is accessible to other users (mode %04o); it should be 0600: "
            "chmod 600 %s",
            path,
            stat.S_IMODE(mode),
            path,
        )

    # -- synchronous file operations

    def read(self, key: str) -> dict[str, Any] | None:
        """The JSON object stored under *key*, or ``None`` if there is no file (blocking).

        Raises:
            CorruptCacheFileError: the file is empty, truncated, not UTF-8, not JSON, not an
                object, or implausibly large.
            CacheFileError: the file or directory cannot be read, or the directory is
                world-writable.
        """
        path = self.path(key)
        if not self._check_directory(create=False):
            return None
        try:
            with open(path, "rb") as f:
                self._warn_if_exposed(path, os.fstat(f.fileno()).st_mode)
                raw = f.read(_MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CacheFileError(
                error_msg=f"Cannot read {path}: {e.strerror or type(e).__name__}", path=str(path)
            ) from None
        return _decode_object(raw, path)

    def write(self, key: str, data: Mapping[str, Any]) -> None:
        """Store *data* under *key*, replacing the file atomically (blocking).

        The new content goes to a temporary file in the same directory (mode 0600), is
        flushed and fsynced, then renamed over the old file; on any failure the old file is
        left as it was and the temporary file is removed.

        Raises:
            TypeError: *data* is not JSON-serializable.
            CacheFileError: the directory is unsafe, or the disk refused the write.
        """
        path = self.path(key)
        payload = json.dumps(data).encode("utf-8")
        self._check_directory(create=True)
        try:
            import tempfile

            fd, temp = tempfile.mkstemp(dir=self._dir, prefix=f".{key}.", suffix=".tmp")
        except OSError as e:
            raise CacheFileError(
                error_msg=f"Cannot write {path}: {e.strerror or type(e).__name__}", path=str(path)
            ) from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        except BaseException as e:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            if isinstance(e, OSError):
                raise CacheFileError(
                    error_msg=f"Cannot write {path}: {e.strerror or type(e).__name__}",
                    path=str(path),
                ) from None
            raise
        self._sync_directory()

    def _sync_directory(self) -> None:
        # Make the rename itself durable; best effort, and meaningless on Windows.
        if not _POSIX:
            return
        with contextlib.suppress(OSError):
            dir_fd = os.open(self._dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def remove(self, key: str) -> bool:
        """Delete the file of *key* (blocking); ``False`` if there was none.

        Raises:
            CacheFileError: the file exists but cannot be deleted.
        """
        path = self.path(key)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as e:
            raise CacheFileError(
                error_msg=f"Cannot delete {path}: {e.strerror or type(e).__name__}",
                path=str(path),
            ) from None
        return True

    # -- asynchronous file operations (worker thread)

    async def load(self, key: str) -> dict[str, Any] | None:
        """:meth:`read` in a worker thread."""
        return await to_thread(self.read, key)

    async def save(self, key: str, data: Mapping[str, Any]) -> None:
        """:meth:`write` in a worker thread. A cancelled caller does not stop the write,
        which still either completes or leaves the old file."""
        await to_thread(self.write, key, data)

    async def delete(self, key: str) -> bool:
        """:meth:`remove` in a worker thread."""
        return await to_thread(self.remove, key)

    # -- locks

    def _open_lock(self, key: str) -> int:
        """Open (creating it 0600 if need be) the lock file of *key*, never through a link.

        Raises:
            CacheFileError: the directory is unsafe, the lock path is a symbolic link or not
                a regular file, or it cannot be opened.
        """
        path = self.lock_path(key)
        self._check_directory(create=True)
        # O_NOFOLLOW: a planted <key>.lock symlink must not make O_CREAT create (or open) a
        # file at its target.
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as e:
            if os.path.islink(path):  # ELOOP on Linux and macOS, EMLINK on FreeBSD
                raise self._bad_lock(path, "it is a symbolic link") from None
            raise CacheFileError(
                error_msg=f"Cannot open the lock file {path}: {e.strerror or type(e).__name__}",
                path=str(path),
            ) from None
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            regular = False
        if not regular:
            os.close(fd)
            raise self._bad_lock(path, "it is not a regular file")
        return fd

    @staticmethod
    def _bad_lock(path: Path, reason: str) -> CacheFileError:
        return CacheFileError(
            error_msg=f"Refusing the lock file {path}: {reason}; remove it: rm {path}",
            path=str(path),
        )

    def _try_lock(self, fd: int, key: str) -> bool:
        try:
            return _try_lock(fd)
        except OSError as e:  # e.g. ENOLCK on a file system without locks
            path = self.lock_path(key)
            raise CacheFileError(
                error_msg=f"Cannot lock {path}: {e.strerror or type(e).__name__}", path=str(path)
            ) from None

    def _task_lock(self, key: str) -> asyncio.Lock:
        import asyncio

        loop = asyncio.get_running_loop()
        with self._guard:
            locks = self._task_locks.setdefault(loop, {})
            return locks.setdefault(key, asyncio.Lock())

    def _timeout_error(self, key: str, timeout: float) -> CacheLockTimeoutError:
        path = self.lock_path(key)
        return CacheLockTimeoutError(
            error_msg=f"Timed out after {timeout:g} s waiting for the lock {path}",
            path=str(path),
        )

    @contextlib.asynccontextmanager
    async def locked(self, key: str, *, timeout: float | None = None) -> AsyncIterator[None]:
        """Hold the exclusive lock of *key* for the ``async with`` block.

        Tasks of this process queue on an ``asyncio.Lock`` first (first come, first served);
        the one at the head then takes the cross-process file lock, polling a non-blocking
        lock with ``asyncio.sleep`` (the event loop keeps running; cancellation is
        immediate). The lock is released when the block exits, and by the OS if the process
        dies. Not re-entrant: do not nest ``locked`` for the same key.

        Args:
            key: the cache key.
            timeout: seconds to wait in all; ``None`` waits as long as it takes (wrap in
                ``asyncio.timeout`` for the same effect with cancellation).

        Raises:
            CacheLockTimeoutError: *timeout* passed first.
            CacheFileError: the directory is unsafe or the lock file cannot be opened.
        """
        import asyncio

        self.path(key)  # validate before waiting
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        task_lock = self._task_lock(key)
        if not await _acquire(task_lock, None if deadline is None else deadline - loop.time()):
            raise self._timeout_error(key, timeout or 0.0)
        try:
            fd = await _in_thread_closing_on_cancel(lambda: self._open_lock(key))
            try:
                delay = 0.001
                while not self._try_lock(fd, key):
                    if deadline is not None and loop.time() >= deadline:
                        raise self._timeout_error(key, timeout or 0.0)
                    pause = delay if deadline is None else min(delay, deadline - loop.time())
                    await asyncio.sleep(max(pause, 0.0))
                    delay = min(delay * 2, self._poll_interval)
                try:
                    yield
                finally:
                    _unlock(fd)
            finally:
                os.close(fd)
        finally:
            task_lock.release()

    @contextlib.contextmanager
    def locked_sync(self, key: str, *, timeout: float | None = None) -> Iterator[None]:
        """The blocking twin of :meth:`locked` for command-line code (threads wait too).

        Raises:
            CacheLockTimeoutError: *timeout* passed first.
            CacheFileError: the directory is unsafe or the lock file cannot be opened.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = self._open_lock(key)
        try:
            delay = 0.001
            while not self._try_lock(fd, key):
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._timeout_error(key, timeout or 0.0)
                time.sleep(delay)
                delay = min(delay * 2, self._poll_interval)
            try:
                yield
            finally:
                _unlock(fd)
        finally:
            os.close(fd)


def _decode_object(raw: bytes, path: Path) -> dict[str, Any]:
    def corrupt(reason: str) -> CorruptCacheFileError:
        return CorruptCacheFileError(
            error_msg=f"The cache file {path} is corrupt: {reason}", path=str(path)
        )

    if len(raw) > _MAX_FILE_BYTES:
        raise corrupt(f"larger than {_MAX_FILE_BYTES} bytes")
    if not raw.strip():
        raise corrupt("it is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise corrupt(f"not UTF-8 (byte {e.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        # The message is positional only; it never quotes the document.
        raise corrupt(f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except RecursionError:
        raise corrupt("nested too deeply to be a cache entry") from None
    if not isinstance(data, dict):
        raise corrupt(f"a JSON {type(data).__name__}, not an object")
    return data
