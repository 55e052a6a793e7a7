"""Check the built documentation site: its pages and links, and every page in a real browser.

Usage::

    .venv/bin/python docs/check_site.py [BUILD_DIR] [--chromium PATH] [--no-browser]
        [--tabs N] [--search-term WORD] [--list-external]

``BUILD_DIR`` defaults to ``docs/_build/html`` (build it first with
``.venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html``).

Two checks, and a non-zero exit with a report of every problem either finds:

* The HTML files alone. No page may hold what docutils renders for markup it could not
  parse (``class="problematic"`` or ``"system-message"``). Every ``href``, ``src``,
  ``action`` and ``data`` in every page that points inside the site must name an existing
  file, and its ``#fragment`` an existing ``id`` (or ``<a name>``) in the target page.
  Links to other hosts are counted (listed with ``--list-external``), never fetched.
* The browser. The site is served over loopback HTTP (``aiohttp.web``), and headless
  Chromium (Debian's ``chromium``), driven over the DevTools protocol through aiohttp's
  websocket client, loads every page. A page fails on a console error, an uncaught
  exception, a request that fails or answers >= 400, or a request to another host (the
  site must be self-contained). Then Sphinx's search page, ``search.html?q=WORD``, must
  list results.

``--no-browser`` runs the first check alone. Exit status: 0 clean, 1 problems, 2 the check
could not run (no build, no Chromium, the browser did not start).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import posixpath
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote, urlsplit

import aiohttp
from aiohttp import web

DEFAULT_BUILD_DIR = Path(__file__).resolve().parent / "_build" / "html"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Attributes that name another resource, by tag ("*": any tag).
LINK_ATTRIBUTES = {
    "a": ("href",),
    "area": ("href",),
    "link": ("href",),
    "script": ("src",),
    "img": ("src",),
    "iframe": ("src",),
    "source": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "form": ("action",),
}
# Schemes that name no file: nothing to check.
IGNORED_SCHEMES = {"mailto", "tel", "javascript", "data", "blob", "about"}
PAGE_TIMEOUT = 20.0  # seconds for one page to load
SETTLE = 0.1  # seconds without a request in flight before a loaded page counts as done
SETTLE_MAX = 5.0


class CheckError(Exception):
    """The check could not run (exit status 2)."""


# --------------------------------------------------------------------------- the link check


@dataclass
class Link:
    attribute: str  # e.g. 'a href'
    value: str
    line: int


@dataclass
class ParsedPage:
    ids: set[str] = field(default_factory=set)
    links: list[Link] = field(default_factory=list)
    h1: str = ""
    markup_errors: list[tuple[int, str]] = field(default_factory=list)  # (line, class)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self._in_h1 = False
        self._h1_done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        if "id" in values:
            self.page.ids.add(values["id"])
        if tag == "a" and "name" in values:
            self.page.ids.add(values["name"])
        line = self.getpos()[0]
        # What docutils renders in place of markup it could not parse.
        for marker in ("problematic", "system-message"):
            if marker in values.get("class", "").split():
                self.page.markup_errors.append((line, marker))
        for name in LINK_ATTRIBUTES.get(tag, ()):
            if name in values:
                self.page.links.append(Link(f"{tag} {name}", values[name].strip(), line))
        if tag == "h1" and not self._h1_done:
            self._in_h1 = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "h1":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1" and self._in_h1:
            self._in_h1 = False
            self._h1_done = True

    def handle_data(self, data: str) -> None:
        if self._in_h1:
            self.page.h1 += data


def parse_html(text: str) -> ParsedPage:
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    return parser.page


def site_pages(root: Path) -> list[str]:
    """Every HTML page of the build as a '/'-separated path, index.html first."""
    pages = [
        path.relative_to(root).as_posix()
        for path in root.rglob("*.html")
        if path.is_file() and path.relative_to(root).parts[0] not in {"_static", "_images"}
    ]
    return sorted(pages, key=lambda page: (page != "index.html", page))


@dataclass
class LinkReport:
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    external: dict[str, list[str]] = field(default_factory=dict)  # url -> pages linking to it


def check_links(root: Path, pages: list[str] | None = None) -> LinkReport:
    """Check every internal link and fragment of every page under ``root``."""
    root = root.resolve()
    pages = site_pages(root) if pages is None else pages
    parsed: dict[str, ParsedPage] = {}

    def parse(page: str) -> ParsedPage:
        if page not in parsed:
            parsed[page] = parse_html((root / page).read_text(encoding="utf-8", errors="replace"))
        return parsed[page]

    report = LinkReport()
    for page in pages:
        for line, marker in parse(page).markup_errors:
            report.problems.append(
                f"{page}:{line}: unparsed markup rendered into the page (class {marker!r})"
            )
        for link in parse(page).links:
            where = f"{page}:{link.line}: <{link.attribute}={link.value!r}>"
            problem = _check_link(root, page, link.value, parse, report)
            if problem:
                report.problems.append(f"{where}: {problem}")
    return report


def _check_link(root: Path, page: str, value: str, parse: Any, report: LinkReport) -> str | None:
    if not value:
        return "empty link"
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in IGNORED_SCHEMES:
        return None
    if scheme == "file":
        return "a file:// link (works on no other machine)"
    if scheme or parts.netloc:
        if scheme not in {"http", "https", ""}:
            return f"unknown URL scheme {scheme!r}"
        report.external.setdefault(value, []).append(page)
        return None
    report.checked += 1
    path = unquote(parts.path)
    if not path:
        target = page
    else:
        base = "" if path.startswith("/") else posixpath.dirname(page)
        target = posixpath.normpath(posixpath.join(base, path.lstrip("/")))
        if target == ".":
            target = ""
        if target == ".." or target.startswith("../"):
            return "points outside the site"
        if target == "" or (root / target).is_dir():
            target = posixpath.join(target, "index.html")
        if not (root / target).is_file():
            return f"no such file: {target}"
    fragment = unquote(parts.fragment)
    if (
        fragment
        and fragment != "top"
        and target.endswith(".html")
        and fragment not in parse(target).ids
    ):
        return f"no id {fragment!r} in {target}"
    return None


# --------------------------------------------------------------------------- the static server


async def start_server(root: Path) -> tuple[web.AppRunner, str, list[tuple[str, int]]]:
    """Serve ``root`` (an absolute path) on a free loopback port; returns the runner, the
    base URL and a log of the requests answered with an error status."""
    errors: list[tuple[str, int]] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        target = (root / request.match_info["path"]).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(root) or not target.is_file():
            if request.path == "/favicon.ico":
                # Chromium asks for it unbidden; a site needs none, and a real browser
                # does not report its absence.
                return web.Response(status=204)
            errors.append((request.raw_path, 404))
            raise web.HTTPNotFound()
        return web.FileResponse(target)

    app = web.Application()
    app.router.add_get("/{path:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/", errors


# --------------------------------------------------------------------------- the browser


def find_chromium(explicit: str | None) -> str:
    candidates = [explicit] if explicit else [os.environ.get("CHROMIUM", ""), *CHROMIUM_NAMES]
    for name in candidates:
        if name and (found := shutil.which(name)):
            return found
    hint = explicit or "chromium (apt-get install --no-install-recommends chromium)"
    raise CheckError(f"no browser found: {hint}; or pass --no-browser")


class CDP:
    """A minimal DevTools protocol client over one browser websocket (flat sessions)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        self._ws = ws
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.on_event: Any = None
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                if "id" in data:
                    future = self._pending.pop(data["id"], None)
                    if future and not future.done():
                        if "error" in data:
                            future.set_exception(CheckError(f"DevTools: {data['error']}"))
                        else:
                            future.set_result(data.get("result", {}))
                elif self.on_event is not None:
                    self.on_event(data.get("method", ""), data.get("params", {}), data)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(CheckError("the browser closed the DevTools connection"))

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session_id: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        await self._ws.send_str(json.dumps(message))
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise CheckError(f"DevTools: no answer to {method} in {timeout:g} s") from None

    async def close(self) -> None:
        await self._ws.close()
        with contextlib.suppress(Exception):
            await self._reader


