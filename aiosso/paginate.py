"""Async paginators for ``list_accounts`` and ``list_account_roles``, compatible with botocore.

``client.get_paginator(name).paginate(**op_kwargs, PaginationConfig={...})`` returns an
:class:`AsyncPageIterator`: a lazy async cursor over the operation's pages. Pages, the result of
``build_full_result()``, ``MaxItems`` truncation and the ``StartingToken`` / ``NextToken`` resume
tokens are botocore's, byte for byte, so a token from botocore resumes here and the other way
round.

Where botocore is weak we differ, on purpose:

* ``PageSize`` outside 1..100, a negative ``MaxItems`` and a malformed ``StartingToken`` are
  refused by ``paginate()`` itself, before any request (botocore fails at the first request, or
  not at all).
* The page iterator is a cursor, not a re-startable iterable: a second ``async for`` continues
  where the first stopped. After an exception (a page request failed) it retries that page;
  after a ``break`` it goes on with the next page; once finished it yields nothing. botocore
  re-runs its generator from the last token it injected, which repeats a page.
* ``resume_token`` is kept up to date while iterating, so after an error or a ``break`` it
  resumes at the first page not yet yielded, in any botocore or aiosso paginator.
* A received ``nextToken`` of ``"None"`` ends pagination (botocore would drop it when injecting
  and fetch the first page again, looping).
* A plain ``for`` raises ``TypeError`` (aiobotocore yields an un-awaited coroutine).
"""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, TypedDict, TypeVar, cast

from aiosso._operations import LIST_ACCOUNT_ROLES, LIST_ACCOUNTS, Pagination
from aiosso.exceptions import PaginationError, ParamValidationError
from aiosso.type_defs import (
    AccountInfoTypeDef,
    ListAccountRolesResponseTypeDef,
    ListAccountsResponseTypeDef,
    RoleInfoTypeDef,
)

if TYPE_CHECKING:
    from typing_extensions import NotRequired, Self, Unpack

    from aiosso.client import AsyncSSOClient
    from aiosso.type_defs import PaginationConfigTypeDef

__all__ = [
    "AsyncPageIterator",
    "ListAccountRolesPageIterator",
    "ListAccountRolesPaginator",
    "ListAccountRolesRequestPaginateTypeDef",
    "ListAccountsPageIterator",
    "ListAccountsPaginator",
    "ListAccountsRequestPaginateTypeDef",
]

_PageT = TypeVar("_PageT")
_ItemT = TypeVar("_ItemT")
_T = TypeVar("_T")

_TRUNCATE: Final = "boto_truncate_amount"
_PAGE_SIZE_MIN: Final = 1
_PAGE_SIZE_MAX: Final = 100

# Cursor states.
_NEW: Final = "new"
_RUNNING: Final = "running"
_REPEATED: Final = "repeated"  # the last page repeated its predecessor's token: raise next time
_DONE: Final = "done"


class ListAccountsRequestPaginateTypeDef(TypedDict):
    """Keyword arguments of :meth:`ListAccountsPaginator.paginate` (as mypy-boto3-sso)."""

    accessToken: str
    PaginationConfig: NotRequired[PaginationConfigTypeDef]


class ListAccountRolesRequestPaginateTypeDef(TypedDict):
    """Keyword arguments of :meth:`ListAccountRolesPaginator.paginate` (as mypy-boto3-sso)."""

    accessToken: str
    accountId: str
    PaginationConfig: NotRequired[PaginationConfigTypeDef]


# --------------------------------------------------------------------------- resume tokens


def _encode_token(token: dict[str, Any]) -> str:
    # botocore's TokenEncoder: json.dumps with its default separators, then base64.
    return base64.b64encode(json.dumps(token).encode("utf-8")).decode("utf-8")


def _bad_token(token: object) -> ValueError:
    return ValueError(f"Bad starting token: {token}")


