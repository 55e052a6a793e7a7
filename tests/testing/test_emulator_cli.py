"""``python -m aiosso.testing``: prints url/token, serves, exits 0 on signals, clear port errors."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import aiohttp
import pytest

from aiosso.testing._cli import main

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_module_serves_until_signal(signum: int) -> None:
    """It prints url= and token= lines, serves that token, and exits 0 on SIGINT/SIGTERM."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiosso.testing",
        "--port",
        "0",
        "--accounts",
        "4",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url_line = await asyncio.wait_for(proc.stdout.readline(), 5)
        token_line = await asyncio.wait_for(proc.stdout.readline(), 5)
        assert url_line.startswith(b"url=http://127.0.0.1:")
        assert token_line.startswith(b"token=aoa")
        url = url_line.decode().strip().removeprefix("url=")
        token = token_line.decode().strip().removeprefix("token=")
        async with aiohttp.ClientSession() as http:
            headers = {"x-amz-sso_bearer_token": token}
            async with http.get(url + "/assignment/accounts", headers=headers) as r:
                assert r.status == 200
                assert len((await r.json())["accountList"]) == 4
        proc.send_signal(signum)
        _, stderr = await asyncio.wait_for(proc.communicate(), 5)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert stderr == b""


def test_port_in_use_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A busy port gives exit code 2 and a single-line error on stderr, no traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["--port", str(port)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Invalid settings are reported as usage errors (exit code 2)."""
    with pytest.raises(SystemExit) as info:
        main(["--page-size", "0"])
    assert info.value.code == 2
    assert "page_size" in capsys.readouterr().err
