"""The policy coverage report: what protects each field of a schema.

`build_report(schema)` plans the schema with every `AuthExtension` it lists,
exactly as installing the guards plans it (`install.plan_schema`), installs
nothing, and returns one `FieldReport` per output field (every object type,
root types included; introspection types left out). `to_text`,
`to_markdown` and `to_json` format a report; `Report.from_json` reads the
JSON form back. `python -m strawberry_authz report module:schema` prints
it (`__main__`).

A field is `"open"` when nothing is checked for it: no default scope, type,
interface, field, post or object rule, and no fallback rule. A capability
field (`authz.can_field`, `authz.permissions_field`) answers with its own
rules and is `"capability"`. A field of a type that holds no data of its own
(relay's connection structure, the library's `Permission`) with nothing
else checked is `"follows"`: the field that returned its object decided.
A field whose checks all pass for a viewer no scope passes for, holding no
grant but those such a viewer is given, is `"public"` (`authz.rule(True)`,
`{"$not": ...}` of scopes); every other field is `"protected"`. A rule or
grant function cannot be looked into: the report trusts it to deny such a
viewer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from strawberry import Schema

from ._compat import graphql_schema, strawberry_definition_of
from ._errors import ConfigurationError
from ._extension import AuthExtension
from ._output_fields import possible_object_types
from ._per_object import PerObject
from ._plan import FieldPlan, Part
from ._planner import PlannedField, plan_schema
from ._planning import filter_rule_of
from ._rules import (
    AllOf,
    AnyOf,
    Chain,
    Constant,
    Granted,
    Node,
    Not,
    Race,
    ScopeCheck,
    SourceTag,
)

__all__ = [
    "JSON_VERSION",
    "Check",
    "CheckPhase",
    "FieldReport",
    "FieldStatus",
    "Report",
    "build_report",
    "compact_rule",
    "to_json",
    "to_markdown",
    "to_text",
]

JSON_VERSION = 1
"""The `version` key of the JSON form; raised when a key changes meaning."""

CheckPhase = Literal["before", "after", "subscribe", "event", "object"]
"""When a check runs: `before` the resolver, `after` it (a post rule),
`subscribe` (once, as a subscription starts), `event` (each event of a
subscription) or `object` (an `on_object` type rule, once per object when a
field returns it)."""

FieldStatus = Literal["protected", "public", "follows", "capability", "open"]

_FOLLOWS = {
    "relay": "the field that returned it (relay connection structure)",
    "library": "the field that returned it (a strawberry-authz type)",
}


@dataclass(frozen=True)
class Check:
    """One rule that applies to a field.

    `source` is the part of the policy it comes from (`"default"`, `"type"`,
    `"interface"`, `"field"`, `"post"` or `"fallback"`, as in decision
    records), `phase` when it runs, `rule` the rule as written (JSON-safe: a
    rule function is `{"$function": "qualified name"}`).
    """

    source: str
    phase: CheckPhase
    rule: Any

    @property
    def text(self) -> str:
        """The rule in the report's compact form (`{is_logged_in: True}`)."""
        return compact_rule(self.rule)


@dataclass(frozen=True)
class FieldReport:
    """What applies to one output field (`Type.field`).

    `grants` are the names the field grants to the fields of the object it
    returns (a `grants=` function as `name()`); `object_grants` the `grants=`
    functions of the type rules of its type (names the object grants
    itself); `needs_granted` the `$granted` names its static rules ask for;
    `follows` why a `"follows"` field is decided by the field that returned
    its object (`"relay"`, `"library"`).
    `filterable` is for the fields of a type with object rules
    (`on_object=True`): whether a list of it can be filtered in the query
    (`authz.filter`), and None for other types.
    """

    type_name: str
    field_name: str
    status: FieldStatus
    checks: tuple[Check, ...] = ()
    grants: tuple[str, ...] = ()
    object_grants: tuple[str, ...] = ()
    needs_granted: tuple[str, ...] = ()
    follows: str | None = None
    filterable: bool | None = None

    @property
    def coordinate(self) -> str:
        return f"{self.type_name}.{self.field_name}"


