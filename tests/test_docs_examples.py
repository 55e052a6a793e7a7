"""Every ```python and ```sh block of README.md and docs/**/*.md runs as written (issue 19).

One test per page: the page's blocks run in order in one runner process (``tests/_docs.py``)
against a fresh portal emulator, in a fresh HOME holding an AWS config and a valid token for
``my-sso``, with the emulator's URL in ``AWS_ENDPOINT_URL_SSO`` and ``AWS_ENDPOINT_URL_SSO_OIDC``
and, for a page naming ``redis://127.0.0.1:6379/0``, a real redis-server in that URL's place.
This environment is "the documented substitution" of docs/explanation/tested-examples.md.

Why a process per page, not a thread: the examples get a real interpreter, as a reader's
would be: their own ``__main__``, working directory, ``HOME`` and environment (aiosso reads
them at call time, and ``os.chdir`` or ``os.environ`` in a thread would change the test
process's), no pytest warning filters or plugins, and ``asyncio.run()`` with no loop running.
The emulator runs in this test's event loop, which the runner never blocks; a block that
hangs is stopped by an alarm in the runner (with the traceback of where it hung) and, failing
that, by this process killing the runner's whole process group.

``AIOSSO_DOCS_PAGES=/some/folder`` collects that folder's Markdown files instead (to try the
harness on sample pages).
"""

from __future__ import annotations

import json
import os
import re
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest
from _docs import (
    REDIS_URL,
    ROOT,
    TESTING_PAGE,
    Block,
    Collection,
    PageRun,
    collect,
    parse,
    pytest_config,
    run_page,
)
from _redis import NO_REDIS, REQUIRE_VARIABLE, RedisServer, find_redis_server

from aiosso.awsconfig import SSOSession
from aiosso.testing import PortalEmulator
from aiosso.tokencache import SSOToken, SSOTokenCache

START_URL = "https://my-sso-portal.awsapps.com/start"
SESSION = SSOSession(
    session_name="my-sso",
    start_url=START_URL,
    sso_region="us-east-1",
    registration_scopes=("sso:account:access",),
)
AWS_CONFIG = """\
[sso-session my-sso]
sso_start_url = https://my-sso-portal.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile dev]
sso_session = my-sso
sso_account_id = 413558022278
sso_role_name = ReadOnlyAccess
region = us-east-1

[profile prod]
sso_session = my-sso
sso_account_id = 319089421787
sso_role_name = AdministratorAccess
region = us-east-1
"""

RULES_PAGE = "docs/explanation/tested-examples.md"
COLLECTION = collect()


def _scripts_dir() -> str:
    """Where this interpreter's console scripts (``aiosso``, ``pytest``) are installed."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        if Path(folder, "aiosso").exists():
            return folder
    pytest.skip("no aiosso console script next to this interpreter (pip install -e .)")


def _seed_token(emulator: PortalEmulator, home: Path) -> None:
    """A refreshable one-hour token for ``my-sso`` in ``home``'s cache, as ``aiosso login``
    leaves it (the client registration in the token file, as the AWS CLI writes it)."""
    registration = emulator.register_client()
    pair = emulator.issue_token_pair(registration.client_id, expires_in=3600.0)
    token = SSOToken(
        access_token=pair.access_token,
        expires_at=datetime.fromtimestamp(int(time.time()) + 3600, timezone.utc),
        start_url=START_URL,
        region="us-east-1",
        client_id=registration.client_id,
        client_secret=registration.client_secret,
        registration_expires_at=datetime.fromtimestamp(registration.expires_at, timezone.utc),
        refresh_token=pair.refresh_token,
    )
    SSOTokenCache(home / ".aws" / "sso" / "cache").save_sync(SESSION, token)


def _environment(home: Path, tmp: Path, url: str) -> dict[str, str]:
    """The test's own (already hermetic) environment, with the page's HOME, TMPDIR and PATH
    and the emulator's endpoints: no other AWS_* variable, no pytest variable."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PYTEST_")) and k != "USERPROFILE"
    }
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        PATH=os.pathsep.join([_scripts_dir(), env.get("PATH", "")]),
        AWS_ENDPOINT_URL_SSO=url,
        AWS_ENDPOINT_URL_SSO_OIDC=url,
        AWS_EC2_METADATA_DISABLED="true",  # botocore never probes instance metadata here
    )
    return env


