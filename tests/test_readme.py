"""The README's examples run as written (issue 16): the command-line session against the
emulator, in real ``aiosso`` processes, and the pytest example pasted into a fresh project."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SESSION_HEADING = "### Point the CLI at the emulator"
TESTING_HEADING = "## Testing your code against the emulator"


def readme_section(heading: str) -> str:
    """The README's text from ``heading`` to the next heading of the same or a higher level
    (lines inside fenced code blocks are not headings)."""
    lines = README.read_text(encoding="utf-8").splitlines(keepends=True)
    level = len(heading.split(" ", 1)[0])
    start = lines.index(f"{heading}\n")
    fenced = False
    for end in range(start + 1, len(lines)):
        line = lines[end]
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (marks := re.match(r"(#+) ", line)) and len(marks[1]) <= level:
            return "".join(lines[start:end])
    return "".join(lines[start:])


def code_blocks(section: str, language: str) -> list[str]:
    """The fenced ``language`` blocks of a README section, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```$", section, re.S | re.M)


def test_readme_sections_hold_the_blocks_the_tests_run() -> None:
    """The session is one ``sh`` block, the testing section one python and one toml block."""
    assert len(code_blocks(readme_section(SESSION_HEADING), "sh")) == 1
    testing = readme_section(TESTING_HEADING)
    assert len(code_blocks(testing, "python")) == 1
    assert len(code_blocks(testing, "toml")) == 1


def _scripts_dir() -> str:
    """Where this interpreter's console scripts (``aiosso``) are installed."""
    scripts = sysconfig.get_path("scripts")
    if not Path(scripts, "aiosso").exists():
        scripts = str(Path(sys.executable).parent)
    if not Path(scripts, "aiosso").exists():
        pytest.skip("no aiosso console script next to this interpreter (pip install -e .)")
    return scripts


def test_cli_session_against_the_emulator_runs_as_written(tmp_path: Path) -> None:
    """The README's CLI session, pasted into bash: every command succeeds, in order, in real
    ``aiosso`` processes against a real emulator, and only the throwaway HOME is written."""
    (block,) = code_blocks(readme_section(SESSION_HEADING), "sh")
    outer_home = Path(os.environ["HOME"])  # the test's own isolated HOME
    tmpdir = tmp_path / "tmp"  # where the session's `mktemp -d` puts its HOME
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {"PATH": os.pathsep.join([_scripts_dir(), env.get("PATH", "")]), "TMPDIR": str(tmpdir)}
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.Popen(
        ["bash", "-c", f"set -euo pipefail\n{block}"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the emulator too, killed below
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.wait()
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"

    assert re.search(
        r"^Successfully logged into Start URL: http://127\.0\.0\.1:\d+/start$", out, re.M
    )
    accounts = re.findall(r"^(\d{12})\s+(\S+)\s+(\S+@example\.com)$", out, re.M)
    assert sorted(name for _, name, _ in accounts) == [
        "Development-0003",
        "Production-0001",
        "Staging-0002",
    ]
    assert ("413558022278", "Development-0003") in [(a, n) for a, n, _ in accounts]
    roles = re.findall(r"^\d{12}\s+\S+-\d{4}\s+(AdministratorAccess|ReadOnlyAccess)$", out, re.M)
    assert sorted(roles) == ["AdministratorAccess"] * 3 + ["ReadOnlyAccess"] * 3
    assert re.search(r"^export AWS_ACCESS_KEY_ID=\S+$", out, re.M)
    assert re.search(r"^export AWS_SESSION_TOKEN=\S+$", out, re.M)
    documents = [json.loads(m) for m in re.findall(r"^\{\n.*?^\}$", out, re.S | re.M)]
    process = [d for d in documents if d.get("Version") == 1]
    assert len(process) == 1
    assert process[0]["AccountId"] == "413558022278"
    assert process[0]["AccessKeyId"]
    profiles = re.findall(r"^\[profile (\S+)\]$", out, re.M)
    assert "Development-0003-ReadOnlyAccess" in profiles
    assert len(profiles) == 6

    (session_home,) = tmpdir.iterdir()  # the throwaway HOME the session made
    assert list((session_home / ".aws" / "sso" / "cache").glob("*.json"))  # token, registration
    assert list((session_home / ".aws" / "cli" / "cache").glob("*.json"))  # role credentials
    assert not (outer_home / ".aws").exists()  # the user's own ~/.aws untouched


def _readme_example() -> tuple[str, str]:
    """The README's pytest example and the pytest configuration it states."""
    testing = readme_section(TESTING_HEADING)
    (example,) = code_blocks(testing, "python")
    (config,) = code_blocks(testing, "toml")
    return example, config


def _pytest(project: Path) -> subprocess.CompletedProcess[str]:
    """``python -m pytest`` in ``project``, as its owner would run it, warnings as errors."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-W", "error"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pytest_example_passes_in_a_fresh_project(tmp_path: Path) -> None:
    """The README's pytest example, pasted into a new project with the pytest configuration
    the README states, passes, warning-free."""
    example, config = _readme_example()
    (tmp_path / "tests").mkdir()
    (tmp_path / "pyproject.toml").write_text(config)
    (tmp_path / "tests" / "test_example.py").write_text(example)
    proc = _pytest(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_pytest_example_in_strict_mode_needs_the_marker(tmp_path: Path) -> None:
    """Without auto mode, the example marked ``@pytest.mark.asyncio`` passes, and unmarked it
    fails with the message the README quotes."""
    example, config = _readme_example()
    assert 'asyncio_mode = "auto"\n' in config
    assert "\nasync def test_my_tool(" in example
    (tmp_path / "tests").mkdir()
    (tmp_path / "pyproject.toml").write_text(config.replace('asyncio_mode = "auto"\n', ""))
    marked = example.replace("\nasync def", "\n@pytest.mark.asyncio\nasync def")
    (tmp_path / "tests" / "test_marked.py").write_text(f"import pytest\n{marked}")
    (tmp_path / "tests" / "test_unmarked.py").write_text(example)
    proc = _pytest(tmp_path)
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout + proc.stderr
    assert "FAILED tests/test_unmarked.py::test_my_tool" in proc.stdout
    assert "async def functions are not natively supported" in proc.stdout
