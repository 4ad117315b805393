"""The house rules of `src/strawberry_authz`, checked on the source itself.

Dependencies go one way (no import circle, type-only imports included);
Strawberry's and graphql-core's private internals are touched in `_compat`
only; no class and no module grows past what a reader can hold in mind; the
file list shows what is public: every internal module starts with `_`, and
what users write (docs, examples, benchmarks) imports public modules only.
"""

import ast
import re
from pathlib import Path

import strawberry_authz

PACKAGE = Path(strawberry_authz.__file__).parent
MODULES = {path.stem: path for path in sorted(PACKAGE.glob("*.py"))}
MAX_CLASS_LINES = 220
MAX_MODULE_LINES = 650
ROOT = Path(__file__).parents[2]

# The modules users import; everything else is internal and named `_...`.
PUBLIC_MODULES = {
    "audit",
    "cedar",
    "cerbos",
    "conditions",
    "django",
    "engines",
    "otel",
    "report",
    "roles",
    "spicedb",
    "sqlalchemy",
    "testing",
}

# Tests that pin an internal on purpose (a key's identity, a translator, a
# monkeypatched seam); every other test imports what users import.
TESTS_OF_INTERNALS = {
    "tests/architecture",
    "tests/hotpath",
    "tests/engines/test_cerbos_filter.py",
    "tests/engines/test_cerbos_plan.py",
    "tests/engines/test_filter_hook.py",
    "tests/engines/test_resources.py",
    "tests/failclosed/test_guards_built_on_first_call.py",
    "tests/failclosed/test_remaining_guarantees.py",
    "tests/perobject/test_type_rule_functions.py",
    "tests/perobject/test_values_asked_together.py",
    "tests/redteam/test_grants_and_object_records.py",
    "tests/redteam/test_wave3d_object_pass.py",
    "tests/report/reachkit.py",
    "tests/report/test_report.py",
}
PRIVATE_IMPORT = re.compile(
    r"^\s*(from strawberry_authz\._[a-z]\w* import"
    r"|import strawberry_authz\._[a-z]"
    r"|from strawberry_authz import .*\b_[a-z])"
)


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


def test_no_module_is_longer_than_a_reader_can_follow():
    lengths = {
        name: len(path.read_text().splitlines()) for name, path in MODULES.items()
    }
    assert {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES} == {}


def test_the_file_list_shows_the_public_modules_and_marks_the_rest_private():
    public = {name for name in MODULES if not name.startswith("_")}
    assert public == PUBLIC_MODULES


def test_what_users_write_imports_public_modules_only():
    files = [
        *ROOT.glob("docs/**/*.md"),
        ROOT / "README.md",
        *ROOT.glob("examples/**/*.py"),
        *ROOT.glob("benchmarks/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
    ]
    offenders = []
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        if any(
            relative == allowed or relative.startswith(allowed + "/")
            for allowed in TESTS_OF_INTERNALS
        ):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if PRIVATE_IMPORT.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
