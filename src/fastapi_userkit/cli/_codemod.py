"""The LibCST transformer behind ``userkit migrate-from-fastapi-users`` (the ``migrate`` extra).

LibCST keeps the source's formatting and comments, so only the rewritten names change. What is
rewritten: ``import`` and ``from ... import`` statements of FastAPI Users modules (aliases and
parenthesised lists kept), the uses of a module imported without an alias
(``fastapi_users.FastAPIUsers(...)``, whose name changes with the import), and string references
to FastAPI Users modules in ``pytest_plugins`` and in the targets of ``mock.patch(...)``,
``mocker.patch(...)``, ``patch.dict``/``patch.multiple`` and ``monkeypatch.setattr``/``delattr``.
Relative imports are the application's own modules and stay as they are. What cannot be
rewritten safely is reported with its line instead: dynamic imports
(``importlib.import_module``, ``__import__``), module names built at run time (f-strings,
concatenation) or met in other strings, and a name that is both the imported module and another
variable of the same scope.
"""

# ruff: noqa: N802 - LibCST dispatches on visit_<NodeClass> / leave_<NodeClass> method names

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import ImportAssignment, MetadataWrapper, PositionProvider, ScopeProvider

from fastapi_userkit.cli._codemod_rules import (
    EXACT_MODULE_RENAMES,
    MODULE_PATH,
    PACKAGES,
    has_name,
    map_dotted,
    module_exists,
)

__all__ = ["Rewrite", "rewrite_source"]

# Callables whose first argument is a dotted target string: unittest.mock's patchers (and
# pytest-mock's mocker.patch), and pytest's monkeypatch.setattr/delattr("module.attr", ...).
_TARGET_CALLS = frozenset({"patch", "setattr", "delattr"})
_TARGET_ATTRIBUTES = frozenset({"patch.dict", "patch.multiple"})
_DYNAMIC_IMPORTS = frozenset({"import_module", "__import__", "find_spec"})


@dataclass
class Rewrite:
    """What the codemod did to one module's source."""

    code: str
    """The rewritten source (the original when nothing applied)."""
    imports: int = 0
    """Import statements rewritten."""
    strings: int = 0
    """String references (``pytest_plugins``, patch targets) rewritten."""
    notes: list[tuple[int, str]] = field(default_factory=list)
    """``(line, message)`` for each thing left for a human."""


def _dotted(name: str) -> cst.Name | cst.Attribute:
    head, _, last = name.rpartition(".")
    if not head:
        return cst.Name(last)
    return cst.Attribute(value=_dotted(head), attr=cst.Name(last))


def _base_name(node: cst.CSTNode) -> cst.Name | None:
    while isinstance(node, cst.Attribute):
        node = node.value
    return node if isinstance(node, cst.Name) else None


def _string_value(node: cst.SimpleString) -> str | None:
    """The string's text when it has no escapes and is not bytes (so it can be rewritten in place)."""
    value = node.evaluated_value
    if not isinstance(value, str) or value != node.raw_value:
        return None
    return value


def _is_module_import(assignment: ImportAssignment) -> bool:
    """An ``import fastapi_users...`` without ``as`` that is rewritten: the name it binds is the package itself."""
    if not isinstance(assignment.node, cst.Import) or map_dotted(assignment.name) is None:
        return False
    for alias in assignment.node.names:
        name = get_full_name_for_node(alias.name) or ""
        if alias.asname is None and (name == assignment.name or name.startswith(assignment.name + ".")):
            return module_exists(map_dotted(name) or name)
    return False


