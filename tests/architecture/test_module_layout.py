"""The house rules of `src/strawberry_authz`, checked on the source itself.

Dependencies go one way (no import circle, type-only imports included);
Strawberry's and graphql-core's private internals are touched in `_compat`
only; no class grows past what a reader can hold in mind.
"""

import ast
from pathlib import Path

import strawberry_authz

PACKAGE = Path(strawberry_authz.__file__).parent
MODULES = {path.stem: path for path in sorted(PACKAGE.glob("*.py"))}
MAX_CLASS_LINES = 220


def internal_imports(path: Path) -> set[str]:
    """The package's own modules that `path` imports, wherever the import is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "strawberry_authz."
        ):
            found.add(node.module.split(".")[1])
    return found & MODULES.keys()


def test_modules_depend_on_each_other_in_one_direction_only():
    graph = {name: internal_imports(path) for name, path in MODULES.items()}
    visiting: list[str] = []
    done: set[str] = set()
    circles: list[list[str]] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            circles.append([*visiting[visiting.index(name) :], name])
            return
        visiting.append(name)
        for imported in sorted(graph[name]):
            visit(imported)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert circles == []


PRIVATE_MARKERS = (
    "._schema",
    "_strawberry_schema",
    "_raw_info",
    "schema_converter",
    "DEFINITION_BACKREF",
    "strawberry.types.arguments",
    "strawberry.schema.schema_converter",
)


def test_private_internals_of_strawberry_and_graphql_core_live_in_compat_only():
    offenders = {
        name: [marker for marker in PRIVATE_MARKERS if marker in path.read_text()]
        for name, path in MODULES.items()
        if name != "_compat"
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_class_is_longer_than_a_reader_can_hold():
    long_classes = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_CLASS_LINES:
                    long_classes.append((f"{name}.{node.name}", length))
    assert long_classes == []


def test_the_public_api_is_re_exported_once_with_all():
    exported = strawberry_authz.__all__
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert getattr(strawberry_authz, name) is not None
    assert {"AuthExtension", "BatchScope", "RoleRegistry"} <= set(exported)