def _decode_starting_token(token: str, input_token: str) -> tuple[str | None, int]:
    """Read a ``StartingToken`` as botocore does: ``(token to send, items to skip)``.

    First as botocore's own format (base64 of a JSON object holding the input token and maybe
    ``boto_truncate_amount``); failing that, as the deprecated ``<token>___<index>`` format,
    which also takes a raw service token as it is. The token to send may be ``None`` or the
    string ``"None"``, both meaning "from the first page".

    Raises:
        ValueError: ``Bad starting token: ...``, for a JSON object with other keys or values
            of the wrong type, or a deprecated token with too many parts.
    """
    try:
        decoded = json.loads(base64.b64decode(token.encode("utf-8")).decode("utf-8"))
    except (ValueError, TypeError):  # binascii, Unicode and JSON errors are all ValueErrors
        decoded = None
    if isinstance(decoded, dict):
        skip = decoded.pop(_TRUNCATE, 0)
        value = decoded.get(input_token)
        if (
            decoded.keys() != {input_token}
            or not (value is None or isinstance(value, str))
            or type(skip) is not int
            or skip < 0
        ):
            raise _bad_token(token)
        return value, skip
    # Deprecated format. botocore crashes on JSON that is not an object; we read it this way.
    parts = token.split("___")
    skip = 0
    if len(parts) == 2:
        try:
            skip = int(parts[1])
        except ValueError:
            parts = [token]  # an opaque service token that happens to contain "___"
        else:
            del parts[1]
    if len(parts) > 1 or skip < 0:
        raise _bad_token(token)
    return (None if parts[0] == "None" else parts[0]), skip


def _inject(params: dict[str, Any], name: str, token: str | None) -> None:
    # botocore sends neither None nor the string "None": both mean "from the first page".
    if token is not None and token != "None":
        params[name] = token
    else:
        params.pop(name, None)


def _read_config(config: object) -> tuple[int | None, int | None, str | None]:
    """``(MaxItems, PageSize, StartingToken)`` from ``PaginationConfig``, checked.

    Unknown keys are ignored and numbers go through ``int()``, as in botocore.

    Raises:
        ParamValidationError: ``PaginationConfig`` is not a mapping, ``PageSize`` is outside
            1..100 or ``MaxItems`` is negative.
        ValueError, TypeError: from ``int()`` for a value that is not a number.
    """
    if config is None:
        return None, None, None
    if not isinstance(config, Mapping):
        raise ParamValidationError(
            report=f"Invalid type for parameter PaginationConfig, value: {config}, "
            f"type: {type(config)}, valid types: <class 'dict'>"
        )
    raw_max = config.get("MaxItems")
    raw_size = config.get("PageSize")
    max_items = None if raw_max is None else int(raw_max)
    page_size = None if raw_size is None else int(raw_size)
    report = []
    if page_size is not None and page_size < _PAGE_SIZE_MIN:
        report.append(
            f"Invalid value for parameter maxResults, value: {page_size}, "
            f"valid min value: {_PAGE_SIZE_MIN}"
        )
    elif page_size is not None and page_size > _PAGE_SIZE_MAX:
        report.append(
            f"Invalid value for parameter maxResults, value: {page_size}, "
            f"valid max value: {_PAGE_SIZE_MAX}"
        )
    if max_items is not None and max_items < 0:
        report.append(
            f"Invalid value for parameter PaginationConfig.MaxItems, value: {max_items}, "
            "valid min value: 0"
        )
    if report:
        raise ParamValidationError(report="\n".join(report))
    starting = config.get("StartingToken")
    if starting is not None and not isinstance(starting, str):
        raise _bad_token(starting)
    return max_items, page_size, starting


# --------------------------------------------------------------------------- iterators

# Theory of operation
# -------------------
# The cursor's position is the input token that fetches the next page (``_position``, kept
# verbatim for resume tokens, "None" included) plus, right after a StartingToken, how many
# items of that page were already delivered (``_skip``). ``_total`` counts items delivered
# toward MaxItems. A page is accepted in botocore's order:
#
#   1. slice ``_skip`` items off its front (first page after a StartingToken only);
#   2. if it would pass MaxItems, cut it; the resume token is the position that fetched it
#      plus ``boto_truncate_amount`` = items kept + items skipped; done;
#   3. no (or an empty, or "None") nextToken: done, no resume token;
#   4. MaxItems reached exactly on the page boundary: the resume token is the next token; done;
#   5. the same token as the previous page's: deliver this page, raise PaginationError next;
#   6. otherwise the received token becomes the position.
#
# State changes only once a page has arrived, so an exception from a request (after the
# client's own retries) leaves the cursor where it was: the next ``__anext__`` asks for the
# same page again, with the same MaxItems budget. Nothing is restarted, skipped or repeated.


