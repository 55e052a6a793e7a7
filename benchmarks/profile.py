"""``python -m benchmarks.profile``: cProfile one contender's timed loop, print the top functions.

Runs the same child as the ``per_call`` scenario (its own process, against the canned server in
another process) with the profiler enabled around the timed calls only, then prints the
functions with the most *self* time (``tottime``) and where the stats file is, for
``snakeviz``/``pstats`` later. Profiling inflates the CPU figures; use it to see where time
goes, and the ``per_call`` scenario to judge.

Example::

    python -m benchmarks.profile aiosso get_role_credentials --concurrency 1 --calls 3000
"""

from __future__ import annotations

import argparse
import io
import pstats
import sys
import tempfile
from pathlib import Path

from benchmarks import harness
from benchmarks.contenders import CONTENDERS
from benchmarks.scenarios.per_call import OPERATIONS


def main(argv: list[str] | None = None) -> int:
    """Profile one (contender, operation, concurrency); print the top ``--top`` by self time."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("contender", choices=sorted(CONTENDERS))
    parser.add_argument("operation", choices=OPERATIONS)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--out", type=Path, help="where to keep the .prof file")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.gettempdir()) / f"bench-{args.contender}-{args.operation}.prof"
    with harness.server("canned", accounts=10_000) as srv:
        result = harness.run_child(
            "benchmarks.scenarios.per_call:child",
            {
                "contender": args.contender,
                "url": srv.url,
                "token": srv.token,
                "op": args.operation,
                "concurrency": args.concurrency,
                "calls": args.calls,
                "warmup": args.warmup,
                "loop": args.loop,
                "profile": str(out),
            },
            timeout=600,
        )
    buf = io.StringIO()
    stats = pstats.Stats(str(out), stream=buf)
    stats.sort_stats("tottime").print_stats(args.top)
    print(buf.getvalue())
    print(
        f"{args.contender} {args.operation} c={args.concurrency}: "
        f"{result['cpu_us_per_call']:.1f} CPU µs/call under the profiler; stats in {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
