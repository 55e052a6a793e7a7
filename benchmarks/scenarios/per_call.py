"""Per-call cost: client CPU per call and calls per second, at concurrency 1 and 100.

Each (operation, concurrency, contender, repetition) is one child process: open the client, make
warm-up calls at the measured concurrency (connections established, caches filled), then time a
fixed number of calls. CPU is ``getrusage(RUSAGE_SELF)`` user+sys of the child over the timed loop
only (threads included, so botocore-on-threads pays for its workers). Concurrency is a fixed
number of worker coroutines sharing a call budget.

The server is the canned one (:mod:`benchmarks._server`) in its own process, answering from
precomputed bytes so that it is never the bottleneck. ``list_accounts`` asks for a page of
:data:`PAGE_SIZE` accounts (about 2 KB of JSON, with a ``nextToken``), a typical mid-listing page.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import harness
from benchmarks.harness import ScenarioResult, Settings, Table
from benchmarks.scenarios import register

OPERATIONS = ("get_role_credentials", "list_accounts")
CONCURRENCIES = (1, 100)
POOL = 100
PAGE_SIZE = 20

#: (calls timed, warm-up calls) per concurrency, for full and quick runs.
FULL_SIZES = {1: (2000, 200), 100: (5000, 500)}
QUICK_SIZES = {1: (20, 5), 100: (200, 100)}


async def _drive(call: Callable[[], Awaitable[Any]], calls: int, concurrency: int) -> None:
    """Make ``calls`` calls with ``concurrency`` of them in flight at any time."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, calls)))))


async def _measure(p: dict[str, Any]) -> dict[str, Any]:
    import functools

    from benchmarks.contenders import CONTENDERS

    contender = CONTENDERS[p["contender"]](p["url"], p["token"], POOL, p["concurrency"])
    await contender.open()
    try:
        call: Callable[[], Awaitable[dict[str, Any]]]
        if p["op"] == "get_role_credentials":
            call = contender.get_role_credentials
            first = await call()
            if not first["roleCredentials"]["accessKeyId"]:
                raise AssertionError("empty credentials")
        else:
            call = functools.partial(contender.list_accounts, PAGE_SIZE, None)
            first = await call()
            if len(first["accountList"]) != PAGE_SIZE or not first.get("nextToken"):
                raise AssertionError(f"unexpected page: {sorted(first)}")
        await _drive(call, p["warmup"], p["concurrency"])
        profiler = cProfile.Profile() if p.get("profile") else None
        gc.collect()
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        await _drive(call, p["calls"], p["concurrency"])
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(p["profile"])
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await contender.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "calls": p["calls"],
        "cpu_us_per_call": cpu / p["calls"] * 1e6,
        "calls_per_s": p["calls"] / wall,
        "notes": contender.notes,
    }