class AsyncPageIterator(Generic[_PageT, _ItemT]):
    """A lazy async cursor over the pages of one paginated operation.

    ``async for page in it`` yields each page: the operation's full response dict, as the
    client method returns it (``ResponseMetadata``, the result list, ``nextToken``). No request
    is made before the first page is asked for, and only one page is held at a time.

    It is a cursor: a new ``async for`` continues where the previous one stopped. If a page
    request raises, the exception propagates and the cursor stays on that page, so iterating
    again retries it; ``resume_token`` resumes there from any other paginator.

    Created by :meth:`ListAccountsPaginator.paginate` or
    :meth:`ListAccountRolesPaginator.paginate`; not meant to be built directly.
    """

    def __init__(
        self,
        method: Callable[..., Awaitable[_PageT]],
        pagination: Pagination,
        op_kwargs: dict[str, Any],
    ) -> None:
        """Set up a cursor over ``method`` (a client operation); no I/O.

        Args:
            method: the bound client method that fetches one page.
            pagination: the operation's token, limit and result keys.
            op_kwargs: the keyword arguments given to ``paginate()``; taken over (mutated).

        Raises:
            ParamValidationError, ValueError, TypeError: see :meth:`ListAccountsPaginator.paginate`.
        """
        max_items, page_size, starting_token = _read_config(op_kwargs.pop("PaginationConfig", None))
        name = pagination.input_token
        position: str | None
        if starting_token is not None:
            position, skip = _decode_starting_token(starting_token, name)
            _inject(op_kwargs, name, position)
        else:
            # An explicit nextToken argument is honoured for the first request (as botocore)
            # and, unlike botocore, is also what a first-page resume token points at.
            explicit = op_kwargs.get(name)
            position, skip = (explicit if isinstance(explicit, str) else None), 0
        if page_size is not None:
            op_kwargs[pagination.limit_key] = page_size
        self._method = method
        self._pagination = pagination
        self._params = op_kwargs
        self._max_items = max_items
        self._position = position
        self._skip = skip
        self._total = 0
        self._previous: str | None = None
        self._pages = 0
        self._state: str = _NEW
        self._busy = False
        self._resume_token: str | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._state} pages={self._pages} items={self._total}>"

    # ------------------------------------------------------------------ botocore surface

    @property
    def result_key(self) -> str:
        """The response key holding the page's items (``accountList`` or ``roleList``)."""
        return self._pagination.result_key

    @property
    def non_aggregate_part(self) -> dict[str, Any]:
        """Always ``{}``: these operations have no non-aggregate keys (botocore attribute)."""
        return {}

    @property
    def resume_token(self) -> str | None:
        """A ``StartingToken`` that continues after what has been delivered, or None.

        None before iteration starts and after the results ran out. After ``MaxItems``
        stopped the iteration it is botocore's ``NextToken``; while iterating, or after an
        error or a ``break``, it points at the first page (or item) not yet delivered.
        """
        return self._resume_token

    @resume_token.setter
    def resume_token(self, value: dict[str, Any]) -> None:
        """Set from a token dict, as botocore allows.

        Raises:
            ValueError: ``Bad starting token: ...`` unless the keys are exactly the input
                token, optionally with ``boto_truncate_amount``.
        """
        if not isinstance(value, dict):
            raise _bad_token(value)
        expected = {self._pagination.input_token}
        if _TRUNCATE in value:
            expected.add(_TRUNCATE)
        if value.keys() != expected:
            raise _bad_token(value)
        self._resume_token = _encode_token(value)

    # ------------------------------------------------------------------ iteration

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _PageT:
        """Fetch and return the next page.

        Raises:
            StopAsyncIteration: the pages ran out, or ``MaxItems`` was reached.
            PaginationError: the previous page carried the same ``nextToken`` as the one
                before it (raised once, after that page was delivered; then finished).
            RuntimeError: another task is fetching a page from this iterator right now.
            AioSSOError: any error of the client method (``ClientError``,
                ``HTTPClientError``, ``ParamValidationError``, ``ClientClosedError``...): the
                cursor does not move.
        """
        if self._state == _DONE:
            raise StopAsyncIteration
        if self._state == _REPEATED:
            self._finish(None)
            token = {self._pagination.input_token: self._position}
            raise PaginationError(message=f"The same next token was received twice: {token}")
        if self._busy:
            raise RuntimeError(f"another task is already fetching a page from {self!r}")
        if self._state == _NEW:
            self._state = _RUNNING
            self._resume_token = self._position_token()
        self._busy = True
        try:
            page = await self._method(**self._params)
        finally:
            self._busy = False
        self._accept(cast("dict[str, Any]", page))
        return page

    if not TYPE_CHECKING:
        # Hidden from type checkers so that they flag a plain ``for`` statically too.
        def __iter__(self):
            raise TypeError(
                f"{type(self).__name__!r} object is not iterable: use 'async for page in ...' "
                "(or 'await ....build_full_result()')"
            )

    def _position_token(self) -> str:
        token: dict[str, Any] = {self._pagination.input_token: self._position}
        if self._skip:
            token[_TRUNCATE] = self._skip
        return _encode_token(token)

    def _finish(self, resume_token: str | None) -> None:
        self._state = _DONE
        self._resume_token = resume_token

    def _accept(self, page: dict[str, Any]) -> None:
        """Advance the cursor past ``page``, trimming it in place (see Theory of operation)."""
        pagination = self._pagination
        key = pagination.result_key
        self._pages += 1
        items: list[Any] | None = page.get(key)
        skip, self._skip = self._skip, 0
        if skip and items is not None:
            items = page[key] = items[skip:]
        count = 0 if items is None else len(items)
        max_items = self._max_items
        if items is not None and max_items is not None and self._total + count > max_items:
            keep = max_items - self._total
            page[key] = items[:keep]
            self._total = max_items
            self._finish(
                _encode_token({pagination.input_token: self._position, _TRUNCATE: keep + skip})
            )
            return
        self._total += count
        received = page.get(pagination.output_token)
        if not received or received == "None":
            self._finish(None)
            return
        next_token = _encode_token({pagination.input_token: received})
        if max_items is not None and self._total == max_items:
            self._finish(next_token)
            return
        if received == self._previous:
            self._state = _REPEATED
        else:
            self._previous = received
            _inject(self._params, pagination.input_token, received)
        self._position = received
        self._resume_token = next_token

    # ------------------------------------------------------------------ aggregation

    async def build_full_result(self) -> dict[str, Any]:
        """Fetch the remaining pages and merge them as botocore does.

        Returns:
            ``{result_key: [every item], "NextToken": resume token}``: the result key only if
            some page had it (else ``{}``), ``NextToken`` only if ``MaxItems`` cut the
            results short. No ``ResponseMetadata``, no ``nextToken``.

        Raises:
            PaginationError, RuntimeError, AioSSOError: as when iterating (``__anext__``).
        """
        key = self._pagination.result_key
        collected: list[Any] | None = None
        # All or nothing: if a page fails (or the call is cancelled), the cursor goes back to
        # where it was, so calling again returns everything rather than a silent remainder.
        saved = self._save()
        try:
            async for page in self:
                items = cast("dict[str, Any]", page).get(key)
                if items is None:
                    continue
                if collected is None:
                    collected = []
                collected.extend(items)
        except BaseException:
            self._restore(saved)
            raise
        result: dict[str, Any] = {} if collected is None else {key: collected}
        if self._resume_token is not None:
            result["NextToken"] = self._resume_token
        return result

    _CURSOR = (
        "_position",
        "_skip",
        "_total",
        "_previous",
        "_pages",
        "_state",
        "_resume_token",
    )

    def _save(self) -> tuple[dict[str, Any], tuple[Any, ...]]:
        return dict(self._params), tuple(getattr(self, name) for name in self._CURSOR)

    def _restore(self, saved: tuple[dict[str, Any], tuple[Any, ...]]) -> None:
        params, values = saved
        self._params.clear()
        self._params.update(params)
        for name, value in zip(self._CURSOR, values, strict=True):
            setattr(self, name, value)

    def items(self) -> AsyncIterator[_ItemT]:
        """The result items (accounts or roles) of the remaining pages, one by one.

        ``MaxItems`` and ``StartingToken`` apply. It draws pages from this cursor, holding
        one page at a time; if a page request fails, iterating it again retries that page.
        """
        key = self._pagination.result_key
        return _FlatIterator(self, lambda page: cast("list[_ItemT]", page.get(key) or ()))

    def result_key_iters(self) -> list[AsyncIterator[_ItemT]]:
        """``[self.items()]``: one item iterator per result key, as botocore's method."""
        return [self.items()]

    def search(self, expression: str) -> AsyncIterator[Any]:
        """Apply a JMESPath expression to each remaining page, flattening list results.

        As botocore: a list result is yielded item by item, anything else (``None``
        included) as it is. Needs the optional ``jmespath`` package.

        Raises:
            ImportError: ``jmespath`` is not installed (``pip install 'aiosso[jmespath]'``).
            jmespath.exceptions.ParseError: the expression is not valid JMESPath.
        """
        try:
            jmespath = importlib.import_module("jmespath")
        except ImportError as exc:
            raise ImportError(
                "search() needs the optional 'jmespath' package: "
                "pip install 'aiosso[jmespath]' (or pip install jmespath)"
            ) from exc
        compiled = jmespath.compile(expression)

        def explode(page: dict[str, Any]) -> Iterable[Any]:
            found = compiled.search(page)
            return found if isinstance(found, list) else (found,)

        return _FlatIterator(self, explode)


