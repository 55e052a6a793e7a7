"""The documentation's examples, found and run (``test_docs_examples.py``).

Two halves, one file:

- **The collector** (:func:`collect`, :func:`parse`) finds every fenced block of ``README.md``
  and ``docs/**/*.md`` (``docs/_build`` excluded; Markdown files that a page pulls in with a
  MyST ``{include}`` too), with its page, line, language and the ``docs-test`` marker on the
  line before it, and reports what breaks the rules (:attr:`Collection.problems`).
- **The runner** (this file's ``_main``, in a ``python -c`` process of its own, driven by
  :func:`run_page`) runs one page's ``python`` and ``sh`` blocks in page order: python blocks in
  one namespace, like ``python -m asyncio`` (top-level ``await``), ``sh`` blocks with
  ``bash -euo pipefail``, ``<!-- docs-test: pytest -->`` blocks as test modules of one fresh
  project (one per page) under one ``python -m pytest``. Each block's stdout and stderr go to
  files of their own, and the runner reports on a status pipe which block starts, passes or
  fails.

Only the standard library is imported here: the runner must start fast and must not hand the
examples anything that a user's interpreter would not have.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import traceback
import types
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BLOCK_TIMEOUT",
    "PAGES_VARIABLE",
    "REDIS_URL",
    "ROOT",
    "Block",
    "Collection",
    "PageRun",
    "collect",
    "parse",
    "pytest_config",
    "run_page",
]

ROOT = Path(__file__).resolve().parents[1]
PAGES_VARIABLE = "AIOSSO_DOCS_PAGES"
"""A folder (or a Markdown file) to collect instead of README.md and docs/ (for developing)."""

REDIS_URL = "redis://127.0.0.1:6379/0"
"""A block naming this URL gets a real redis-server's URL in its place."""

BLOCK_TIMEOUT = 60.0
"""Seconds each block may take."""

RUN_LANGUAGES = frozenset({"python", "sh"})
"""The fence languages that run, spelled exactly so."""

