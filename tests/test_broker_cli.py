"""``aiosso exec`` and ``aiosso serve`` against the emulator, with botocore as the client: the
child's environment, credentials resolved and refreshed through the endpoint, signals and exit
codes, serve's export lines and token file, and what both refuse."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import stat
import sys
import threading
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import botocore.session
import pytest
from _broker import DEV, OPS, assert_not_listening, running_emulator, seed_token
from botocore.credentials import ContainerProvider

from aiosso.cli import main
from aiosso.testing import PortalEmulator

FULL_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
TOKEN_FILE = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
STATIC_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

# Resolves credentials with botocore's own chain, holds them until they expire (botocore's
# expiry time), resolves again, and writes a JSON report to argv[1].
CHILD_BOTOCORE = """
import json, os, sys, time
import botocore.session
names = ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
         "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_REGION", "AWS_DEFAULT_REGION",
         "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
session = botocore.session.Session()
credentials = session.get_credentials()
first = credentials.get_frozen_credentials()
first_expiry = credentials._expiry_time.timestamp()
time.sleep(max(0.0, first_expiry - time.time()) + 0.1)
second = credentials.get_frozen_credentials()
report = {
    "env": {name: os.environ.get(name) for name in names},
    "region": session.get_config_variable("region"),
    "method": credentials.method,
    "first": [first.access_key, first.account_id, first_expiry],
    "second": [second.access_key, second.account_id, credentials._expiry_time.timestamp()],
    "second_at": time.time(),
}
with open(sys.argv[1], "w") as out:
    json.dump(report, out)
"""

# Writes its environment to argv[1], then exits with argv[2] or dies of signal argv[3].
CHILD_ENV = """
import json, os, signal, sys
with open(sys.argv[1], "w") as out:
    json.dump(dict(os.environ), out)
if len(sys.argv) > 3:
    os.kill(os.getpid(), int(sys.argv[3]))
sys.exit(int(sys.argv[2]))
"""

# Exits 7 on SIGTERM or SIGINT, after writing the signal's number to argv[1].signal;
# writes its endpoint URI to argv[1].uri, then argv[1].ready, and waits.
CHILD_TRAP = """
import os, signal, sys, time
def stop(signum, frame):
    with open(sys.argv[1] + ".signal", "w") as out:
        out.write(str(signum))
    sys.exit(7)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
