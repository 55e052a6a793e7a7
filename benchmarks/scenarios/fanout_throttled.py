"""Fan-out under throttling: list every account, then every account's roles, at concurrency 50.

The server is the project's emulator in its own process, rate limited per token and operation
(``--rate 50 --burst 10`` by default: each operation has its own token bucket), with 300
accounts of 2 roles each. **Every measurement gets a fresh emulator**, so each contender
starts on full buckets and a fresh process (``POST /_emulator/reset`` would refill the buckets
too, but not the server process's own warm state).

The floor is what the rate limit allows: ``(requests needed - burst) / rate`` for the most
requested operation (300 ``ListAccountRoles`` calls: ``(300 - 10) / 50 = 5.8 s``; the three
``ListAccounts`` pages fit in their own bucket's burst). Wall time is reported as a ratio to it.

Contenders (each in its own process; ``--contenders aiosso`` selects the first two,
``--contenders aiobotocore`` the last three):

* ``aiosso``: default client settings (no config but the endpoint),
  ``client.iter_account_roles(accessToken=..., max_concurrency=50, failures=[...])`` (the
  ``failures`` list makes a failed account countable instead of raising);
* ``aiosso-gather``: the same code as the aiobotocore ones on aiosso's default client
  (paginators, ``asyncio.gather`` under a semaphore of 50), to separate the client's retries
  and rate limiter from the fan-out helper;
* ``aiobotocore-legacy`` / ``-standard`` / ``-adaptive``: ``AioConfig(retries={"mode": m},
  signature_version=UNSIGNED, max_pool_connections=50)``, paginators + ``asyncio.gather`` with
  a semaphore of 50. An error that escapes (retries exhausted) is caught per account and counts
  the account as lost: that is the lost data this scenario measures.

Request and throttle counts come from the emulator's ``GET /_emulator/stats``, not from the
clients.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import resource
import time
from dataclasses import dataclass
from typing import Any

from benchmarks import harness
from benchmarks.contenders import REGION, missing_requirements
from benchmarks.harness import ScenarioResult, Settings, Table
from benchmarks.scenarios import register

CONCURRENCY = 50
PAGE_SIZE = 100
#: aiobotocore's pool, as the issue specifies; aiosso keeps its default (10).
AIOBOTOCORE_POOL = 50

#: variant -> the contender (package family) that ``--contenders`` selects it by.
VARIANTS: dict[str, str] = {
    "aiosso": "aiosso",
    "aiosso-gather": "aiosso",
    "aiobotocore-legacy": "aiobotocore",
    "aiobotocore-standard": "aiobotocore",
    "aiobotocore-adaptive": "aiobotocore",
}

#: Targets for aiosso with default settings (issues 6 and 7).
TARGET_WALL_X_FLOOR = 1.2
TARGET_THROTTLED_PCT = 5.0


@dataclass(frozen=True)
class Org:
    """The emulated organisation and its rate limit."""

    accounts: int
    roles: int
    rate: float
    burst: int
    page_size: int = PAGE_SIZE

    @property
    def expected_roles(self) -> int:
        return self.accounts * self.roles

    @property
    def needed(self) -> dict[str, int]:
        """Requests the listing needs per operation (no retries)."""
        return {
            "ListAccounts": max(1, math.ceil(self.accounts / self.page_size)),
            "ListAccountRoles": self.accounts * max(1, math.ceil(self.roles / self.page_size)),
        }

    @property
    def floor_s(self) -> float:
        """Fastest wall time the rate limit allows (one bucket per operation, full at start)."""
        return max(max(0, n - self.burst) / self.rate for n in self.needed.values())


FULL_ORG = Org(accounts=300, roles=2, rate=50.0, burst=10)
QUICK_ORG = Org(accounts=30, roles=2, rate=50.0, burst=10)


# --------------------------------------------------------------------------- server


def throttled_emulator(org: Org) -> contextlib.AbstractContextManager[harness.ServerHandle]:
    """``python -m aiosso.testing`` with the organisation and rate limit, in its own process."""
    options = ["--roles", str(org.roles), "--page-size", str(org.page_size)]
    options += ["--rate", repr(org.rate), "--burst", str(org.burst)]
    return harness.server("emulator", org.accounts, extra_args=options)


# --------------------------------------------------------------------------- child side


class _Tally:
    """What one fan-out found, counted as a consumer would (nothing kept but the pair keys)."""

    def __init__(self) -> None:
        self.pairs: set[tuple[str, str]] = set()
        self.yielded = 0
        self.failed_accounts: set[str] = set()
        self.errors: collections.Counter[str] = collections.Counter()
        self.listing_error: str | None = None
        self.accounts_listed = 0

    def add(self, account_id: str, role_name: str) -> None:
        self.yielded += 1
        self.pairs.add((account_id, role_name))

    def fail(self, account_id: str, exc: BaseException) -> None:
        self.failed_accounts.add(account_id)
        self.errors[_describe(exc)] += 1


def _describe(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    name = type(exc).__name__
    return f"{name}({code})" if code and code != name else name


async def _gather_fanout(client: Any, token: str, org: Org, tally: _Tally) -> None:
    """The code a user writes on aiobotocore: paginators + ``asyncio.gather`` + a semaphore."""
    accounts: list[str] = []
    try:
        pages = client.get_paginator("list_accounts").paginate(
            accessToken=token, PaginationConfig={"PageSize": org.page_size}
        )
        async for page in pages:
            accounts.extend(a["accountId"] for a in page.get("accountList", []))
    except Exception as exc:
        tally.listing_error = _describe(exc)
    tally.accounts_listed = len(accounts)
    semaphore = asyncio.Semaphore(CONCURRENCY)
    paginator = client.get_paginator("list_account_roles")

    async def roles_of(account_id: str) -> None:
        async with semaphore:
            try:
                pages = paginator.paginate(
                    accessToken=token,
                    accountId=account_id,
                    PaginationConfig={"PageSize": org.page_size},
                )
                async for page in pages:
                    for role in page.get("roleList", []):
                        tally.add(account_id, role["roleName"])
            except Exception as exc:
                tally.fail(account_id, exc)

    await asyncio.gather(*(roles_of(a) for a in accounts))


async def _helper_fanout(client: Any, token: str, tally: _Tally) -> None:
    """aiosso's own fan-out helper, failures collected instead of raised."""
    from aiosso import AccountFailure

    failures: list[AccountFailure] = []
    accounts: set[str] = set()
    try:
        async for account, role in client.iter_account_roles(
            accessToken=token, max_concurrency=CONCURRENCY, failures=failures
        ):
            accounts.add(account["accountId"])
            tally.add(account["accountId"], role["roleName"])
    except Exception as exc:  # the account listing itself failed
        tally.listing_error = _describe(exc)
    for failure in failures:
        accounts.add(failure.account.get("accountId", "?"))
        tally.fail(failure.account.get("accountId", "?"), failure.error)
    tally.accounts_listed = len(accounts)