# Spellings of a runnable language that would otherwise be silently left out: the guard
# refuses them, so that every python or shell example is either run or skipped on purpose.
_NEAR_MISSES = frozenset(
    {
        "py",
        "py3",
        "python3",
        "pycon",
        "ipython",
        "ipython3",
        "bash",
        "shell",
        "console",
        "zsh",
        "ksh",
        "shell-session",
        "shellsession",
        "bash-session",
        "sh-session",
        "terminal",
    }
)
# MyST directives that render code: a python or shell body there would not run.
_CODE_DIRECTIVES = frozenset({"{code-block}", "{code}", "{sourcecode}", "{code-cell}"})

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<value>.*?)\s*-->\s*$")
_INCLUDE = re.compile(r"^\{include\}\s+(?P<target>\S+\.md)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    page: str
    """The page's path as shown in test ids and messages (relative to the collected root)."""
    path: Path
    """The page's file."""
    line: int
    """The 1-based line of the opening fence."""
    info: str
    """The fence's info string (``python``, ``{eval-rst}``, ...)."""
    code: str
    """The block's text, the fence's indentation removed."""
    marker: str | None = None
    """The ``docs-test:`` marker's value on the line before the fence, if any."""

    @property
    def where(self) -> str:
        """``page:line``."""
        return f"{self.page}:{self.line}"

    @property
    def language(self) -> str:
        """The info string's first word (``""`` for a bare fence)."""
        return self.info.split()[0] if self.info.split() else ""

    @property
    def skip_reason(self) -> str | None:
        """The reason of a ``skip:`` marker (``""`` when it gives none)."""
        if self.marker is None or not re.match(r"skip\b", self.marker):
            return None
        return self.marker[4:].lstrip(" :").strip()

    @property
    def kind(self) -> str | None:
        """``"python"``, ``"sh"`` or ``"pytest"`` for a block that runs, else ``None``."""
        if self.language not in RUN_LANGUAGES or self.skip_reason is not None:
            return None
        if self.marker == "pytest":
            return "pytest" if self.language == "python" else None
        return self.language

    @property
    def runnable(self) -> bool:
        """A ``python`` or ``sh`` block, run unless skipped."""
        return self.language in RUN_LANGUAGES


@dataclass
class Collection:
    """The blocks of every page, and the rules they break."""

    blocks: list[Block] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def pages(self) -> list[str]:
        """The pages holding at least one block that runs, in collection order."""
        return list(dict.fromkeys(b.page for b in self.blocks if b.kind is not None))

    def page_blocks(self, page: str) -> list[Block]:
        """Every block of ``page``, in page order."""
        return [b for b in self.blocks if b.page == page]

    def skipped(self) -> list[Block]:
        """The python and sh blocks excluded by a ``skip`` marker."""
        return [b for b in self.blocks if b.runnable and b.skip_reason is not None]


def parse(text: str, page: str, path: Path | None = None) -> tuple[list[Block], list[str]]:
    """The fenced blocks of one Markdown text, and the rules they break (``page:line: ...``).

    Fences are CommonMark's: three or more backticks (or tildes), closed by a fence of the same
    character at least as long; a longer fence can hold shorter ones, which are its text."""
    lines = text.splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    used_markers: set[int] = set()
    fenced: set[int] = set()  # 0-based numbers of the lines of fenced blocks, fences included
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            index += 1
            continue
        fence, indent, info = opening["fence"], len(opening["indent"]), opening["info"].strip()
        start = index
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        index += 1
        body: list[str] = []
        while index < len(lines) and not closing.match(lines[index]):
            body.append(_unindent(lines[index], indent))
            index += 1
        if index == len(lines):
            problems.append(f"{page}:{start + 1}: the fence is never closed")
        index += 1
        fenced.update(range(start, index))
        marker = None
        if start > 0 and (found := _MARKER.match(lines[start - 1])):
            marker = found["value"]
            used_markers.add(start - 1)
        block = Block(
            page=page,
            path=path if path is not None else Path(page),
            line=start + 1,
            info=info,
            code="\n".join(body) + "\n" if body else "",
            marker=marker,
        )
        blocks.append(block)
        problems.extend(_check(block))
    for number, line in enumerate(lines):
        if (
            "docs-test" in line
            and line.lstrip().startswith("<!--")
            and number not in used_markers | fenced
        ):
            problems.append(
                f"{page}:{number + 1}: a docs-test marker must be an HTML comment on the line "
                f"right before a ```python or ```sh fence: {line.strip()}"
            )
    return blocks, problems


def _unindent(line: str, indent: int) -> str:
    """``line`` without up to ``indent`` leading spaces (the opening fence's indentation)."""
    stripped = len(line) - len(line.lstrip(" "))
    return line[min(stripped, indent) :]


def _check(block: Block) -> list[str]:
    """What is wrong with one block under the rules of the docs' examples."""
    where, language = block.where, block.language
    lowered = language.lower()
    problems = []
    if not language:
        problems.append(
            f"{where}: a fence without a language: write ```python or ```sh (run), or "
            "```text (not run)"
        )
    elif language not in RUN_LANGUAGES and (lowered in RUN_LANGUAGES or lowered in _NEAR_MISSES):
        problems.append(
            f"{where}: ```{language} is not run: write ```python or ```sh (run, or skipped "
            "with a marker), or ```text for output and prompts"
        )
    elif language in _CODE_DIRECTIVES:
        argument = block.info.split()[1:2]
        if argument and (argument[0].lower() in RUN_LANGUAGES | _NEAR_MISSES):
            problems.append(
                f"{where}: ```{language} {argument[0]} is not run: write a plain ```python or "
                "```sh fence"
            )
    if block.marker is None:
        if language == "python" and re.search(r"^(async )?def test_", block.code, re.M):
            problems.append(
                f"{where}: a pytest test module: mark it <!-- docs-test: pytest --> so that "
                "pytest runs it (as a script it would only define the tests)"
            )
        return problems
    if block.marker == "pytest":
        if language != "python":
            problems.append(f"{where}: <!-- docs-test: pytest --> marks ```python blocks only")
    elif block.skip_reason is not None:
        if not block.skip_reason:
            problems.append(f"{where}: a skip marker needs a reason: <!-- docs-test: skip: why -->")
        elif not block.runnable:
            problems.append(f"{where}: a skip marker on a ```{language} block, which never runs")
    else:
        problems.append(
            f"{where}: unknown marker {block.marker!r}: use <!-- docs-test: skip: reason --> "
            "or <!-- docs-test: pytest -->"
        )
    return problems


def default_pages() -> list[tuple[str, Path]]:
    """``(page, file)`` for README.md and docs/**/*.md, or for ``$AIOSSO_DOCS_PAGES``."""
    override = os.environ.get(PAGES_VARIABLE)
    if override:
        base = Path(override).resolve()
        if base.is_file():
            return [(base.name, base)]
        return [(p.relative_to(base).as_posix(), p) for p in sorted(base.rglob("*.md"))]
    found = [("README.md", ROOT / "README.md")]
    docs = ROOT / "docs"
    for path in sorted(docs.rglob("*.md")) if docs.is_dir() else []:
        parts = path.relative_to(docs).parts
        if parts[0] == "_build" or any(p.startswith(".") for p in parts):
            continue
        found.append((path.relative_to(ROOT).as_posix(), path))
    return found


def collect(pages: Iterable[tuple[str, Path]] | None = None) -> Collection:
    """Every block of ``pages`` (default: :func:`default_pages`), and of the Markdown files
    they ``{include}``, each file once."""
    queue = list(default_pages() if pages is None else pages)
    seen: set[Path] = set()
    collection = Collection()
    while queue:
        page, path = queue.pop(0)
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        blocks, problems = parse(path.read_text(encoding="utf-8"), page, path)
        collection.blocks.extend(blocks)
        collection.problems.extend(problems)
        for block in blocks:
            included = _INCLUDE.match(block.info)
            if included is None:
                continue
            target = (path.parent / included["target"]).resolve()
            if target.is_file():
                try:
                    name = target.relative_to(ROOT).as_posix()
                except ValueError:
                    name = target.name
                queue.append((name, target))
    return collection


TESTING_PAGE = "docs/howto/test-with-the-emulator.md"
"""The page that shows readers how to configure pytest for the emulator's fixtures."""


def pytest_config(collection: Collection, page: str) -> str:
    """The pytest configuration shown to readers: the first ```toml block on ``page`` that sets
    ``asyncio_mode``, else the testing how-to's (:data:`TESTING_PAGE`), else README.md's, else
    the same settings written here."""
    tomls = [
        b
        for b in collection.blocks
        if b.language == "toml" and "asyncio_mode" in b.code and "[tool.pytest" in b.code
    ]
    for block in sorted(tomls, key=lambda b: (b.page != page, b.page != TESTING_PAGE)):
        return block.code
    readme, _ = parse((ROOT / "README.md").read_text(encoding="utf-8"), "README.md")
    for block in readme:
        if block.language == "toml" and "asyncio_mode" in block.code:
            return block.code
    return (
        '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
        'asyncio_default_fixture_loop_scope = "function"\n'
    )


# --------------------------------------------------------------------------- the parent side


@dataclass
class PageRun:
    """How one page's run went."""

    page: str
    passed: list[Block] = field(default_factory=list)
    failure: str | None = None
    """Why the run failed: the block's ``page:line``, what happened, its output's tail."""
    seconds: float = 0.0
    outputs: dict[int, tuple[str, str]] = field(default_factory=dict)
    """Each run block's stdout and stderr, by line."""
    timings: dict[int, float] = field(default_factory=dict)
    """Each passed block's seconds, by line."""


def _tail(text: str, lines: int) -> str:
    kept = text.splitlines()[-lines:]
    return "\n".join(("    " + line) for line in kept) if kept else "    (nothing)"


async def run_page(
    blocks: Sequence[Block],
    *,
    env: dict[str, str],
    cwd: Path,
    outdir: Path,
    pytest_config: str,
    timeout: float = BLOCK_TIMEOUT,
    substitutions: dict[str, str] | None = None,
) -> PageRun:
    """Run the blocks (each with ``kind`` set) in one runner process, in order, and wait.

    The runner gets its own session: whatever a block leaves running in the background is
    killed with it at the end."""
    page = blocks[0].page if blocks else "?"
    result = PageRun(page)
    spec_path = _write_spec(blocks, outdir, timeout, pytest_config, substitutions or {})
    started = time.monotonic()
    with (outdir / "runner.err").open("wb") as runner_err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _RUNNER_BOOT,
            __file__,
            str(spec_path),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=runner_err,
            start_new_session=True,
        )
    assert proc.stdout is not None
    current: int | None = None
    try:
        while True:
            try:
                raw = await asyncio.wait_for(proc.stdout.readline(), timeout + 10.0)
            except asyncio.TimeoutError:
                where = blocks[current].where if current is not None else page
                result.failure = f"{where}: no answer from the runner within {timeout + 10} s"
                break
            if not raw:
                break
            event = json.loads(raw)
            if event["event"] == "start":
                current = event["index"]
                continue
            if event["event"] == "end":
                if event["problems"]:
                    result.failure = f"{page}: after the last block:\n" + "\n".join(
                        event["problems"]
                    )
                break
            assert current is not None
            block = blocks[current]
            out, err = _outputs(outdir, current)
            result.outputs[block.line] = (out, err)
            if event["event"] == "ok":
                result.passed.append(block)
                result.timings[block.line] = event["seconds"]
            else:
                result.failure = (
                    f"{block.where}: {block.kind} block failed: {event['reason']}\n"
                    f"--- its stderr (tail) ---\n{_tail(err, 40)}\n"
                    f"--- its stdout (tail) ---\n{_tail(out, 15)}"
                )
                break
    finally:
        _kill_group(proc.pid)
        await proc.wait()
        result.seconds = time.monotonic() - started
    if result.failure is None and len(result.passed) != len(blocks):
        runner_stderr = (outdir / "runner.err").read_text(errors="replace")
        where = blocks[current].where if current is not None else page
        result.failure = (
            f"{where}: the runner stopped (exit {proc.returncode})\n{_tail(runner_stderr, 40)}"
        )
    return result