@contextmanager
def _redis_if_named(blocks: Sequence[Block], workdir: Path) -> Iterator[dict[str, str]]:
    """The URL substitution for the blocks: a redis-server of the page's own when one names
    :data:`REDIS_URL`, else nothing."""
    if not any(REDIS_URL in b.code for b in blocks):
        yield {}
        return
    binary = find_redis_server()
    if binary is None:
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(NO_REDIS)
        pytest.skip(f"the page's examples use Redis: {NO_REDIS}")
    workdir.mkdir()
    server = RedisServer(binary, workdir)
    server.start()
    try:
        yield {REDIS_URL: server.url}
    finally:
        server.stop()


async def run_blocks(
    blocks: Sequence[Block], tmp_path: Path, collection: Collection, *, timeout: float = 60.0
) -> PageRun:
    """Run ``blocks`` (one page's, in order) in the documented environment."""
    home, work, tmp = tmp_path / "home", tmp_path / "work", tmp_path / "tmp"
    for folder in (home, work, tmp):
        folder.mkdir(mode=0o700)
    (home / ".aws").mkdir(mode=0o700)
    (home / ".aws" / "config").write_text(AWS_CONFIG)
    page = blocks[0].page
    with _redis_if_named(blocks, tmp_path / "redis") as substitutions:
        async with PortalEmulator() as emulator:
            _seed_token(emulator, home)
            return await run_page(
                blocks,
                env=_environment(home, tmp, emulator.url),
                cwd=work,
                outdir=tmp_path / "out",
                pytest_config=pytest_config(collection, page),
                timeout=timeout,
                substitutions=substitutions,
            )


# --------------------------------------------------------------------------- the pages


@pytest.mark.parametrize("page", COLLECTION.pages())
async def test_page_examples_run_as_written(page: str, tmp_path: Path) -> None:
    """The page's python and sh blocks (skips aside) all pass, in page order; a failure names
    the block's page and line and shows the tail of its output."""
    blocks = [b for b in COLLECTION.page_blocks(page) if b.kind is not None]
    run = await run_blocks(blocks, tmp_path, COLLECTION)
    if run.failure is not None:
        pytest.fail(run.failure, pytrace=False)
    assert [b.line for b in run.passed] == [b.line for b in blocks]
    for block in blocks:
        for needle, check in OUTPUT_CHECKS.items():
            if needle in block.code:
                check(run.outputs[block.line][0], tmp_path / "tmp")


@pytest.mark.parametrize("block", COLLECTION.skipped(), ids=lambda b: b.where)
def test_skipped_example(block: Block) -> None:
    """Each skipped block, listed with its reason in the summary (``-ra``)."""
    pytest.skip(f"{block.where}: {block.skip_reason}")


def test_every_python_and_sh_block_runs_or_is_skipped_with_a_reason() -> None:
    """No example is left out silently: no ```bash, ```Python, ```console or bare fence, no
    marker without a reason or away from its fence, no pytest module run as a script."""
    assert COLLECTION.problems == [], "\n" + "\n".join(COLLECTION.problems)


def test_the_collector_finds_the_readme_and_the_docs_pages() -> None:
    """README.md is collected, and every docs/ page (outside _build) with a fenced block."""
    if os.environ.get("AIOSSO_DOCS_PAGES"):
        pytest.skip("AIOSSO_DOCS_PAGES chooses the pages")
    pages = {b.page for b in COLLECTION.blocks}
    assert "README.md" in pages
    expected = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "docs").rglob("*.md")
        if "_build" not in p.parts and "```" in p.read_text(encoding="utf-8")
    }
    assert expected <= pages


# --------------------------------------------------------------------------- output checks


def _check_readme_cli_session(out: str, tmpdir: Path) -> None:
    """The CLI session of "Use aiosso beside the AWS CLI" (README's "Point the CLI at the
    emulator" until issue 19): each command printed what it should, and the
    session's throwaway HOME (``mktemp -d``, under the page's TMPDIR) got the token and the
    role credentials."""
    assert re.search(
        r"^Successfully logged into Start URL: http://127\.0\.0\.1:\d+/start$", out, re.M
    ), out
    accounts = re.findall(r"^(\d{12})\s+(\S+)\s+(\S+@example\.com)$", out, re.M)
    assert sorted(name for _, name, _ in accounts) == [
        "Development-0003",
        "Production-0001",
        "Staging-0002",
    ]
    assert ("413558022278", "Development-0003") in [(a, n) for a, n, _ in accounts]
    roles = re.findall(r"^\d{12}\s+\S+-\d{4}\s+(AdministratorAccess|ReadOnlyAccess)$", out, re.M)
    assert sorted(roles) == ["AdministratorAccess"] * 3 + ["ReadOnlyAccess"] * 3
    assert re.search(r"^export AWS_ACCESS_KEY_ID=\S+$", out, re.M)
    assert re.search(r"^export AWS_SESSION_TOKEN=\S+$", out, re.M)
    documents = [json.loads(m) for m in re.findall(r"^\{\n.*?^\}$", out, re.S | re.M)]
    process = [d for d in documents if d.get("Version") == 1]
    assert len(process) == 1
    assert process[0]["AccountId"] == "413558022278"
    assert process[0]["AccessKeyId"]
    profiles = re.findall(r"^\[profile (\S+)\]$", out, re.M)
    assert "Development-0003-ReadOnlyAccess" in profiles
    assert len(profiles) == 6
    homes = [h for h in tmpdir.iterdir() if (h / ".aws" / "sso" / "cache").is_dir()]
    assert len(homes) == 1
    assert list((homes[0] / ".aws" / "sso" / "cache").glob("*.json"))  # token, registration
    assert list((homes[0] / ".aws" / "cli" / "cache").glob("*.json"))  # role credentials