@dataclass(frozen=True)
class Report:
    """The coverage of a schema: one `FieldReport` per output field."""

    fields: tuple[FieldReport, ...] = field(default_factory=tuple)

    @property
    def open(self) -> list[FieldReport]:
        """The fields nothing protects."""
        return [f for f in self.fields if f.status == "open"]

    def count(self, status: FieldStatus) -> int:
        return sum(1 for f in self.fields if f.status == status)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form, as plain data (see `to_json` for the keys)."""
        return {
            "version": JSON_VERSION,
            "summary": {
                "fields": len(self.fields),
                "protected": self.count("protected"),
                "public": self.count("public"),
                "follows": self.count("follows"),
                "capability": self.count("capability"),
                "open": self.count("open"),
            },
            "open": [f.coordinate for f in self.open],
            "fields": [
                {
                    "field": f.coordinate,
                    "type": f.type_name,
                    "name": f.field_name,
                    "status": f.status,
                    "checks": [
                        {
                            "phase": c.phase,
                            "source": c.source,
                            "rule": c.rule,
                            "text": c.text,
                        }
                        for c in f.checks
                    ],
                    "grants": list(f.grants),
                    "object_grants": list(f.object_grants),
                    "needs_granted": list(f.needs_granted),
                    "follows": f.follows,
                    "filterable": f.filterable,
                }
                for f in self.fields
            ],
        }

    @classmethod
    def from_json(cls, text: str) -> Report:
        """Read back what `to_json` wrote (`ValueError` for another version)."""
        data = json.loads(text)
        if data.get("version") != JSON_VERSION:
            raise ValueError(
                f"report version {data.get('version')!r}; expected {JSON_VERSION}"
            )
        return cls(
            tuple(
                FieldReport(
                    type_name=entry["type"],
                    field_name=entry["name"],
                    status=entry["status"],
                    checks=tuple(
                        Check(c["source"], c["phase"], c["rule"])
                        for c in entry["checks"]
                    ),
                    grants=tuple(entry["grants"]),
                    object_grants=tuple(entry["object_grants"]),
                    needs_granted=tuple(entry["needs_granted"]),
                    follows=entry.get("follows"),
                    filterable=entry.get("filterable"),
                )
                for entry in data["fields"]
            )
        )


# -- building -------------------------------------------------------------------


def build_report(schema: Schema) -> Report:
    """The coverage report of `schema`, planned as its guards are installed.

    Raises `ConfigurationError` when the schema lists no `AuthExtension`, or
    when its policy does not validate (the problems `authz.validate(schema)`
    would raise). Nothing is installed and the schema is left as it was.
    """
    extensions = [ext for ext in schema.extensions if isinstance(ext, AuthExtension)]
    if not extensions:
        raise ConfigurationError(
            "the schema lists no AuthExtension in extensions=[...]: "
            "no rule of it is enforced"
        )
    planned: list[list[PlannedField]] = []
    problems: list[str] = []
    for extension in extensions:
        fields, found = plan_schema(extension._policy, schema)
        planned.append(fields)
        problems.extend(p for p in found if p not in problems)
    if problems:
        raise ConfigurationError(problems)
    by_field = [list(same) for same in zip(*planned, strict=True)]
    given = _grants_any_viewer_holds(by_field, schema)
    rows = [_field_report(same, given, extensions) for same in by_field]
    order = _type_order(rows, schema)
    rows.sort(key=lambda row: order[row.type_name])
    return Report(tuple(rows))


def _field_report(
    planned: list[PlannedField],
    given: Mapping[str, set[str]],
    extensions: list[AuthExtension],
) -> FieldReport:
    """One field's row, from its plans by each extension the schema lists."""
    first = planned[0]
    checks: list[Check] = []
    grants: list[str] = []
    object_grants: list[str] = []
    for entry in planned:
        checks.extend(_checks_of(entry))
        for plan in entry.plans:
            _extend(grants, _grant_names(plan))
            _extend(object_grants, (_function_name(fn) for fn in plan.site.type_grants))
    follows = first.follows
    status: FieldStatus
    if any(entry.capability for entry in planned):
        status = "capability"
    elif checks:
        held = given.get(first.gtype.name, set())
        status = "public" if _passes_for_anyone(planned, held) else "protected"
    else:
        status = "follows" if follows is not None else "open"
    return FieldReport(
        type_name=first.gtype.name,
        field_name=first.field_name,
        status=status,
        checks=tuple(checks),
        grants=tuple(grants),
        object_grants=tuple(object_grants),
        needs_granted=tuple(_unique(n for c in checks for n in _granted(c.rule))),
        follows=follows if status == "follows" else None,
        filterable=_filterable(planned, extensions),
    )