def _write_spec(
    blocks: Sequence[Block],
    outdir: Path,
    timeout: float,
    pytest_config: str,
    substitutions: dict[str, str],
) -> Path:
    """The runner's instructions, as a JSON file in ``outdir``."""
    outdir.mkdir(parents=True, exist_ok=True)
    spec = {
        "page": blocks[0].page if blocks else "?",
        "path": str(blocks[0].path.resolve()) if blocks else "",
        "outdir": str(outdir),
        "timeout": timeout,
        "pytest_config": pytest_config,
        "blocks": [
            {
                "line": b.line,
                "kind": b.kind,
                "code": _substitute(b.code, substitutions),
                "where": b.where,
            }
            for b in blocks
        ],
    }
    path = outdir / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def _substitute(code: str, substitutions: dict[str, str]) -> str:
    for old, new in substitutions.items():
        code = code.replace(old, new)
    return code


def _outputs(outdir: Path, index: int) -> tuple[str, str]:
    paths = (outdir / f"block-{index}.out", outdir / f"block-{index}.err")
    return tuple(p.read_text(errors="replace") if p.exists() else "" for p in paths)  # type: ignore[return-value]


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------- the runner


class BlockTimeout(BaseException):
    """The block ran past its time (a BaseException: ``except Exception`` does not catch it)."""


