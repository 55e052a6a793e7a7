"""The ``aiosso`` pytest plugin: ``sso_emulator`` and ``sso_emulator_factory`` fixtures.

Registered as a ``pytest11`` entry point, so it loads in every pytest run of anyone who
installs aiosso: it does nothing at import beyond defining fixtures, and defines them only when
pytest-asyncio is installed (the fixtures are async).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._emulator import PortalEmulator

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - exercised only without pytest-asyncio
    _HAVE_PYTEST_ASYNCIO = False
else:
    _HAVE_PYTEST_ASYNCIO = True

__all__: list[str] = []

EmulatorFactory = Callable[..., Awaitable["PortalEmulator"]]
"""``await factory(**kwargs)`` returns a started ``PortalEmulator(**kwargs)``, closed at
teardown."""

if _HAVE_PYTEST_ASYNCIO:
    __all__ += ["sso_emulator", "sso_emulator_factory"]

    @pytest_asyncio.fixture
    async def sso_emulator_factory() -> AsyncIterator[EmulatorFactory]:
        """Start emulators with custom settings; every one is closed after the test."""
        from ._emulator import PortalEmulator

        started: list[PortalEmulator] = []

        async def factory(**kwargs: Any) -> PortalEmulator:
            emulator = PortalEmulator(**kwargs)
            await emulator.start()
            started.append(emulator)
            return emulator

        try:
            yield factory
        finally:
            for emulator in reversed(started):
                await emulator.close()

    @pytest_asyncio.fixture
    async def sso_emulator() -> AsyncIterator[PortalEmulator]:
        """A started PortalEmulator with default settings (``.url``, ``.token``)."""
        from ._emulator import PortalEmulator

        async with PortalEmulator() as emulator:
            yield emulator