@contextlib.asynccontextmanager
async def _open(variant: str, url: str) -> Any:
    if variant.startswith("aiosso"):
        from aiosso import AsyncSSOClient

        async with AsyncSSOClient(region_name=REGION, endpoint_url=url) as client:
            yield client
        return
    import botocore
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession

    mode = variant.rpartition("-")[2]
    config = AioConfig(
        retries={"mode": mode},
        signature_version=botocore.UNSIGNED,
        max_pool_connections=AIOBOTOCORE_POOL,
    )
    async with AioSession().create_client(
        "sso", region_name=REGION, endpoint_url=url, config=config
    ) as client:
        yield client


async def _measure(p: dict[str, Any]) -> dict[str, Any]:
    org = Org(**p["org"])
    tally = _Tally()
    async with _open(p["variant"], p["url"]) as client:
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        if p["variant"] == "aiosso":
            await _helper_fanout(client, p["token"], tally)
        else:
            await _gather_fanout(client, p["token"], org, tally)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, **tally_fields(tally)}


def tally_fields(tally: _Tally) -> dict[str, Any]:
    """What a fan-out child reports of its tally (JSON-able)."""
    return {
        "roles_found": len(tally.pairs),
        "duplicates": tally.yielded - len(tally.pairs),
        "accounts_listed": tally.accounts_listed,
        "accounts_failed": len(tally.failed_accounts),
        "errors": dict(tally.errors),
        "listing_error": tally.listing_error,
    }


