"""The ``aiosso`` command: demo, emulator, usage errors."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from aiosso.cli import main


def test_demo_runs_the_main_job(capsys: pytest.CaptureFixture[str]) -> None:
    """``aiosso demo --accounts 20`` enumerates everything, fetches credentials and exits 0."""
    code = main(["demo", "--accounts", "20", "--roles", "2", "--rate", "400", "--sample", "5"])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"accounts\s+20\n", out)
    assert re.search(r"roles\s+40\s+\(expected 40\)", out)
    assert re.search(r"1000 concurrent gets for 5 roles -> \d+ requests", out)
    assert "rate floor" in out


def test_demo_rejects_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    """A nonsensical organisation size is a usage error (exit 2), not a traceback."""
    assert main(["demo", "--accounts", "0"]) == 2
    assert "--accounts must be at least 1" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a sub-command the usage goes to stderr and the exit code is 2."""
    assert main([]) == 2
    assert "demo" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``--version`` prints the package version."""
    import aiosso

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert aiosso.__version__ in capsys.readouterr().out


def test_emulator_subcommand_reports_busy_port() -> None:
    """``aiosso emulator`` is the emulator's CLI: a port in use is a one-line error, exit 2."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "aiosso", "emulator", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert "Address already in use" in proc.stderr or "in use" in proc.stderr
    assert "Traceback" not in proc.stderr
