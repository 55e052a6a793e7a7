"""Typing is a tested feature: the public API type-checks under mypy --strict, misuses do not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy (the dev extra) checks tests/typing")

ROOT = Path(__file__).resolve().parent.parent
TYPING = ROOT / "tests" / "typing"


def _mypy(tmp_path: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml")]
        + ["--cache-dir", str(tmp_path / "mypy-cache"), "--no-error-summary"]
        + [str(f) for f in files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_public_api_type_checks_and_misuses_are_rejected(tmp_path: Path) -> None:
    """mypy --strict accepts tests/typing/api.py and rejects every misuse in misuse.py."""
    misuse = TYPING / "misuse.py"
    # Each misuse is silenced by an ignore naming its error code; warn_unused_ignores (in
    # --strict) fails the run if a misuse became accepted or changed its error.
    assert misuse.read_text().count("# type: ignore[") >= 25
    proc = _mypy(tmp_path, TYPING / "api.py", misuse)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_typing_files_are_not_collected() -> None:
    """The files under tests/typing are for mypy only: none is named like a test module."""
    assert not list(TYPING.glob("test_*.py"))
    assert not list(TYPING.glob("*_test.py"))