@dataclass
class PageRun:
    page: str
    problems: list[str] = field(default_factory=list)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: dict[str, str] = field(default_factory=dict)  # requestId -> url
    urls: dict[str, str] = field(default_factory=dict)
    last_activity: float = field(default_factory=time.monotonic)
    network_log: list[tuple[str, str]] = field(default_factory=list)  # (url, problem)

    def all_problems(self, failed_urls: set[str]) -> list[str]:
        echoes = [text for url, text in self.network_log if url not in failed_urls]
        return [*self.problems, *echoes]


def _remote_object(obj: dict[str, Any]) -> str:
    if "value" in obj:
        value = obj["value"]
        return value if isinstance(value, str) else json.dumps(value)
    return str(obj.get("description") or obj.get("unserializableValue") or obj.get("type"))


def _at(url: str | None, line: int | None, base: str) -> str:
    if not url:
        return ""
    url = url.removeprefix(base) or "/"
    return f" ({url}:{line + 1})" if line is not None else f" ({url})"


class Tab:
    """One browser tab (a flat DevTools session), loading pages one at a time and recording
    what went wrong on each."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self.browser = browser
        self.session_id = session_id
        self.current: PageRun | None = None

    def _problem(self, text: str) -> None:
        if self.current is not None and text not in self.current.problems:
            self.current.problems.append(text)

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        run = self.current
        if run is None:
            return
        base = self.browser.base
        run.last_activity = time.monotonic()
        if method == "Page.loadEventFired":
            run.loaded.set()
        elif method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            text = " ".join(_remote_object(arg) for arg in params.get("args", []))
            frames = (params.get("stackTrace") or {}).get("callFrames") or [{}]
            where = _at(frames[0].get("url"), frames[0].get("lineNumber"), base)
            self._problem(f"console.{params['type']}: {text}{where}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception") or {}
            text = (exception.get("description") or "").split("\n")[0] or details.get("text", "")
            where = _at(details.get("url"), details.get("lineNumber"), base)
            self._problem(f"uncaught exception: {text}{where}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                where = _at(entry.get("url"), entry.get("lineNumber"), base)
                text = f"console ({entry.get('source')}): {entry.get('text')}{where}"
                if entry.get("source") == "network":
                    # Chromium's echo of a failed request: kept only if the Network events
                    # did not report that request themselves (see problems()).
                    run.network_log.append((entry.get("url", ""), text))
                else:
                    self._problem(text)
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            run.in_flight[params["requestId"]] = url
            run.urls[params["requestId"]] = url
            if urlsplit(url).scheme in {"http", "https", "ws", "wss"} and not url.startswith(base):
                self._problem(f"requests a resource from another host: {url}")
        elif method == "Network.responseReceived":
            response = params.get("response", {})
            status = int(response.get("status", 0))
            if status >= 400:
                url = response.get("url", "")
                self.browser.failed_urls.add(url)
                self._problem(f"HTTP {status} for {url.removeprefix(base) or '/'}")
        elif method in {"Network.loadingFinished", "Network.loadingFailed"}:
            run.in_flight.pop(params.get("requestId", ""), None)
            if method == "Network.loadingFailed" and not params.get("canceled"):
                url = run.urls.get(params.get("requestId", ""), "?")
                self.browser.failed_urls.add(url)
                blocked = f" ({params['blockedReason']})" if params.get("blockedReason") else ""
                self._problem(
                    f"failed to load {url.removeprefix(base) or '/'}: "
                    f"{params.get('errorText')}{blocked}"
                )

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        assert self.browser.cdp is not None
        return await self.browser.cdp.send(method, params, session_id=self.session_id)

    async def load(self, page: str, query: str = "") -> PageRun:
        """Navigate to ``page``, wait for its load event and for its scripts and requests to
        settle; returns what went wrong."""
        run = PageRun(page + query)
        self.current = run
        result = await self.send("Page.navigate", {"url": self.browser.base + page + query})
        if result.get("errorText"):
            self._problem(f"navigation failed: {result['errorText']}")
            return run
        try:
            await asyncio.wait_for(run.loaded.wait(), PAGE_TIMEOUT)
        except asyncio.TimeoutError:
            self._problem(f"no load event within {PAGE_TIMEOUT:g} s")
            return run
        # Let scripts run and their requests finish: SETTLE seconds of quiet, at most SETTLE_MAX.
        deadline = time.monotonic() + SETTLE_MAX
        while time.monotonic() < deadline:
            quiet = time.monotonic() - run.last_activity
            if not run.in_flight and quiet >= SETTLE:
                break
            await asyncio.sleep(SETTLE / 4)
        return run

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CheckError(f"evaluating {expression!r}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")


class Browser:
    """Headless Chromium, started in a throwaway profile, driven over one DevTools socket."""

    def __init__(self, executable: str, base: str) -> None:
        self.executable = executable
        self.base = base
        self.process: asyncio.subprocess.Process | None = None
        self.stderr_tail: list[str] = []
        self.http: aiohttp.ClientSession | None = None
        self.cdp: CDP | None = None
        self.tabs: dict[str, Tab] = {}
        self.failed_urls: set[str] = set()
        self._profile = tempfile.TemporaryDirectory(prefix="check-site-chromium-")
        self._stderr_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile.name}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-component-update",
            "--disable-background-networking",
            "--disable-sync",
            "--mute-audio",
            # Tabs loaded side by side are all background tabs: do not slow them down.
            "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows",
            "--disable-renderer-backgrounding",
            "about:blank",
        ]
        self.process = await asyncio.create_subprocess_exec(
            self.executable,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, so no helper outlives the check
            # Keep its settings, caches and crash reports (and GTK's) out of the user's home;
            # the crash handlers, which leave the group, then name the profile directory.
            env={
                **os.environ,
                "XDG_CONFIG_HOME": str(Path(self._profile.name) / "config"),
                "XDG_CACHE_HOME": str(Path(self._profile.name) / "cache"),
            },
        )
        ws_url = await asyncio.wait_for(self._devtools_url(), 30)
        self._stderr_task = asyncio.ensure_future(self._drain_stderr())
        self.http = aiohttp.ClientSession()
        ws = await self.http.ws_connect(ws_url, max_msg_size=0)
        self.cdp = CDP(ws)
        self.cdp.on_event = self._on_event

    async def new_tab(self) -> Tab:
        assert self.cdp is not None
        target = await self.cdp.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.cdp.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        tab = Tab(self, attached["sessionId"])
        self.tabs[tab.session_id] = tab
        for domain in ("Page", "Runtime", "Log", "Network"):
            await tab.send(f"{domain}.enable")
        return tab

    def _on_event(self, method: str, params: dict[str, Any], message: dict[str, Any]) -> None:
        tab = self.tabs.get(message.get("sessionId", ""))
        if tab is not None:
            tab.on_event(method, params)

    async def _devtools_url(self) -> str:
        assert self.process is not None
        assert self.process.stderr is not None
        while True:
            raw = await self.process.stderr.readline()
            if not raw:
                tail = "\n".join(self.stderr_tail[-20:])
                raise CheckError(f"{self.executable} exited before DevTools listened:\n{tail}")
            line = raw.decode(errors="replace").rstrip()
            self.stderr_tail.append(line)
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                return match.group(1)

    async def _drain_stderr(self) -> None:
        assert self.process is not None
        assert self.process.stderr is not None
        while raw := await self.process.stderr.readline():
            self.stderr_tail = [*self.stderr_tail[-50:], raw.decode(errors="replace").rstrip()]

    async def close(self) -> None:
        """Close the browser (politely, then by signal) and everything it started."""
        if self.cdp is not None:
            with contextlib.suppress(Exception):
                await self.cdp.send("Browser.close", timeout=5)
            await self.cdp.close()
        if self.http is not None:
            await self.http.close()
        process = self.process
        if process is not None:
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if sig is not None and process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, sig)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(process.wait(), 5)
                if process.returncode is not None:
                    break
            # Its helpers (zygotes, renderers) share the group; none may outlive the browser.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            for pid in _processes_mentioning(self._profile.name):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task
        self._profile.cleanup()


def _processes_mentioning(text: str) -> list[int]:
    """The live processes whose command line contains ``text`` (here: this run's
    temporary profile directory, so only the browser this check started)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return [pid for pid in found if pid != os.getpid()]


