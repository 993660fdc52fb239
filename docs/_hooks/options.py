"""MkDocs hook: the option tables of the configuration pages, generated from the code.

A line ``<!-- options: DOTTED.PATH -->`` is replaced by a table of the options of that function
or class: each parameter of its signature (a settings object's constructor, a router factory),
its type, its default and its description. Names, types and defaults come from the signature
itself, so the page cannot drift from the code; descriptions come from the docstrings: a
Google-style ``Args:`` or ``Attributes:`` section, or the docstring written right under a
dataclass field. ``<!-- options: PATH from OTHER.PATH -->`` also reads the descriptions of
OTHER.PATH (a ``FastAPIUsers`` method documented by the router factory it calls). A parameter
no docstring describes fails the build (:class:`OptionsError`), so a new option cannot be
added without its documentation.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
import itertools
import re
import textwrap
from dataclasses import dataclass
from typing import Any

OPTIONS = re.compile(r"^<!-- options: (?P<path>[\w.]+)(?: from (?P<sources>[\w., ]+?))? -->$", re.MULTILINE)
_SECTION = re.compile(r"^(Args|Arguments|Attributes|Parameters|Keyword Args|Keyword Arguments):\s*$")
_ENTRY = re.compile(r"^    (?P<name>\*{0,2}\w+)(?: \([^)]*\))?:\s*(?P<text>.*)$")
_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj):`~?(?P<target>[^`]+)`")
REQUIRED = "required"


class OptionsError(LookupError):
    """An options marker names an object that does not exist, or an option has no description."""


@dataclass(frozen=True)
class Option:
    """One parameter of a documented object, as its table row shows it."""

    name: str
    annotation: str
    default: str
    description: str
    keyword_only: bool


def resolve(path: str) -> Any:
    """The object at the dotted ``path``: the longest importable module, then attributes.

    Raises:
        OptionsError: No module or attribute of that name.
    """
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for name in parts[split:]:
                obj = getattr(obj, name)
        except AttributeError as exc:
            raise OptionsError(f"no object {path}") from exc
        return obj
    raise OptionsError(f"no module for {path}")


def docstring_entries(obj: Any) -> dict[str, str]:
    """The ``name: text`` entries of the Google-style parameter sections of ``obj``'s docstring."""
    entries: dict[str, str] = {}
    lines = (inspect.getdoc(obj) or "").splitlines()
    index = 0
    while index < len(lines):
        if not _SECTION.match(lines[index]):
            index += 1
            continue
        index += 1
        name: str | None = None
        while index < len(lines) and (not lines[index].strip() or lines[index].startswith(" ")):
            match = _ENTRY.match(lines[index])
            if match:
                name = match["name"].lstrip("*")
                entries[name] = match["text"]
            elif name is not None and lines[index].strip():
                entries[name] += " " + lines[index].strip()
            index += 1
    return entries


def _class_node(klass: type) -> ast.ClassDef | None:
    """The syntax tree of ``klass``'s definition (``None`` for a class without Python source)."""
    if klass is object or klass.__module__ == "builtins":
        return None
    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError):
        return None
    return next((node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)), None)


def field_docstrings(cls: type) -> dict[str, str]:
    """The docstrings written right under the annotated fields of ``cls`` and of its bases."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        node = _class_node(klass)
        statements = node.body if node is not None else []
        for field, after in itertools.pairwise(statements):
            if (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                found[field.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return found


def source_annotations(obj: Any) -> dict[str, str]:
    """The annotations of ``obj``'s parameters as the source spells them (aliases kept, not expanded).

    For a class: its fields (dataclasses, with those of its bases) and its ``__init__``'s parameters.
    """
    found: dict[str, str] = {}
    functions: list[Any] = []
    if inspect.isclass(obj):
        for klass in reversed(obj.__mro__):
            node = _class_node(klass)
            for statement in node.body if node is not None else []:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    found[statement.target.id] = ast.unparse(statement.annotation)
        if "__init__" in vars(obj) and inspect.isfunction(obj.__init__):
            functions.append(obj.__init__)
    elif inspect.isroutine(obj):
        functions.append(obj)
    for function in functions:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        except (OSError, TypeError, SyntaxError):
            continue
        definition = tree.body[0]
        if isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = definition.args
            for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.kwarg]:
                if argument is not None and argument.annotation is not None:
                    found[argument.arg] = ast.unparse(argument.annotation)
    return found


def descriptions(obj: Any) -> dict[str, str]:
    """Every description ``obj``'s docstrings give its parameters (a class's ``__init__`` too)."""
    found: dict[str, str] = {}
    if inspect.isclass(obj):
        found.update(field_docstrings(obj))
        found.update(docstring_entries(obj.__init__))
    found.update(docstring_entries(obj))
    return found


def _default(obj: Any, parameter: inspect.Parameter) -> str:
    """How a table shows the default of ``parameter`` (``required`` when it has none)."""
    if parameter.kind is inspect.Parameter.VAR_KEYWORD:
        return ""
    value = parameter.default
    if value is inspect.Parameter.empty:
        return REQUIRED
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        field = {f.name: f for f in dataclasses.fields(obj)}.get(parameter.name)
        if field is not None and field.default_factory is not dataclasses.MISSING:
            value = field.default_factory()
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if inspect.isclass(value) or inspect.isroutine(value):
        return value.__qualname__
    if dataclasses.is_dataclass(value) and _is_default_instance(value):
        return f"{type(value).__name__}()"  # a settings object with its own defaults: see its page
    return _ADDRESS.sub(lambda match: match["name"] or f"{match['cls']}()", repr(value))


# Reprs that change with every run: an object's address (shown by its class) or a function's.
_ADDRESS = re.compile(r"<(?:function (?:[\w.<>]+\.)?(?P<name>\w+)|(?:[\w.<>]+\.)?(?P<cls>\w+) object) at 0x[0-9a-f]+>")


def _is_default_instance(value: Any) -> bool:
    """Whether ``value`` equals its class built with no arguments (its fields all at their defaults)."""
    try:
        return bool(value == type(value)())
    except Exception:  # noqa: BLE001 - a class with required fields cannot be built bare
        return False


def _annotation(parameter: inspect.Parameter, written: dict[str, str]) -> str:
    """The parameter's annotation as the source writes it, else as the signature shows it."""
    annotation = parameter.annotation
    if parameter.name in written:
        text = written[parameter.name]
    elif annotation is inspect.Parameter.empty:
        return ""
    elif isinstance(annotation, str):
        text = annotation
    else:
        text = inspect.formatannotation(annotation)
    # Dotted module paths make the column unreadable: keep the last name of each.
    return re.sub(r"\b(?:[a-z_][\w]*\.)+(?=[A-Za-z_])", "", text)


