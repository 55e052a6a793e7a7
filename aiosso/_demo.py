"""``aiosso demo``: the main job end to end on the built-in emulator.

Starts a throttling portal emulator in-process, enumerates every account and role with a
progress bar, fetches credentials for a sample through the single-flight cache, and prints a
summary with the rate floor the service's limit implies.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import TextIO

from aiosso._progress import ProgressBar


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options (sizes of the organisation and of the throttle)."""
    parser.add_argument("--accounts", type=int, default=300, help="accounts (default 300)")
    parser.add_argument("--roles", type=int, default=3, help="roles per account (default 3)")
    parser.add_argument(
        "--rate", type=float, default=50.0, help="requests/s the service allows (default 50)"
    )
    parser.add_argument("--burst", type=int, default=10, help="service burst size (default 10)")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="accounts listed at once (default 32)"
    )
    parser.add_argument(
        "--sample", type=int, default=20, help="role credentials to fetch (default 20)"
    )
    parser.add_argument(
        "--callers", type=int, default=1000, help="concurrent credential requests (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the organisation")


def _check(args: argparse.Namespace) -> str | None:
    for name in ("accounts", "roles", "concurrency", "burst", "callers"):
        if getattr(args, name) < 1:
            return f"--{name} must be at least 1"
    if args.rate <= 0:
        return "--rate must be greater than 0"
    if args.sample < 0:
        return "--sample must be 0 or more"
    return None


async def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the demo; returns the exit code."""
    # Imported here: building the command line's parser (``aiosso --help``) must stay light.
    import asyncio

    from aiosso.client import AsyncSSOClient
    from aiosso.credentials import CredentialCache
    from aiosso.testing import PortalEmulator, RateLimit

    problem = _check(args)
    if problem:
        err.write(f"aiosso demo: error: {problem}\n")
        return 2
    limit = RateLimit(rate=args.rate, burst=args.burst)
    async with PortalEmulator(
        accounts=args.accounts,
        roles_per_account=args.roles,
        page_size=100,
        rate_limit=limit,
        seed=args.seed,
        log_limit=4 * args.accounts * (1 + args.roles // 100) + 1000,
    ) as emu:
        out.write(
            f"Emulated IAM Identity Center at {emu.url}: {args.accounts} accounts x "
            f"{args.roles} roles, throttled at {args.rate:g} req/s (burst {args.burst}).\n"
        )
        out.flush()
        async with AsyncSSOClient(endpoint_url=emu.url) as client:
            bar = ProgressBar("Enumerating", stream=err)
            start = time.monotonic()
            pairs: list[tuple[str, str]] = []
            accounts: set[str] = set()

            def on_progress(p: object) -> None:
                done = getattr(p, "accounts_done", 0)
                seen = getattr(p, "accounts_seen", 0)
                listed = getattr(p, "listing_done", False)
                rps = emu.stats.total / max(time.monotonic() - start, 1e-9)
                suffix = f"accounts  {len(pairs)} roles  {rps:.0f} req/s"
                # Until every account is listed, what was seen is only a lower bound.
                bar.update(done, max(seen, done), suffix, at_least=not listed)

            async for account, role in client.iter_account_roles(
                accessToken=emu.token, max_concurrency=args.concurrency, progress=on_progress
            ):
                accounts.add(account["accountId"])
                pairs.append((account["accountId"], role["roleName"]))
            bar.update(len(accounts), len(accounts), f"accounts  {len(pairs)} roles", force=True)
            bar.close()
            elapsed = time.monotonic() - start
            listing = emu.stats
            successes: dict[str, int] = {}
            for record in emu.requests:
                if record.status == 200 and record.operation:
                    successes[record.operation] = successes.get(record.operation, 0) + 1

            sample = random.Random(args.seed).sample(pairs, min(args.sample, len(pairs)))
            cred_start = time.monotonic()
            async with CredentialCache(client, accessToken=emu.token) as cache:
                callers = [sample[i % len(sample)] for i in range(args.callers)] if sample else []
                results = await asyncio.gather(*(cache.get(a, r) for a, r in callers))
            cred_elapsed = time.monotonic() - cred_start
            total = emu.stats

    expected = args.accounts * args.roles
    requests = listing.total
    # Each operation has its own bucket: the busiest one sets the floor.
    floor = max((max(0, n - args.burst) / args.rate for n in successes.values()), default=0.0)
    cred_requests = total.requests.get("GetRoleCredentials", 0)
    lines = [
        "",
        f"accounts            {len(accounts):>8}",
        f"roles               {len(pairs):>8}   (expected {expected})",
        f"requests            {requests:>8}",
        f"throttled (429)     {listing.throttled:>8}   "
        f"({listing.throttled / max(requests, 1):.1%})",
        f"elapsed             {elapsed:>8.2f} s",
        f"requests/s          {requests / max(elapsed, 1e-9):>8.1f}   (allowed {args.rate:g})",
        f"rate floor          {floor:>8.2f} s   "
        f"(elapsed = {elapsed / max(floor, 1e-9):.2f}x floor)",
        f"credentials         {len(results):>8} concurrent gets for {len(sample)} roles -> "
        f"{cred_requests} requests (throttled retries included) in {cred_elapsed:.2f} s",
    ]
    out.write("\n".join(lines) + "\n")
    if len(pairs) != expected or len(set(pairs)) != len(pairs):
        err.write("aiosso demo: error: the enumeration lost or duplicated roles\n")
        return 1
    return 0


def main(args: argparse.Namespace) -> int:
    """Entry point used by ``aiosso demo``."""
    import asyncio

    return asyncio.run(run(args, sys.stdout, sys.stderr))
