"""The command line as a ``credential_process``: wall time of fresh ``aiosso`` processes.

Every AWS SDK runs a profile's ``credential_process`` whenever it needs credentials, and tools
such as terraform run it many times, so what counts is the wall time of a whole fresh process,
interpreter start-up and imports included. Side by side, each a fresh process started by the
harness and timed around ``subprocess.run`` (``perf_counter``; stdout and stderr captured, as
an SDK does):

* ``python -c pass``: the interpreter alone, the floor every ratio is taken to;
* ``credential-process`` **cache hit**: ``aiosso credential-process --profile hit`` answered
  from ``~/.aws/cli/cache`` (the entry written beforehand, in a child with the same ``HOME``,
  by ``RoleCredentialCache().save_sync(role_credentials_cache_key(...), ...)``);
* ``credential-process`` **cache miss**: ``aiosso credential-process --profile miss``, whose
  cache entry the harness deletes before each run, so each run reads the cache, finds nothing,
  takes the token from ``~/.aws/sso/cache``, asks the emulator (in its own process) for the
  role's credentials and writes the entry back: the full path a user's first call takes;
* ``aiosso --help``: the full parser.

``HOME`` is a temporary directory holding ``~/.aws/config`` (one ``[sso-session]``, the two
profiles), the SSO token (the emulator's own) and the cache. The children get the harness's
environment (:func:`benchmarks.harness.child_env`): bytecode caching is on
(``PYTHONDONTWRITEBYTECODE`` removed, ``PYTHONPYCACHEPREFIX`` set) and one unmeasured run of
each command fills it first, as an installed package has it filled. ``aiosso`` is the console
script next to the interpreter (``sysconfig``'s ``scripts`` directory), as users run it.
Commands alternate and the order rotates between repetitions. The emulator counts the
requests each run made: a hit must make none, a miss exactly one.

Target (issue 16): a cache hit in <= 60 ms of wall time, or <= 5x ``python -c pass`` measured
in the same run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.harness import ScenarioResult, Settings, Table
from benchmarks.scenarios import register
from benchmarks.scenarios.singleflight import _pairs

SESSION = "bench"
REGION = "us-east-1"
START_URL = "https://d-0000000000.awsapps.com/start"
HIT_PROFILE = "hit"
MISS_PROFILE = "miss"
TARGET_MS = 60.0
TARGET_RATIO = 5.0

PASS = "python -c pass"
HIT = "credential-process (cache hit)"
MISS = "credential-process (cache miss)"
HELP = "aiosso --help"
COMMANDS = (PASS, HIT, MISS, HELP)


# --------------------------------------------------------------------------- child side


def setup_child(params: dict[str, Any]) -> dict[str, Any]:
    """In a child with ``HOME`` = ``params["home"]``: write the config, the SSO token and the
    hit profile's cache entry; return both profiles' cache keys."""
    os.environ["HOME"] = params["home"]
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)
    from datetime import datetime, timedelta, timezone

    from aiosso.awsconfig import SSOSession
    from aiosso.tokencache import (
        CachedRoleCredentials,
        RoleCredentialCache,
        SSOToken,
        SSOTokenCache,
        role_credentials_cache_key,
    )

    (hit_account, hit_role), (miss_account, miss_role) = params["hit"], params["miss"]
    config = Path(params["home"], ".aws", "config")
    config.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    config.write_text(
        f"[sso-session {SESSION}]\nsso_start_url = {START_URL}\nsso_region = {REGION}\n\n"
        f"[profile {HIT_PROFILE}]\nsso_session = {SESSION}\n"
        f"sso_account_id = {hit_account}\nsso_role_name = {hit_role}\n\n"
        f"[profile {MISS_PROFILE}]\nsso_session = {SESSION}\n"
        f"sso_account_id = {miss_account}\nsso_role_name = {miss_role}\n"
    )
    now = datetime.now(timezone.utc)
    session = SSOSession(session_name=SESSION, start_url=START_URL, sso_region=REGION)
    token = SSOToken(
        access_token=params["token"],
        expires_at=now + timedelta(hours=4),
        start_url=START_URL,
        region=REGION,
    )
    SSOTokenCache().save_sync(session, token)
    keys = {
        name: role_credentials_cache_key(account_id=account, role_name=role, session_name=SESSION)
        for name, (account, role) in (("hit", params["hit"]), ("miss", params["miss"]))
    }
    cache = RoleCredentialCache()
    cache.save_sync(
        keys["hit"],
        CachedRoleCredentials(
            access_key_id="ASIABENCHMARKHIT0000",
            secret_access_key="benchmark-secret",
            session_token="benchmark-session-token",
            expiration=now + timedelta(hours=4),
            account_id=hit_account,
        ),
    )
    return {"keys": keys, "cache_dir": str(cache.files.directory)}


# --------------------------------------------------------------------------- harness side


def _aiosso_command() -> list[str]:
    """The ``aiosso`` console script next to this interpreter, else ``python -m aiosso``."""
    script = shutil.which("aiosso", path=sysconfig.get_path("scripts"))
    return [script] if script else [sys.executable, "-m", "aiosso"]


def _commands() -> dict[str, list[str]]:
    aiosso = _aiosso_command()
    return {
        PASS: [sys.executable, "-c", "pass"],
        HIT: [*aiosso, "credential-process", "--profile", HIT_PROFILE],
        MISS: [*aiosso, "credential-process", "--profile", MISS_PROFILE],
        HELP: [*aiosso, "--help"],
    }


def _env(home: Path, url: str) -> dict[str, str]:
    """The harness's child environment with ``HOME`` in the temporary directory, the AWS
    files at their default places under it, and the portal at the emulator."""
    env = harness.child_env()  # no PYTHONDONTWRITEBYTECODE: bytecode is cached, as for users
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(name, None)
    env.update({"HOME": str(home), "AWS_ENDPOINT_URL_SSO": url})
    return env


def _run_once(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> tuple[float, str]:
    """Run one fresh process; return (wall seconds, stdout).

    Raises:
        harness.ChildError: non-zero exit or timeout.
    """
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise harness.ChildError(f"{cmd[-2:]} timed out after {timeout:.0f}s") from exc
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise harness.ChildError(f"{' '.join(cmd[1:])} exited {proc.returncode}:\n{tail}")
    return wall, proc.stdout


def _check_output(label: str, out: str) -> None:
    """A credential-process run printed Version 1 credentials (the hit: the cached ones)."""
    if label not in (HIT, MISS):
        return
    doc = json.loads(out)
    if doc.get("Version") != 1 or not doc.get("AccessKeyId"):
        raise harness.ChildError(f"{label}: no Version 1 credentials in the output")
    if label == HIT and doc["AccessKeyId"] != "ASIABENCHMARKHIT0000":
        raise harness.ChildError(f"{label}: answered with other credentials than the cached")


@register(
    "cli",
    order=70,
    description="fresh aiosso processes: cache-hit/miss credential-process, --help, ms",
)
def run(settings: Settings) -> ScenarioResult:
    """Time each command as a fresh process, alternating, median of N."""
    result = ScenarioResult()
    reps = 3 if settings.quick else max(21, settings.reps)
    commands = _commands()
    samples: dict[str, list[float]] = {label: [] for label in COMMANDS}
    requests: dict[str, list[int]] = {HIT: [], MISS: []}
    with (
        tempfile.TemporaryDirectory(prefix="aiosso-bench-cli-") as tmp,
        harness.server("emulator", accounts=2) as srv,
    ):
        home = Path(tmp)
        pairs = _pairs(srv)
        params = {"home": tmp, "token": srv.token, "hit": pairs[0], "miss": pairs[1]}
        try:
            setup = harness.run_child("benchmarks.scenarios.cli:setup_child", params, 60)
        except harness.ChildError as exc:
            result.errors.append(f"cli setup: {exc}")
            return result
        miss_entry = Path(setup["cache_dir"], f"{setup['keys']['miss']}.json")
        env = _env(home, srv.url)
        failed: set[str] = set()

        def measure(label: str) -> tuple[float, int]:
            if label == MISS:
                miss_entry.unlink(missing_ok=True)  # a miss every time: the entry is gone
            before = srv.request_count() if label in requests else 0
            wall, out = _run_once(commands[label], env, home, settings.timeout)
            _check_output(label, out)
            made = srv.request_count() - before if label in requests else 0
            if label == MISS and not miss_entry.exists():
                raise harness.ChildError(f"{label}: the cache entry was not written back")
            return wall, made

        for label in COMMANDS:  # unmeasured: fills the bytecode cache
            try:
                measure(label)
            except (harness.ChildError, ValueError) as exc:
                failed.add(label)
                result.errors.append(f"cli {label}: {exc}")
        for rep in range(reps):
            harness.log(f"cli rep {rep + 1}/{reps}")
            for label in harness.rotated(COMMANDS, rep):
                if label in failed:
                    continue
                try:
                    wall, made = measure(label)
                except (harness.ChildError, ValueError) as exc:
                    failed.add(label)
                    result.errors.append(f"cli {label}: {exc}")
                    continue
                samples[label].append(wall * 1e3)
                if label in requests:
                    requests[label].append(made)
    stats = {label: harness.summary(values) for label, values in samples.items()}
    result.raw["wall_ms"] = stats
    result.raw["requests_per_run"] = requests
    result.raw["commands"] = {label: commands[label] for label in COMMANDS}
    result.raw["reps"] = reps
    result.raw["target"] = _target(stats)
    result.tables.append(_table(stats, requests, reps, result.raw["target"]))
    return result


def _target(stats: dict[str, dict[str, Any]]) -> dict[str, Any]:
    hit, floor = stats[HIT]["median"], stats[PASS]["median"]
    ratio = hit / floor if hit is not None and floor else None
    met = hit is not None and (hit <= TARGET_MS or (ratio is not None and ratio <= TARGET_RATIO))
    return {"hit_ms": hit, "ratio_to_python": ratio, "met": met}


def _table(
    stats: dict[str, dict[str, Any]],
    requests: dict[str, list[int]],
    reps: int,
    target: dict[str, Any],
) -> Table:
    table = Table(
        title=f"Command line (a fresh process each, wall time, median of {reps})",
        headers=["command", "median ms", "min ms", "max ms", "x python -c pass", "requests/run"],
    )
    floor = stats[PASS]["median"]
    for label in COMMANDS:
        s = stats[label]
        ratio = s["median"] / floor if s["median"] is not None and floor else None
        made = requests.get(label)
        table.rows.append(
            [
                label,
                harness.fmt(s["median"]),
                harness.fmt(s["min"]),
                harness.fmt(s["max"]),
                harness.fmt(ratio, 2),
                str(max(made)) if made else "-",
            ]
        )
    verdict = "met" if target["met"] else "missed"
    table.notes.append(
        f"Target: a cache hit in <= {TARGET_MS:.0f} ms or <= {TARGET_RATIO:.0f}x `python -c "
        f"pass`: {verdict} ({harness.fmt(target['hit_ms'])} ms, "
        f"{harness.fmt(target['ratio_to_python'], 2)}x)."
    )
    table.notes.append(
        "Each row is `subprocess.run` of a fresh process, interpreter start-up included, "
        "bytecode cached; the miss deletes the profile's ~/.aws/cli/cache entry before each "
        "run and fetches from the emulator (own process, loopback); requests/run is the most "
        "the emulator counted for one run (a hit: none)."
    )
    return table
