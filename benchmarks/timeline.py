"""Timeline of a throttled fan-out: every request the emulator saw, in time buckets.

Run ``python -m benchmarks.timeline --out docs/_static/`` (needs matplotlib for the chart).

The setup is the ``fanout_throttled`` scenario's (``benchmarks/scenarios/fanout_throttled.py``):
an emulated organisation of 300 accounts x 2 roles, rate limited at 50 requests/s with a burst of
10 per token and operation, enumerated with
``client.iter_account_roles(accessToken=..., max_concurrency=50, failures=[...])`` on a default
``AsyncSSOClient``. Here the emulator runs in this process (one event loop serves both sides: a
chart of rates, not a CPU measurement), a fresh one per run, and its request log
(``PortalEmulator.requests``: time and status of every answer) is the data. A second run, the
contrast, uses ``RetryConfig(mode="standard")``: the same retries and backoff, without the
adaptive rate limiter.

Outputs, in ``--out``:

* ``fanout-timeline.csv``: one row per run, time bucket and operation: requests the emulator
  answered in that bucket (``sent``), those answered 200 (``admitted``) and 429
  (``throttled``), and the mean of the client's adaptive limiter rate sampled in the bucket
  (``limiter_rate``, empty while the limiter is off or for a run without one);
* ``fanout-timeline.svg``: ``ListAccountRoles`` requests per second over time, admitted and
  throttled stacked, against the allowed rate, one panel per run.

The limiter rate is read from the client's private retrier (``client._retrier``): this script
explains the mechanism, it is not an example of the public API.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
CSV_NAME = "fanout-timeline.csv"
SVG_NAME = "fanout-timeline.svg"
BULK = "ListAccountRoles"
CSV_HEADERS = (
    "run",
    "t_start_s",
    "t_end_s",
    "operation",
    "sent",
    "admitted",
    "throttled",
    "limiter_rate",
)

#: run name -> what it is, for the legend and the CSV's ``run`` column.
RUNS: dict[str, str] = {
    "aiosso": "aiosso, default settings (adaptive rate limiter)",
    "no-limiter": 'aiosso, RetryConfig(mode="standard"): retries and backoff, no limiter',
}


@dataclass(frozen=True)
class Setup:
    """The organisation, its rate limit and the fan-out's concurrency."""

    accounts: int = 300
    roles: int = 2
    rate: float = 50.0
    burst: int = 10
    concurrency: int = 50
    page_size: int = 100

    @property
    def floor_s(self) -> float:
        """Fastest the rate limit allows for the bulk (one ListAccountRoles per account)."""
        pages = max(1, math.ceil(self.roles / self.page_size))
        return max(0, self.accounts * pages - self.burst) / self.rate

    def describe(self) -> str:
        return (
            f"{self.accounts:,} accounts x {self.roles} roles, {self.rate:g} req/s burst "
            f"{self.burst} per operation, concurrency {self.concurrency}"
        )


@dataclass
class Run:
    """What one fan-out did, as the emulator saw it (times relative to the fan-out's start)."""

    name: str
    setup: Setup
    wall_s: float
    roles_found: int
    accounts_lost: int
    #: ``(seconds since start, operation, HTTP status or None for a dropped connection)``
    requests: list[tuple[float, str, int | None]]
    #: ``(seconds since start, limiter rate)`` for the bulk operation, while it was on.
    limiter: list[tuple[float, float]] = field(default_factory=list)
    #: the emulator's counters (``EmulatorStats.as_dict()``).
    stats: dict[str, Any] = field(default_factory=dict)

    def count(self, operation: str, status: int | None = None) -> int:
        return sum(
            1 for _, op, st in self.requests if op == operation and (status is None or st == status)
        )


@dataclass(frozen=True)
class Row:
    """One CSV row: a time bucket of one operation in one run."""

    run: str
    t_start_s: float
    t_end_s: float
    operation: str
    sent: int
    admitted: int
    throttled: int
    limiter_rate: float | None

    def as_csv(self) -> list[str]:
        rate = "" if self.limiter_rate is None else f"{self.limiter_rate:.2f}"
        return [
            self.run,
            f"{self.t_start_s:.2f}",
            f"{self.t_end_s:.2f}",
            self.operation,
            str(self.sent),
            str(self.admitted),
            str(self.throttled),
            rate,
        ]