def child(params: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: one fan-out with one variant against a fresh emulator."""
    from benchmarks._contender import run_loop

    return run_loop(lambda: _measure(params), params.get("loop", "asyncio"))


# --------------------------------------------------------------------------- harness side


def select_variants(
    settings: Settings, variants: dict[str, str], result: ScenarioResult
) -> list[str]:
    """The variants whose contender family was asked for and is installed."""
    names = []
    for variant, family in variants.items():
        if family not in settings.contenders:
            continue
        if missing := missing_requirements(family):
            result.skipped.append(f"{variant}: not installed ({', '.join(missing)})")
        else:
            names.append(variant)
    return names


def _sample(org: Org, variant: str, settings: Settings) -> dict[str, Any]:
    with throttled_emulator(org) as srv:
        sample = harness.run_child(
            "benchmarks.scenarios.fanout_throttled:child",
            {
                "variant": variant,
                "url": srv.url,
                "token": srv.token,
                "org": vars(org),
                "loop": settings.loop,
            },
            settings.timeout,
        )
        stats = srv.stats()
    sample["requests"] = harness.total_requests(stats)
    sample["requests_by_op"] = dict(stats.get("requests", {}))
    sample["throttled"] = int(stats.get("throttled", 0))
    return sample


@register(
    "fanout_throttled",
    order=40,
    description="all roles of 300 accounts at concurrency 50 under 50 req/s: lost data, wall",
)
def run(settings: Settings) -> ScenarioResult:
    """Fan out with every variant, a fresh emulator per measurement, variants alternated."""
    result = ScenarioResult()
    org = QUICK_ORG if settings.quick else FULL_ORG
    reps = 1 if settings.quick else min(3, settings.reps)
    names = select_variants(settings, VARIANTS, result)
    runs: dict[str, list[dict[str, Any]]] = {}
    failed: set[str] = set()
    for rep in range(reps):
        for variant in harness.rotated(names, rep):
            if variant in failed:
                continue
            harness.log(f"fanout_throttled rep {rep + 1}/{reps} {variant}")
            try:
                sample = _sample(org, variant, settings)
            except (harness.ChildError, OSError, ValueError) as exc:
                failed.add(variant)
                result.errors.append(f"fanout_throttled {variant}: {exc}")
                continue
            runs.setdefault(variant, []).append(sample)
    rows = [_row(v, runs[v], org) for v in names if v in runs]
    result.raw.update(
        {
            "org": vars(org),
            "concurrency": CONCURRENCY,
            "needed": org.needed,
            "floor_s": org.floor_s,
            "reps": reps,
            "rows": rows,
        }
    )
    result.tables.append(_table(rows, org, reps))
    return result


def _row(variant: str, samples: list[dict[str, Any]], org: Org) -> dict[str, Any]:
    def pct(s: dict[str, Any]) -> float:
        return 100.0 * s["throttled"] / s["requests"] if s["requests"] else float("nan")

    errors: collections.Counter[str] = collections.Counter()
    for s in samples:
        errors.update(s["errors"])
    return {
        "variant": variant,
        "wall_s": harness.summary([s["wall_s"] for s in samples]),
        "wall_x_floor": harness.summary([s["wall_s"] / org.floor_s for s in samples]),
        "cpu_s": harness.summary([s["cpu_s"] for s in samples]),
        "roles_found": harness.summary([s["roles_found"] for s in samples]),
        "accounts_failed": harness.summary([s["accounts_failed"] for s in samples]),
        "duplicates": harness.summary([s["duplicates"] for s in samples]),
        "requests": harness.summary([s["requests"] for s in samples]),
        "throttled": harness.summary([s["throttled"] for s in samples]),
        "throttled_pct": harness.summary([pct(s) for s in samples]),
        "errors": dict(errors),
        "listing_errors": [s["listing_error"] for s in samples if s["listing_error"]],
        "samples": samples,
    }


def _table(rows: list[dict[str, Any]], org: Org, reps: int) -> Table:
    needed = org.needed
    total_needed = sum(needed.values())
    table = Table(
        title=(
            f"Fan-out under throttling ({org.accounts:,} accounts x {org.roles} roles, "
            f"{org.rate:g} req/s burst {org.burst} per operation, concurrency {CONCURRENCY}, "
            f"emulator server, median of {reps})"
        ),
        headers=[
            "contender",
            "roles found",
            "accounts lost",
            "wall s",
            "x floor",
            "requests",
            "x needed",
            "throttled",
            "throttled %",
            "client CPU ms",
            "targets",
        ],
    )
    for r in rows:
        found = r["roles_found"]
        wall_x = r["wall_x_floor"]["median"]
        pct = r["throttled_pct"]["median"]
        table.rows.append(
            [
                r["variant"],
                f"{found['median']:,.0f}/{org.expected_roles:,}",
                harness.fmt(r["accounts_failed"]["median"], 0),
                harness.fmt(r["wall_s"]["median"], 2),
                harness.fmt(wall_x, 2),
                harness.fmt(r["requests"]["median"], 0),
                harness.fmt(r["requests"]["median"] / total_needed, 2),
                harness.fmt(r["throttled"]["median"], 0),
                harness.fmt(pct, 1),
                harness.fmt(r["cpu_s"]["median"] * 1e3, 0),
                _verdict(r, org),
            ]
        )
        spread_found = found["min"] != found["max"]
        if spread_found or r["accounts_failed"]["max"]:
            per_rep = ", ".join(f"{s['roles_found']:,}" for s in r["samples"])
            lost = ", ".join(str(s["accounts_failed"]) for s in r["samples"])
            table.notes.append(
                f"{r['variant']}: roles found per repetition {per_rep}; accounts lost {lost}"
            )
        if r["variant"].startswith("aiosso") and len(r["samples"]) > 1:
            throttled = ", ".join(str(s["throttled"]) for s in r["samples"])
            walls = ", ".join(f"{s['wall_s']:.2f}" for s in r["samples"])
            table.notes.append(
                f"{r['variant']}: throttled per repetition {throttled}; wall s {walls}"
            )
        if r["errors"]:
            errs = ", ".join(f"{k} x{v}" for k, v in sorted(r["errors"].items()))
            table.notes.append(f"{r['variant']}: errors that escaped (all repetitions): {errs}")
        if r["listing_errors"]:
            table.notes.append(
                f"{r['variant']}: the account listing itself failed: {r['listing_errors']}"
            )
        if r["duplicates"]["max"]:
            table.notes.append(f"{r['variant']}: duplicate pairs yielded: {r['duplicates']}")
    table.notes += [
        f"floor = (requests needed - burst) / rate = ({needed['ListAccountRoles']} - "
        f"{org.burst}) / {org.rate:g} = {org.floor_s:.2f} s; requests needed = "
        f"{total_needed} ({needed['ListAccounts']} ListAccounts + {needed['ListAccountRoles']} "
        "ListAccountRoles; ListAccounts has its own bucket and stays within its burst).",
        "requests and throttled (429) from the emulator's /_emulator/stats, a fresh emulator per "
        "measurement; throttled % = throttled / requests; client CPU = getrusage of the client "
        "process over the fan-out.",
        "aiosso = default client, iter_account_roles(max_concurrency=50, failures=[...]); "
        "aiosso-gather = the aiobotocore code on aiosso's default client; aiobotocore-<mode> = "
        f"AioConfig(retries={{'mode': mode}}, max_pool_connections={AIOBOTOCORE_POOL}), "
        "paginators + asyncio.gather + Semaphore(50), an escaped error loses that account.",
        f"targets (aiosso, default settings): every role found, wall <= {TARGET_WALL_X_FLOOR}x "
        f"floor, <= {TARGET_THROTTLED_PCT:g}% of requests throttled.",
    ]
    return table


def _verdict(r: dict[str, Any], org: Org) -> str:
    misses = []
    if r["roles_found"]["min"] < org.expected_roles:
        misses.append("lost roles")
    if r["wall_x_floor"]["median"] > TARGET_WALL_X_FLOOR:
        misses.append(f"wall > {TARGET_WALL_X_FLOOR}x")
    if r["throttled_pct"]["median"] > TARGET_THROTTLED_PCT:
        misses.append(f"> {TARGET_THROTTLED_PCT:g}% throttled")
    return "met" if not misses else "missed: " + "; ".join(misses)
