"""The package surface: exports, version, typing marker, import cost, the error tree."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import inspect
import pickle
import re
import subprocess
import sys
import types

import pytest

import aiosso
import aiosso.exceptions

# ``from __future__ import annotations`` leaves a public name ``annotations`` in every module.
_FUTURE_FEATURE = type(annotations)


def test_all_is_sorted_unique_and_importable() -> None:
    """__all__ is sorted, has no duplicates, and every name in it exists."""
    names = list(aiosso.__all__)
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(aiosso, name), name
    namespace: dict[str, object] = {}
    exec("from aiosso import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(names)


def test_all_is_complete() -> None:
    """Every public non-module attribute of aiosso, and every public error, is exported."""
    public = {
        name
        for name, value in vars(aiosso).items()
        if not name.startswith("_")
        and not isinstance(value, (types.ModuleType, _FUTURE_FEATURE))
        and name not in {"TYPE_CHECKING", "Any"}
    }
    lazy = set(aiosso._LAZY)  # imported on first use
    assert public | lazy | {"__version__"} == set(aiosso.__all__)
    for name in lazy:
        assert getattr(aiosso, name) is getattr(importlib.import_module(aiosso._LAZY[name]), name)
    assert set(aiosso.exceptions.__all__) <= set(aiosso.__all__)


def test_exported_objects_live_in_aiosso() -> None:
    """Every exported class and function is defined in an aiosso module."""
    for name in aiosso.__all__:
        value = getattr(aiosso, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.split(".")[0] == "aiosso", (name, value.__module__)


def test_version_matches_metadata() -> None:
    """__version__ is the installed distribution's version."""
    assert aiosso.__version__ == importlib.metadata.version("aiosso")


def test_py_typed_shipped() -> None:
    """The PEP 561 marker is part of the package."""
    assert importlib.resources.files("aiosso").joinpath("py.typed").is_file()


def test_import_is_light() -> None:
    """import aiosso pulls in neither tenacity (lazy) nor botocore nor the emulator."""
    code = (
        "import sys, aiosso\n"
        "heavy = [m for m in ('tenacity', 'botocore', 'aiosso.testing') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""
    assert out.stderr == ""


def _drawn_tree() -> dict[str, tuple[str, list[str]]]:
    """name -> (parent, extra bases) as drawn in the aiosso.exceptions docstring."""
    doc = aiosso.exceptions.__doc__
    assert doc is not None
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "AioSSOError")
    root_col = lines[start].index("AioSSOError")
    tree: dict[str, tuple[str, list[str]]] = {}
    stack = ["AioSSOError"]
    for line in lines[start + 1 :]:
        match = re.match(r"^(?P<prefix>[ │├└─]*)[├└]── (?P<name>\w+)(?P<rest>.*)$", line)
        if match is None:
            if line.strip():
                continue
            break
        depth = (len(match["prefix"]) - root_col) // 4 + 1
        del stack[depth:]
        extras = re.findall(r"\(also (\w+)\)", match["rest"])
        tree[match["name"]] = (stack[-1], extras)
        stack.append(match["name"])
    return tree


def test_exception_tree_as_drawn() -> None:
    """The error classes derive exactly as the exceptions module docstring draws them."""
    tree = _drawn_tree()
    exported = set(aiosso.exceptions.__all__) - {"AioSSOError"}
    assert set(tree) == exported
    builtins_by_name = {"ValueError": ValueError, "RuntimeError": RuntimeError}
    builtins_by_name["TimeoutError"] = TimeoutError
    for name, (parent, extras) in tree.items():
        cls = getattr(aiosso.exceptions, name)
        aiosso_bases = [b for b in cls.__bases__ if issubclass(b, aiosso.AioSSOError)]
        assert [b.__name__ for b in aiosso_bases] == [parent], name
        for extra in extras:
            assert issubclass(cls, builtins_by_name[extra]), (name, extra)
        other_bases = {b for b in cls.__bases__ if not issubclass(b, aiosso.AioSSOError)}
        assert other_bases == {builtins_by_name[e] for e in extras}, name
    assert aiosso.AioSSOError.__bases__ == (Exception,)


@pytest.mark.parametrize(
    "exc",
    [
        aiosso.ParamValidationError(report='Missing required parameter in input: "x"'),
        aiosso.EndpointConnectionError(endpoint_url="https://x.example/p"),
        aiosso.ConnectTimeoutError(endpoint_url="https://x.example/p"),
        aiosso.NoRegionError(),
        aiosso.OperationNotPageableError(operation_name="logout"),
    ],
)
def test_errors_pickle(exc: aiosso.AioSSOError) -> None:
    """Errors survive pickling with their class, message and kwargs."""
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert str(back) == str(exc)
    assert back.kwargs == exc.kwargs


def test_modeled_errors_pickle_as_client_error() -> None:
    """As botocore: a pickled modeled error comes back as a plain ClientError."""
    response = {"Error": {"Code": "UnauthorizedException", "Message": "m"}}
    exc = aiosso.UnauthorizedException(response, "ListAccounts")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is aiosso.ClientError
    assert (str(back), back.response, back.operation_name) == (
        str(exc),
        response,
        "ListAccounts",
    )
