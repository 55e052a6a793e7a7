"""The benchmark harness's plumbing works (the measurements themselves run from .ci/run)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from benchmarks import harness
from benchmarks.contenders import CONTENDERS
from benchmarks.scenarios import discover


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("x-amz-sso_bearer_token", token)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def test_scenarios_and_contenders_are_registered() -> None:
    """The three scenarios of issue 4 and the four contenders are discoverable."""
    names = [sc.name for sc in discover()]
    assert names[:3] == ["per_call", "startup", "pagination"]
    assert {"aiosso", "floor", "aiobotocore", "botocore-threads"} <= set(CONTENDERS)


def test_rotation_alternates_contenders() -> None:
    """Each repetition starts with the next contender: ABC, BCA, CAB."""
    assert [harness.rotated("ABC", r) for r in range(3)] == [
        ["A", "B", "C"],
        ["B", "C", "A"],
        ["C", "A", "B"],
    ]


def test_canned_server_pages_and_counts_then_stops() -> None:
    """The canned server pages over its accounts, counts requests and dies with its context."""
    with harness.server("canned", accounts=5) as srv:
        status, page = _get(f"{srv.url}/assignment/accounts?max_result=3", srv.token)
        assert status == 200
        assert len(page["accountList"]) == 3
        token = page["nextToken"]
        _, last = _get(f"{srv.url}/assignment/accounts?max_result=3&next_token={token}", srv.token)
        assert len(last["accountList"]) == 2
        assert "nextToken" not in last
        assert srv.request_count() == 2
        proc = srv.proc
    assert proc.poll() is not None