class _FlatIterator(Generic[_T]):
    """Strictly private: values drawn from the pages of a page iterator, one by one.

    A class rather than an async generator so that abandoning it needs no finalization and a
    failed page request can be retried by iterating again.
    """

    def __init__(
        self,
        pages: AsyncPageIterator[Any, Any],
        explode: Callable[[dict[str, Any]], Iterable[_T]],
    ) -> None:
        self._pages = pages
        self._explode = explode
        self._current: Iterator[_T] = iter(())

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _T:
        while True:
            for value in self._current:
                return value
            page = await self._pages.__anext__()
            self._current = iter(self._explode(cast("dict[str, Any]", page)))

    if not TYPE_CHECKING:

        def __iter__(self):
            raise TypeError("this object is not iterable: use 'async for item in ...'")


class ListAccountsPageIterator(AsyncPageIterator[ListAccountsResponseTypeDef, AccountInfoTypeDef]):
    """Pages of ``list_accounts``: :class:`AsyncPageIterator` over ``accountList``."""


class ListAccountRolesPageIterator(
    AsyncPageIterator[ListAccountRolesResponseTypeDef, RoleInfoTypeDef]
):
    """Pages of ``list_account_roles``: :class:`AsyncPageIterator` over ``roleList``."""


# --------------------------------------------------------------------------- paginators


