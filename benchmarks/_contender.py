"""Child-process entry point: run one measurement in a fresh interpreter, print its JSON.

Usage (the harness builds these command lines; you rarely type one)::

    python -m benchmarks._contender --entry benchmarks.scenarios.per_call:child \\
        --params '{"contender": "aiosso", "url": "http://127.0.0.1:8080", ...}'

``--entry`` names a function ``f(params: dict) -> dict`` in any module; its JSON-serialisable
result is printed on one stdout line prefixed with :data:`RESULT_MARKER`, so stray output from
the code under test cannot be mistaken for the result. An exception exits non-zero with the
traceback on stderr; the harness reports that contender as crashed.

Only the standard library is imported before the entry function runs, so an entry that measures
import time sees a clean interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

RESULT_MARKER = "@@BENCH-RESULT@@ "

_T = TypeVar("_T")


def run_loop(main: Callable[[], Coroutine[Any, Any, _T]], loop: str = "asyncio") -> _T:
    """Run ``main()`` to completion on a fresh event loop of the named kind.

    Args:
        main: the coroutine function to run.
        loop: ``"asyncio"`` (the stdlib loop, what most services run) or ``"uvloop"``.

    Returns:
        Whatever ``main()`` returns.
    """
    if loop == "uvloop":
        import uvloop

        result: _T = uvloop.run(main())
        return result
    if loop != "asyncio":
        raise ValueError(f"unknown event loop {loop!r}")
    return asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    """Parse ``--entry``/``--params``, call the entry, print its result; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._contender")
    parser.add_argument("--entry", required=True, help="module:function to call")
    parser.add_argument("--params", default="{}", help="JSON object passed to the function")
    args = parser.parse_args(argv)
    module_name, _, func_name = args.entry.partition(":")
    func = getattr(importlib.import_module(module_name), func_name)
    result = func(json.loads(args.params))
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