def _filterable(
    planned: list[PlannedField], extensions: list[AuthExtension]
) -> bool | None:
    """Whether the object rules of the field's type can become a query filter."""
    if not any(entry.object_parts for entry in planned):
        return None
    origin = getattr(strawberry_definition_of(planned[0].gtype), "origin", None)
    if not isinstance(origin, type):
        return False
    return all(
        not filter_rule_of(extension._policy, origin).problems
        for extension in extensions
    )


def _checks_of(entry: PlannedField) -> Iterator[Check]:
    for phase, (source, node) in _phased_parts(entry):
        yield Check(source, phase, _json_safe(node.describe()))


def _phased_parts(entry: PlannedField) -> Iterator[tuple[CheckPhase, Part]]:
    """Every part checked for the field, with when it is checked."""
    for part in entry.object_parts:
        yield "object", part
    for plan in entry.plans:
        if plan.attribute == "subscribe":
            for part in plan.pre_parts:
                yield "subscribe", part
            if plan.event_filter is not None:
                # Denied events are dropped: the per-event checks live in
                # the stream's filter, not in the `resolve` plan.
                for node in plan.event_filter:
                    for part in _parts_of(node):
                        yield "event", part
        else:
            event = plan.phase == "event"
            for part in plan.pre_parts:
                yield "event" if event else "before", part
            for part in plan.post_parts:
                yield "event" if event else "after", part


# -- who passes -------------------------------------------------------------------


def _passes_for_anyone(planned: list[PlannedField], held: set[str]) -> bool:
    """Whether every check of the field passes for a viewer without scopes.

    Such a viewer holds only `held`, the grants given to the field's object
    by fields that themselves pass for anyone.
    """
    return all(
        _without_scopes(node, held) is True
        for entry in planned
        for _, (_, node) in _phased_parts(entry)
    )


def _without_scopes(node: Node, held: set[str]) -> bool | None:
    """`node`'s outcome for a viewer no scope passes for, holding `held`.

    None where a rule function decides: the report cannot look into it.
    """
    if isinstance(node, Constant):
        return node.allow
    if isinstance(node, ScopeCheck):
        return False
    if isinstance(node, Granted):
        return node.name in held
    if isinstance(node, (SourceTag, PerObject, Not)):
        inner = _without_scopes(node.child, held)
        if isinstance(node, Not) and inner is not None:
            return not inner
        return inner
    if isinstance(node, (AllOf, Chain, AnyOf, Race)):
        found = [_without_scopes(child, held) for child in node.children]
        decisive = isinstance(node, (AnyOf, Race))  # one pass decides an $or
        if any(outcome is decisive for outcome in found):
            return decisive
        return None if None in found else not decisive
    return None


