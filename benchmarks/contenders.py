"""The clients being compared, behind one small async interface.

Each contender is a class registered in :data:`CONTENDERS` under a short name. Instances are
created and used inside a benchmark child process (see :mod:`benchmarks._contender`), never in the
harness process, so that one contender's imports, caches and CPU time never leak into another's.

Adding a contender (e.g. aiobotocore with ``retry_mode="adaptive"`` for a throttling scenario):
subclass :class:`Contender` (or an existing contender), set ``name`` and ``requires``, decorate the
class with :func:`register`. Every method receives and returns botocore-shaped dicts.

The floor is written the way a competent user would write it with plain aiohttp: one default
``ClientSession`` (connector limit equal to the others' pool size), ``session.get`` with the query
in the URL and the bearer-token header, a status check, ``json.loads(await resp.read())``. It is
neither tuned nor handicapped.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import importlib.util
import json
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

ROLE_NAME = "BenchRole"
ACCOUNT_ID = "111122223333"
REGION = "us-east-1"
#: Thread-pool cap for botocore-on-threads: beyond this, more threads only add GIL contention.
MAX_THREADS = 32

CONTENDERS: dict[str, type[Contender]] = {}

_C = TypeVar("_C", bound="type[Contender]")


def register(cls: _C) -> _C:
    """Class decorator: add a contender to :data:`CONTENDERS` under ``cls.name``."""
    if cls.name in CONTENDERS:
        raise ValueError(f"duplicate contender name {cls.name!r}")
    CONTENDERS[cls.name] = cls
    return cls


def missing_requirements(name: str) -> list[str]:
    """Return the modules a contender needs that are not importable (empty when runnable)."""
    return [mod for mod in CONTENDERS[name].requires if importlib.util.find_spec(mod) is None]


class Contender(abc.ABC):
    """One client under test, opened once per child process.

    Args:
        url: the server's base URL (``http://127.0.0.1:PORT``).
        token: the bearer token the server accepts.
        pool: the connection-pool size to configure (the same for every contender).
        concurrency: how many calls will be in flight at once (thread pools size on it).
    """

    name: ClassVar[str]
    #: top-level modules that must be importable for this contender to run.
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, url: str, token: str, pool: int, concurrency: int) -> None:
        self.url = url
        self.token = token
        self.pool = pool
        self.concurrency = concurrency
        #: human-readable notes surfaced in the report (e.g. a fallback that was taken).
        self.notes: list[str] = []

    @abc.abstractmethod
    async def open(self) -> None:
        """Create the client (and its session) ready for calls."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release everything :meth:`open` created."""

    @abc.abstractmethod
    async def get_role_credentials(self) -> dict[str, Any]:
        """Call GetRoleCredentials for the canned role; return the response dict."""

    @abc.abstractmethod
    async def list_accounts(self, max_results: int, next_token: str | None) -> dict[str, Any]:
        """Call ListAccounts once; return the response dict."""

    async def account_pages(self, page_size: int) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield each page's ``accountList`` of a full listing, one page at a time.

        The default is the manual ``nextToken`` loop a user would write; contenders with a
        paginator override it to use their paginator.
        """
        token: str | None = None
        while True:
            page = await self.list_accounts(page_size, token)
            yield page.get("accountList", [])
            token = page.get("nextToken")
            if not token:
                return


@register
class AiossoContender(Contender):
    """aiosso's :class:`AsyncSSOClient`, default settings except the pool size."""

    name = "aiosso"
    requires = ("aiosso",)

    async def open(self) -> None:
        from aiosso import AsyncSSOClient, ClientConfig

        self._client: Any = AsyncSSOClient(
            region_name=REGION,
            endpoint_url=self.url,
            config=ClientConfig(max_pool_connections=self.pool),
        )
        await self._client.__aenter__()

    async def close(self) -> None:
        await self._client.__aexit__(None, None, None)

    async def get_role_credentials(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._client.get_role_credentials(
            roleName=ROLE_NAME, accountId=ACCOUNT_ID, accessToken=self.token
        )
        return result

    async def list_accounts(self, max_results: int, next_token: str | None) -> dict[str, Any]:
        if next_token is None:
            result: dict[str, Any] = await self._client.list_accounts(
                accessToken=self.token, maxResults=max_results
            )
        else:
            result = await self._client.list_accounts(
                accessToken=self.token, maxResults=max_results, nextToken=next_token
            )
        return result

    async def account_pages(self, page_size: int) -> AsyncIterator[list[dict[str, Any]]]:
        try:
            paginator = self._client.get_paginator("list_accounts")
        except Exception as exc:  # paginators may not exist yet: fall back, and say so
            self.notes.append(f"aiosso get_paginator unavailable ({exc!r}); manual nextToken loop")
            async for page in super().account_pages(page_size):
                yield page
            return
        pages = paginator.paginate(accessToken=self.token, PaginationConfig={"PageSize": page_size})
        async for page in pages:
            yield page.get("accountList", [])


@register
class AiossoSessionContender(AiossoContender):
    """aiosso sending through a borrowed ``aiohttp.ClientSession`` (``session=``).

    The route a user takes to bring their own connector, proxy or tracing settings: it shows
    what aiohttp's request machinery costs on top of aiosso's own per-call work.
    """

    name = "aiosso-session"
    requires = ("aiosso", "aiohttp")

    async def open(self) -> None:
        import aiohttp

        from aiosso import AsyncSSOClient, ClientConfig

        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.pool))
        self._client = AsyncSSOClient(
            region_name=REGION,
            endpoint_url=self.url,
            session=self._session,
            config=ClientConfig(max_pool_connections=self.pool),
        )
        await self._client.__aenter__()

    async def close(self) -> None:
        await self._client.__aexit__(None, None, None)
        await self._session.close()


