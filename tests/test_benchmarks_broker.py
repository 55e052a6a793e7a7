"""The ``broker`` benchmark scenario reads what ``aiosso serve`` prints and measures cache hits:
its setup serves the profile from a broker that stops on SIGTERM."""

from __future__ import annotations

import io
from pathlib import Path

from aiosso._cli_broker import _announce
from aiosso.broker import CredentialServer
from benchmarks import harness
from benchmarks.scenarios import broker, discover


def test_broker_scenario_is_registered() -> None:
    """``python -m benchmarks --list`` shows ``broker``."""
    assert "broker" in [scenario.name for scenario in discover()]


def test_the_export_lines_are_parsed_as_serve_prints_them() -> None:
    """The token, and the live URI (the first profile's), whatever the comments."""
    server = CredentialServer({})
    out = io.StringIO()
    _announce(server, ["bench", "other"], None, out)
    found: dict[str, str] = {}
    for line in out.getvalue().splitlines():
        broker._parse_export(line, found)
    assert found == {broker.TOKEN_VAR: server.token, broker.URI_VAR: server.url("bench")}


def test_setup_serves_the_profile_then_stops_on_sigterm(tmp_path: Path) -> None:
    """With the scenario's HOME, ``aiosso serve`` answers the profile's credentials with the
    emulator's first pair, makes no request for a hit, and exits 0 on SIGTERM."""
    with harness.server("emulator", accounts=1) as srv:
        params = {
            "home": str(tmp_path),
            "token": srv.token,
            "pair": broker._pairs(srv)[0],
            "credential_process": "false",
        }
        harness.run_child("benchmarks.scenarios.broker:setup_child", params, 60)
        env = broker._env(tmp_path, srv.url)
        with broker.broker(env, tmp_path, broker.PROFILE) as served:
            first = broker._fetch(served)
            before = broker._credential_requests(srv)
            assert broker._fetch(served)["AccessKeyId"] == first["AccessKeyId"]
            assert broker._credential_requests(srv) == before
            proc = served.proc
    assert proc.returncode == 0