def _grants_any_viewer_holds(
    fields: list[list[PlannedField]], schema: Schema
) -> dict[str, set[str]]:
    """By object type: the grant names given by fields that pass for anyone.

    Such a grant is held by every viewer, so a `$granted` rule asking for
    it passes for anyone too; computed until no more are found.
    """
    gschema = graphql_schema(schema)
    given: dict[str, set[str]] = {}
    grown = True
    while grown:
        grown = False
        for planned in fields:
            first = planned[0]
            names = [n for entry in planned for n in _static_grants(entry)]
            if not names:
                continue
            held = given.get(first.gtype.name, set())
            if not _passes_for_anyone(planned, held):
                continue
            gfield = first.gtype.fields[first.field_name]
            for target in possible_object_types(gschema, gfield.type):
                found = given.setdefault(target, set())
                if not found.issuperset(names):
                    found.update(names)
                    grown = True
    return given


def _static_grants(entry: PlannedField) -> Iterator[str]:
    for plan in entry.plans:
        if plan.grants is not None and not callable(plan.grants):
            yield from plan.grants


def _parts_of(node: Node | None) -> list[Part]:
    """The source-tagged parts an AND of parts was built from."""
    if node is None:
        return []
    if type(node) is AllOf:
        return [part for child in node.children for part in _parts_of(child)]
    if isinstance(node, SourceTag):
        return [(cast(Any, node.source), node.child)]
    return [("field", node)]


def _grant_names(plan: FieldPlan) -> list[str]:
    spec = plan.grants
    if spec is None:
        return []
    if callable(spec):
        return [_function_name(spec)]
    return list(spec)


def _function_name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__qualname__', None) or repr(fn)}()"


def _granted(rule: Any) -> Iterator[str]:
    if isinstance(rule, Mapping):
        for key, value in rule.items():
            if key == "$granted" and isinstance(value, str):
                yield value
            else:
                yield from _granted(value)
    elif isinstance(rule, list):
        for item in rule:
            yield from _granted(item)


def _type_order(rows: list[FieldReport], schema: Schema) -> dict[str, tuple[int, str]]:
    """Root types first, in operation order; then the others by name."""
    gschema = graphql_schema(schema)
    roots = [gschema.query_type, gschema.mutation_type, gschema.subscription_type]
    rank = {root.name: index for index, root in enumerate(roots) if root is not None}
    return {
        row.type_name: (rank.get(row.type_name, len(roots)), row.type_name)
        for row in rows
    }


