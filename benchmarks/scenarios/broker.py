"""The credential endpoint (``aiosso serve``): cache hits, and botocore resolving through it.

Setup: the project's emulator in its own process (2 accounts); a temporary ``HOME`` holding
``~/.aws/config`` (one ``[sso-session]``, an SSO profile ``bench`` on the emulator's first
(account, role) pair, and a profile ``bench-process`` whose ``credential_process`` is
``aiosso credential-process --profile bench``) and the emulator's token in
``~/.aws/sso/cache`` (written by a child with that ``HOME`` through ``SSOTokenCache``);
``AWS_ENDPOINT_URL_SSO`` and ``AWS_ENDPOINT_URL_SSO_OIDC`` point at the emulator. The harness
runs ``aiosso credential-process --profile bench`` twice (a miss that fills
``~/.aws/cli/cache``, then a hit that must make no request), then starts ``aiosso serve
--profile bench`` as its own process (the console script next to the interpreter, the
harness's child environment, so bytecode caching is on), reads the ``export
AWS_CONTAINER_AUTHORIZATION_TOKEN=...`` and ``export AWS_CONTAINER_CREDENTIALS_FULL_URI=...``
lines it prints, asks it once (that answer's ``AccessKeyId`` is the one every later answer
must carry) and stops it with SIGTERM at the end, whatever happens.

Measurements, each in a fresh child process, alternated and rotated between repetitions:

* **cache hits at concurrency 1 and 100**: one ``aiohttp.ClientSession(connector=
  TCPConnector(limit=c))``, ``c`` workers sharing a budget of requests, each
  ``GET <FULL_URI>`` with ``Authorization: <token>``, body read (``perf_counter`` around each
  request, from the call to the body read). A warm-up at the same concurrency first. Reported:
  requests/s, p50/p99 latency, client CPU (getrusage of the child over the timed loop) and
  the broker's CPU (``/proc/<pid>/stat`` before and after the timed loop) per request. Every
  answer must be a 200 with the expected ``AccessKeyId``.
* **botocore via the endpoint**: ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and
  ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` in the child's environment, and per resolution a fresh
  ``botocore.credentials.ContainerProvider().load().get_frozen_credentials()`` (a fresh
  provider fetches every time, over a new connection, as every new process does).
* **botocore via credential_process**: per resolution a fresh ``ProcessProvider("bench-process",
  load_config=...)`` (the config read once by a ``botocore.session.Session``), ``.load()
  .get_frozen_credentials()``: a fresh ``aiosso`` process each time, a cache hit answered
  from ``~/.aws/cli/cache``.

For both botocore rows: client CPU per resolution = getrusage of the child over the timed
loop, ``RUSAGE_SELF`` plus ``RUSAGE_CHILDREN`` (the spawned ``aiosso`` processes; none for the
endpoint), and wall time per resolution; the endpoint row also notes the broker's own CPU.

The emulator's ``GetRoleCredentials`` counter is read around every child: all are hits, so it
must not move (a move is reported as an error, as is a wrong ``AccessKeyId``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shlex
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.harness import ScenarioResult, Settings, Table
from benchmarks.scenarios import register
from benchmarks.scenarios.cli import _aiosso_command, _env, _run_once
from benchmarks.scenarios.singleflight import _pairs, _percentile

SESSION = "bench"
REGION = "us-east-1"
START_URL = "https://d-0000000000.awsapps.com/start"
PROFILE = "bench"
PROCESS_PROFILE = "bench-process"

URI_VAR = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN_VAR = "AWS_CONTAINER_AUTHORIZATION_TOKEN"

HITS_1 = "hits c=1"
HITS_100 = "hits c=100"
ENDPOINT = "endpoint"
PROCESS = "process"
MEASUREMENTS = (HITS_1, HITS_100, ENDPOINT, PROCESS)
CONCURRENCY = {HITS_1: 1, HITS_100: 100}
LABELS = {
    ENDPOINT: "botocore ContainerProvider -> aiosso serve",
    PROCESS: "botocore ProcessProvider -> aiosso credential-process (cache hit)",
}

#: timed requests (hits) or resolutions (botocore) per measurement, and the warm-up before.
FULL_SIZES = {HITS_1: 3_000, HITS_100: 10_000, ENDPOINT: 300, PROCESS: 60}
QUICK_SIZES = {HITS_1: 200, HITS_100: 500, ENDPOINT: 20, PROCESS: 4}
FULL_WARMUP = {HITS_1: 200, HITS_100: 1_000, ENDPOINT: 20, PROCESS: 3}
QUICK_WARMUP = {HITS_1: 20, HITS_100: 100, ENDPOINT: 3, PROCESS: 1}


# --------------------------------------------------------------------------- child side


def setup_child(params: dict[str, Any]) -> dict[str, Any]:
    """In a child with ``HOME`` = ``params["home"]``: write the config and the SSO token."""
    os.environ["HOME"] = params["home"]
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)
    from datetime import datetime, timedelta, timezone

    from aiosso.awsconfig import SSOSession
    from aiosso.tokencache import SSOToken, SSOTokenCache

    account, role = params["pair"]
    config = Path(params["home"], ".aws", "config")
    config.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    config.write_text(
        f"[sso-session {SESSION}]\nsso_start_url = {START_URL}\nsso_region = {REGION}\n\n"
        f"[profile {PROFILE}]\nsso_session = {SESSION}\n"
        f"sso_account_id = {account}\nsso_role_name = {role}\nregion = {REGION}\n\n"
        f"[profile {PROCESS_PROFILE}]\ncredential_process = {params['credential_process']}\n"
    )
    session = SSOSession(session_name=SESSION, start_url=START_URL, sso_region=REGION)
    token = SSOToken(
        access_token=params["token"],
        expires_at=datetime.now(timezone.utc) + timedelta(hours=4),
        start_url=START_URL,
        region=REGION,
    )
    SSOTokenCache().save_sync(session, token)
    return {"config": str(config)}


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


async def _hits(p: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    url, expected, concurrency = p["url"], p["access_key_id"], p["concurrency"]
    headers = {"Authorization": p["token"]}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def batch(n: int) -> list[float]:
            latencies: list[float] = []
            remaining = n

            async def worker() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    t0 = time.perf_counter()
                    async with session.get(url, headers=headers) as resp:
                        body = await resp.read()
                        status = resp.status
                    latencies.append(time.perf_counter() - t0)
                    if status != 200:
                        raise RuntimeError(f"the endpoint answered {status}: {body[:200]!r}")
                    if json.loads(body).get("AccessKeyId") != expected:
                        raise RuntimeError("the endpoint answered with other credentials")

            await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
            return latencies

        await batch(p["warmup"])
        broker_before = harness.process_cpu_seconds(p["pid"])
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        latencies = await batch(p["requests"])
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        broker_after = harness.process_cpu_seconds(p["pid"])
    latencies.sort()
    return {
        "requests": len(latencies),
        "wall_s": wall,
        "rps": len(latencies) / wall,
        "p50_s": _percentile(latencies, 0.50),
        "p99_s": _percentile(latencies, 0.99),
        "client_cpu_s": _cpu(after) - _cpu(before),
        "broker_cpu_s": broker_after - broker_before,
    }


def hits_child(params: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: warm-up, then ``params["requests"]`` GETs at a concurrency."""
    from benchmarks._contender import run_loop

    return run_loop(lambda: _hits(params), params.get("loop", "asyncio"))


