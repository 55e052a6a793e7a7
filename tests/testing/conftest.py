"""Fixtures for the emulator's own tests: botocore clients (the oracle) and a raw HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest

BotocoreFactory = Callable[..., Any]


@pytest.fixture(scope="session")
def _botocore_session() -> Any:
    botocore_session = pytest.importorskip("botocore.session")
    return botocore_session.get_session()


@pytest.fixture
def botocore_sso(_botocore_session: Any) -> Iterator[BotocoreFactory]:
    """``make(url, **config)`` -> botocore's sync ``sso`` client (one attempt, unsigned)."""
    import botocore
    from botocore.config import Config

    clients: list[Any] = []

    def make(url: str, **config: Any) -> Any:
        config.setdefault("retries", {"total_max_attempts": 1})
        client = _botocore_session.create_client(
            "sso",
            region_name="us-east-1",
            endpoint_url=url,
            config=Config(signature_version=botocore.UNSIGNED, **config),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw aiohttp session; one connection per request so faults never leak into the next."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session
