"""The README (issues 16 and 19): the short pitch, the quick start's two commands, one example
and the way into the docs. Its ```python and ```sh blocks run in ``test_docs_examples.py`` with
the docs' pages; this module checks what concerns the README alone, and that the testing
how-to's pytest example needs the configuration (or the marker) it says it needs."""

from __future__ import annotations

import re
from pathlib import Path

from _docs import ROOT, TESTING_PAGE, Block, parse, run_pytest_project

README = ROOT / "README.md"
QUICK_START = "## Quick start"


def blocks_of(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    blocks, problems = parse(text, path.relative_to(ROOT).as_posix(), path)
    assert problems == []
    return blocks


def test_quick_start_is_two_commands_and_ci_runs_the_test_command() -> None:
    """The quick start holds exactly two one-line commands: the demo, then the tests; CI
    (``.ci/run``) runs the test command as written (that is their test: they install)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(QUICK_START) : text.index("\n## ", text.index(QUICK_START) + 1)]
    commands = re.findall(r"^```sh\n(.*?)```$", section, re.S | re.M)
    assert len(commands) == 2
    demo, tests = (command.strip() for command in commands)
    assert "\n" not in demo
    assert "\n" not in tests
    assert demo.endswith("aiosso demo")
    assert tests.endswith("python -m pytest -q")
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_stays_the_pitch_two_commands_and_links() -> None:
    """Short, and its one example runs (it is not skip-marked)."""
    blocks = blocks_of(README)
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 130
    (example,) = [b for b in blocks if b.language == "python"]
    assert example.marker is None


def test_readme_links_resolve_to_the_docs_pages() -> None:
    """Every relative link of the README names a file of the repository, and every page of
    the docs' toctree is linked."""
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    missing = [t for t in local if not (ROOT / t).is_file()]
    assert missing == []
    pages = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "docs").rglob("*.md")
        if "_build" not in p.parts and p.name not in ("index.md", "changelog.md")
    }
    assert pages <= set(local), sorted(pages - set(local))


def _testing_example() -> tuple[str, str]:
    """The testing how-to's first pytest example and the pytest configuration it states."""
    blocks = blocks_of(ROOT / TESTING_PAGE)
    example = next(b.code for b in blocks if b.language == "python" and b.kind == "pytest")
    (config,) = [b.code for b in blocks if b.language == "toml"]
    return example, config


def test_pytest_example_in_strict_mode_needs_the_marker(tmp_path: Path) -> None:
    """Without auto mode, the example marked ``@pytest.mark.asyncio`` passes, and unmarked it
    fails with the message the page quotes."""
    example, config = _testing_example()
    page = (ROOT / TESTING_PAGE).read_text(encoding="utf-8")
    assert 'asyncio_mode = "auto"\n' in config
    name = re.search(r"^async def (test_\w+)\(", example, re.M)
    assert name is not None
    (tmp_path / "tests").mkdir()
    (tmp_path / "pyproject.toml").write_text(config.replace('asyncio_mode = "auto"\n', ""))
    marked = example.replace("\nasync def", "\n@pytest.mark.asyncio\nasync def")
    (tmp_path / "tests" / "test_marked.py").write_text(f"import pytest\n{marked}")
    (tmp_path / "tests" / "test_unmarked.py").write_text(example)
    proc = run_pytest_project(tmp_path)
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout + proc.stderr
    assert f"FAILED tests/test_unmarked.py::{name[1]}" in proc.stdout
    message = "async def functions are not natively supported"
    assert message in proc.stdout
    assert message in page.replace("\n", " ")