def botocore_child(params: dict[str, Any]) -> dict[str, Any]:
    """Child-process entry: botocore resolves credentials ``params["resolutions"]`` times,
    through the endpoint (``variant`` ``endpoint``) or a ``credential_process``."""
    if params["variant"] == ENDPOINT:
        os.environ[URI_VAR] = params["url"]
        os.environ[TOKEN_VAR] = params["token"]
        from botocore.credentials import ContainerProvider

        def resolve() -> Any:
            return ContainerProvider().load().get_frozen_credentials()

    else:
        os.environ["HOME"] = params["home"]
        os.environ["AWS_ENDPOINT_URL_SSO"] = params["portal"]  # a miss would be counted there
        for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            os.environ.pop(name, None)
        import botocore.session
        from botocore.credentials import ProcessProvider

        config = botocore.session.Session().full_config
        if "credential_process" not in config["profiles"].get(PROCESS_PROFILE, {}):
            raise RuntimeError(f"profile {PROCESS_PROFILE} has no credential_process")

        def resolve() -> Any:
            return ProcessProvider(PROCESS_PROFILE, lambda: config).load().get_frozen_credentials()

    expected = params["access_key_id"]
    for _ in range(params["warmup"]):
        if resolve().access_key != expected:
            raise RuntimeError("botocore resolved other credentials than expected")
    pid = params.get("pid")
    broker_before = harness.process_cpu_seconds(pid) if pid else float("nan")
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    kids_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrong = 0
    t0 = time.perf_counter()
    for _ in range(params["resolutions"]):
        wrong += resolve().access_key != expected
    wall = time.perf_counter() - t0
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    kids_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    broker_after = harness.process_cpu_seconds(pid) if pid else float("nan")
    if wrong:
        raise RuntimeError(f"botocore resolved other credentials {wrong} times")
    self_cpu = _cpu(self_after) - _cpu(self_before)
    kids_cpu = _cpu(kids_after) - _cpu(kids_before)
    return {
        "resolutions": params["resolutions"],
        "wall_s": wall,
        "self_cpu_s": self_cpu,
        "children_cpu_s": kids_cpu,
        "client_cpu_s": self_cpu + kids_cpu,
        "broker_cpu_s": broker_after - broker_before,
    }