class ListAccountsPaginator:
    """``client.get_paginator("list_accounts")``: every account the token's user may access."""

    def __init__(self, client: AsyncSSOClient) -> None:
        self._method = client.list_accounts

    @property
    def result_key(self) -> str:
        """``"accountList"``."""
        return _LIST_ACCOUNTS.result_key

    def paginate(
        self, **kwargs: Unpack[ListAccountsRequestPaginateTypeDef]
    ) -> ListAccountsPageIterator:
        """A lazy async iterator over the pages of ``list_accounts``; no I/O here.

        Keyword Args:
            accessToken: the SSO access token (checked, like every operation argument, at
                the first request, as botocore does).
            PaginationConfig: optional ``MaxItems`` (stop after this many accounts, with a
                ``NextToken`` to resume), ``PageSize`` (``maxResults`` per request, 1..100)
                and ``StartingToken`` (a ``NextToken``/``resume_token`` from aiosso or
                botocore, or a raw ``nextToken`` from the service).

        Raises:
            ParamValidationError: ``PageSize`` outside 1..100 or ``MaxItems`` negative.
            ValueError: a ``StartingToken`` that is recognisably malformed
                (``Bad starting token: ...``), or a non-numeric ``MaxItems``/``PageSize``.
        """
        return ListAccountsPageIterator(self._method, _LIST_ACCOUNTS, dict(kwargs))


class ListAccountRolesPaginator:
    """``client.get_paginator("list_account_roles")``: the roles of one account."""

    def __init__(self, client: AsyncSSOClient) -> None:
        self._method = client.list_account_roles

    @property
    def result_key(self) -> str:
        """``"roleList"``."""
        return _LIST_ACCOUNT_ROLES.result_key

    def paginate(
        self, **kwargs: Unpack[ListAccountRolesRequestPaginateTypeDef]
    ) -> ListAccountRolesPageIterator:
        """A lazy async iterator over the pages of ``list_account_roles``; no I/O here.

        Keyword Args:
            accessToken: the SSO access token.
            accountId: the account whose roles to list.
            PaginationConfig: as :meth:`ListAccountsPaginator.paginate`, counting roles.

        Raises:
            ParamValidationError, ValueError: as :meth:`ListAccountsPaginator.paginate`.
        """
        return ListAccountRolesPageIterator(self._method, _LIST_ACCOUNT_ROLES, dict(kwargs))


_LIST_ACCOUNTS: Final = cast("Pagination", LIST_ACCOUNTS.pagination)
_LIST_ACCOUNT_ROLES: Final = cast("Pagination", LIST_ACCOUNT_ROLES.pagination)