OUTPUT_CHECKS: dict[str, Callable[[str, Path], None]] = {
    "aiosso login --sso-session emulator --use-device-code": _check_readme_cli_session,
}
"""Checks of what a block printed, beyond its passing: by a line the block holds."""


def test_output_checks_and_the_documented_environment_match_the_pages() -> None:
    """Each output check finds the block it checks, and the page stating the rules shows the
    AWS config the examples get."""
    if os.environ.get("AIOSSO_DOCS_PAGES"):
        pytest.skip("AIOSSO_DOCS_PAGES chooses the pages")
    for needle in OUTPUT_CHECKS:
        assert [b for b in COLLECTION.blocks if b.kind and needle in b.code], needle
    rules = [b for b in COLLECTION.page_blocks(RULES_PAGE) if b.language == "ini"]
    assert [b.code for b in rules] == [AWS_CONFIG]


# --------------------------------------------------------------------------- the collector


def _blocks(text: str) -> tuple[list[Block], list[str]]:
    return parse(text, "page.md")


def test_fences_of_any_length_and_what_they_hold() -> None:
    """Longer fences hold shorter ones as text; tildes fence too; MyST directives never run;
    a fence's indentation is removed from its lines."""
    blocks, problems = _blocks(
        "# Title\n\n"
        "````markdown\n```python\nnot_run()\n```\n````\n\n"
        "```{eval-rst}\n.. autoclass:: x\n```\n\n"
        "```{include} ../CHANGELOG.md\n```\n\n"
        "~~~python\nrun_me()\n~~~\n\n"
        "1. step\n\n   ```sh\n   echo indented\n   ```\n"
    )
    assert problems == []
    assert [(b.line, b.language, b.kind) for b in blocks] == [
        (3, "markdown", None),
        (9, "{eval-rst}", None),
        (13, "{include}", None),
        (16, "python", "python"),
        (22, "sh", "sh"),
    ]
    assert blocks[0].code == "```python\nnot_run()\n```\n"
    assert blocks[4].code == "echo indented\n"


def test_markers_and_the_rules_they_follow() -> None:
    """A marker on the line before a fence skips it (with a reason) or makes it a pytest
    module; everything that could leave an example out silently is reported."""
    blocks, problems = _blocks(
        "<!-- docs-test: skip: needs real AWS -->\n```sh\naws s3 ls\n```\n"  # 1
        "<!-- docs-test: pytest -->\n```python\ndef test_x(): pass\n```\n"  # 5
        "<!-- docs-test: skip -->\n```python\nx()\n```\n"  # 9: no reason
        "<!-- docs-test: skip: pointless -->\n```text\nout\n```\n"  # 13
        "<!-- docs-test: pytest -->\n\n```python\nx()\n```\n"  # 17: not right before
        "```bash\nls\n```\n"  # 22
        "```Python\nx()\n```\n"  # 25
        "```console\n$ ls\n```\n"  # 28
        "```\nbare\n```\n"  # 31
        "```{code-block} python\nx()\n```\n"  # 34
        "<!-- docs-test: maybe -->\n```python\nx()\n```\n"  # 38
        "```python\nasync def test_y():\n    pass\n```\n"  # 41
        "```python\nnever closed\n"  # 45
    )
    assert [(b.line, b.kind, b.skip_reason) for b in blocks[:3]] == [
        (2, None, "needs real AWS"),
        (6, "pytest", None),
        (10, None, ""),
    ]
    wheres = [p.split(": ", 1)[0] for p in problems]
    assert wheres == [
        "page.md:10",
        "page.md:14",
        "page.md:22",
        "page.md:25",
        "page.md:28",
        "page.md:31",
        "page.md:34",
        "page.md:38",
        "page.md:41",
        "page.md:45",
        "page.md:17",
    ], "\n".join(problems)


