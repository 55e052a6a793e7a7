"""The reference pages (docs/reference/*.md) document every public name.

Parses the Markdown sources for their autodoc directives (no Sphinx build: that is the docs
job of CI, ``sphinx -W``), and checks that every name in ``__all__`` of ``aiosso``,
``aiosso.fleet``, ``aiosso.broker`` and ``aiosso.testing`` is documented somewhere, and that
the CLI reference covers the commands whose parser is only a placeholder.
"""

from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path

import pytest

import aiosso

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference"

_DIRECTIVE = re.compile(
    r"^\s*(?:\.\. (?P<rst>auto\w+|py:\w+)::"
    r"|```\{(?P<md>auto\w+|py:\w+|error-tree|argparse-reference)\})\s+(?P<arg>\S+)"
)
_OPTION = re.compile(r"^\s*:(?P<name>[\w-]+):\s*(?P<value>.*)$")


def _directives() -> list[tuple[str, str, dict[str, str]]]:
    """(directive, argument, options) of every directive of the reference pages."""
    found: list[tuple[str, str, dict[str, str]]] = []
    for page in sorted(REFERENCE.glob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            match = _DIRECTIVE.match(line)
            if not match:
                continue
            options: dict[str, str] = {}
            for following in lines[i + 1 :]:
                option = _OPTION.match(following)
                if not option:
                    break
                options[option["name"]] = option["value"].strip()
            found.append((match["rst"] or match["md"], match["arg"], options))
    return found


def _top_level_export(name: str, obj: object) -> bool:
    return name in aiosso.__all__ and getattr(aiosso, name, None) is obj


def _documented() -> set[str]:
    """Full names of everything the reference pages document (as the docs extension does:
    a module's member that ``aiosso`` exports is documented at the top level only)."""
    names: set[str] = set()
    for directive, argument, options in _directives():
        if directive == "error-tree":
            module_name, _, root_name = argument.rpartition(".")
            root = getattr(importlib.import_module(module_name), root_name)
            stack = [root]
            while stack:
                cls = stack.pop()
                if cls.__name__ in aiosso.__all__:
                    names.add(f"aiosso.{cls.__name__}")
                stack.extend(cls.__subclasses__())
        elif directive == "automodule":
            module = importlib.import_module(argument)
            names.add(argument)
            if "members" not in options:
                continue
            excluded = {n.strip() for n in options.get("exclude-members", "").split(",")}
            for member in getattr(module, "__all__", ()):
                if member in excluded:
                    continue
                obj = getattr(module, member)
                if argument != "aiosso" and _top_level_export(member, obj):
                    names.add(f"aiosso.{member}")
                else:
                    names.add(f"{argument}.{member}")
        else:
            names.add(argument)
    return names


@pytest.mark.parametrize(
    "module_name", ["aiosso", "aiosso.fleet", "aiosso.broker", "aiosso.testing"]
)
def test_every_public_name_is_in_the_reference(module_name: str) -> None:
    module = importlib.import_module(module_name)
    documented = _documented()
    missing = [
        f"{module_name}.{name}"
        for name in module.__all__
        if name != "__version__" and f"{module_name}.{name}" not in documented
    ]
    assert not missing, f"not in docs/reference/*.md: {missing}"


def test_exceptions_are_on_the_errors_page_only() -> None:
    errors = (REFERENCE / "errors.md").read_text(encoding="utf-8")
    assert "{error-tree} aiosso.exceptions.AioSSOError" in errors
    assert ":autodoc:" in errors
    exceptions = {
        name
        for name in aiosso.__all__
        if isinstance(getattr(aiosso, name), type)
        and issubclass(getattr(aiosso, name), aiosso.AioSSOError)
    }
    assert exceptions
    by_hand = {
        argument.rpartition(".")[2]
        for directive, argument, _options in _directives()
        if directive.startswith("auto")
    }
    # Documented through the generated error tree, not one by one.
    assert not exceptions & by_hand


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def test_cli_reference_covers_delegated_commands() -> None:
    from aiosso.cli import build_parser

    options = {
        argument: opts
        for directive, argument, opts in _directives()
        if directive == "argparse-reference"
    }
    assert "aiosso.cli:build_parser" in options
    assert "aiosso.testing._cli:build_parser" in options
    delegated = {
        item.partition("=")[0] for item in options["aiosso.cli:build_parser"]["delegate"].split()
    }
    standalone = {
        item.partition("=")[0] for item in options["aiosso.cli:build_parser"]["standalone"].split()
    }
    # A sub-command without options of its own is a placeholder for a parser run elsewhere.
    placeholders = {
        name
        for name, sub in _subparsers(build_parser()).items()
        if not sub._actions and not _subparsers(sub)
    }
    assert placeholders <= delegated
    from aiosso import cli

    assert set(cli._CREDENTIAL_COMMANDS) <= standalone