# --------------------------------------------------------------------------- harness side


@dataclass
class Broker:
    """A running ``aiosso serve``: its process, URL and token."""

    proc: subprocess.Popen[bytes]
    url: str
    token: str

    def cpu_seconds(self) -> float:
        return harness.process_cpu_seconds(self.proc.pid)


def _parse_export(line: str, found: dict[str, str]) -> None:
    """Collect ``NAME=value`` from an ``export NAME=value  # comment`` line (shell quoting)."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return
    if len(words) == 2 and words[0] == "export":
        name, sep, value = words[1].partition("=")
        if sep:
            found[name] = value


@contextlib.contextmanager
def broker(
    env: dict[str, str], cwd: Path, profile: str, startup_timeout: float = 30.0
) -> Iterator[Broker]:
    """Start ``aiosso serve --profile PROFILE``; read its exports; SIGTERM it on exit.

    Raises:
        harness.ChildError: it exited or printed no endpoint within ``startup_timeout``.
    """
    with harness.announcing_process(
        [*_aiosso_command(), "serve", "--profile", profile],
        what="aiosso serve",
        wanted=(URI_VAR, TOKEN_VAR),
        parse=_parse_export,
        cwd=cwd,
        env=env,
        startup_timeout=startup_timeout,
    ) as (proc, found):
        yield Broker(proc=proc, url=found[URI_VAR], token=found[TOKEN_VAR])


def _fetch(b: Broker) -> dict[str, Any]:
    """One GET of the endpoint from the harness (plain urllib, no proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(b.url, headers={"Authorization": b.token})
    with opener.open(request, timeout=10) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
        return doc


def _credential_requests(srv: harness.ServerHandle) -> int:
    return int(srv.stats().get("requests", {}).get("GetRoleCredentials", 0))


def _botocore_missing() -> bool:
    import importlib.util

    return importlib.util.find_spec("botocore") is None


@register(
    "broker",
    order=80,
    description="aiosso serve: hits req/s, p50/p99 at c=1/100; botocore CPU vs credential_process",
)
def run(settings: Settings) -> ScenarioResult:
    """Start the emulator and ``aiosso serve``; run every measurement, alternating."""
    result = ScenarioResult()
    sizes = QUICK_SIZES if settings.quick else FULL_SIZES
    warmup = QUICK_WARMUP if settings.quick else FULL_WARMUP
    reps = 1 if settings.quick else min(3, settings.reps)
    measurements = list(MEASUREMENTS)
    if _botocore_missing():
        measurements = [HITS_1, HITS_100]
        result.skipped += [f"{LABELS[m]}: not installed (botocore)" for m in (ENDPOINT, PROCESS)]
    samples: dict[str, list[dict[str, Any]]] = {m: [] for m in measurements}
    failed: set[str] = set()
    aiosso = _aiosso_command()
    credential_process = shlex.join([*aiosso, "credential-process", "--profile", PROFILE])
    with (
        tempfile.TemporaryDirectory(prefix="aiosso-bench-broker-") as tmp,
        harness.server("emulator", accounts=2) as srv,
    ):
        home = Path(tmp)
        params = {
            "home": tmp,
            "token": srv.token,
            "pair": _pairs(srv)[0],
            "credential_process": credential_process,
        }
        env = _env(home, srv.url)
        env["AWS_ENDPOINT_URL_SSO_OIDC"] = srv.url
        try:
            harness.run_child("benchmarks.scenarios.broker:setup_child", params, 60)
            process_key = _seed_process_cache(aiosso, env, home, srv, settings.timeout)
        except (harness.ChildError, ValueError, KeyError) as exc:
            result.errors.append(f"broker setup: {exc}")
            return result
        try:
            with broker(env, home, PROFILE) as b:
                broker_key = _fetch(b)["AccessKeyId"]
                portal_before = _credential_requests(srv)
                for rep in range(reps):
                    for m in harness.rotated(measurements, rep):
                        if m in failed:
                            continue
                        harness.log(f"broker rep {rep + 1}/{reps} {m} ({sizes[m]:,})")
                        p: dict[str, Any] = {
                            "url": b.url,
                            "token": b.token,
                            "pid": b.proc.pid,
                            "access_key_id": broker_key,
                            "warmup": warmup[m],
                            "loop": settings.loop,
                        }
                        if m in CONCURRENCY:
                            entry = "benchmarks.scenarios.broker:hits_child"
                            p.update(requests=sizes[m], concurrency=CONCURRENCY[m])
                        else:
                            entry = "benchmarks.scenarios.broker:botocore_child"
                            p.update(variant=m, resolutions=sizes[m])
                            if m == PROCESS:
                                p.update(
                                    home=tmp, portal=srv.url, access_key_id=process_key, pid=None
                                )
                        try:
                            before = _credential_requests(srv)
                            sample = harness.run_child(entry, p, settings.timeout)
                            sample["portal_requests"] = _credential_requests(srv) - before
                        except (harness.ChildError, OSError, ValueError) as exc:
                            failed.add(m)
                            result.errors.append(f"broker {m}: {exc}")
                            continue
                        if sample["portal_requests"]:
                            result.errors.append(
                                f"broker {m}: the emulator counted {sample['portal_requests']} "
                                "GetRoleCredentials while only cache hits were expected"
                            )
                        samples[m].append(sample)
                portal_during = _credential_requests(srv) - portal_before
        except (harness.ChildError, OSError, ValueError, KeyError) as exc:
            result.errors.append(f"broker: {exc}")
            return result
        result.raw["broker_exit_code"] = b.proc.returncode
        if b.proc.returncode != 0:
            result.errors.append(f"broker: aiosso serve exited {b.proc.returncode} on SIGTERM")
    result.raw.update(
        {
            "server": "emulator (no rate limit)",
            "reps": reps,
            "sizes": {m: sizes[m] for m in measurements},
            "warmup": {m: warmup[m] for m in measurements},
            "credential_process": credential_process,
            "portal_requests_while_measured": portal_during,
            "samples": samples,
        }
    )
    hit_rows = [_hit_row(m, samples[m]) for m in (HITS_1, HITS_100) if samples.get(m)]
    boto_rows = [_boto_row(m, samples[m]) for m in (ENDPOINT, PROCESS) if samples.get(m)]
    result.raw["hits"] = hit_rows
    result.raw["botocore"] = boto_rows
    if hit_rows:
        result.tables.append(_hits_table(hit_rows, reps))
    if boto_rows:
        result.tables.append(_boto_table(boto_rows, reps))
    return result


def _seed_process_cache(
    aiosso: list[str], env: dict[str, str], home: Path, srv: harness.ServerHandle, timeout: float
) -> str:
    """Run ``credential-process`` twice: a miss fills ``~/.aws/cli/cache`` (one request), then
    a hit answers the same credentials with none. Returns their ``AccessKeyId``."""
    cmd = [*aiosso, "credential-process", "--profile", PROFILE]
    before = _credential_requests(srv)
    _, miss = _run_once(cmd, env, home, timeout)
    after_miss = _credential_requests(srv)
    _, hit = _run_once(cmd, env, home, timeout)
    after_hit = _credential_requests(srv)
    key: str = json.loads(miss)["AccessKeyId"]
    if after_miss - before != 1 or after_hit != after_miss or json.loads(hit)["AccessKeyId"] != key:
        raise harness.ChildError(
            "credential-process did not cache its credentials "
            f"(requests: miss {after_miss - before}, hit {after_hit - after_miss})"
        )
    return key


def _med(samples: list[dict[str, Any]], key: str) -> float:
    return harness.median([float(s[key]) for s in samples])


def _hit_row(m: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    n = samples[0]["requests"]
    return {
        "measurement": m,
        "concurrency": CONCURRENCY[m],
        "requests": n,
        "rps": harness.summary([s["rps"] for s in samples]),
        "p50_s": harness.summary([s["p50_s"] for s in samples]),
        "p99_s": harness.summary([s["p99_s"] for s in samples]),
        "client_cpu_per_request_s": _med(samples, "client_cpu_s") / n,
        "broker_cpu_per_request_s": _med(samples, "broker_cpu_s") / n,
        "portal_requests": sum(s["portal_requests"] for s in samples),
    }


def _boto_row(m: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    n = samples[0]["resolutions"]
    return {
        "measurement": m,
        "label": LABELS[m],
        "resolutions": n,
        "client_cpu_per_resolution_s": _med(samples, "client_cpu_s") / n,
        "children_cpu_per_resolution_s": _med(samples, "children_cpu_s") / n,
        "broker_cpu_per_resolution_s": _med(samples, "broker_cpu_s") / n,
        "wall_per_resolution_s": _med(samples, "wall_s") / n,
        "client_cpu_s": harness.summary([s["client_cpu_s"] for s in samples]),
        "wall_s": harness.summary([s["wall_s"] for s in samples]),
        "portal_requests": sum(s["portal_requests"] for s in samples),
    }


def _hits_table(rows: list[dict[str, Any]], reps: int) -> Table:
    table = Table(
        title=f"Credential endpoint cache hits (`aiosso serve`, own process; median of {reps})",
        headers=[
            "c",
            "requests",
            "requests/s",
            "p50 ms",
            "p99 ms",
            "client CPU µs/req",
            "broker CPU µs/req",
            "portal requests",
        ],
    )
    for r in rows:
        table.rows.append(
            [
                str(r["concurrency"]),
                f"{r['requests']:,}",
                harness.fmt(r["rps"]["median"], 0),
                harness.fmt(r["p50_s"]["median"] * 1e3, 3),
                harness.fmt(r["p99_s"]["median"] * 1e3, 3),
                harness.fmt(r["client_cpu_per_request_s"] * 1e6, 0),
                harness.fmt(r["broker_cpu_per_request_s"] * 1e6, 0),
                str(r["portal_requests"]),
            ]
        )
    table.notes += [
        "Client: one aiohttp.ClientSession(connector=TCPConnector(limit=c)), c workers sharing "
        "the requests, `GET <AWS_CONTAINER_CREDENTIALS_FULL_URI>` with `Authorization: <token>`, "
        "body read and checked (AccessKeyId); latency = perf_counter around each request; "
        "after a warm-up at the same concurrency.",
        "broker CPU = the `aiosso serve` process's user+system CPU (/proc) over the timed "
        "requests; client and broker share the 2 cores. portal requests = GetRoleCredentials "
        "the emulator counted during the children (0: every answer was a cache hit).",
    ]
    return table


def _boto_table(rows: list[dict[str, Any]], reps: int) -> Table:
    table = Table(
        title=(
            f"botocore resolving credentials: the endpoint vs credential_process (median of {reps})"
        ),
        headers=[
            "source",
            "resolutions",
            "client CPU ms/resolution",
            "of which child processes ms",
            "wall ms/resolution",
            "CPU x endpoint",
            "wall x endpoint",
            "broker CPU ms/resolution",
        ],
    )
    base = next((r for r in rows if r["measurement"] == ENDPOINT), None)
    for r in rows:
        cpu, wall = r["client_cpu_per_resolution_s"], r["wall_per_resolution_s"]
        table.rows.append(
            [
                r["label"],
                f"{r['resolutions']:,}",
                harness.fmt(cpu * 1e3, 2),
                harness.fmt(r["children_cpu_per_resolution_s"] * 1e3, 2),
                harness.fmt(wall * 1e3, 2),
                harness.fmt(cpu / base["client_cpu_per_resolution_s"] if base else None, 1),
                harness.fmt(wall / base["wall_per_resolution_s"] if base else None, 1),
                harness.fmt(r["broker_cpu_per_resolution_s"] * 1e3, 2)
                if r["measurement"] == ENDPOINT
                else "-",
            ]
        )
    table.notes += [
        "endpoint: AWS_CONTAINER_CREDENTIALS_FULL_URI/AWS_CONTAINER_AUTHORIZATION_TOKEN set, a "
        "fresh ContainerProvider().load().get_frozen_credentials() per resolution (one GET over "
        "a new connection); process: a fresh ProcessProvider(profile, load_config).load()"
        ".get_frozen_credentials() per resolution, the config read once, `credential_process = "
        "aiosso credential-process --profile bench` (a fresh process, a ~/.aws/cli/cache hit).",
        "client CPU = getrusage of the resolving process over the timed loop, RUSAGE_SELF + "
        "RUSAGE_CHILDREN (the spawned aiosso processes); broker CPU (not in the client figure) "
        "= the `aiosso serve` process over the same loop.",
    ]
    return table