class _Transformer(cst.CSTTransformer):
    def __init__(self, wrapper: MetadataWrapper) -> None:
        super().__init__()
        self.positions = wrapper.resolve(PositionProvider)
        self.result = Rewrite(code="")
        self.tracked: set[int] = set()  # ids of Name nodes that refer to a plainly imported package
        self.to_rewrite: set[int] = set()  # ids of strings in a pytest_plugins or patch-target position
        self.reported: set[int] = set()  # ids of strings already reported (dynamic imports)
        self._track_module_uses(wrapper)

    def _line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line

    def _note(self, node: cst.CSTNode, message: str) -> None:
        self.result.notes.append((self._line(node), message))

    def _track_module_uses(self, wrapper: MetadataWrapper) -> None:
        conflicts: dict[tuple[int, str], cst.Name] = {}
        for scope in {scope for scope in wrapper.resolve(ScopeProvider).values() if scope is not None}:
            for assignment in scope.assignments:
                if not isinstance(assignment, ImportAssignment) or not _is_module_import(assignment):
                    continue
                for access in assignment.references:
                    base = _base_name(access.node)
                    if base is None:  # pragma: no cover - LibCST records names and attributes only
                        continue
                    referents = access.referents
                    if all(isinstance(a, ImportAssignment) and _is_module_import(a) for a in referents):
                        self.tracked.add(id(base))
                    else:  # `fastapi_users = FastAPIUsers(...)` too: which one a use means is not static
                        conflicts[(self._line(base), base.value)] = base
        for (_, name), node in sorted(conflicts.items()):
            self._note(node, f"'{name}' is both the imported module and another variable here: rename by hand")

    # -- imports -------------------------------------------------------------------------------

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.Import:
        aliases = []
        for alias in updated_node.names:
            name = get_full_name_for_node(alias.name) or ""
            target = map_dotted(name)
            if target is not None and not module_exists(target):
                self._note(original_node, f"fastapi-userkit has no module for {name}: not rewritten")
            elif target is not None:
                alias = alias.with_changes(name=_dotted(target))  # noqa: PLW2901 - the rewritten alias
                self.result.imports += 1
            aliases.append(alias)
        return updated_node.with_changes(names=aliases)

    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom) -> cst.ImportFrom:
        if original_node.relative or original_node.module is None:
            return updated_node  # `from . import x`, `from .fastapi_users import x`: the app's own modules
        module = get_full_name_for_node(original_node.module) or ""
        target = map_dotted(module)
        if target is None:
            return updated_node
        if not module_exists(target):
            self._note(original_node, f"fastapi-userkit has no module for {module}: not rewritten")
            return updated_node
        if isinstance(updated_node.names, cst.ImportStar):
            self.result.imports += 1
            return updated_node.with_changes(module=_dotted(target))
        return self._rewrite_from_names(original_node, updated_node, module, updated_node.names)

    def _rewrite_from_names(
        self, original: cst.ImportFrom, updated: cst.ImportFrom, module: str, names: Sequence[cst.ImportAlias]
    ) -> cst.ImportFrom:
        modules: set[str] = set()
        aliases = []
        for alias in names:
            name = get_full_name_for_node(alias.name) or ""
            parent, _, last = (map_dotted(f"{module}.{name}") or "").rpartition(".")
            if last != name:  # a submodule with another name here: `from ..._sqlalchemy import generics`
                asname = alias.asname or cst.AsName(name=cst.Name(name))
                alias = alias.with_changes(name=cst.Name(last), asname=asname)  # noqa: PLW2901
            elif not has_name(parent, name):
                self._note(original, f"fastapi-userkit's {parent} has no '{name}': check this import")
            modules.add(parent)
            aliases.append(alias)
        if len(modules) > 1:
            self._note(original, f"names from {module} now live in {' and '.join(sorted(modules))}: split by hand")
            return updated
        self.result.imports += 1
        return updated.with_changes(module=_dotted(modules.pop()), names=aliases)

    # -- uses of a plainly imported package ----------------------------------------------------

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        if id(original_node) in self.tracked:
            return _dotted(map_dotted(original_node.value) or original_node.value)
        return updated_node

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.BaseExpression:
        full = get_full_name_for_node(original_node)
        base = _base_name(original_node)
        if full in EXACT_MODULE_RENAMES and base is not None and id(base) in self.tracked:
            return _dotted(map_dotted(full) or full)
        return updated_node

    # -- strings -------------------------------------------------------------------------------
    # Contexts are found on the way down (visit_*), since a string is left before its parent.

    def _mark(self, value: cst.BaseExpression) -> None:
        elements = value.elements if isinstance(value, cst.List | cst.Tuple | cst.Set) else ()
        for node in [value, *(element.value for element in elements)]:
            if isinstance(node, cst.SimpleString):
                self.to_rewrite.add(id(node))

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(get_full_name_for_node(target.target) == "pytest_plugins" for target in node.targets):
            self._mark(node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if get_full_name_for_node(node.target) == "pytest_plugins":
            self._mark(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        callee = get_full_name_for_node(node.func) or ""
        last = callee.rpartition(".")[2]
        if not node.args:
            return
        first = node.args[0]
        if last in _DYNAMIC_IMPORTS:
            self._note_dynamic(node, callee, first.value)
        elif last in _TARGET_CALLS or any(callee.endswith(suffix) for suffix in _TARGET_ATTRIBUTES):
            self._mark_target(first)

    def _mark_target(self, first: cst.Arg) -> None:
        if first.keyword is None or first.keyword.value == "target":
            self._mark(first.value)

    def _note_dynamic(self, call: cst.Call, callee: str, argument: cst.BaseExpression) -> None:
        if not isinstance(argument, cst.SimpleString):
            self._note(call, f"dynamic import {callee}(...) of a name computed at run time: check it by hand")
            return
        value = _string_value(argument)
        if value is not None and MODULE_PATH.fullmatch(value):
            self.reported.add(id(argument))
            self._note(call, f"dynamic import {callee}({value!r}): change it by hand to {map_dotted(value)!r}")

    def leave_SimpleString(self, original_node: cst.SimpleString, updated_node: cst.SimpleString) -> cst.SimpleString:
        value = _string_value(original_node)
        if value is None or MODULE_PATH.fullmatch(value) is None or id(original_node) in self.reported:
            return updated_node
        module, colon, attribute = value.partition(":")
        target = map_dotted(module)
        if id(original_node) not in self.to_rewrite or target is None:
            self._note(original_node, f"string {value!r} names a FastAPI Users module: not rewritten")
            return updated_node
        self.result.strings += 1
        quote = original_node.quote
        return updated_node.with_changes(value=f"{original_node.prefix}{quote}{target}{colon}{attribute}{quote}")

    def leave_FormattedStringText(
        self, original_node: cst.FormattedStringText, updated_node: cst.FormattedStringText
    ) -> cst.FormattedStringText:
        if MODULE_PATH.fullmatch(original_node.value):
            self._note(original_node, "a FastAPI Users module name built at run time (f-string): not rewritten")
        return updated_node


def rewrite_source(code: str) -> Rewrite:
    """Rewrite the FastAPI Users imports of one module's source.

    Raises:
        libcst.ParserSyntaxError: The source is not valid Python.
    """
    if not any(package in code for package in PACKAGES):
        return Rewrite(code=code)  # the common case in a large tree: no parse needed
    wrapper = MetadataWrapper(cst.parse_module(code))
    transformer = _Transformer(wrapper)
    module = wrapper.module.visit(transformer)
    result = transformer.result
    result.code = module.code
    result.notes.sort()
    return result
