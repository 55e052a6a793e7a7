"""Single-flight credentials: 10,000 concurrent gets over 100 distinct (account, role) pairs.

The server is the project's emulator in its own process, **without a rate limit** (this
scenario measures de-duplication and client cost, not throttling): 50 accounts with 2 roles
each, so 100 pairs. The harness lists the pairs once (plain ``urllib``) before the children
run; each child then starts all its gets at once (``asyncio.gather``), pair ``i % 100`` for
get ``i``, and times each awaited get (``perf_counter`` around the ``await``).

Contenders (each in its own process, ``max_pool_connections=100`` for all):

* ``aiosso``: ``aiosso.CredentialCache(client, accessToken=...)``, ``await cache.get(account,
  role)``: single-flight, so exactly one request per pair is expected;
* ``aiosso-nocache``: ``client.get_role_credentials(...)`` on every get (the client's raw cost);
* ``aiobotocore``: ``client.get_role_credentials(...)`` on every get, default retries
  (``legacy``), ``AioConfig(signature_version=UNSIGNED, max_pool_connections=100)``.

Requests are counted by the emulator (``GET /_emulator/stats``, the ``GetRoleCredentials``
counter before and after each child), not by the clients.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import math
import resource
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from benchmarks import harness
from benchmarks.contenders import REGION
from benchmarks.harness import ScenarioResult, Settings, Table
from benchmarks.scenarios import register
from benchmarks.scenarios.fanout_throttled import select_variants

POOL = 100
FULL_GETS = 10_000
FULL_ACCOUNTS = 50  # x 2 roles = 100 pairs
QUICK_GETS = 200
QUICK_ACCOUNTS = 10  # x 2 roles = 20 pairs

VARIANTS: dict[str, str] = {
    "aiosso": "aiosso",
    "aiosso-nocache": "aiosso",
    "aiobotocore": "aiobotocore",
}

_TOKEN_HEADER = "x-amz-sso_bearer_token"

Getter = Callable[[str, str], Awaitable[Any]]


# --------------------------------------------------------------------------- child side


@contextlib.asynccontextmanager
async def _getter(variant: str, url: str, token: str) -> AsyncIterator[Getter]:
    """Open the variant's client and yield ``get(account_id, role_name)``."""
    if variant.startswith("aiosso"):
        from aiosso import AsyncSSOClient, ClientConfig, CredentialCache

        config = ClientConfig(max_pool_connections=POOL)
        async with AsyncSSOClient(region_name=REGION, endpoint_url=url, config=config) as client:
            if variant == "aiosso":
                async with CredentialCache(client, accessToken=token) as cache:
                    yield cache.get
                return

            def fetch(account_id: str, role_name: str) -> Awaitable[Any]:
                return client.get_role_credentials(
                    roleName=role_name, accountId=account_id, accessToken=token
                )

            yield fetch
        return
    import botocore
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession

    aio_config = AioConfig(signature_version=botocore.UNSIGNED, max_pool_connections=POOL)
    async with AioSession().create_client(
        "sso", region_name=REGION, endpoint_url=url, config=aio_config
    ) as boto:

        def boto_fetch(account_id: str, role_name: str) -> Awaitable[Any]:
            return boto.get_role_credentials(  # type: ignore[no-any-return]
                roleName=role_name, accountId=account_id, accessToken=token
            )

        yield boto_fetch


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


async def _measure(p: dict[str, Any]) -> dict[str, Any]:
    pairs = [tuple(pair) for pair in p["pairs"]]
    gets = p["gets"]
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    async with _getter(p["variant"], p["url"], p["token"]) as get:

        async def one(i: int) -> None:
            account_id, role_name = pairs[i % len(pairs)]
            t0 = time.perf_counter()
            try:
                await get(account_id, role_name)
            except Exception as exc:
                errors[type(exc).__name__] += 1
                return
            latencies.append(time.perf_counter() - t0)

        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(gets)))
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
    latencies.sort()
    return {
        "gets": gets,
        "ok": len(latencies),
        "errors": dict(errors),
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "p50_s": _percentile(latencies, 0.50),
        "p99_s": _percentile(latencies, 0.99),
        "max_s": latencies[-1] if latencies else float("nan"),
    }