async def record(setup: Setup, name: str = "aiosso", *, sample_every: float = 0.05) -> Run:
    """One fan-out against a fresh in-process emulator, and the emulator's request log."""
    from aiosso import AccountFailure, AsyncSSOClient, ClientConfig, RetryConfig
    from aiosso.testing import PortalEmulator, RateLimit

    config = ClientConfig(retries=RetryConfig(mode="standard")) if name == "no-limiter" else None
    emulator = PortalEmulator(
        accounts=setup.accounts,
        roles_per_account=setup.roles,
        page_size=setup.page_size,
        rate_limit=RateLimit(rate=setup.rate, burst=setup.burst),
        log_limit=max(10_000, 50 * setup.accounts),
    )
    async with emulator as emu:
        async with AsyncSSOClient(region_name=REGION, endpoint_url=emu.url, config=config) as sso:
            limiter = sso._retrier.limiter("list_account_roles")  # private: see the docstring
            samples: list[tuple[float, float]] = []
            failures: list[AccountFailure] = []
            pairs: set[tuple[str, str]] = set()
            t0 = time.time()

            async def sample() -> None:
                while limiter is not None:
                    if limiter.enabled:
                        samples.append((time.time() - t0, limiter.rate))
                    await asyncio.sleep(sample_every)

            sampler = asyncio.create_task(sample())
            try:
                async for account, role in sso.iter_account_roles(
                    accessToken=emu.token, max_concurrency=setup.concurrency, failures=failures
                ):
                    pairs.add((account["accountId"], role["roleName"]))
                wall = time.time() - t0
            finally:
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)
        requests = [
            (r.time - t0, r.operation or "Unknown", r.status)
            for r in emu.requests
            if r.operation != "Unknown"
        ]
        stats = emu.stats.as_dict()
    return Run(
        name=name,
        setup=setup,
        wall_s=wall,
        roles_found=len(pairs),
        accounts_lost=len({f.account.get("accountId") for f in failures}),
        requests=requests,
        limiter=samples,
        stats=stats,
    )


def buckets(run: Run, width: float) -> list[Row]:
    """The run's requests counted per ``width``-second bucket and operation, from t=0 to the
    last request (empty buckets included, so rates read straight off the rows)."""
    operations = sorted({op for _, op, _ in run.requests})
    last = max((t for t, _, _ in run.requests), default=0.0)
    n = max(1, math.floor(max(0.0, last) / width) + 1)
    counts = {op: [[0, 0, 0] for _ in range(n)] for op in operations}
    for t, op, status in run.requests:
        i = min(n - 1, max(0, math.floor(t / width)))
        cell = counts[op][i]
        cell[0] += 1
        cell[1] += status == 200
        cell[2] += status == 429
    rates: list[list[float]] = [[] for _ in range(n)]
    for t, rate in run.limiter:
        i = math.floor(t / width)
        if 0 <= i < n:
            rates[i].append(rate)
    rows = []
    for op in operations:
        for i, (sent, admitted, throttled) in enumerate(counts[op]):
            limiter_rate = None
            if op == BULK and rates[i]:
                limiter_rate = sum(rates[i]) / len(rates[i])
            rows.append(
                Row(
                    run.name,
                    i * width,
                    (i + 1) * width,
                    op,
                    sent,
                    admitted,
                    throttled,
                    limiter_rate,
                )
            )
    return rows


def write_csv(rows: Iterable[Row], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CSV_HEADERS)
        writer.writerows(row.as_csv() for row in rows)


def summary(run: Run) -> str:
    """One line of figures for a run (the chart's panel titles and the console)."""
    total = len(run.requests)
    throttled = sum(1 for _, _, st in run.requests if st == 429)
    pct = 100.0 * throttled / total if total else 0.0
    expected = run.setup.accounts * run.setup.roles
    return (
        f"{run.roles_found}/{expected} roles, {run.accounts_lost} accounts lost, "
        f"{run.wall_s:.2f} s ({run.wall_s / run.setup.floor_s:.2f}x the floor), "
        f"{total} requests, {throttled} throttled ({pct:.1f} %)"
    )