def child(params: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: one timed measurement of one contender (see module docstring)."""
    from benchmarks._contender import run_loop

    return run_loop(lambda: _measure(params), params.get("loop", "asyncio"))


def _ratio(value: float, floor: float) -> float:
    return value / floor if floor == floor and floor > 0 else float("nan")


@register("per_call", order=10, description="client CPU µs/call and calls/s, c=1 and c=100")
def run(settings: Settings) -> ScenarioResult:
    """Measure every runnable contender on both operations at both concurrencies."""
    from benchmarks.contenders import CONTENDERS, missing_requirements

    result = ScenarioResult()
    names: list[str] = []
    for name in settings.contenders:
        if name not in CONTENDERS:
            result.skipped.append(f"{name}: unknown contender")
        elif missing := missing_requirements(name):
            result.skipped.append(f"{name}: not installed ({', '.join(missing)})")
        else:
            names.append(name)
    sizes = QUICK_SIZES if settings.quick else FULL_SIZES
    reps = 1 if settings.quick else settings.reps
    cells: list[dict[str, Any]] = []
    crashed: set[tuple[str, str, int]] = set()
    total_calls = 0
    with harness.server("canned", accounts=10_000) as srv:
        result.raw["server"] = srv.kind
        server_cpu_start = srv.cpu_seconds()
        for op in OPERATIONS:
            for conc in CONCURRENCIES:
                calls, warmup = sizes[conc]
                samples: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
                for rep in range(reps):
                    for name in harness.rotated(names, rep):
                        if (name, op, conc) in crashed:
                            continue
                        params = {
                            "contender": name,
                            "url": srv.url,
                            "token": srv.token,
                            "op": op,
                            "concurrency": conc,
                            "calls": calls,
                            "warmup": warmup,
                            "loop": settings.loop,
                        }
                        harness.log(f"per_call {op} c={conc} rep {rep + 1}/{reps} {name}")
                        try:
                            server_cpu = srv.cpu_seconds()
                            sample = harness.run_child(
                                "benchmarks.scenarios.per_call:child", params, settings.timeout
                            )
                            # the whole child (warm-up included) over the calls it made
                            total_calls_child = calls + warmup + 1
                            sample["server_cpu_us_per_call"] = (
                                (srv.cpu_seconds() - server_cpu) / total_calls_child * 1e6
                            )
                            samples[name].append(sample)
                            total_calls += total_calls_child
                        except harness.ChildError as exc:
                            crashed.add((name, op, conc))
                            result.errors.append(f"per_call {op} c={conc} {name}: {exc}")
                cells.extend(_summarise(op, conc, calls, samples))
        server_cpu = srv.cpu_seconds() - server_cpu_start
        result.raw["server_cpu_us_per_call"] = (
            server_cpu / total_calls * 1e6 if total_calls else float("nan")
        )
        try:
            result.raw["requests_served"] = srv.request_count()
        except (OSError, ValueError) as exc:
            result.errors.append(f"per_call: server stats unreadable: {exc!r}")
    result.raw.update(
        {
            "pool": POOL,
            "page_size": PAGE_SIZE,
            "reps": reps,
            "sizes": {str(c): {"calls": s[0], "warmup": s[1]} for c, s in sizes.items()},
            "loop": settings.loop,
            "cells": cells,
        }
    )
    result.tables.append(_table(cells, reps, settings.loop, result.raw["server_cpu_us_per_call"]))
    return result


def _summarise(
    op: str, conc: int, calls: int, samples: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    floor = samples.get("floor", [])
    floor_cpu = harness.median([s["cpu_us_per_call"] for s in floor])
    floor_rate = harness.median([s["calls_per_s"] for s in floor])
    tuned_cpu = harness.median([s["cpu_us_per_call"] for s in samples.get("floor-tuned", [])])
    cells = []
    for name, runs in samples.items():
        cpu = [s["cpu_us_per_call"] for s in runs]
        rate = [s["calls_per_s"] for s in runs]
        notes = sorted({n for s in runs for n in s.get("notes", [])})
        cells.append(
            {
                "op": op,
                "concurrency": conc,
                "contender": name,
                "calls": calls,
                "cpu_us_per_call": harness.summary(cpu),
                "calls_per_s": harness.summary(rate),
                "server_cpu_us_per_call": harness.summary(
                    [s["server_cpu_us_per_call"] for s in runs]
                ),
                "cpu_ratio_to_floor": _ratio(harness.median(cpu), floor_cpu) if runs else None,
                "cpu_ratio_to_tuned": _ratio(harness.median(cpu), tuned_cpu) if runs else None,
                "rate_ratio_to_floor": _ratio(harness.median(rate), floor_rate) if runs else None,
                "notes": notes,
            }
        )
    return cells


def _spread(stats: dict[str, Any]) -> str:
    if not stats["values"] or len(stats["values"]) < 2:
        return "-"
    return f"±{(stats['max'] - stats['min']) / 2 / stats['median'] * 100:.0f}%"


def _table(cells: list[dict[str, Any]], reps: int, loop: str, server_us: float) -> Table:
    table = Table(
        title=f"Per-call cost (median of {reps}; client CPU from getrusage; {loop} loop)",
        headers=[
            "operation",
            "c",
            "contender",
            "CPU µs/call",
            "spread",
            "x floor",
            "x tuned",
            "calls/s",
            "x floor",
        ],
    )
    for cell in cells:
        cpu, rate = cell["cpu_us_per_call"], cell["calls_per_s"]
        table.rows.append(
            [
                cell["op"],
                str(cell["concurrency"]),
                cell["contender"],
                harness.fmt(cpu["median"]),
                _spread(cpu),
                harness.fmt(cell["cpu_ratio_to_floor"], 2),
                harness.fmt(cell.get("cpu_ratio_to_tuned"), 2),
                harness.fmt(rate["median"], 0),
                harness.fmt(cell["rate_ratio_to_floor"], 2),
            ]
        )
        for note in cell["notes"]:
            if (line := f"{cell['contender']}: {note}") not in table.notes:
                table.notes.append(line)
    if server_us == server_us:  # not NaN
        table.notes.append(
            f"The canned server (own process) used {server_us:.0f} CPU µs per call on average, "
            "well under every client's figure: it is not the bottleneck."
        )
    table.notes.append(
        "CPU µs/call: lower is better; calls/s: higher is better. Ratios are to the bare-aiohttp "
        "floor (x floor) and to floor-tuned (x tuned) measured in the same run. spread = half "
        "the min-max range over the median."
    )
    return table
