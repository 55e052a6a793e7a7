"""A dependency-free progress bar for the command line (stderr, terminals only)."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO


class ProgressBar:
    """Redraws one line in place; does nothing unless the stream is a terminal.

    ``update(done, total, suffix)`` is cheap to call often: it redraws at most every
    ``interval`` seconds. ``total=None`` shows a plain count instead of a bar; so does a
    total that is only a lower bound (``at_least=True``: more may come), shown as
    ``done/total+``, so that a bar never runs backwards as the total grows.
    """

    def __init__(
        self, label: str, *, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._label = label
        self._last = 0.0
        self._drawn = False
        self.interval = 0.1

    @property
    def enabled(self) -> bool:
        """Whether anything is drawn."""
        return self._enabled

    def update(
        self,
        done: int,
        total: int | None,
        suffix: str = "",
        *,
        at_least: bool = False,
        force: bool = False,
    ) -> None:
        """Redraw the line (throttled to ``interval`` unless ``force``); *at_least*: *total*
        is a lower bound, not the total."""
        if not self._enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        width = max(20, min(100, shutil.get_terminal_size((80, 20)).columns))
        if total and at_least:
            line = f"{self._label} {done}/{max(total, done)}+ {suffix}"
        elif total:
            bar_width = max(10, width - len(self._label) - len(suffix) - 22)
            filled = int(bar_width * min(done, total) / total)
            bar = "█" * filled + "░" * (bar_width - filled)
            line = f"{self._label} {bar} {done}/{total} {suffix}"
        else:
            line = f"{self._label} {done} {suffix}"
        self._stream.write("\r" + line[:width].ljust(width))
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the line so later output starts on a fresh one."""
        if self._enabled and self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False