def admitted_rate(run: Run, operation: str = BULK) -> float:
    """Admitted requests per second of ``operation`` between its first and last answer."""
    times = sorted(t for t, op, st in run.requests if op == operation and st == 200)
    if len(times) < 2:
        return float("nan")
    return (len(times) - 1) / (times[-1] - times[0])


def draw(runs: Sequence[Run], width: float, path: Path) -> None:
    """The SVG: one panel per run, the bulk operation's requests per second, stacked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    plt.rcParams.update(
        {"svg.hashsalt": "aiosso-fanout-timeline", "svg.fonttype": "none", "font.size": 9}
    )
    setup = runs[0].setup
    horizon = max(max((t for t, _, _ in r.requests), default=0.0) for r in runs) + width
    fig, axes = plt.subplots(
        len(runs), 1, figsize=(8.0, 2.6 * len(runs) + 0.6), sharex=True, squeeze=False
    )
    for ax, run in zip(axes[:, 0], runs, strict=True):
        rows = [row for row in buckets(run, width) if row.operation == BULK]
        left = [row.t_start_s for row in rows]
        ok = [row.admitted / width for row in rows]
        bad = [row.throttled / width for row in rows]
        top = max(
            [
                setup.rate,
                *(a + b for a, b in zip(ok, bad, strict=True)),
                *(r for _, r in run.limiter),
            ]
        )
        ax.bar(left, ok, width=width, align="edge", color="#4c72b0", label="admitted (200)")
        ax.bar(
            left,
            bad,
            width=width,
            align="edge",
            bottom=ok,
            color="#dd5555",
            label="throttled (429)",
        )
        ax.axhline(setup.rate, color="black", linestyle="--", linewidth=1)
        ax.annotate(
            f"allowed: {setup.rate:g} req/s",
            xy=(horizon, setup.rate),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            va="bottom",
        )
        if run.limiter:
            ts, rates = zip(*run.limiter, strict=True)
            ax.plot(ts, rates, color="#2a9d3f", linewidth=1.2, label="aiosso's limiter rate")
        ax.set_title(f"{RUNS.get(run.name, run.name)}\n{summary(run)}", fontsize=9)
        ax.set_ylabel(f"{BULK} req/s")
        ax.legend(loc="upper right", fontsize=8, frameon=False)
        ax.set_ylim(0, top * 1.2)
        ax.set_xlim(0, horizon)
    axes[-1, 0].set_xlabel(f"seconds since the fan-out started ({width:g} s buckets)")
    fig.suptitle(f"Fan-out under throttling: {setup.describe()}", fontsize=10)
    fig.tight_layout()
    if path.suffix == ".svg":
        fig.savefig(path, format="svg", metadata={"Date": None})
    else:  # a preview
        fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.timeline", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV and SVG")
    parser.add_argument("--accounts", type=int, default=Setup.accounts)
    parser.add_argument("--roles", type=int, default=Setup.roles)
    parser.add_argument("--rate", type=float, default=Setup.rate)
    parser.add_argument("--burst", type=int, default=Setup.burst)
    parser.add_argument("--concurrency", type=int, default=Setup.concurrency)
    parser.add_argument("--bucket", type=float, default=0.25, help="seconds per bucket")
    parser.add_argument(
        "--no-contrast", action="store_true", help="only the default client, no no-limiter run"
    )
    parser.add_argument("--no-chart", action="store_true", help="write the CSV only")
    args = parser.parse_args(argv)
    setup = Setup(
        accounts=args.accounts,
        roles=args.roles,
        rate=args.rate,
        burst=args.burst,
        concurrency=args.concurrency,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    runs = []
    for name in ["aiosso"] if args.no_contrast else list(RUNS):
        run = asyncio.run(record(setup, name))
        rate = admitted_rate(run)
        print(f"{name}: {summary(run)}; {BULK} admitted at {rate:.1f} req/s", file=sys.stderr)
        runs.append(run)
    write_csv([row for run in runs for row in buckets(run, args.bucket)], args.out / CSV_NAME)
    if not args.no_chart:
        draw(runs, args.bucket, args.out / SVG_NAME)
    print(f"wrote {args.out / CSV_NAME}" + ("" if args.no_chart else f", {args.out / SVG_NAME}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
