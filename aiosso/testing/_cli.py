"""``python -m aiosso.testing``: run a PortalEmulator in the foreground until interrupted.

Kept as a ``main(argv)`` function so the ``aiosso`` command can offer it as ``aiosso emulator``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from ._emulator import PortalEmulator
from ._faults import Faults, RateLimit
from ._oidc import OIDCSettings

__all__ = ["build_parser", "main"]

PROG = "python -m aiosso.testing"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The argument parser of the emulator command (reusable as a sub-command)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a local IAM Identity Center portal emulator until SIGINT/SIGTERM. "
        "Prints 'url=<url>' and 'token=<access token>' lines on stdout once listening.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port, 0 = any (default 8765)")
    parser.add_argument("--accounts", type=int, default=3, help="generated accounts (default 3)")
    parser.add_argument("--roles", type=int, default=2, help="roles per account (default 2)")
    parser.add_argument("--page-size", type=int, default=20, help="page size cap (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed for ids, tokens and faults")
    parser.add_argument(
        "--token-ttl", type=float, default=8 * 3600.0, help="printed token lifetime, s (8 h)"
    )
    parser.add_argument("--rate", type=float, help="rate limit per token and operation, req/s")
    parser.add_argument("--burst", type=int, default=1, help="rate limit bucket size (default 1)")
    parser.add_argument(
        "--rate-scope", choices=("operation", "token"), default="operation", help="bucket scope"
    )
    parser.add_argument(
        "--retry-after", action="store_true", help="send Retry-After and x-amz-retry-after on 429"
    )
    parser.add_argument(
        "--null-next-token", action="store_true", help='last page "nextToken": null'
    )
    parser.add_argument("--latency", type=float, default=0.0, help="added latency per request, s")
    parser.add_argument("--error-rate", type=float, default=0.0, help="probability of a 5xx")
    parser.add_argument(
        "--drop-rate", type=float, default=0.0, help="probability of a dropped connection"
    )
    oidc = parser.add_argument_group("SSO-OIDC (same URL: /client/register, /token, /authorize)")
    oidc.add_argument(
        "--approval",
        choices=("auto", "deny"),
        default="auto",
        help="the emulated user's answer to device codes and /authorize (default auto)",
    )
    oidc.add_argument(
        "--device-interval", type=int, default=5, help="device-code polling interval, s (5)"
    )
    oidc.add_argument(
        "--access-token-ttl",
        type=float,
        default=3600.0,
        help="lifetime of access tokens issued by CreateToken, s (3600)",
    )
    return parser


def _emulator_from(args: argparse.Namespace) -> PortalEmulator:
    rate_limit = None
    if args.rate is not None:
        rate_limit = RateLimit(
            args.rate,
            args.burst,
            scope=args.rate_scope,
            retry_after=args.retry_after,
            amz_retry_after=args.retry_after,
        )
    faults = None
    if args.latency or args.error_rate or args.drop_rate:
        faults = Faults(
            server_error=args.error_rate, drop_connection=args.drop_rate, latency=args.latency
        )
    return PortalEmulator(
        accounts=args.accounts,
        roles_per_account=args.roles,
        page_size=args.page_size,
        token_ttl=args.token_ttl,
        rate_limit=rate_limit,
        faults=faults,
        null_next_token=args.null_next_token,
        seed=args.seed,
        host=args.host,
        port=args.port,
        oidc=OIDCSettings(
            approval=args.approval,
            device_interval=args.device_interval,
            access_token_ttl=args.access_token_ttl,
        ),
    )


async def _serve(emulator: PortalEmulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Windows has no add_signal_handler; Ctrl-C then arrives as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await emulator.start()
        print(f"url={emulator.url}", flush=True)
        print(f"token={emulator.token}", flush=True)
        await stop.wait()
    finally:
        await emulator.close()


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run the emulator until SIGINT/SIGTERM.

    Returns:
        0 after a clean shutdown; 2 for bad arguments or an address that cannot be bound (a
        one-line message on stderr).
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        emulator = _emulator_from(args)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    try:
        asyncio.run(_serve(emulator))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"{prog}: error: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 2
    return 0