def _is_sphinx_search_page(root: Path) -> bool:
    search = root / "search.html"
    if not search.is_file():
        return False
    links = parse_html(search.read_text(encoding="utf-8", errors="replace")).links
    return any(link.value.split("?")[0].endswith("searchindex.js") for link in links)


def default_search_term(root: Path) -> str | None:
    index = root / "index.html"
    if not index.is_file():
        return None
    heading = parse_html(index.read_text(encoding="utf-8", errors="replace")).h1
    words = re.findall(r"[A-Za-z][A-Za-z0-9]{2,}", heading)
    return words[0].lower() if words else None


# Waits for Sphinx's search (searchtools.js) to finish; resolves to the number of results.
SEARCH_RESULTS_JS = """
new Promise((resolve) => {
  const started = Date.now();
  const poll = () => {
    const items = document.querySelectorAll("#search-results ul.search li");
    const summary = document.querySelector("#search-results .search-summary");
    const done = summary && /finished|did not match/i.test(summary.innerText);
    if (typeof Search === "undefined") {
      resolve({count: 0, summary: "no search script (searchtools.js) ran"});
    } else if (done) {
      resolve({count: items.length, summary: summary.innerText});
    } else if (Date.now() - started > %d) {
      resolve({count: items.length, summary: "unfinished after %d ms"});
    } else {
      setTimeout(poll, 50);
    }
  };
  poll();
})
"""


