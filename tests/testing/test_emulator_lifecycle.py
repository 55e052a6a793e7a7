"""Emulator lifecycle (start/close, port errors) and the organisation model."""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import time

import aiohttp
import pytest

from aiosso.testing import Account, Faults, Organisation, PortalEmulator

HEADER = "x-amz-sso_bearer_token"


async def test_url_and_port_after_start() -> None:
    """url is http://127.0.0.1:<ephemeral port> once started; before start it raises."""
    emu = PortalEmulator()
    with pytest.raises(RuntimeError):
        _ = emu.url
    async with emu:
        assert emu.port > 0
        assert emu.url == f"http://127.0.0.1:{emu.port}"
        assert "running" in repr(emu)
    assert "closed" in repr(emu)


async def test_close_is_idempotent_and_start_once() -> None:
    """close() may be called repeatedly (even unstarted); a closed emulator cannot restart."""
    emu = PortalEmulator()
    await emu.close()
    await emu.close()
    with pytest.raises(RuntimeError):
        await emu.start()
    async with PortalEmulator() as running:
        with pytest.raises(RuntimeError):
            await running.start()


async def test_close_with_open_and_in_flight_connections_is_prompt() -> None:
    """close() returns promptly with an idle keep-alive and a slow in-flight request open."""
    emu = PortalEmulator(faults=Faults(latency=30.0, operations={"ListAccountRoles"}))
    await emu.start()
    async with aiohttp.ClientSession() as http:
        async with http.get(emu.url + "/assignment/accounts", headers={HEADER: emu.token}) as r:
            assert r.status == 200
        account_id = emu.organisation.accounts[0].account_id
        slow = asyncio.ensure_future(
            http.get(
                emu.url + "/assignment/roles",
                params={"account_id": account_id},
                headers={HEADER: emu.token},
            )
        )
        for _ in range(200):
            if emu.stats.in_flight:
                break
            await asyncio.sleep(0.01)
        assert emu.stats.in_flight == 1
        start = time.monotonic()
        await emu.close()
        assert time.monotonic() - start < 2
        with pytest.raises(aiohttp.ClientError):
            await slow
    assert emu.stats.in_flight == 0


async def test_port_in_use_raises_oserror() -> None:
    """Binding a port that is already listening raises OSError(EADDRINUSE) and leaks nothing."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        emu = PortalEmulator(port=port)
        with pytest.raises(OSError) as info:
            await emu.start()
        assert info.value.errno == errno.EADDRINUSE
        await emu.close()


async def test_admin_stats_reachable_from_another_client() -> None:
    """Another process could read counters over HTTP: /_emulator/stats is plain JSON."""
    async with (
        PortalEmulator() as emu,
        aiohttp.ClientSession() as http,
        http.get(emu.url + "/_emulator/stats") as r,
    ):
        assert r.headers["Content-Type"].startswith("application/json")
        assert json.loads(await r.read())["total"] == 0


def test_generated_organisation_is_deterministic() -> None:
    """generate() gives unique 12-digit ids fixed by the seed, catalogue names and emails."""
    one = Organisation.generate(30, 2, seed=1)
    assert one == Organisation.generate(30, 2, seed=1)
    assert one != Organisation.generate(30, 2, seed=2)
    ids = [a.account_id for a in one.accounts]
    assert len(set(ids)) == 30
    assert all(len(i) == 12 and i.isdigit() for i in ids)
    first = one.accounts[0]
    assert first.account_name == "Production-0001"
    assert first.email_address == "aws+production-0001@example.com"
    assert first.roles == ("AdministratorAccess", "ReadOnlyAccess")
    assert one.get(first.account_id) is first
    assert one.get("000000000000") is None


def test_generated_role_names_cycle_then_number() -> None:
    """Role names cycle through the catalogue and then repeat with a number."""
    roles = Organisation.generate(1, 13).accounts[0].roles
    assert roles[0] == "AdministratorAccess"
    assert roles[11:] == ("AdministratorAccess2", "ReadOnlyAccess2")
    assert len(set(roles)) == 13


def test_explicit_organisations() -> None:
    """A mapping or a list of Accounts builds the organisation, in the given order."""
    accounts = [
        Account("222233334444", "B", "b@example.com", ["R"]),
        Account("111122223333", "A", "a@example.com", []),
    ]
    assert [a.account_id for a in Organisation.coerce(accounts).accounts] == [
        "222233334444",
        "111122223333",
    ]
    mapped = Organisation.coerce({"111122223333": ("Admin",)})
    assert mapped.accounts[0].roles == ("Admin",)
    assert Organisation.coerce(mapped) is mapped
    emu = PortalEmulator(organisation=accounts)
    assert emu.organisation.accounts[0].account_name == "B"


@pytest.mark.parametrize(
    "bad",
    [
        {"12345": ["Admin"]},
        {"111122223333": ["Admin", "Admin"]},
        {"111122223333": [""]},
    ],
)
def test_invalid_organisations(bad: dict[str, list[str]]) -> None:
    """Malformed ids, duplicate or empty role names are ValueErrors."""
    with pytest.raises(ValueError):
        Organisation.coerce(bad)


def test_duplicate_accounts_and_bad_roles_type() -> None:
    """Duplicate account ids are a ValueError; roles given as one string a TypeError."""
    account = Account("111122223333", "A", "a@example.com", [])
    with pytest.raises(ValueError):
        Organisation([account, account])
    with pytest.raises(TypeError):
        Account("111122223333", "A", "a@example.com", "Admin")
    with pytest.raises(ValueError):
        PortalEmulator(page_size=0)


async def test_credentials_deterministic_and_distinct() -> None:
    """Credentials repeat for the same seed and call order, and differ between calls."""
    keys = []
    for _ in range(2):
        async with PortalEmulator(seed=3) as emu, aiohttp.ClientSession() as http:
            account = emu.organisation.accounts[0]
            query = {"account_id": account.account_id, "role_name": account.roles[0]}
            run = []
            for _ in range(2):
                async with http.get(
                    emu.url + "/federation/credentials", params=query, headers={HEADER: emu.token}
                ) as r:
                    run.append((await r.json())["roleCredentials"]["accessKeyId"])
            keys.append(run)
    assert keys[0] == keys[1]
    assert keys[0][0] != keys[0][1]
