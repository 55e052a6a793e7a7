"""Start-up: import time, time to build the first and the next client, memory per client.

* Import time: a fresh interpreter per sample times the import statement alone with
  ``perf_counter`` (interpreter start-up excluded); modules alternate across repetitions. One
  unmeasured import first fills the bytecode cache (children cache it under
  ``PYTHONPYCACHEPREFIX``), so an editable checkout is not charged for compiling itself.
  For a per-module breakdown run e.g. ``python -X importtime -c "import aiosso" 2>&1 | sort -t'|'
  -k2 -n | tail``.
* Client build: in a fresh child, after the imports, the first client's full lifecycle
  (construct, enter, close) and then the median of the next ones. aiobotocore's first client
  includes creating the ``AioSession`` (which a program does once); its next clients reuse it.
* Memory per client: ``tracemalloc`` growth while N clients are open at once, divided by N.
  No request is made: this is what an idle, open client costs.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import harness
from benchmarks.contenders import missing_requirements
from benchmarks.harness import ScenarioResult, Settings, Table
from benchmarks.scenarios import register

#: label -> import statement, timed in a fresh interpreter.
IMPORTS = {
    "aiohttp": "import aiohttp",
    "aiosso": "from aiosso import AsyncSSOClient",
    "aiobotocore": "from aiobotocore.session import AioSession",
    "botocore": "import botocore.session",
}
#: label -> top-level module that must be installed.
IMPORT_REQUIRES = {
    "aiohttp": "aiohttp",
    "aiosso": "aiosso",
    "aiobotocore": "aiobotocore",
    "botocore": "botocore",
}
BUILD_CONTENDERS = ("aiosso", "aiobotocore", "floor")
UNUSED_URL = "http://127.0.0.1:9"  # never contacted: building a client does no I/O

_TIMER = (
    "import time\nt0 = time.perf_counter()\n{stmt}\nt1 = time.perf_counter()\nprint(repr(t1 - t0))"
)

Closer = Callable[[], Awaitable[object]]


def _factory(name: str) -> Callable[[], Awaitable[Closer]]:
    """Return ``make()`` that opens one client of ``name`` and returns its closer."""
    if name == "aiosso":
        from aiosso import AsyncSSOClient

        async def make_aiosso() -> Closer:
            client: Any = AsyncSSOClient(region_name="us-east-1", endpoint_url=UNUSED_URL)
            await client.__aenter__()
            return lambda: client.__aexit__(None, None, None)

        return make_aiosso
    if name == "aiobotocore":
        import botocore
        from aiobotocore.config import AioConfig
        from aiobotocore.session import AioSession

        config = AioConfig(signature_version=botocore.UNSIGNED)
        holder: dict[str, Any] = {}

        async def make_aiobotocore() -> Closer:
            if "session" not in holder:
                holder["session"] = AioSession()
            ctx = holder["session"].create_client(
                "sso", region_name="us-east-1", endpoint_url=UNUSED_URL, config=config
            )
            await ctx.__aenter__()
            return lambda: ctx.__aexit__(None, None, None)

        return make_aiobotocore
    if name == "floor":
        import aiohttp

        async def make_floor() -> Closer:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
            return session.close

        return make_floor
    raise ValueError(f"no client-build recipe for {name!r}")


async def _build(p: dict[str, Any]) -> dict[str, Any]:
    make = _factory(p["contender"])  # imports happen here, before any timing
    gc.collect()
    t0 = time.perf_counter()
    close = await make()
    await close()
    first = time.perf_counter() - t0
    nexts = []
    for _ in range(p["n_next"]):
        t0 = time.perf_counter()
        close = await make()
        await close()
        nexts.append(time.perf_counter() - t0)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    closers = [await make() for _ in range(p["n_mem"])]
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    for close in closers:
        await close()
    return {
        "first_ms": first * 1e3,
        "next_ms": statistics.median(nexts) * 1e3,
        "next_ms_values": [x * 1e3 for x in nexts],
        "bytes_per_client": held / p["n_mem"],
        "n_mem": p["n_mem"],
    }


def child(params: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: time client builds and measure memory for one contender."""
    from benchmarks._contender import run_loop

    return run_loop(lambda: _build(params), params.get("loop", "asyncio"))


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@register("startup", order=20, description="import time, client build time, memory per client")
def run(settings: Settings) -> ScenarioResult:
    """Measure import times, then client build time and memory for each contender."""
    result = ScenarioResult()
    reps = 1 if settings.quick else max(7, settings.reps)
    wanted = [m for m in IMPORTS if m in ("aiohttp", "botocore") or m in settings.contenders]
    modules = []
    for label in wanted:
        if _installed(IMPORT_REQUIRES[label]):
            modules.append(label)
        else:
            result.skipped.append(f"import {label}: not installed")
    samples: dict[str, list[float]] = {m: [] for m in modules}
    failed: set[str] = set()
    for label in modules:  # unmeasured: fills the bytecode cache, as an installed package has
        try:
            harness.run_python(IMPORTS[label], settings.timeout)
        except harness.ChildError as exc:
            failed.add(label)
            result.errors.append(f"startup import {label}: {exc}")
    for rep in range(reps):
        for label in harness.rotated(modules, rep):
            if label in failed:
                continue
            harness.log(f"startup import {label} rep {rep + 1}/{reps}")
            try:
                out = harness.run_python(_TIMER.format(stmt=IMPORTS[label]), settings.timeout)
                samples[label].append(float(out.splitlines()[-1]) * 1e3)
            except (harness.ChildError, ValueError, IndexError) as exc:
                failed.add(label)
                result.errors.append(f"startup import {label}: {exc}")
    imports = {m: harness.summary(v) for m, v in samples.items()}
    result.raw["import_ms"] = imports
    result.raw["import_statements"] = {m: IMPORTS[m] for m in modules}

    builds: dict[str, list[dict[str, Any]]] = {}
    names = []
    for name in BUILD_CONTENDERS:
        if name not in settings.contenders:
            continue
        if missing := missing_requirements(name):
            result.skipped.append(f"client build {name}: not installed ({', '.join(missing)})")
        else:
            names.append(name)
            builds[name] = []
    build_reps = 1 if settings.quick else max(3, settings.reps // 2)
    n_next, n_mem = (3, 3) if settings.quick else (50, 20)
    for rep in range(build_reps):
        for name in harness.rotated(names, rep):
            if name in failed:
                continue
            harness.log(f"startup client build {name} rep {rep + 1}/{build_reps}")
            params = {"contender": name, "n_next": n_next, "n_mem": n_mem, "loop": settings.loop}
            try:
                builds[name].append(
                    harness.run_child(
                        "benchmarks.scenarios.startup:child", params, settings.timeout
                    )
                )
            except harness.ChildError as exc:
                failed.add(name)
                result.errors.append(f"startup client build {name}: {exc}")
    result.raw["clients"] = {
        name: {
            key: harness.summary([r[key] for r in runs])
            for key in ("first_ms", "next_ms", "bytes_per_client")
        }
        for name, runs in builds.items()
    }
    result.raw["clients_params"] = {"n_next": n_next, "n_mem": n_mem, "reps": build_reps}
    result.tables += [_import_table(imports, reps), _client_table(result.raw["clients"])]
    return result


def _import_table(imports: dict[str, dict[str, Any]], reps: int) -> Table:
    table = Table(
        title=f"Import time (fresh interpreter each, median of {reps})",
        headers=["import", "median ms", "min ms", "max ms", "Δ vs aiohttp ms"],
    )
    base = imports.get("aiohttp", {}).get("median")
    for label, stats in imports.items():
        delta = stats["median"] - base if base is not None and stats["median"] is not None else None
        table.rows.append(
            [
                IMPORTS[label],
                harness.fmt(stats["median"]),
                harness.fmt(stats["min"]),
                harness.fmt(stats["max"]),
                harness.fmt(delta),
            ]
        )
    table.notes.append("Target: `from aiosso import AsyncSSOClient` within 30 ms of aiohttp.")
    return table


def _client_table(clients: dict[str, dict[str, Any]]) -> Table:
    table = Table(
        title="Client build (construct + enter + close) and memory per open client",
        headers=["contender", "first client ms", "next client ms", "KiB per open client"],
    )
    for name, stats in clients.items():
        per = stats["bytes_per_client"]["median"]
        table.rows.append(
            [
                name,
                harness.fmt(stats["first_ms"]["median"], 2),
                harness.fmt(stats["next_ms"]["median"], 3),
                harness.fmt(per / 1024 if per is not None else None),
            ]
        )
    table.notes.append(
        "floor = one aiohttp.ClientSession. aiobotocore's first client includes AioSession(). "
        "Target: aiosso client construction < 1 ms."
    )
    return table
