"""The ``aiosso`` pytest plugin: fixtures for users, and harmless import without pytest-asyncio."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import aiohttp
import pytest

import aiosso.testing
from aiosso.testing import PortalEmulator
from aiosso.testing import pytest_plugin as plugin


async def test_sso_emulator_fixture(sso_emulator: PortalEmulator) -> None:
    """sso_emulator yields a started default emulator whose token works."""
    async with aiohttp.ClientSession() as http:
        headers = {"x-amz-sso_bearer_token": sso_emulator.token}
        async with http.get(sso_emulator.url + "/assignment/accounts", headers=headers) as r:
            assert r.status == 200


async def test_sso_emulator_factory_fixture(sso_emulator_factory: Any) -> None:
    """sso_emulator_factory starts emulators with custom settings, closed after the test."""
    small = await sso_emulator_factory(accounts=1)
    large = await sso_emulator_factory(accounts=30, page_size=5)
    assert len(small.organisation.accounts) == 1
    assert len(large.organisation.accounts) == 30
    assert small.url != large.url


def test_plugin_imports_without_pytest_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pytest-asyncio the plugin loads and defines no fixtures."""
    monkeypatch.setitem(sys.modules, "pytest_asyncio", None)
    spec = importlib.util.spec_from_file_location("_aiosso_plugin_copy", plugin.__file__)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__all__ == []
    assert not hasattr(module, "sso_emulator")


def test_public_names_sorted() -> None:
    """aiosso.testing re-exports its public names with a sorted __all__."""
    assert aiosso.testing.__all__ == sorted(aiosso.testing.__all__)
    for name in aiosso.testing.__all__:
        assert hasattr(aiosso.testing, name)
    assert plugin.__all__ == ["sso_emulator", "sso_emulator_factory"]


def test_emulator_does_not_import_the_client() -> None:
    """The emulator is an independent oracle: its modules import no aiosso client module."""
    import ast
    from pathlib import Path

    package = Path(aiosso.testing.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.level == 1 or not node.module.startswith("aiosso"), path
                assert node.level <= 1, path
