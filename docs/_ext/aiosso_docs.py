"""Sphinx extension of the aiosso documentation.

* **Missing docstrings are warnings.** Every public object autodoc documents must have a
  docstring of its own (a class does not borrow its base's); under ``-W`` a missing one fails
  the build. Every field of an ``attrs`` class must be described in the class docstring
  (``Args:`` or ``Attributes:``); the fields themselves are not listed again as members.
* **Public paths.** aiosso documents its names where users import them (``aiosso.RetryConfig``,
  ``aiosso.testing.PortalEmulator``), while annotations and docstrings may name the defining
  module (``aiosso.config.RetryConfig``). A cross-reference that does not resolve is retried
  with the documented path of the same object, so it links instead of failing nitpicky mode.
* ``error-tree`` directive: the exception hierarchy under a root class, generated from the
  classes themselves (``__subclasses__``), each one cross-referenced with the first sentence
  of its docstring.
* ``argparse-reference`` directive: every command and sub-command of an ``argparse`` parser
  (from a ``module:function`` that builds it) with its description, usage and options, as
  sections, so the CLI reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import re
import types
from collections.abc import Iterator
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

# -- Missing docstrings --------------------------------------------------------------------------

_CHECKED = {
    "module",
    "class",
    "exception",
    "function",
    "method",
    "classmethod",
    "staticmethod",
    "property",
    "attribute",
    "data",
    "decorator",
}


def _source_location(obj: Any) -> str:
    try:
        target = inspect.unwrap(obj)
        path = inspect.getsourcefile(target)
        _, line = inspect.getsourcelines(target)
    except (TypeError, OSError):
        return ""
    return f" (defined at {path}:{line})"


def _own_docstring(what: str, obj: Any) -> bool:
    if what in ("class", "exception"):
        doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else None
        return bool(doc and doc.strip())
    return True


def _attrs_fields(obj: Any) -> list[str]:
    try:
        import attrs
    except ImportError:  # pragma: no cover
        return []
    if isinstance(obj, type) and attrs.has(obj):
        return [f.name for f in attrs.fields(obj) if not f.name.startswith("_")]
    return []


def _owner() -> Any:
    """The class or module whose members autodoc is filtering (autodoc-skip-member is not
    told it)."""
    frame = inspect.currentframe()
    while frame is not None:
        props = frame.f_locals.get("props")
        obj = getattr(props, "_obj", None)
        if isinstance(obj, (type, types.ModuleType)):
            return obj
        documenter = frame.f_locals.get("self")  # Sphinx < 9: a ClassDocumenter
        obj = getattr(documenter, "object", None)
        if isinstance(obj, (type, types.ModuleType)) and hasattr(documenter, "filter_members"):
            return obj
        frame = frame.f_back
    return None


def _alias_docstring(module_name: str, name: str) -> list[str] | None:
    """The doc comment or docstring of a type alias ``name`` that ``module_name`` exports: in
    that module's source, or in the module it imports the name from."""
    from sphinx.pycode import ModuleAnalyzer

    seen = set()
    while module_name not in seen:
        seen.add(module_name)
        try:
            analyzer = ModuleAnalyzer.for_module(module_name)
            analyzer.analyze()
        except Exception:
            return None
        docs = analyzer.attr_docs.get(("", name))
        if docs:
            return list(docs)
        tree = ast.parse(analyzer.code)
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and any(
                (alias.asname or alias.name) == name for alias in node.names
            ):
                base = module_name if _is_package(module_name) else module_name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                module_name = f"{base}.{node.module}" if node.level else (node.module or "")
                break
        else:
            return None
    return None


def _is_package(module_name: str) -> bool:
    return hasattr(importlib.import_module(module_name), "__path__")


def _class_described_attributes(cls: type) -> set[str]:
    """What the class docstring already documents as attributes: its ``Attributes:`` entries
    and, for an attrs class, every field (checked to be described, see _check_docstring)."""
    doc = cls.__dict__.get("__doc__") or ""
    names = _attributes_section(inspect.cleandoc(doc).splitlines())
    return names | set(_attrs_fields(cls))