@register
class FloorContender(Contender):
    """Bare aiohttp: ``session.get`` + ``json.loads``, as a competent user writes it."""

    name = "floor"
    requires = ("aiohttp",)

    async def open(self) -> None:
        import aiohttp

        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.pool))
        self._headers = {"x-amz-sso_bearer_token": self.token}
        self._credentials_url = (
            f"{self.url}/federation/credentials?role_name={ROLE_NAME}&account_id={ACCOUNT_ID}"
        )
        self._accounts_url = f"{self.url}/assignment/accounts"

    async def close(self) -> None:
        await self._session.close()

    async def _get(self, url: Any) -> dict[str, Any]:  # a str, or a yarl.URL (floor-tuned)
        async with self._session.get(url, headers=self._headers) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {body[:200]!r}")
            result: dict[str, Any] = json.loads(body)
            return result

    async def get_role_credentials(self) -> dict[str, Any]:
        return await self._get(self._credentials_url)

    async def list_accounts(self, max_results: int, next_token: str | None) -> dict[str, Any]:
        url = f"{self._accounts_url}?max_result={max_results}"
        if next_token:
            url += f"&next_token={quote(next_token, safe='')}"
        return await self._get(url)


@register
class FloorTunedContender(FloorContender):
    """Bare aiohttp used as well as a caller can: no cookie jar, pre-encoded URLs, ``read()``.

    ``ClientSession(cookie_jar=DummyCookieJar())``, the URLs parsed once as
    ``yarl.URL(..., encoded=True)`` (a page token's URL is built encoded per call), the header
    dict built once, ``json.loads(await resp.read())``.
    """

    name = "floor-tuned"

    async def open(self) -> None:
        import aiohttp
        from yarl import URL

        await super().open()
        await self._session.close()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.pool),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._url = URL
        self._credentials = URL(self._credentials_url, encoded=True)
        self._accounts: dict[int, Any] = {}

    async def get_role_credentials(self) -> dict[str, Any]:
        return await self._get(self._credentials)

    async def list_accounts(self, max_results: int, next_token: str | None) -> dict[str, Any]:
        if next_token:
            url = self._url(
                f"{self._accounts_url}?max_result={max_results}"
                f"&next_token={quote(next_token, safe='')}",
                encoded=True,
            )
        else:
            url = self._accounts.get(max_results)
            if url is None:
                url = self._accounts[max_results] = self._url(
                    f"{self._accounts_url}?max_result={max_results}", encoded=True
                )
        return await self._get(url)