def child(params: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: all the gets of one variant, at once."""
    from benchmarks._contender import run_loop

    return run_loop(lambda: _measure(params), params.get("loop", "asyncio"))


# --------------------------------------------------------------------------- harness side


def _pairs(srv: harness.ServerHandle) -> list[tuple[str, str]]:
    """Every (account, role) pair the emulator's token sees (page size 100, few accounts)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(path: str, **query: str) -> dict[str, Any]:
        url = f"{srv.url}{path}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, headers={_TOKEN_HEADER: srv.token})
        with opener.open(request, timeout=10) as resp:
            doc: dict[str, Any] = json.loads(resp.read())
            return doc

    pairs = []
    accounts = get("/assignment/accounts", max_result="100")
    if accounts.get("nextToken"):
        raise ValueError("more than 100 accounts: this helper reads one page")
    for account in accounts["accountList"]:
        roles = get("/assignment/roles", account_id=account["accountId"], max_result="100")
        pairs += [(account["accountId"], role["roleName"]) for role in roles["roleList"]]
    return pairs


def _credential_requests(srv: harness.ServerHandle) -> int:
    return int(srv.stats().get("requests", {}).get("GetRoleCredentials", 0))


@register(
    "singleflight",
    order=50,
    description="10,000 concurrent credential gets over 100 pairs: requests, p50/p99",
)
def run(settings: Settings) -> ScenarioResult:
    """All gets at once with every variant against one unthrottled emulator."""
    result = ScenarioResult()
    gets = QUICK_GETS if settings.quick else FULL_GETS
    n_accounts = QUICK_ACCOUNTS if settings.quick else FULL_ACCOUNTS
    reps = 1 if settings.quick else min(3, settings.reps)
    names = select_variants(settings, VARIANTS, result)
    runs: dict[str, list[dict[str, Any]]] = {}
    failed: set[str] = set()
    with harness.server("emulator", accounts=n_accounts) as srv:
        pairs = _pairs(srv)
        for rep in range(reps):
            for variant in harness.rotated(names, rep):
                if variant in failed:
                    continue
                harness.log(f"singleflight rep {rep + 1}/{reps} {variant} ({gets:,} gets)")
                params = {
                    "variant": variant,
                    "url": srv.url,
                    "token": srv.token,
                    "pairs": pairs,
                    "gets": gets,
                    "loop": settings.loop,
                }
                try:
                    requests_before = _credential_requests(srv)
                    cpu_before = srv.cpu_seconds()
                    sample = harness.run_child(
                        "benchmarks.scenarios.singleflight:child", params, settings.timeout
                    )
                    sample["requests"] = _credential_requests(srv) - requests_before
                    sample["server_cpu_s"] = srv.cpu_seconds() - cpu_before
                except (harness.ChildError, OSError, ValueError) as exc:
                    failed.add(variant)
                    result.errors.append(f"singleflight {variant}: {exc}")
                    continue
                runs.setdefault(variant, []).append(sample)
    rows = [_row(v, runs[v]) for v in names if v in runs]
    result.raw.update(
        {
            "server": "emulator (no rate limit)",
            "pairs": len(pairs),
            "gets": gets,
            "pool": POOL,
            "reps": reps,
            "rows": rows,
        }
    )
    result.tables.append(_table(rows, len(pairs), reps))
    return result


def _row(variant: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    errors: collections.Counter[str] = collections.Counter()
    for s in samples:
        errors.update(s["errors"])
    return {
        "variant": variant,
        "gets": samples[0]["gets"],
        "requests": harness.summary([s["requests"] for s in samples]),
        "p50_s": harness.summary([s["p50_s"] for s in samples]),
        "p99_s": harness.summary([s["p99_s"] for s in samples]),
        "wall_s": harness.summary([s["wall_s"] for s in samples]),
        "cpu_s": harness.summary([s["cpu_s"] for s in samples]),
        "server_cpu_s": harness.summary([s["server_cpu_s"] for s in samples]),
        "errors": dict(errors),
        "samples": samples,
    }


def _table(rows: list[dict[str, Any]], n_pairs: int, reps: int) -> Table:
    table = Table(
        title=(
            f"Single-flight credentials (all gets at once over {n_pairs} pairs, emulator server "
            f"without rate limit, pool {POOL}, median of {reps})"
        ),
        headers=[
            "contender",
            "gets",
            "requests",
            "requests / pair",
            "p50 ms",
            "p99 ms",
            "wall s",
            "client CPU ms",
            "CPU µs/get",
            "wall x aiosso",
            "CPU/get x aiosso",
        ],
    )
    base = next((r for r in rows if r["variant"] == "aiosso"), None)

    def per_get(r: dict[str, Any]) -> float:
        return float(r["cpu_s"]["median"]) / int(r["gets"])

    for r in rows:
        requests = r["requests"]["median"]
        wall = r["wall_s"]["median"]
        table.rows.append(
            [
                r["variant"],
                f"{r['gets']:,}",
                harness.fmt(requests, 0),
                harness.fmt(requests / n_pairs, 2),
                harness.fmt(r["p50_s"]["median"] * 1e3, 2),
                harness.fmt(r["p99_s"]["median"] * 1e3, 2),
                harness.fmt(wall, 3),
                harness.fmt(r["cpu_s"]["median"] * 1e3, 0),
                harness.fmt(per_get(r) * 1e6, 1),
                harness.fmt(wall / base["wall_s"]["median"] if base else None, 1),
                harness.fmt(per_get(r) / per_get(base) if base else None, 1),
            ]
        )
        if r["errors"]:
            errs = ", ".join(f"{k} x{v}" for k, v in sorted(r["errors"].items()))
            table.notes.append(f"{r['variant']}: failed gets (all repetitions): {errs}")
        if r["requests"]["min"] != r["requests"]["max"]:
            table.notes.append(
                f"{r['variant']}: requests per repetition "
                + ", ".join(str(s["requests"]) for s in r["samples"])
            )
        server_us = r["server_cpu_s"]["median"] / max(1, requests) * 1e6
        if r["variant"] != "aiosso":
            table.notes.append(
                f"{r['variant']}: the emulator used {server_us:,.0f} CPU µs per request "
                "(it shares the 2 cores with the client)."
            )
    table.notes += [
        "aiosso = CredentialCache(client, accessToken=tok).get(account, role); aiosso-nocache "
        "and aiobotocore call get_role_credentials on every get (aiobotocore: default retries, "
        "AioConfig(signature_version=UNSIGNED, max_pool_connections=100)).",
        "requests = GetRoleCredentials counted by the emulator; latency = perf_counter around "
        "each awaited get, all gets started at once (so it includes the wait for a pooled "
        "connection); client CPU = getrusage of the client process over the gets.",
    ]
    return table
