"""The ``cli`` benchmark scenario (issue 16) measures what it says: a real cache hit, in
children that cache bytecode as users' interpreters do."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import harness
from benchmarks.scenarios import cli, discover


def test_cli_scenario_is_registered() -> None:
    """``python -m benchmarks --list`` shows ``cli``."""
    assert "cli" in [scenario.name for scenario in discover()]


def test_children_cache_bytecode_in_the_scenario_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The measured processes get no PYTHONDONTWRITEBYTECODE, the scenario's HOME and the AWS
    files at their default places under it, and the emulator as the portal."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = cli._env(tmp_path, "http://127.0.0.1:9")
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["HOME"] == str(tmp_path)
    assert "AWS_CONFIG_FILE" not in env
    assert "AWS_SHARED_CREDENTIALS_FILE" not in env
    assert env["AWS_ENDPOINT_URL_SSO"] == "http://127.0.0.1:9"


def test_setup_makes_the_hit_profile_a_cache_hit(tmp_path: Path) -> None:
    """After the setup child, ``credential-process --profile hit`` answers from the cache with
    no portal to ask, and the miss profile has no entry."""
    params = {
        "home": str(tmp_path),
        "token": "not-a-real-token",
        "hit": ["111111111111", "ReadOnly"],
        "miss": ["111111111111", "Admin"],
    }
    setup = harness.run_child("benchmarks.scenarios.cli:setup_child", params, 60)
    assert not Path(setup["cache_dir"], f"{setup['keys']['miss']}.json").exists()
    env = cli._env(tmp_path, "http://127.0.0.1:9")  # nothing listens: a fetch would fail
    _, out = cli._run_once(cli._commands()[cli.HIT], env, tmp_path, 60)
    cli._check_output(cli.HIT, out)