def options(path: str, sources: tuple[str, ...] = ()) -> list[Option]:
    """The options of the object at ``path``, described by its docstrings or those of ``sources``.

    Raises:
        OptionsError: The object does not exist, or a parameter has no description.
    """
    obj = resolve(path)
    known: dict[str, str] = {}
    for source in reversed(sources):
        known.update(descriptions(resolve(source)))
    known.update(descriptions(obj))
    signature = inspect.signature(obj)
    written = source_annotations(obj)
    found: list[Option] = []
    for parameter in signature.parameters.values():
        if parameter.name == "self":
            continue
        description = known.get(parameter.name, "")
        if not description.strip():
            raise OptionsError(f"{path}: no docstring describes the option {parameter.name!r}")
        name = f"**{parameter.name}" if parameter.kind is inspect.Parameter.VAR_KEYWORD else parameter.name
        found.append(
            Option(
                name=name,
                annotation=_annotation(parameter, written),
                default=_default(obj, parameter),
                description=description,
                keyword_only=parameter.kind is inspect.Parameter.KEYWORD_ONLY,
            )
        )
    return found


def _markdown(text: str) -> str:
    """A docstring's reStructuredText markup as markdown that fits in a table cell."""
    text = _ROLE.sub(lambda match: f"`{match['target'].rsplit('.', 1)[-1]}`", text)
    text = text.replace("``", "`")
    # A pipe inside a code span does not split a table's cell (Python-Markdown's tables keep code
    # spans whole, and would show an escape there as written); outside one it must be escaped.
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(part if part.startswith("`") else part.replace("|", "\\|") for part in parts)


def table(found: list[Option]) -> str:
    """The markdown table of ``found``: option, type, default, description."""
    if not found:
        return "This router takes no options: `FastAPIUsers` gives it everything it needs.\n"
    rows = ["| option | type | default | description |", "|---|---|---|---|"]
    for option in found:
        name = f"`{option.name}`" + (" (keyword)" if option.keyword_only else "")
        annotation = f"`{option.annotation}`" if option.annotation else ""
        default = f"`{option.default}`" if option.default not in ("", REQUIRED) else option.default
        rows.append(f"| {name} | {annotation} | {default} | {_markdown(option.description)} |")
    return "\n".join(rows) + "\n"


def marked_paths(markdown: str) -> list[str]:
    """The dotted paths named by the options markers of ``markdown``."""
    return [match["path"] for match in OPTIONS.finditer(markdown)]


def expand(markdown: str, page: str) -> str:
    """``markdown`` of ``page`` with each options marker replaced by its table.

    Raises:
        OptionsError: A marker names a missing object or an undescribed option.
    """

    def replace(match: re.Match[str]) -> str:
        sources = tuple(s.strip() for s in (match["sources"] or "").split(",") if s.strip())
        try:
            return table(options(match["path"], sources))
        except OptionsError as exc:
            raise OptionsError(f"{page}: {exc}") from exc

    return OPTIONS.sub(replace, markdown)


def on_page_markdown(markdown: str, page: Any, **_kwargs: Any) -> str:
    """MkDocs' page event: expand the page's options markers."""
    return expand(markdown, page.file.src_uri)
