"""``python -m benchmarks.timeline`` (the docs' throttled fan-out chart) counts what the
emulator answered, no more and no less."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from benchmarks import timeline

TINY = timeline.Setup(accounts=12, roles=2, rate=100.0, burst=4, concurrency=8)


@pytest.fixture(scope="module")
def runs() -> list[timeline.Run]:
    """Both runs at once, each on its own emulator (their backoffs overlap)."""

    async def both() -> list[timeline.Run]:
        return list(await asyncio.gather(*(timeline.record(TINY, n) for n in timeline.RUNS)))

    return asyncio.run(both())


def test_the_csv_adds_up_to_the_emulators_counters(
    runs: list[timeline.Run], tmp_path: Path
) -> None:
    """Per run and operation, the buckets' sums are the emulator's own counts: admitted = its
    200s, throttled = its 429s, sent = its requests; and no role was lost."""
    path = tmp_path / timeline.CSV_NAME
    timeline.write_csv([row for run in runs for row in timeline.buckets(run, 0.05)], path)
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == timeline.CSV_HEADERS
    for run in runs:
        assert run.roles_found == TINY.accounts * TINY.roles
        assert run.accounts_lost == 0
        mine = [r for r in rows if r["run"] == run.name]
        total = {k: sum(int(r[k]) for r in mine) for k in ("sent", "admitted", "throttled")}
        assert total["admitted"] == run.stats["statuses"].get("200", 0)
        assert total["throttled"] == run.stats["throttled"] == run.stats["statuses"].get("429", 0)
        assert total["sent"] == run.stats["total"] == total["admitted"] + total["throttled"]
        for op, n in run.stats["requests"].items():
            assert sum(int(r["sent"]) for r in mine if r["operation"] == op) == n
        starts = sorted({float(r["t_start_s"]) for r in mine})
        assert starts == [pytest.approx(i * 0.05) for i in range(len(starts))]
    # The default client met the throttle and paced itself; the contrast has no limiter.
    assert runs[0].stats["throttled"] > 0
    assert runs[0].limiter
    assert not runs[1].limiter
    assert all(r["limiter_rate"] == "" for r in rows if r["run"] == "no-limiter")


def test_the_chart_is_a_small_dateless_svg(runs: list[timeline.Run], tmp_path: Path) -> None:
    """The SVG carries no date (its ids come from a fixed salt), text as text, and stays
    small."""
    pytest.importorskip(
        "matplotlib", reason="matplotlib is in the docs extra; .ci/run runs this test after it"
    )
    path = tmp_path / timeline.SVG_NAME
    timeline.draw(runs, 0.05, path)
    text = path.read_text(encoding="utf-8")
    assert "<dc:date>" not in text
    assert f"{timeline.BULK} req/s" in text
    assert path.stat().st_size < 200_000