def _attributes_section(lines: list[str]) -> set[str]:
    names: set[str] = set()
    inside = False
    indent = None
    for line in lines:
        if not line.strip():
            continue
        if line.strip() == "Attributes:" and not line[:1].isspace():
            inside, indent = True, None
            continue
        if inside:
            if not line[:1].isspace():
                inside = False
                continue
            current = len(line) - len(line.lstrip())
            if indent is None:
                indent = current
            if current == indent:
                match = re.match(r"\s+\*?(\w+)(\s*\([^)]*\))?:", line)
                if match:
                    names.add(match.group(1))
    return names


def _is_alias(obj: Any) -> bool:
    """A typing construct (``Literal[...]``, ``Union[...]``, ``Callable[...]``)."""
    return type(obj).__module__ in ("typing", "types", "collections.abc", "_collections_abc")


def _check_docstring(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """``autodoc-process-docstring``, before napoleon: warn about missing docstrings."""
    if what not in _CHECKED:
        return
    if what == "data" and _is_alias(obj):
        # autodoc gives a type alias the docstring of its typing construct: use the alias's
        # own doc comment instead (none is a missing docstring).
        module_name, _, attr = name.rpartition(".")
        lines[:] = _alias_docstring(module_name, attr) or []
    last = name.rsplit(".", 1)[-1]
    if last.startswith("_"):
        return
    empty = not any(line.strip() for line in lines)
    if empty or not _own_docstring(what, obj):
        logger.warning(
            "%s %s has no docstring%s",
            what,
            name,
            _source_location(obj),
            type="aiosso",
            subtype="missing-docstring",
            location=app.env.docname,
        )
        return
    fields = _attrs_fields(obj)
    if fields:
        # The fields of an attrs class are both its constructor's arguments and its
        # attributes: documented as attributes (napoleon makes each a py:attribute entry, a
        # target for {attr}), not listed again as members (see _skip_member).
        for i, line in enumerate(lines):
            if line.strip() in ("Args:", "Arguments:", "Parameters:") and not line[:1].isspace():
                lines[i] = "Attributes:"
    text = "\n".join(lines)
    for field in fields:
        # Google style: "    name: text" or "    name (type): text" under Args/Attributes.
        if not re.search(rf"^\s+\*?{re.escape(field)}(\s*\([^)]*\))?:\s", text, re.M):
            logger.warning(
                "attrs field %s.%s is not described in the class docstring%s",
                name,
                field,
                _source_location(obj),
                type="aiosso",
                subtype="missing-docstring",
                location=app.env.docname,
            )


def _skip_member(
    app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any
) -> bool | None:
    """``autodoc-skip-member``: document each object once, at its public path.

    * Attributes the class docstring describes (``Attributes:``, and the fields of an attrs
      class) are documented there, not again as members.
    * A module's member that ``aiosso`` itself exports (``aiosso.awsconfig.load_config`` is
      ``aiosso.load_config``) is documented at the top level only; references to the module's
      path resolve there. So is a class's alias of such a class (``SSOExceptions.ClientError``).
    """
    owner = _owner()
    if skip:
        # A type alias in a module's __all__ (FaultKind = Literal[...]) is public: autodoc
        # leaves it out as "imported from typing"; it is documented, with its doc comment.
        if what == "module" and name in getattr(owner, "__all__", ()) and _is_alias(obj):
            return False
        return None
    if (
        what in ("class", "exception")
        and isinstance(owner, type)
        and name in _class_described_attributes(owner)
    ):
        return True
    if what in ("module", "class") and (isinstance(obj, type) or callable(obj)):
        import aiosso

        if name in aiosso.__all__ and getattr(aiosso, name, None) is obj:
            return True
    return None


# -- Public paths for cross-references -----------------------------------------------------------

_canonical: dict[int, str] | None = None
_keep_alive: list[Any] = []


def _resolve(dotted: str) -> Any:
    """The object a dotted name designates (module prefix, then attributes), or raise."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise LookupError(dotted)


def _canonical_names(app: Sphinx) -> dict[int, str]:
    global _canonical
    if _canonical is None:
        _canonical = {}
        domain = app.env.get_domain("py")
        for name, _dispname, objtype, _doc, _anchor, _prio in domain.get_objects():
            if not name.startswith("aiosso") or objtype not in (
                "class",
                "exception",
                "function",
                "method",
                "module",
                "data",
                "property",
                "attribute",
                "classmethod",
                "staticmethod",
            ):
                continue
            try:
                obj = _resolve(name)
            except Exception:
                continue
            if isinstance(obj, (int, float, str, bool, type(None), tuple)):
                continue  # interned values: their identity says nothing
            _keep_alive.append(obj)
            # The first documented name wins; the shortest is the public one.
            current = _canonical.get(id(obj))
            if current is None or len(name) < len(current):
                _canonical[id(obj)] = name
    return _canonical


def _candidates(node: nodes.Element, canonical: dict[int, str]) -> Iterator[str]:
    target: str = node["reftarget"]
    yield target
    if "." not in target or not target.startswith("aiosso"):
        module = node.get("py:module")
        cls = node.get("py:class")
        if module and cls:
            yield f"{module}.{cls}.{target}"
        if module:
            yield f"{module}.{target}"
    if not target.startswith("aiosso"):
        # A bare name from a string annotation (a TYPE_CHECKING import), or a relative one
        # (JSONFileCache.locked): the one documented aiosso object it ends, if exactly one.
        matches = {name for name in canonical.values() if name.endswith("." + target)}
        if len(matches) == 1:
            yield matches.pop()


def _missing_reference(
    app: Sphinx, env: Any, node: nodes.Element, contnode: nodes.Element
) -> nodes.Element | None:
    """Resolve ``aiosso.<module>.<Name>`` to the documented ``aiosso.<Name>`` of that object."""
    if node.get("refdomain") != "py":
        return None
    canonical = _canonical_names(app)
    domain = env.get_domain("py")
    for target in _candidates(node, canonical):
        if not target.startswith("aiosso"):
            continue
        parts = target.split(".")
        # The longest prefix that is a documented object, then the remaining attributes.
        for cut in range(len(parts), 1, -1):
            try:
                obj = _resolve(".".join(parts[:cut]))
            except Exception:
                continue
            public = canonical.get(id(obj))
            if public is None:
                continue
            new_target = ".".join([public, *parts[cut:]])
            if new_target == node["reftarget"]:
                break
            resolved = domain.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], new_target, node, contnode
            )
            if resolved is not None:
                return resolved
            break
    return None


def _reset(app: Sphinx) -> None:
    global _canonical
    _canonical = None
    _keep_alive.clear()


# -- Inline text: ``literal`` and :role:`target` ------------------------------------------------

_INLINE = re.compile(r"``(?P<lit>.+?)``|:(?P<role>[a-z]+):`(?P<target>~?[\w.]+)`")


def _inline(text: str, module: str) -> list[nodes.Node]:
    out: list[nodes.Node] = []
    pos = 0
    for match in _INLINE.finditer(text):
        out.append(nodes.Text(text[pos : match.start()]))
        if match.group("lit") is not None:
            out.append(nodes.literal(match.group("lit"), match.group("lit")))
        else:
            target = match.group("target")
            short = target.startswith("~")
            target = target.lstrip("~")
            shown = target.rsplit(".", 1)[-1] if short else target
            out.append(_xref(match.group("role"), target, shown, module))
        pos = match.end()
    out.append(nodes.Text(text[pos:]))
    return out


def _xref(role: str, target: str, shown: str, module: str | None = None) -> addnodes.pending_xref:
    ref = addnodes.pending_xref(
        "",
        nodes.literal(shown, shown, classes=["xref", "py", f"py-{role}"]),
        refdomain="py",
        reftype=role,
        reftarget=target,
        refexplicit=True,
        refwarn=True,
    )
    if module:
        ref["py:module"] = module
    return ref


def _first_sentence(obj: Any) -> str:
    doc = inspect.cleandoc(obj.__dict__.get("__doc__") or "")
    paragraph = doc.split("\n\n", 1)[0]
    return " ".join(paragraph.split())


# -- error-tree ------------------------------------------------------------------------------


def _defined_line(cls: type) -> int:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return 0


class ErrorTree(SphinxDirective):
    """``.. error-tree:: package.Root``: the exception classes under *Root*, nested.

    Options: ``:public-module:`` the module whose names the tree links to (default: the
    module of the argument's package, e.g. ``aiosso``); only classes that module exports are
    shown.
    """

    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {
        "public-module": directives.unchanged,
        "autodoc": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        root = _resolve(self.arguments[0])
        public_name = self.options.get("public-module") or self.arguments[0].split(".")[0]
        public = importlib.import_module(public_name)
        exported = set(getattr(public, "__all__", ()))
        self.env.note_dependency(inspect.getsourcefile(root) or "")
        tree = nodes.bullet_list(classes=["error-tree"])
        tree += self._item(root, public_name, exported)
        if "autodoc" not in self.options:
            return [tree]
        # Then every class of the tree, depth first, through autodoc's own directive.
        names = [f"{public_name}.{cls.__name__}" for cls in self._walk(root, exported)]
        text = "".join(f".. autoexception:: {name}\n\n" for name in names)
        if type(self.state).__module__.startswith("myst_parser"):
            # autodoc generates reStructuredText: in a MyST page it runs inside eval-rst.
            text = f"```{{eval-rst}}\n{text}```\n"
        container = nodes.container()
        self.state.nested_parse(
            StringList(text.splitlines(), source=self.env.docname), self.content_offset, container
        )
        return [tree, *container.children]

    def _walk(self, cls: type, exported: set[str]) -> Iterator[type]:
        yield cls
        for child in self._children(cls, exported):
            yield from self._walk(child, exported)

    @staticmethod
    def _children(cls: type, exported: set[str]) -> list[type]:
        return sorted(
            (c for c in cls.__subclasses__() if c.__name__ in exported), key=_defined_line
        )

    def _item(self, cls: type, public: str, exported: set[str]) -> nodes.list_item:
        item = nodes.list_item()
        para = nodes.paragraph()
        para += _xref("exc", f"{public}.{cls.__name__}", cls.__name__)
        others = [
            base.__name__
            for base in cls.__bases__
            if not base.__module__.startswith(public) and base is not Exception
        ]
        if others:
            para += nodes.Text(" (also ")
            for i, name in enumerate(others):
                if i:
                    para += nodes.Text(", ")
                para += nodes.literal(name, name)
            para += nodes.Text(")")
        sentence = _first_sentence(cls)
        if sentence:
            para += nodes.Text(": ")
            para.extend(_inline(sentence, public))
        item += para
        children = self._children(cls, exported)
        if children:
            sub = nodes.bullet_list()
            for child in children:
                sub += self._item(child, public, exported)
            item += sub
        return item


# -- argparse-reference -----------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help, parser) of each sub-command, in definition order."""
    found: list[tuple[str, str, argparse.ArgumentParser]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((name, helps.get(name, ""), sub))
    return found


def _option_strings(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar if isinstance(action.metavar, str) else action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    if isinstance(action.metavar, str):
        metavar = action.metavar
    elif action.choices is not None:
        metavar = "{" + ",".join(str(c) for c in action.choices) + "}"
    else:
        metavar = action.dest.upper()
    return ", ".join(f"{opt} {metavar}" for opt in action.option_strings)


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class ArgparseReference(SphinxDirective):
    """``.. argparse-reference:: module:function``: a parser's commands, options and usage.

    Options:
        ``:prog:`` the program name to build the parser with (passed as ``prog=``).
        ``:label:`` prefix of the labels of the command sections (``{label}-{command}``).
        ``:delegate:`` ``NAME=module:function``, repeatable (one per line): the sub-command
            NAME is handled by another parser at run time (its sub-parser is a placeholder);
            that parser, built with ``prog="<prog> NAME"``, is documented instead.
        ``:standalone:`` ``NAME=module:function``, one per line: the sub-command is parsed by
            a parser of its own at run time (a fast path); it is documented from
            ``function(NAME)`` and must offer the same options as the sub-parser.
    """

    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {
        "prog": directives.unchanged,
        "label": directives.unchanged,
        "delegate": directives.unchanged,
        "standalone": directives.unchanged,
    }

    def _spec_map(self, key: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in (self.options.get(key) or "").split():
            name, _, spec = line.partition("=")
            out[name] = spec
        return out

    @staticmethod
    def _call(spec: str, *args: Any, **kwargs: Any) -> Any:
        module, _, func = spec.partition(":")
        return getattr(importlib.import_module(module), func)(*args, **kwargs)

    def run(self) -> list[nodes.Node]:
        spec = self.arguments[0]
        kwargs = {"prog": self.options["prog"]} if "prog" in self.options else {}
        parser = self._call(spec, **kwargs)
        self.delegates = self._spec_map("delegate")
        self.standalones = self._spec_map("standalone")
        self.label = self.options.get("label", parser.prog.replace(" ", "-"))
        for module_spec in [spec, *self.delegates.values(), *self.standalones.values()]:
            source = inspect.getsourcefile(importlib.import_module(module_spec.split(":")[0]))
            if source:
                self.env.note_dependency(source)
        body = self._body(parser)
        sections = [
            self._section(name, help_, sub, parser.prog)
            for name, help_, sub in _subcommands(parser)
        ]
        return [*body, *sections]

    def _resolved(self, name: str, sub: argparse.ArgumentParser, parent_prog: str) -> Any:
        if name in self.delegates:
            return self._call(self.delegates[name], prog=f"{parent_prog} {name}")
        if name in self.standalones:
            alone = self._call(self.standalones[name], name)
            mine = sorted(tuple(a.option_strings) for a in alone._actions)
            theirs = sorted(tuple(a.option_strings) for a in sub._actions)
            if mine != theirs:
                logger.warning(
                    "%s %s: the standalone parser's options %s differ from the sub-parser's %s",
                    parent_prog,
                    name,
                    mine,
                    theirs,
                    location=(self.env.docname, self.lineno),
                )
            alone.prog = sub.prog
            return alone
        return sub

    def _section(
        self, name: str, help_: str, sub: argparse.ArgumentParser, parent_prog: str
    ) -> nodes.section:
        parser = self._resolved(name, sub, parent_prog)
        title = f"{parent_prog} {name}"
        label = f"{self.label}-{'-'.join(title.split()[1:])}"
        section = nodes.section(ids=[nodes.make_id(label)], names=[label])
        section += nodes.title("", "", nodes.literal(title, title))
        self.state.document.note_explicit_target(section)
        if help_ and not parser.description:
            section += nodes.paragraph(help_, help_[:1].upper() + help_[1:] + ".")
        section.extend(self._body(parser))
        for child, child_help, child_parser in _subcommands(parser):
            section += self._section(child, child_help, child_parser, title)
        return section

    def _body(self, parser: argparse.ArgumentParser) -> list[nodes.Node]:
        out: list[nodes.Node] = []
        if parser.description:
            out.append(nodes.paragraph(parser.description, parser.description))
        usage = parser.format_usage().strip()
        out.append(nodes.literal_block(usage, usage, language="text"))
        groups = [(g.title, g._group_actions) for g in parser._action_groups]
        for title, actions in groups:
            shown = [
                a
                for a in actions
                if a.help != argparse.SUPPRESS and not isinstance(a, argparse._SubParsersAction)
            ]
            if not shown:
                continue
            rubric_text = (title or "options").rstrip(":")
            rubric_text = rubric_text[:1].upper() + rubric_text[1:]
            out.append(nodes.rubric(rubric_text, rubric_text))
            dl = nodes.definition_list(classes=["cli-options"])
            for action in shown:
                term_text = _option_strings(action)
                item = nodes.definition_list_item()
                item += nodes.term("", "", nodes.literal(term_text, term_text))
                definition = nodes.definition()
                text = (action.help or "").replace("%(default)s", str(action.default))
                text = text.replace("%(prog)s", parser.prog).replace("%%", "%")
                if text:
                    text = text[:1].upper() + text[1:]
                    text = text if text.endswith((".", ")")) else text + "."
                extra = []
                if action.required and action.option_strings:
                    extra.append("Required.")
                if isinstance(action, argparse._VersionAction):
                    pass
                elif (
                    action.option_strings
                    and action.nargs != 0
                    and action.default not in (None, argparse.SUPPRESS)
                    and "default" not in text.lower()
                    and _shown(action.default) not in text
                ):
                    extra.append(f"Default: {_shown(action.default)}.")
                full = " ".join(x for x in [text, *extra] if x)
                definition += nodes.paragraph(full, full)
                item += definition
                dl += item
            out.append(dl)
        return out


def aiosso_standalone_parser(name: str) -> argparse.ArgumentParser:
    """The parser ``aiosso.cli.main`` builds for ``credential-process`` and ``export`` (their
    fast path, without the full parser), for ``:standalone:`` of ``argparse-reference``."""
    from aiosso import cli

    return cli._add_credentials_command(cli._standalone, name)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("autodoc-process-docstring", _check_docstring, priority=400)
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("missing-reference", _missing_reference)
    app.connect("builder-inited", _reset)
    app.add_directive("error-tree", ErrorTree)
    app.add_directive("argparse-reference", ArgparseReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
