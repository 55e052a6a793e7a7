"""Sphinx configuration of the aiosso documentation.

Build it strictly, as CI does (a warning, a broken cross-reference or a public object without a
docstring fails the build)::

    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the checkout's aiosso, even without an editable install

import aiosso  # noqa: E402

project = "aiosso"
author = "aiosso developers"
copyright = "aiosso developers"
release = aiosso.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "aiosso_docs",  # docs/_ext/aiosso_docs.py: error tree, CLI reference, docstring checks
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# -- Strictness -------------------------------------------------------------------------------
# Every cross-reference must resolve. aiosso's own names always do: they are documented in
# reference/*.md (a name reached through its defining module, aiosso.client.AsyncSSOClient,
# is resolved to its documented public path, aiosso.AsyncSSOClient, by the aiosso_docs
# extension). There is no intersphinx: CI has no internet, so names of the standard library
# and of other packages cannot be linked; they are rendered as plain text instead, and only
# those are ignored below. Never add an aiosso name here: document it instead.
nitpicky = True
_FOREIGN = [
    "aiohttp",
    "asyncio",
    "ssl",
    "datetime",
    "collections",
    "typing",
    "typing_extensions",
    "types",
    "redis",
    "attrs",
    "attr",
    "tenacity",
    "botocore",
    "aiobotocore",
    "os",
    "pathlib",
    "secrets",
    "webbrowser",
    "argparse",
    "contextlib",
    "enum",
    "io",
    "json",
    "logging",
    "random",
    "socket",
    "subprocess",
    "threading",
    "concurrent",
    "urllib",
    "yarl",
    "multidict",
    "opentelemetry",
    "pytest",
    "pytest_asyncio",
    "_pytest",
    "cryptography",
    "jmespath",
]
nitpick_ignore_regex = [
    # aiosso's private implementation names (a module or name with a leading underscore, such
    # as aiosso._retry.RequestBudget or the TypeVar aiosso.paginate._PageT) show in signatures
    # and base classes but are not part of the API: plain text, not links. A private path of a
    # public object (aiosso._fanout.AccountFailure) still links, through aiosso_docs.
    (r"py:.*", r"aiosso(\.\w+)*\._\w+(\.\w+)*"),
    # Names from other packages and the standard library, dotted ("asyncio.Event").
    (r"py:.*", r"({})(\..*)?".format("|".join(_FOREIGN))),
    # Builtins and typing's bare names, as annotations render them ("str", "Any", "Self").
    (
        r"py:.*",
        r"(None|str|bytes|int|float|bool|complex|object|type|list|dict|set|frozenset|tuple"
        r"|Exception|BaseException|ValueError|TypeError|RuntimeError|TimeoutError|OSError"
        r"|KeyError|LookupError|ConnectionError|NotImplementedError|StopAsyncIteration"
        r"|Ellipsis|NoneType|Any|Self|Literal|Never|NoReturn|TypeAlias|TypeVar|ParamSpec"
        r"|Generic|Protocol|ClassVar|Final|Optional|Union|Callable|Awaitable|Coroutine"
        r"|AsyncIterator|AsyncIterable|AsyncGenerator|Iterator|Iterable|Generator|Mapping"
        r"|MutableMapping|Sequence|Collection|Hashable|TracebackType|Path|PathLike|IO|TextIO"
        r"|BinaryIO|SSLContext|Event|Task|AbstractEventLoop|ClientSession|ClientTimeout"
        r"|TCPConnector|timedelta|datetime|NotRequired|Required|TypedDict|Unpack|P\..*|T|_T.*"
        r")",
    ),
]

# -- Autodoc and napoleon (Google style: Args / Returns / Raises) ----------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = True
# Undocumented members are not silently left out: they are listed, and the aiosso_docs
# extension turns each missing docstring into a warning (an error under -W).
autodoc_default_options = {"undoc-members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = False  # "Attributes:" become attribute entries, targets of {attr}
napoleon_attr_annotations = True

# -- MyST -------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "fieldlist", "attrs_inline"]
myst_heading_anchors = 3

# Text as written: "--profile" must not become an en dash, nor "..." an ellipsis.
smartquotes = False

# -- HTML -------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"aiosso {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
