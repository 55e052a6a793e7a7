"""docs/check_site.py, the built docs site's checker, on tiny generated sites.

The link check and the static server need no browser. One test runs the browser check
itself on a page with every kind of fault, and is skipped where no Chromium is installed
(CI installs Debian's ``chromium`` and runs the checker on the real site)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "docs" / "check_site.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_site", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


check_site = _load()


def _page(body: str, title: str = "Demo") -> str:
    return (
        f"<!doctype html><html><head><title>{title}</title>"
        '<link rel="stylesheet" href="ROOT/_static/site.css?v=1a2b"></head>'
        f"<body>{body}</body></html>"
    )


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # Sphinx's way: links to the site's root are relative ("../" from a subfolder).
        root_prefix = "/".join([".."] * name.count("/")) or "."
        path.write_text(text.replace("ROOT/", root_prefix + "/"), encoding="utf-8")
    return root


@pytest.fixture
def good_site(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "html",
        {
            "index.html": _page(
                '<h1 id="top-title">Demo site</h1>'
                '<a href="howto/a.html">a</a> <a href="howto/a.html#step-2">step</a>'
                '<a href="#top-title">self</a> <a href="#">top</a> <a href="howto/">dir</a>'
                '<a href="https://example.com/x">out</a> <a href="mailto:me@example.com">m</a>'
                '<img src="_images/chart.svg"> <form action="search.html"></form>'
                '<a href="howto/a%20b.html">space</a>'
            ),
            "howto/index.html": _page("<p>how-to</p>"),
            "howto/a.html": _page(
                '<section id="step-2"><a name="legacy"></a>'
                '<a href="../index.html#top-title">up</a><a href="../index.html#top">t</a>'
                '<script src="../_static/site.js"></script></section>'
            ),
            "howto/a b.html": _page("<p>spaced</p>"),
            "search.html": _page("<p>search</p>"),
            "_static/site.css": "body {}",
            "_static/site.js": "",
            "_images/chart.svg": "<svg/>",
        },
    )


def test_a_sound_site_passes(good_site: Path) -> None:
    report = check_site.check_links(good_site)
    assert report.problems == []
    assert report.checked > 10
    assert set(report.external) == {"https://example.com/x"}
    assert check_site.site_pages(good_site)[0] == "index.html"
    assert check_site.default_search_term(good_site) == "demo"


def test_each_broken_link_is_reported_with_its_page_and_line(good_site: Path) -> None:
    _write(
        good_site,
        {
            "howto/bad.html": _page(
                '<a href="missing.html">1</a>\n'
                '<a href="../index.html#no-such-id">2</a>\n'
                '<a href="#nowhere">3</a>\n'
                '<a href="../../outside.html">4</a>\n'
                '<a href="file:///etc/passwd">5</a>\n'
                '<a href="">6</a>\n'
                '<img src="../_images/missing.png">\n'
                '<script src="../_static/gone.js?v=3"></script>\n'
                '<a href="a.html#legacy">fine</a>\n'
            )
        },
    )
    report = check_site.check_links(good_site)
    assert report.problems == [
        "howto/bad.html:1: <a href='missing.html'>: no such file: howto/missing.html",
        "howto/bad.html:2: <a href='../index.html#no-such-id'>: no id 'no-such-id' in index.html",
        "howto/bad.html:3: <a href='#nowhere'>: no id 'nowhere' in howto/bad.html",
        "howto/bad.html:4: <a href='../../outside.html'>: points outside the site",
        "howto/bad.html:5: <a href='file:///etc/passwd'>: a file:// link (works on no other "
        "machine)",
        "howto/bad.html:6: <a href=''>: empty link",
        "howto/bad.html:7: <img src='../_images/missing.png'>: no such file: _images/missing.png",
        "howto/bad.html:8: <script src='../_static/gone.js?v=3'>: no such file: _static/gone.js",
    ]


def test_markup_docutils_could_not_parse_is_reported(good_site: Path) -> None:
    _write(
        good_site,
        {
            "api.html": _page(
                '<p>PortalEmulator(<a href="#id1"><span class="problematic" id="id2">**</span>'
                "</a>kwargs)</p>"
            )
        },
    )
    assert check_site.check_links(good_site).problems == [
        "api.html:1: unparsed markup rendered into the page (class 'problematic')",
        "api.html:1: <a href='#id1'>: no id 'id1' in api.html",
    ]


def test_main_without_a_browser(good_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_site.main([str(good_site), "--no-browser", "--list-external"]) == 0
    out = capsys.readouterr().out
    assert "https://example.com/x  <- index.html" in out
    assert "docs site check: 5 pages, link check only" in out
    assert "0 problem(s)" in out

    _write(good_site, {"howto/b.html": _page('<a href="../gone.html">x</a>')})
    assert check_site.main([str(good_site), "--no-browser"]) == 1
    out = capsys.readouterr().out
    assert "howto/b.html:1: <a href='../gone.html'>: no such file: gone.html" in out
    assert "1 problem(s)" in out

    assert check_site.main([str(good_site / "nothing-here"), "--no-browser"]) == 2
    assert "no built site" in capsys.readouterr().err


def test_no_browser_is_a_setup_error(good_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(good_site / "no-such-chromium")
    assert check_site.main([str(good_site), "--chromium", missing]) == 2
    assert f"no browser found: {missing}" in capsys.readouterr().err


async def test_the_server_serves_the_build_and_logs_what_it_cannot(good_site: Path) -> None:
    runner, base, errors = await check_site.start_server(good_site)  # tmp_path is absolute
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "howto/") as response:
                assert response.status == 200
                assert "how-to" in await response.text()
            async with session.get(base + "_static/site.css?v=1") as response:
                assert response.status == 200
            async with session.get(base + "favicon.ico") as response:
                assert response.status == 204
            async with session.get(base + "nope.js?v=2") as response:
                assert response.status == 404
            async with session.get(base + "%2e%2e/%2e%2e/etc/passwd") as response:
                assert response.status == 404
    finally:
        await runner.cleanup()
    assert ("/nope.js?v=2", 404) in errors


@pytest.mark.skipif(
    not any(shutil.which(name) for name in check_site.CHROMIUM_NAMES), reason="no Chromium"
)
def test_the_browser_check_reports_every_kind_of_fault(
    good_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(
        good_site,
        {
            "howto/bad.html": _page(
                '<script>console.error("boom");</script>'
                "<script>undefinedFunction();</script>"
                '<script>fetch("data.json");</script>'
                '<img src="https://cdn.example.invalid/x.png">'
                '<script>setTimeout(() => { throw new Error("late"); }, 20);</script>'
            ),
            "search.html": _page('<script src="searchindex.js"></script>'),
            "searchindex.js": "",
        },
    )
    assert check_site.main([str(good_site), "--search-term", "demo"]) == 1
    out = capsys.readouterr().out
    problems = sorted(line.strip() for line in out.splitlines() if line.startswith("  "))
    assert problems == [
        "howto/bad.html: HTTP 404 for howto/data.json",
        "howto/bad.html: console.error: boom (howto/bad.html:1)",
        # (no DNS here; anywhere, the .invalid top-level domain resolves to nothing)
        "howto/bad.html: failed to load https://cdn.example.invalid/x.png: "
        "net::ERR_NAME_NOT_RESOLVED",
        "howto/bad.html: requests a resource from another host: https://cdn.example.invalid/x.png",
        "howto/bad.html: uncaught exception: Error: late (howto/bad.html:1)",
        "howto/bad.html: uncaught exception: ReferenceError: undefinedFunction is not defined "
        "(howto/bad.html:1)",
        # A Sphinx search page (it loads searchindex.js) that finds nothing.
        "search.html?q=demo: the search for 'demo' listed no results "
        "(status: 'no search script (searchtools.js) ran')",
    ]
    assert "7 pages loaded in Chromium" in out  # 6 + the search