with open(sys.argv[1] + ".uri", "w") as out:
    out.write(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
open(sys.argv[1] + ".ready", "w").close()
time.sleep(30)
"""

# Counts SIGINTs: after the first, waits 0.3 s for more, then exits with 10 + their number.
# Writes argv[1] when its handler is in place.
CHILD_COUNT = """
import signal, sys, time
count = 0
def interrupted(signum, frame):
    global count
    count += 1
signal.signal(signal.SIGINT, interrupted)
open(sys.argv[1], "w").close()
deadline = time.time() + 10
while not count and time.time() < deadline:
    time.sleep(0.01)
time.sleep(0.3)
sys.exit(10 + count)
"""

# Becomes a session leader whose controlling terminal is the pseudo-terminal on its stdin (a
# shell's foreground job, as far as signals go), then runs ``python ARGV``.
TERMINAL = (
    "import fcntl, os, sys, termios; os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PortalEmulator]:
    """The emulated organisation, the endpoint variables and config naming it, a login."""
    async with running_emulator(monkeypatch) as emulator:
        seed_token(emulator)
        yield emulator


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``aiosso ARGV`` in this process, in a worker thread (it runs its own event loop, and
    forwards no signals there); (code, out, err)."""
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def aiosso(*argv: str) -> asyncio.subprocess.Process:
    """``python -m aiosso ARGV`` as a subprocess, its output piped, away from any terminal
    pytest may have (signals sent to it are the test's only)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiosso",
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )


async def wait_for_file(path: Path, process: asyncio.subprocess.Process) -> None:
    """Until *path* exists (failing if *process* ends first, or after 15 s)."""
    for _ in range(750):
        if await asyncio.to_thread(path.exists):
            return
        assert process.returncode is None, await process.communicate()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path.name} never appeared")


def exports(text: str) -> dict[str, dict[str, str]]:
    """``serve``'s export lines: {profile: {name: value}}, commented-out lines included."""
    found: dict[str, dict[str, str]] = {}
    profile = "*"
    for line in text.splitlines():
        if heading := re.fullmatch(r"# profile ([^\s,]+)(?:, .*)?", line):
            profile = heading[1]
            continue
        match = re.fullmatch(r"(?:# )?(export .*)", line)
        if match is None:
            continue
        words = shlex.split(match[1])
        assert words[0] == "export", line
        assert len(words) == 2, line
        name, _, value = words[1].partition("=")
        found.setdefault(profile, {})[name] = value
    return found


# --------------------------------------------------------------------------- exec


async def test_exec_child_resolves_and_refreshes_through_botocore(
    emu: PortalEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``python -c`` child's botocore resolves ``container-role`` credentials of the
    profile, in its region, and after they expire gets new ones by itself; the child has
    no static keys, no AWS_PROFILE nor the parent's token file; the endpoint is gone after."""
    emu.credentials_ttl = 3.0
    monkeypatch.setenv("AWS_PROFILE", "ops")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "parent-session-token")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv(TOKEN_FILE, str(tmp_path / "elsewhere"))
    report_path = tmp_path / "report.json"
    process = await aiosso(
        "exec", "--profile", "dev", "--", sys.executable, "-c", CHILD_BOTOCORE, str(report_path)
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    report = json.loads(report_path.read_text())
    env = report["env"]
    assert env[FULL_URI].startswith("http://127.0.0.1:")
    assert env[FULL_URI].endswith("/credentials/dev")
    assert len(env[TOKEN]) >= 32
    assert env[TOKEN_FILE] is None
    assert env["AWS_PROFILE"] is None
    assert [env[name] for name in STATIC_KEYS] == [None, None, None]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert report["region"] == "eu-west-1"
    assert report["method"] == "container-role"
    first_key, first_account, first_expiry = report["first"]
    second_key, second_account, second_expiry = report["second"]
    assert first_account == second_account == DEV.account_id
    assert report["second_at"] > first_expiry  # the first credentials had expired
    assert second_key != first_key
    assert second_expiry > report["second_at"]
    assert emu.stats.requests["GetRoleCredentials"] >= 2
    assert env[TOKEN] not in (out + err).decode()
    await assert_not_listening(env[FULL_URI])


async def test_exec_env_mode_gives_plain_variables(
    emu: PortalEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_resource_warnings: None,
) -> None:
    """``--env``: the role's keys, session token and expiration as variables, the profile's
    region, and no endpoint, token or AWS_PROFILE."""
    monkeypatch.setenv("AWS_PROFILE", "ops")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv(FULL_URI, "http://127.0.0.1:9/credentials/stale")
    monkeypatch.setenv(TOKEN, "stale-token-" + "x" * 32)
    dump = tmp_path / "env.json"
    args = ("exec", "--profile", "dev", "--env", "--", sys.executable, "-c", CHILD_ENV)
    code, _, err = await run(capsys, *args, str(dump), "0")
    assert code == 0, err
    env = json.loads(dump.read_text())
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert env["AWS_SECRET_ACCESS_KEY"]
    assert env["AWS_SESSION_TOKEN"]
    expiration = datetime.fromisoformat(env["AWS_CREDENTIAL_EXPIRATION"])
    assert expiration.utcoffset() == timedelta(0)
    assert 3500 < (expiration - datetime.now(timezone.utc)).total_seconds() <= 3600
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    for name in (FULL_URI, TOKEN, TOKEN_FILE, "AWS_PROFILE"):
        assert name not in env
    assert emu.stats.requests["GetRoleCredentials"] == 1


@pytest.mark.parametrize(
    ("how", "expected"),
    [("exits 3", 3), ("killed by SIGKILL", 128 + signal.SIGKILL), ("does not exist", 127)],
)
async def test_exec_exit_code_is_the_childs(
    emu: PortalEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_resource_warnings: None,
    how: str,
    expected: int,
) -> None:
    """The child's exit code, 128 + N when signal N killed it, 127 for a command that does
    not exist; then the endpoint is closed and no thread is left behind."""
    await asyncio.to_thread(lambda: None)  # the worker thread `run` uses exists already
    threads = set(threading.enumerate())
    dump = tmp_path / "env.json"
    if how == "does not exist":
        command = [str(tmp_path / "no-such-command")]
    else:
        command = [sys.executable, "-c", CHILD_ENV, str(dump), "3"]
        if how == "killed by SIGKILL":
            command.append(str(int(signal.SIGKILL)))
    code, _, err = await run(capsys, "exec", "--profile", "dev", "--", *command)
    assert code == expected, err
    if how == "does not exist":
        assert "no-such-command: command not found" in err
    else:
        await assert_not_listening(json.loads(dump.read_text())[FULL_URI])
    for _ in range(50):  # a thread that reaped the child may take a moment to end
        if set(threading.enumerate()) <= threads:
            break
        await asyncio.sleep(0.02)
    assert set(threading.enumerate()) <= threads


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_exec_forwards_signals_and_exits_with_the_childs_code(
    emu: PortalEmulator, tmp_path: Path, sig: signal.Signals
) -> None:
    """SIGTERM or SIGINT sent to ``aiosso exec`` reaches the child, whose exit code (7, from
    its handler) is aiosso's; the endpoint is closed after."""
    base = tmp_path / "child"
    process = await aiosso(
        "exec", "--profile", "dev", "--", sys.executable, "-c", CHILD_TRAP, str(base)
    )
    try:
        await wait_for_file(Path(f"{base}.ready"), process)
        process.send_signal(sig)
        _, err = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()
    assert process.returncode == 7, err.decode()
    assert await asyncio.to_thread(Path(f"{base}.signal").read_text) == str(int(sig))
    await assert_not_listening(await asyncio.to_thread(Path(f"{base}.uri").read_text))


async def test_exec_ctrl_c_in_a_terminal_reaches_the_child_once(
    emu: PortalEmulator, tmp_path: Path
) -> None:
    """Ctrl-C in the terminal of ``aiosso exec`` (SIGINT to its foreground process group,
    the child included) reaches the child once, not once more forwarded: to many tools a
    second SIGINT means "stop now" (terraform: "Two interrupts received. Exiting
    immediately")."""
    import pty

    ready = tmp_path / "ready"
    master, slave = pty.openpty()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            TERMINAL,
            "-m",
            "aiosso",
            "exec",
            "--profile",
            "dev",
            "--",
            sys.executable,
            "-c",
            CHILD_COUNT,
            str(ready),
            stdin=slave,
            stdout=slave,
            stderr=slave,
        )
    finally:
        os.close(slave)
    try:
        await wait_for_file(ready, process)
        os.write(master, b"\x03")  # Ctrl-C
        code = await asyncio.wait_for(process.wait(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        os.close(master)
    assert code == 10 + 1, f"the child got SIGINT {code - 10} times"


async def test_exec_warns_when_the_default_profile_shadows_the_endpoint(
    emu: PortalEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``[default]`` profile with credentials of its own (SSO in the config, or keys in
    the credentials file) draws a warning; none otherwise, and none with ``--env``."""
    config = Path(os.environ["AWS_CONFIG_FILE"])
    credentials = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    args = ("exec", "--profile", "dev", "--", sys.executable, "-c", "pass")
    warning = "WARNING: the [default] profile has credentials of its own"

    code, _, err = await run(capsys, *args)
    assert (code, warning in err) == (0, False)

    static_default = "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
    await asyncio.to_thread(credentials.write_text, static_default)
    code, _, err = await run(capsys, *args)
    assert (code, warning in err) == (0, True)
    await asyncio.to_thread(credentials.unlink)

    sso_default = (
        f"\n[default]\nsso_session = corp\nsso_account_id = {OPS.account_id}\n"
        "sso_role_name = Operator\n"
    )
    await asyncio.to_thread(lambda: config.write_text(config.read_text() + sso_default))
    code, _, err = await run(capsys, *args)
    assert (code, warning in err) == (0, True)
    code, _, err = await run(capsys, "exec", "--profile", "dev", "--env", *args[3:])
    assert (code, warning in err) == (0, False)


async def test_exec_without_a_command_is_a_usage_error(
    emu: PortalEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """``aiosso exec --profile dev`` (and with a bare ``--``) exits 2 and says why."""
    for extra in ((), ("--",)):
        code, _, err = await run(capsys, "exec", "--profile", "dev", *extra)
        assert code == 2
        assert "give the command" in err


# --------------------------------------------------------------------------- serve


@pytest.mark.parametrize("token_file", [False, True], ids=["token", "token-file"])
async def test_serve_prints_exports_that_botocore_uses(
    emu: PortalEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_file: bool
) -> None:
    """``aiosso serve`` prints the token (or writes it to ``--token-file``, mode 0600, and
    prints AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) and a URI per profile; botocore's
    ``Session.get_credentials()`` and ``ContainerProvider`` resolve each profile's role with
    them; SIGTERM stops it with 0 and the endpoint is gone."""
    options = ["--profile", "dev", "--profile", "ops"]
    token_path = tmp_path / "token"
    if token_file:
        token_path.write_text("stale, longer than the token that replaces it " * 3)
        token_path.chmod(0o644)
        options += ["--token-file", str(token_path)]
    process = await aiosso("serve", *options)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while len(lines) < 6:  # heading, token, then a comment and a URI per profile
            line = await asyncio.wait_for(process.stdout.readline(), 15)
            assert line, await process.communicate()
            lines.append(line.decode())
        found = exports("".join(lines))
        dev, ops = found["dev"], found["ops"]
        assert set(dev) == set(ops) == {FULL_URI}
        if token_file:
            assert found["*"] == {TOKEN_FILE: str(token_path)}
            assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
            token = token_path.read_text()
        else:
            token = found["*"][TOKEN]
        assert len(token) >= 32

        environ = {**found["*"], FULL_URI: dev[FULL_URI]}
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        credentials = await asyncio.to_thread(botocore.session.Session().get_credentials)
        assert credentials.method == "container-role"
        frozen = await asyncio.to_thread(credentials.get_frozen_credentials)
        assert frozen.account_id == DEV.account_id
        provider = ContainerProvider(environ={**environ, FULL_URI: ops[FULL_URI]})
        ops_credentials = await asyncio.to_thread(provider.load)
        assert ops_credentials.get_frozen_credentials().account_id == OPS.account_id

        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()
    assert process.returncode == 0, err.decode()
    assert token not in err.decode()
    await assert_not_listening(dev[FULL_URI])


async def test_serve_with_an_unusable_token_file_is_a_usage_error(
    emu: PortalEmulator, tmp_path: Path
) -> None:
    """A ``--token-file`` that cannot be written (no such folder, or a symlink, refused) is
    exit 2 with a message naming it, not a traceback; nothing keeps serving."""
    (tmp_path / "link").symlink_to(tmp_path / "target")
    paths = [tmp_path / "no-such-folder" / "token", tmp_path / "link"]
    processes = [await aiosso("serve", "--profile", "dev", "--token-file", str(p)) for p in paths]
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(process.communicate() for process in processes)), 15
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.communicate()
    for path, process, (_, err) in zip(paths, processes, results, strict=True):
        assert process.returncode == 2, err.decode()
        assert str(path) in err.decode()
        assert "Traceback" not in err.decode()
    assert not (tmp_path / "target").exists()


async def test_serve_refuses_remote_hosts_without_allow_remote_and_tls(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--host 0.0.0.0`` without ``--allow-remote`` exits 2, and with it but without TLS
    too; neither serves."""
    code, out, err = await run(capsys, "serve", "--profile", "dev", "--host", "0.0.0.0")
    assert (code, out) == (2, "")
    assert "--allow-remote" in err
    assert "aiosso: error: serve:" in err  # one prefix, not two
    code, out, err = await run(
        capsys, "serve", "--profile", "dev", "--host", "0.0.0.0", "--allow-remote"
    )
    assert (code, out) == (2, "")
    assert "--tls-cert and --tls-key" in err


@pytest.mark.parametrize(
    ("profiles", "named"), [(["dev"], "--profile dev"), (["dev", "ops"], "profile dev:")]
)
async def test_serve_without_a_login_exits_3_naming_the_profile(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    profiles: list[str],
    named: str,
) -> None:
    """No cached token: ``serve`` exits 3 before listening; one profile is named in the
    advice (``aiosso login --profile dev``), several in a line before the error."""
    async with running_emulator(monkeypatch):
        options = [word for name in profiles for word in ("--profile", name)]
        code, out, err = await run(capsys, "serve", *options)
    assert (code, out) == (3, "")
    assert named in err
    assert "Traceback" not in err