async def check_in_browser(
    root: Path, executable: str, pages: list[str], search_term: str | None, tabs: int = 2
) -> tuple[list[str], int]:
    """Load every page (in ``tabs`` tabs at once); returns the problems (one per line) and the
    number of pages loaded."""
    runner, base, server_errors = await start_server(root)
    browser = Browser(executable, base)
    problems: list[str] = []
    runs: dict[str, PageRun] = {}
    try:
        await browser.start()
        queue = list(reversed(pages))

        async def worker(tab: Tab) -> None:
            while queue:
                page = queue.pop()
                runs[page] = await tab.load(page)
            tab.current = None

        workers = [await browser.new_tab() for _ in range(max(1, min(tabs, len(pages))))]
        await asyncio.gather(*(worker(tab) for tab in workers))
        if search_term and _is_sphinx_search_page(root):
            tab = workers[0]
            query = "?q=" + quote_plus(search_term)
            run = runs["search.html" + query] = await tab.load("search.html", query)
            result = await tab.evaluate(SEARCH_RESULTS_JS % (10_000, 10_000)) or {}
            tab.current = None
            if not result.get("count"):
                run.problems.append(
                    f"the search for {search_term!r} listed no results "
                    f"(status: {result.get('summary')!r})"
                )
        for page in [*pages, *sorted(set(runs) - set(pages))]:
            if page in runs:
                problems.extend(
                    f"{page}: {text}" for text in runs[page].all_problems(browser.failed_urls)
                )
        # A request the browser made but DevTools did not show (a worker's, say).
        for path, status in server_errors:
            if base + path.lstrip("/") not in browser.failed_urls:
                problems.append(f"(server) HTTP {status} for {path}")
    finally:
        await browser.close()
        await runner.cleanup()
    return problems, len(runs)


