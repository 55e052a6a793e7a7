"""The scenario registry: every module in this package registers one or more scenarios.

A scenario is a function ``run(settings: Settings) -> ScenarioResult`` that runs in the harness
process, starts whatever server it needs (:func:`benchmarks.harness.server`), runs each
measurement in a child process (:func:`benchmarks.harness.run_child`, pointing at a ``child``
function in the same module) and returns raw figures plus tables.

To add one (e.g. ``fanout_throttled``), create ``benchmarks/scenarios/fanout_throttled.py``::

    from benchmarks.harness import ScenarioResult, Settings
    from benchmarks.scenarios import register

    @register("fanout_throttled", order=40, description="enumerate roles under 429s")
    def run(settings: Settings) -> ScenarioResult: ...

It is discovered automatically (:func:`discover`) and selectable with ``--only fanout_throttled``.
Modules are imported in the harness and, for their ``child`` functions, in fresh child
interpreters: keep their top-level imports to the standard library and ``benchmarks``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.harness import ScenarioResult, Settings

ScenarioFn = Callable[["Settings"], "ScenarioResult"]


@dataclass(frozen=True)
class Scenario:
    """A registered scenario.

    Attributes:
        name: what ``--only`` selects and the JSON key.
        order: position in a full run (lower first).
        description: one line, shown by ``--list``.
        run: the function that measures.
        default: part of a run without ``--only``.
    """

    name: str
    order: int
    description: str
    run: ScenarioFn
    default: bool = True


SCENARIOS: dict[str, Scenario] = {}


def register(
    name: str, *, order: int, description: str, default: bool = True
) -> Callable[[ScenarioFn], ScenarioFn]:
    """Decorator: register ``fn`` as the scenario ``name``.

    Args:
        name: unique scenario name (``--only`` value, JSON key).
        order: position in a full run, lower first.
        description: one line for ``--list``.
        default: run it when ``--only`` is not given.
    """

    def decorate(fn: ScenarioFn) -> ScenarioFn:
        if name in SCENARIOS:
            raise ValueError(f"duplicate scenario name {name!r}")
        SCENARIOS[name] = Scenario(name, order, description, fn, default)
        return fn

    return decorate


def discover() -> list[Scenario]:
    """Import every module of this package and return the registered scenarios in run order."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return sorted(SCENARIOS.values(), key=lambda s: (s.order, s.name))