def _json_safe(value: object) -> Any:
    """`value` as JSON data: tuples and sets as lists, anything else as `repr`."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_json_safe(item) for item in value), key=repr)
    return repr(value)


def _extend(into: list[str], names: Iterable[str]) -> None:
    for name in names:
        if name not in into:
            into.append(name)


def _unique(names: Iterable[str]) -> list[str]:
    found: list[str] = []
    _extend(found, names)
    return found


# -- formatting -----------------------------------------------------------------

_PLAIN = re.compile(r"^[\w:.#/@*<>-]+$")


def compact_rule(rule: Any) -> str:
    """A rule as written, compact: `{$or: [{$granted: a}, {role_can: b}]}`.

    Keys and simple strings go unquoted; a rule function is `name()`; an
    `$and` of scopes with distinct names is shown as the one dict it was
    written as.
    """
    if isinstance(rule, Mapping):
        if set(rule) == {"$function"}:
            return f"{rule['$function']}()"
        merged = _merged_and(rule)
        if merged is not None:
            return compact_rule(merged)
        entries = ", ".join(
            f"{key}: {compact_rule(value)}" for key, value in rule.items()
        )
        return "{" + entries + "}"
    if isinstance(rule, list):
        return "[" + ", ".join(compact_rule(item) for item in rule) + "]"
    if isinstance(rule, str):
        return rule if _PLAIN.match(rule) else json.dumps(rule)
    return repr(rule)


def _merged_and(rule: Mapping[str, Any]) -> dict[str, Any] | None:
    """`{$and: [{a: 1}, {b: 2}]}` as `{a: 1, b: 2}` when the names differ."""
    items = rule.get("$and") if set(rule) == {"$and"} else None
    if not isinstance(items, list):
        return None
    merged: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, Mapping) or len(item) != 1:
            return None
        ((key, value),) = item.items()
        if key in merged or key == "$function":
            return None
        merged[key] = value
    return merged


def _summary(report: Report) -> str:
    return (
        f"{len(report.fields)} fields: {report.count('protected')} protected, "
        f"{report.count('public')} public, {report.count('follows')} follows, "
        f"{report.count('capability')} capability, {report.count('open')} open"
    )


def _lines_of(row: FieldReport) -> list[tuple[str, str, str]]:
    """(when, source, what) lines of one field, for the text form."""
    if row.status == "capability":
        return [("capability", "", "answers with its own rules")]
    if row.status == "open":
        return [("OPEN", "", "nothing protects it")]
    if row.status == "follows":
        return [("follows", "", _FOLLOWS.get(row.follows or "", "its parent"))]
    lines: list[tuple[str, str, str]] = [
        (c.phase, c.source, c.text) for c in row.checks
    ]
    if row.status == "public":
        lines.append(("public", "", "passes for a viewer without scopes or grants"))
    if row.grants:
        lines.append(("grants", "", ", ".join(row.grants)))
    if row.needs_granted:
        needs = ", ".join(row.needs_granted)
        if row.object_grants:
            needs += f" (or the object: {', '.join(row.object_grants)})"
        lines.append(("needs", "", f"$granted {needs}"))
    if row.filterable is not None:
        lines.append(("filter", "", _FILTERABLE[row.filterable]))
    return lines


_FILTERABLE = {
    True: "lists can be filtered in the query (authz.filter)",
    False: "not in the query: a rule function (filter lists by hand)",
}


def to_text(report: Report) -> str:
    """An aligned table: one line per check, the field named on its first."""
    table = [
        (row.coordinate if index == 0 else "", *line)
        for row in report.fields
        for index, line in enumerate(_lines_of(row))
    ]
    header = ("FIELD", "WHEN", "SOURCE", "RULE")
    widths = [max(len(cells[i]) for cells in (header, *table)) for i in range(3)]
    lines = [f"Policy coverage: {_summary(report)}", ""]
    for cells in (header, *table):
        padded = [cells[i].ljust(widths[i]) for i in range(3)]
        lines.append("  ".join([*padded, cells[3]]).rstrip())
    if report.open:
        lines += ["", "Open (nothing protects them):"]
        lines += [f"  {row.coordinate}" for row in report.open]
    return "\n".join(lines) + "\n"


def to_markdown(report: Report) -> str:
    """A Markdown table: one row per field, its checks one per line."""
    lines = [
        f"Policy coverage: {_summary(report)}.",
        "",
        "| field | status | checks | grants | needs `$granted` | filterable |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in report.fields:
        checks = "<br>".join(
            f"{c.phase} · {c.source} `{_cell(c.text)}`" for c in row.checks
        )
        status = "**open**" if row.status == "open" else row.status
        needs = ", ".join(row.needs_granted)
        filterable = {None: "", True: "yes", False: "no"}[row.filterable]
        lines.append(
            f"| `{row.coordinate}` | {status} | {checks} | "
            f"{_cell(', '.join(row.grants))} | {_cell(needs)} | {filterable} |"
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_json(report: Report) -> str:
    """The report as JSON (indented, keys in a fixed order).

    Keys: `version` (`JSON_VERSION`); `summary` (`fields`, `protected`,
    `public`, `follows`, `capability`, `open`: counts); `open` (the open
    fields' `Type.field`); `fields`, one object per field: `field`
    (`Type.field`), `type`, `name`, `status` (`protected` / `public` /
    `follows` / `capability` / `open`), `checks` (each `phase`, `source`,
    `rule` as written, `text` its compact form), `grants`, `object_grants`,
    `needs_granted`, `follows` (`relay`, `library` or null), `filterable`
    (true / false for the fields of a type with object rules: whether its
    lists can be filtered in the query; null otherwise).
    """
    return json.dumps(report.as_dict(), indent=2) + "\n"