# --------------------------------------------------------------------------- main


def _format_external(external: dict[str, list[str]]) -> Iterator[str]:
    for url in sorted(external):
        pages = sorted(set(external[url]))
        more = f" (+{len(pages) - 3} more)" if len(pages) > 3 else ""
        yield f"  {url}  <- {', '.join(pages[:3])}{more}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check the built docs site: links, and every page in headless Chromium."
    )
    parser.add_argument(
        "build_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_BUILD_DIR,
        help="the HTML build (default: docs/_build/html)",
    )
    parser.add_argument("--chromium", help="the browser to run (default: chromium on PATH)")
    parser.add_argument("--no-browser", action="store_true", help="check the links only")
    parser.add_argument(
        "--search-term", help="a word search.html must find (default: from index.html's title)"
    )
    parser.add_argument("--tabs", type=int, default=2, help="pages loaded at once (default: 2)")
    parser.add_argument(
        "--list-external", action="store_true", help="list the links to other hosts"
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    root: Path = args.build_dir.resolve()
    if not (root / "index.html").is_file():
        print(f"check_site: no built site at {root} (no index.html)", file=sys.stderr)
        return 2
    pages = site_pages(root)
    links = check_links(root, pages)
    problems = list(links.problems)
    loaded = 0
    if not args.no_browser:
        try:
            executable = find_chromium(args.chromium)
            search_term = args.search_term or default_search_term(root)
            browser_problems, loaded = asyncio.run(
                check_in_browser(root, executable, pages, search_term, args.tabs)
            )
        except CheckError as error:
            print(f"check_site: {error}", file=sys.stderr)
            return 2
        problems.extend(browser_problems)

    if args.list_external and links.external:
        print(f"Links to other hosts (not fetched), {len(links.external)}:")
        for line in _format_external(links.external):
            print(line)
    if problems:
        print(f"{len(problems)} problem(s) in {root}:")
        for problem in problems:
            print(f"  {problem}")
    browser = "link check only" if args.no_browser else f"{loaded} pages loaded in Chromium"
    print(
        f"docs site check: {len(pages)} pages, {browser}, {links.checked} internal links "
        f"checked, {len(links.external)} external links not fetched, {len(problems)} "
        f"problem(s), {time.monotonic() - started:.1f} s"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