# The pyproject's warning filters: the examples meet what the test suite meets.
_WARNING_FILTERS = (
    ("error", "", Warning, ""),
    ("ignore", "datetime.datetime.utcnow", DeprecationWarning, "botocore"),
    ("ignore", "datetime.datetime.utcfromtimestamp", DeprecationWarning, "botocore"),
)


class _Troubles(logging.Handler):
    """What must fail a block though nothing raised: exceptions ignored in ``__del__`` (a
    ResourceWarning, "coroutine ... was never awaited", both errors here) and asyncio's errors
    ("Task was destroyed but it is pending!", "Unclosed client session", ...)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.found.append(f"asyncio logged: {record.getMessage()}")

    def unraisable(self, info: object) -> None:
        exc = getattr(info, "exc_value", None)
        message = getattr(info, "err_msg", None) or "Exception ignored in"
        self.found.append(f"{message}: {type(exc).__name__}: {exc}")

    def take(self) -> list[str]:
        found, self.found = self.found, []
        return found


class _Session:
    """One page's blocks, run in order in one namespace and one event loop."""

    def __init__(self, spec: dict[str, object]) -> None:
        self.spec = spec
        self.page_path = str(spec["path"])
        self.outdir = Path(str(spec["outdir"]))
        self.timeout = float(spec["timeout"])  # type: ignore[arg-type]
        self.status = os.fdopen(os.dup(1), "w", buffering=1)
        self.module = types.ModuleType("__main__")
        self.module.__dict__["__builtins__"] = __builtins__
        sys.modules["__main__"] = self.module
        self.loop = asyncio.new_event_loop()
        self.troubles = _Troubles()
        logging.getLogger("asyncio").addHandler(self.troubles)
        sys.unraisablehook = self.troubles.unraisable
        warnings.resetwarnings()
        for action, message, category, module in reversed(_WARNING_FILTERS):
            warnings.filterwarnings(action, message, category, module)  # type: ignore[arg-type]
        signal.signal(signal.SIGALRM, self._alarm)
        self._pytest_run: tuple[set[int], str] | None = None

    def _alarm(self, signum: int, frame: object) -> None:
        raise BlockTimeout

    def emit(self, **event: object) -> None:
        self.status.write(json.dumps(event) + "\n")

    def run(self) -> None:
        blocks: list[dict[str, object]] = self.spec["blocks"]  # type: ignore[assignment]
        for index, block in enumerate(blocks):
            self.emit(event="start", index=index)
            self._redirect(index)
            started = time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
            try:
                reason = self._run_block(block)
            except BlockTimeout:
                self._print_hang()
                reason = f"did not finish within {self.timeout:g} s"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if reason is None:
                reason = self._leftovers()
            if reason is None:
                gc.collect()
                troubles = self.troubles.take()
                if troubles:
                    for trouble in troubles:
                        print(trouble, file=sys.stderr)
                    reason = "; ".join(troubles)
            sys.stdout.flush()
            sys.stderr.flush()
            if reason is not None:
                self.emit(event="fail", index=index, reason=reason)
                return
            self.emit(event="ok", index=index, seconds=time.monotonic() - started)
        self._redirect(len(blocks))
        self._close_loop()
        self.module.__dict__.clear()
        gc.collect()
        self.emit(event="end", problems=self.troubles.take())

    def _leftovers(self) -> str | None:
        """A process the block started and left running (2 s to finish stopping), if any.

        The runner leads its own process group, which every process a block starts joins
        (background jobs of a non-interactive bash too); Linux's /proc tells which still run.
        """
        deadline = time.monotonic() + 2.0
        while True:
            running = _group_members(os.getpgid(0), exclude=os.getpid())
            if not running or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if not running:
            return None
        for pid, command in running:
            print(f"still running: pid {pid}: {command}", file=sys.stderr)
        return (
            "the block left a process running (start a server in the background and stop it "
            f"in the same block): {running[0][1]}"
        )

    def _close_loop(self) -> None:
        """What ``asyncio.run()`` does after its coroutine: cancel what is left, finish async
        generators and the default executor, close."""
        loop = self.loop
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()

    def _redirect(self, index: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, suffix in ((1, "out"), (2, "err")):
            target = os.open(
                self.outdir / f"block-{index}.{suffix}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            )
            os.dup2(target, fd)
            os.close(target)

    def _run_block(self, block: dict[str, object]) -> str | None:
        kind, code, line = str(block["kind"]), str(block["code"]), int(block["line"])  # type: ignore[call-overload]
        if kind == "sh":
            return self._run_sh(code, str(block["where"]))
        if kind == "pytest":
            return self._run_pytest(code, line)
        return self._run_python(code, line)

    def _run_python(self, code: str, line: int) -> str | None:
        """Top-level ``await`` runs on the page's loop; any other block runs with no loop
        running, so that it may call ``asyncio.run()`` itself."""
        source = "\n" * line + code  # the page's line numbers in tracebacks
        try:
            compiled = compile(
                source,
                self.page_path,
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                dont_inherit=True,
            )
            if compiled.co_flags & 0x80:  # CO_COROUTINE: it awaits at top level
                self.loop.run_until_complete(eval(compiled, self.module.__dict__))
            else:
                exec(compiled, self.module.__dict__)
        except SystemExit as exit:
            if exit.code in (None, 0):
                return None
            self._print_exception(exit)
            return f"SystemExit({exit.code!r})"
        except BaseException as exc:
            if isinstance(exc, BlockTimeout):
                raise
            self._print_exception(exc)
            return f"{type(exc).__name__}: {exc}"
        return None

    def _print_hang(self) -> None:
        """Where the block hung: the awaiting block's tasks, else the interrupted frame."""
        loop = self.loop
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()] if not loop.is_closed() else []
        if not tasks:
            traceback.print_exc()
        for task in tasks:
            task.print_stack(file=sys.stderr)

    def _print_exception(self, exc: BaseException) -> None:
        """The traceback from the block's first frame on (not the runner's or asyncio's)."""
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != self.page_path:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb or exc.__traceback__)

    def _run_sh(self, code: str, where: str) -> str | None:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code, where], stdin=subprocess.DEVNULL, check=False
        )
        return None if done.returncode == 0 else f"bash exited with {done.returncode}"

    def _run_pytest(self, code: str, line: int) -> str | None:
        """The page's pytest blocks run together, each a module named by its line, in one
        pytest session when the first of them is reached (a pytest start costs 1-2 s); each
        block then answers for its own module."""
        first = self._pytest_run is None
        if self._pytest_run is None:
            self._pytest_run = self._run_pytest_modules()
        failed, output = self._pytest_run
        if first or line in failed:
            sys.stdout.write(output)
        if line not in failed:
            return None
        return f"pytest: tests/test_block_{line}.py failed"

    def _run_pytest_modules(self) -> tuple[set[int], str]:
        blocks: list[dict[str, object]] = self.spec["blocks"]  # type: ignore[assignment]
        lines = [int(b["line"]) for b in blocks if b["kind"] == "pytest"]  # type: ignore[call-overload]
        project = self.outdir / "pytest-project"
        (project / "tests").mkdir(parents=True)
        (project / "pyproject.toml").write_text(str(self.spec["pytest_config"]))
        for block in blocks:
            if block["kind"] == "pytest":
                name = f"test_block_{block['line']}.py"
                (project / "tests" / name).write_text(str(block["code"]))
        done = run_pytest_project(project, "-rfE")
        output = done.stdout + done.stderr
        if done.returncode == 0:
            return set(), output
        failed = {
            int(n)
            for n in re.findall(r"^(?:FAILED|ERROR) tests/test_block_(\d+)\.py", output, re.M)
        }
        # A failure pytest names no module for (an internal error): the first block answers.
        return failed or {lines[0]}, output


def run_pytest_project(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest`` in ``project`` as its owner would run it: warnings as errors, no
    cache, no Hypothesis plugin (seconds of start-up), none of this run's ``PYTEST_*``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    command = [sys.executable, "-m", "pytest", "-q", *options, "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, "-p", "no:hypothesispytest", "-W", "error"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _group_members(group: int, *, exclude: int) -> list[tuple[int, str]]:
    """The live (not zombie) processes of process group ``group``, and their command lines."""
    found = []
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc/self/stat").exists() else []:
        try:
            stat = (entry / "stat").read_text()
            state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
            if int(pgrp) != group or int(entry.name) == exclude or state == "Z":
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        found.append((int(entry.name), command.strip()))
    return found


_RUNNER_BOOT = "import runpy, sys; sys.exit(runpy.run_path(sys.argv[1])['_main'](sys.argv[1:]))"
"""``python -c`` code that runs this file's :func:`_main`: with ``-c``, as in an interactive
session, ``sys.path`` starts with the working directory (not tests/, as for a script)."""


def _main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    _Session(spec).run()
    return 0
