"""``python -m benchmarks.instructions``: instructions per call, counted by callgrind.

getrusage on a shared 2-core machine drifts by ±20 % between runs; an instruction count does
not: the same binary, inputs and environment give the same total whatever else the machine
is doing. This runs the ``per_call`` child (:mod:`benchmarks.scenarios.per_call`) under
``valgrind --tool=callgrind`` twice per (contender, operation, concurrency), with a small and
a large number of timed calls and the same warm-up, and reports

    instructions per call = (I(large) - I(small)) / (large - small)

so that interpreter start-up, imports and warm-up cancel out (a first, uncounted run per
contender writes the bytecode caches, which would otherwise be counted once). The figure is
the client
process only (the canned server runs natively in its own process). Slow: valgrind runs the
child about 50x slower, so a full table takes a few minutes per contender.

Example::

    python -m benchmarks.instructions --contenders aiosso,floor,floor-tuned --concurrency 1
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import harness
from benchmarks._contender import RESULT_MARKER
from benchmarks.contenders import CONTENDERS
from benchmarks.scenarios.per_call import OPERATIONS

_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def _count(params: dict[str, object], out: Path) -> int:
    """Instructions the per_call child executes with ``params``, counted by callgrind."""
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "benchmarks._contender",
        "--entry",
        "benchmarks.scenarios.per_call:child",
        "--params",
        json.dumps(params),
    ]
    proc = subprocess.run(
        cmd,
        cwd=harness.REPO_ROOT,
        env=harness.child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if proc.returncode != 0 or RESULT_MARKER not in proc.stdout:
        raise harness.ChildError(f"callgrind child failed:\n{proc.stderr[-2000:]}")
    match = _TOTALS.search(out.read_text())
    if match is None:
        raise harness.ChildError(f"no totals line in {out}")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    """Print a table of instructions per call; return 0 (1 if a child failed)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--contenders", default="aiosso,aiosso-session,floor,floor-tuned")
    parser.add_argument("--operations", default=",".join(OPERATIONS))
    parser.add_argument("--concurrency", default="1,100", help="comma-separated, e.g. 1,100")
    parser.add_argument("--calls", default="200,1200", help="the small and the large count")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 1
    names = [n for n in args.contenders.split(",") if n]
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        parser.error(f"unknown contenders: {', '.join(unknown)}")
    small, large = (int(n) for n in args.calls.split(","))
    rows: list[tuple[str, int, str, float]] = []
    failed = False
    primed: set[tuple[str, str]] = set()
    with harness.server("canned", accounts=10_000) as srv, tempfile.TemporaryDirectory() as tmp:
        for op in args.operations.split(","):
            for conc in (int(c) for c in args.concurrency.split(",")):
                for name in names:
                    base = {
                        "contender": name,
                        "url": srv.url,
                        "token": srv.token,
                        "op": op,
                        "concurrency": conc,
                        "warmup": args.warmup,
                    }
                    try:
                        if (name, op) not in primed:  # compiles changed modules' bytecode
                            _count({**base, "calls": 1, "warmup": 1}, Path(tmp) / "prime")
                            primed.add((name, op))
                        low = _count({**base, "calls": small}, Path(tmp) / "low")
                        high = _count({**base, "calls": large}, Path(tmp) / "high")
                    except harness.ChildError as exc:
                        print(f"{op} c={conc} {name}: {exc}", file=sys.stderr)
                        failed = True
                        continue
                    per_call = (high - low) / (large - small)
                    rows.append((op, conc, name, per_call))
                    print(f"{op} c={conc} {name}: {per_call / 1000:.0f}k", flush=True)
    print()
    print("| operation | c | contender | instructions/call | x floor | x floor-tuned |")
    print("|---|---|---|---|---|---|")
    for op, conc, name, per_call in rows:
        ref = {n: v for o, c, n, v in rows if o == op and c == conc}
        floor, tuned = ref.get("floor"), ref.get("floor-tuned")
        x_floor = f"{per_call / floor:.2f}" if floor else "-"
        x_tuned = f"{per_call / tuned:.2f}" if tuned else "-"
        print(f"| {op} | {conc} | {name} | {per_call / 1000:.0f}k | {x_floor} | {x_tuned} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
