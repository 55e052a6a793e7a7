"""``python -m benchmarks``: run the scenarios, print tables, write the JSON of raw figures.

Examples::

    python -m benchmarks                       # everything, 5 repetitions (several minutes)
    python -m benchmarks --quick               # smoke: tiny sizes, seconds; CI runs this
    python -m benchmarks --only per_call --reps 7 --json /tmp/per_call.json
    python -m benchmarks --update-readme       # also refresh benchmarks/README.md's results

Exit status: 0 when every measurement ran (whatever the figures), 1 when a contender or scenario
crashed, 2 on a usage error. Contenders whose packages are missing are skipped and reported.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import harness, report
from benchmarks.contenders import CONTENDERS
from benchmarks.harness import ScenarioResult, Settings
from benchmarks.scenarios import discover

DEFAULT_JSON = harness.RESULTS_DIR / "latest.json"
#: matches the ``*.tmp`` ignore rule, so smoke runs never dirty the work tree.
QUICK_JSON = harness.RESULTS_DIR / "quick.json.tmp"
CHART = harness.RESULTS_DIR / "per_call.png"


def _jsonable(obj: Any) -> Any:
    """``obj`` with NaN/inf floats replaced by None, so the file is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="aiosso side by side with bare aiohttp, aiobotocore and botocore on threads.",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, 1 rep")
    parser.add_argument("--only", type=_csv, help="comma-separated scenario names (see --list)")
    parser.add_argument("--json", type=Path, help="raw figures (default results/latest.json)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument(
        "--contenders",
        type=_csv,
        default=list(Settings().contenders),
        help=f"comma-separated subset of {', '.join(CONTENDERS)}",
    )
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument(
        "--pagination-server", choices=("auto", "emulator", "canned"), default="auto"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per child process")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--update-readme", action="store_true", help="rewrite benchmarks/README.md's results"
    )
    parser.add_argument(
        "--chart", action="store_true", help="draw results/per_call.png (needs matplotlib)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the selected scenarios; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    scenarios = discover()
    if args.list:
        for sc in scenarios:
            print(f"{sc.name:<14} {sc.description}{'' if sc.default else ' (not default)'}")
        return 0
    known = {sc.name for sc in scenarios}
    if args.only and (unknown := sorted(set(args.only) - known)):
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if unknown_c := sorted(set(args.contenders) - set(CONTENDERS)):
        parser.error(f"unknown contender(s) {', '.join(unknown_c)}")
    if args.reps < 1:
        parser.error("--reps must be >= 1")
    selected = [sc for sc in scenarios if (sc.name in args.only if args.only else sc.default)]
    settings = Settings(
        quick=args.quick,
        reps=args.reps,
        contenders=tuple(args.contenders),
        loop=args.loop,
        pagination_server=args.pagination_server,
        timeout=min(args.timeout, 120.0) if args.quick else args.timeout,
    )
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = harness.machine_info()
    doc: dict[str, Any] = {
        "command": command.strip(),
        "settings": vars(args) | {"json": str(args.json), "only": args.only},
        "machine": machine,
        "scenarios": {},
    }
    errors: list[str] = []
    tables: list[harness.Table] = []
    started = time.perf_counter()
    for sc in selected:
        harness.log(f"scenario {sc.name}: {sc.description}")
        t0 = time.perf_counter()
        try:
            result = sc.run(settings)
        except Exception as exc:  # a broken scenario must not hide the others' results
            traceback.print_exc()
            result = ScenarioResult(errors=[f"{sc.name}: {type(exc).__name__}: {exc}"])
        elapsed = time.perf_counter() - t0
        doc["scenarios"][sc.name] = {
            "raw": result.raw,
            "errors": result.errors,
            "skipped": result.skipped,
            "elapsed_s": elapsed,
        }
        errors += result.errors
        tables += result.tables
        for table in result.tables:
            print(report.render_text(table), end="\n\n", flush=True)
        for skip in result.skipped:
            print(f"SKIPPED ({sc.name}) {skip}", flush=True)
    doc["elapsed_s"] = time.perf_counter() - started
    machine["loadavg_end"] = harness.loadavg()

    out = args.json or (QUICK_JSON if args.quick else DEFAULT_JSON)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(_jsonable(doc), indent=2, default=str, allow_nan=False) + "\n", encoding="utf-8"
    )
    print(f"raw figures: {out}")

    chart_rel: str | None = None
    per_call = doc["scenarios"].get("per_call", {}).get("raw")
    if args.chart and per_call and report.per_call_chart(per_call, CHART):
        chart_rel = str(CHART.relative_to(harness.BENCH_DIR))
        print(f"chart: {CHART}")
    elif args.chart:
        print("chart: skipped (matplotlib not importable or no per_call data)")
    if args.update_readme:
        report.update_readme(
            harness.BENCH_DIR / "README.md", machine, tables, doc["command"], chart_rel
        )
        print(f"updated {harness.BENCH_DIR / 'README.md'}")

    if errors:
        print(f"\nFAILED: {len(errors)} measurement(s) crashed:", file=sys.stderr)
        for err in errors:
            print(f"  - {err}", file=sys.stderr)
        return 1
    print(f"done in {doc['elapsed_s']:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