def test_the_pytest_configuration_is_the_one_shown_to_readers() -> None:
    """pytest blocks run under their page's (or the testing how-to's) ```toml configuration."""
    config = pytest_config(COLLECTION, "README.md")
    assert config == pytest_config(COLLECTION, TESTING_PAGE)
    assert 'asyncio_mode = "auto"' in config
    assert 'asyncio_default_fixture_loop_scope = "function"' in config


# --------------------------------------------------------------------------- the harness


def _page(tmp_path: Path, text: str) -> list[Block]:
    path = tmp_path / "sample.md"
    path.write_text(text)
    blocks, problems = parse(text, "sample.md", path)
    assert problems == []
    return [b for b in blocks if b.kind is not None]


async def test_the_harness_runs_a_page_like_a_session(tmp_path: Path) -> None:
    """Top-level await in a shared namespace, asyncio.run() in a block, the token from the
    cache, the CLI, a pytest module and the Redis substitution, all in one page."""
    blocks = _page(
        tmp_path,
        "```python\nfrom aiosso import AsyncSSOClient, SSOTokenProvider\n"
        "from aiosso.awsconfig import load_config, resolve_profile_session\n\n"
        "session = resolve_profile_session(load_config(), 'dev')\n"
        "async with SSOTokenProvider(session) as tokens:\n"
        "    token = (await tokens.get_token()).access_token\n```\n\n"
        "```python\nimport asyncio\n\nasync def count():\n"
        "    async with AsyncSSOClient(region_name='us-east-1') as sso:\n"
        "        return len([a async for a in sso.iter_accounts(accessToken=token)])\n\n"
        "print('accounts', asyncio.run(count()))\n```\n\n"
        "```sh\naiosso credentials --profile prod --account 319089421787 "
        "--role AdministratorAccess --format json > creds.json\ntest -s creds.json\n```\n\n"
        "<!-- docs-test: pytest -->\n```python\nasync def test_async():\n    pass\n```\n\n"
        "```python\nimport redis.asyncio\n\n"
        "r = redis.asyncio.Redis.from_url('redis://127.0.0.1:6379/0')\n"
        "print('ping', await r.ping())\nawait r.aclose()\n```\n",
    )
    run = await run_blocks(blocks, tmp_path, COLLECTION)
    assert run.failure is None, run.failure
    assert "accounts 3" in run.outputs[blocks[1].line][0]
    assert "1 passed" in run.outputs[blocks[3].line][0]
    assert "ping True" in run.outputs[blocks[4].line][0]


@pytest.mark.parametrize(
    ("body", "reason", "shown", "timeout"),
    [
        pytest.param(
            "```python\nx = 1\n```\n\n```python\nimport sys\n\n"
            "print('to stderr', file=sys.stderr)\nassert x == 2, 'x is not 2'\n```\n",
            "AssertionError: x is not 2",
            "to stderr",
            60.0,
            id="exception",
        ),
        pytest.param(
            "```python\nx = 1\n```\n\n```sh\necho partial >&2\nfalse\necho never\n```\n",
            "bash exited with 1",
            "partial",
            60.0,
            id="sh",
        ),
        pytest.param(
            "```python\nx = 1\n```\n\n```python\nimport asyncio\nimport aiohttp\n\n"
            "session = aiohttp.ClientSession()\nawait asyncio.sleep(0)\ndel session\n```\n",
            "ResourceWarning: Unclosed client session",
            "Unclosed client session",
            60.0,
            id="resource-warning",
        ),
        pytest.param(
            "```python\nx = 1\n```\n\n```python\nimport asyncio\n\n"
            "async def forgotten():\n    pass\n\nforgotten()\n```\n",
            "was never awaited",
            "was never awaited",
            60.0,
            id="unawaited-coroutine",
        ),
        pytest.param(
            "```python\nx = 1\n```\n\n```python\nimport asyncio\n\nawait asyncio.sleep(30)\n```\n",
            "did not finish within 1 s",
            "asyncio.sleep(30)",
            1.0,
            id="timeout",
        ),
    ],
)
async def test_a_failing_block_names_its_page_and_line(
    tmp_path: Path, body: str, reason: str, shown: str, timeout: float
) -> None:
    """The failure names ``page:line`` of the block, why it failed, and its stderr's tail."""
    blocks = _page(tmp_path, body)
    run = await run_blocks(blocks, tmp_path, COLLECTION, timeout=timeout)
    assert run.failure is not None
    assert run.failure.startswith(f"sample.md:{blocks[1].line}: "), run.failure
    assert reason in run.failure, run.failure
    assert shown in run.failure.split("--- its stderr (tail) ---", 1)[1], run.failure
    assert [b.line for b in run.passed] == [blocks[0].line]