def _botocore_config(pool: int) -> Any:
    import botocore
    from botocore.config import Config

    return Config(signature_version=botocore.UNSIGNED, max_pool_connections=pool)


@register
class AiobotocoreContender(Contender):
    """aiobotocore's ``sso`` client, unsigned (the portal API authenticates by header)."""

    name = "aiobotocore"
    requires = ("aiobotocore", "botocore")

    async def open(self) -> None:
        import botocore
        from aiobotocore.config import AioConfig
        from aiobotocore.session import AioSession

        config = AioConfig(signature_version=botocore.UNSIGNED, max_pool_connections=self.pool)
        self._ctx = AioSession().create_client(
            "sso", region_name=REGION, endpoint_url=self.url, config=config
        )
        self._client: Any = await self._ctx.__aenter__()

    async def close(self) -> None:
        await self._ctx.__aexit__(None, None, None)

    async def get_role_credentials(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._client.get_role_credentials(
            roleName=ROLE_NAME, accountId=ACCOUNT_ID, accessToken=self.token
        )
        return result

    async def list_accounts(self, max_results: int, next_token: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"accessToken": self.token, "maxResults": max_results}
        if next_token:
            kwargs["nextToken"] = next_token
        result: dict[str, Any] = await self._client.list_accounts(**kwargs)
        return result

    async def account_pages(self, page_size: int) -> AsyncIterator[list[dict[str, Any]]]:
        paginator = self._client.get_paginator("list_accounts")
        pages = paginator.paginate(accessToken=self.token, PaginationConfig={"PageSize": page_size})
        async for page in pages:
            yield page.get("accountList", [])


@register
class BotocoreThreadsContender(Contender):
    """Sync botocore ``sso`` client driven from asyncio through a thread pool.

    This is what an asyncio service does when it keeps boto3/botocore: ``run_in_executor`` on a
    pool of ``min(concurrency, MAX_THREADS)`` workers, one shared (thread-safe) client whose
    urllib3 pool has as many connections as there are workers.
    """

    name = "botocore-threads"
    requires = ("botocore",)

    async def open(self) -> None:
        import botocore.session

        workers = max(1, min(self.concurrency, MAX_THREADS))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bench")
        self._client: Any = botocore.session.get_session().create_client(
            "sso", region_name=REGION, endpoint_url=self.url, config=_botocore_config(workers)
        )
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        self._client.close()
        self._pool.shutdown(wait=True)

    async def _run(self, fn: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._loop.run_in_executor(
            self._pool, functools.partial(fn, **kwargs)
        )
        return result

    async def get_role_credentials(self) -> dict[str, Any]:
        return await self._run(
            self._client.get_role_credentials,
            roleName=ROLE_NAME,
            accountId=ACCOUNT_ID,
            accessToken=self.token,
        )

    async def list_accounts(self, max_results: int, next_token: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"accessToken": self.token, "maxResults": max_results}
        if next_token:
            kwargs["nextToken"] = next_token
        return await self._run(self._client.list_accounts, **kwargs)

    async def account_pages(self, page_size: int) -> AsyncIterator[list[dict[str, Any]]]:
        paginator = self._client.get_paginator("list_accounts")
        pages = iter(
            paginator.paginate(accessToken=self.token, PaginationConfig={"PageSize": page_size})
        )
        while True:
            page = await self._loop.run_in_executor(self._pool, next, pages, None)
            if page is None:
                return
            yield page.get("accountList", [])
