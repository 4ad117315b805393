"""The coverage report: what applies to each field, built as the guards are."""

import asyncio
import json
import sys
from pathlib import Path

import pytest
import strawberry

from strawberry_authz import AuthExtension, Column, ConfigurationError, FilterScope
from strawberry_authz._compat import graphql_schema
from strawberry_authz.report import (
    Report,
    build_report,
    compact_rule,
    to_json,
    to_markdown,
    to_text,
)

sys.path.insert(0, str(Path(__file__).parent))
import policies


def checks(report: Report) -> dict[str, list[tuple[str, str, str]]]:
    return {
        row.coordinate: [(c.phase, c.source, c.text) for c in row.checks]
        for row in report.fields
    }


def test_every_source_of_a_fields_rules_is_listed_where_it_applies():
    report = build_report(policies.schema)
    assert checks(report) == {
        "Query.account": [
            ("before", "default", "{member: True}"),
            ("before", "field", "{$or: [{admin: True}, {member: True}]}"),
        ],
        "Query.document": [
            ("before", "default", "{member: True}"),
            ("after", "post", "owns_document()"),
        ],
        "Query.plain": [("before", "field", "True")],
        "Subscription.ticks": [
            ("subscribe", "default", "{member: True}"),
            ("event", "default", "{admin: True}"),
            ("event", "post", "sees_event()"),
        ],
        # Denied events are dropped: the per-event checks sit in the stream.
        "Subscription.quiet": [
            ("subscribe", "default", "{member: True}"),
            ("subscribe", "field", "{member: True}"),
            ("event", "default", "{admin: True}"),
            ("event", "post", "sees_event()"),
        ],
        "Account.id": [
            ("before", "type", "{admin: True}"),
            ("before", "interface", "{member: True}"),
        ],
        "Account.handle": [
            ("before", "type", "{admin: True}"),
            ("before", "interface", "{member: True}"),
            ("before", "interface", "{admin: True}"),
        ],
        "Account.canEdit": [],
        "Account.email": [
            ("before", "type", "{admin: True}"),
            ("before", "interface", "{member: True}"),
            ("before", "field", "{$granted: read_email}"),
        ],
        "Document.title": [("object", "type", "visible_document()")],
        "Plain.label": [],
    }


def test_grants_given_needed_and_capability_fields_are_shown():
    rows = {row.coordinate: row for row in build_report(policies.schema).fields}
    assert rows["Query.account"].grants == ("read_email",)
    assert rows["Account.email"].needs_granted == ("read_email",)
    assert rows["Account.canEdit"].status == "capability"
    text = to_text(build_report(policies.schema))
    assert "grants                 read_email" in text
    assert "needs                  $granted read_email" in text
    assert "Account.canEdit     capability" in text


def test_a_field_nothing_protects_is_marked_open():
    report = build_report(policies.schema)
    assert [row.coordinate for row in report.open] == ["Plain.label"]
    assert {row.status for row in report.fields if row.checks} == {
        "protected",
        "public",  # Query.plain: authz.rule(True)
    }
    text = to_text(report)
    assert "Plain.label         OPEN" in text
    assert text.endswith("Open (nothing protects them):\n  Plain.label\n")
    assert text.startswith(
        "Policy coverage: 11 fields: 8 protected, 1 public, 0 follows, "
        "1 capability, 1 open\n"
    )


def test_a_fallback_rule_covers_every_field_nothing_else_protects():
    report = build_report(policies.guarded)
    assert report.open == []
    assert checks(report)["Plain.label"] == [("before", "fallback", "False")]
    # Fields another rule applies to never show the fallback.
    sources = {c.source for row in report.fields for c in row.checks}
    assert sources == {"default", "type", "interface", "field", "post", "fallback"}
    assert [c.source for c in report.fields[0].checks] == ["default", "field"]


def test_fields_marked_open_are_served_and_all_others_are_checked():
    """The report agrees with what a request meets: it is the same plan."""
    authz = AuthExtension(lambda context: {"allowed": False})

    @authz.type_rule({"allowed": True})
    @strawberry.type
    class Guarded:
        secret: str = "secret"

    @strawberry.type
    class Loose:
        note: str = "note"

        @authz.rule({"allowed": True})
        @strawberry.field
        def ruled(self) -> str | None:
            return "ruled"

    @strawberry.type
    class Query:
        @strawberry.field
        def loose(self) -> Loose:
            return Loose()

        @strawberry.field
        def guarded(self) -> Guarded | None:
            return Guarded()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    report = build_report(schema)
    assert [row.coordinate for row in report.open] == [
        "Query.loose",
        "Query.guarded",
        "Loose.note",
    ]
    result = schema.execute_sync("{ loose { note ruled } guarded { secret } }")
    assert result.data == {"loose": {"note": "note", "ruled": None}, "guarded": None}
    denied = {".".join(map(str, error.path)) for error in result.errors}
    assert denied == {"loose.ruled", "guarded.secret"}


def test_the_report_plans_without_installing_anything():
    schema = policies.build()
    fields = graphql_schema(schema).query_type.fields
    before = {name: field.resolve for name, field in fields.items()}
    build_report(schema)
    assert {name: field.resolve for name, field in fields.items()} == before
    # and the schema still installs and serves as usual afterwards
    result = asyncio.run(schema.execute("{ plain { label } }"))
    assert result.data == {"plain": {"label": "plain"}}


def test_a_policy_that_does_not_validate_raises_its_configuration_error():
    with pytest.raises(ConfigurationError, match="grant 'never_given' is given by no"):
        build_report(policies.unreachable_grant)


def test_a_schema_without_an_auth_extension_is_refused():
    @strawberry.type
    class Query:
        name: str = "x"

    with pytest.raises(ConfigurationError, match="lists no AuthExtension"):
        build_report(strawberry.Schema(query=Query))


def test_json_round_trips_and_has_the_documented_keys():
    report = build_report(policies.schema)
    text = to_json(report)
    assert Report.from_json(text) == report
    data = json.loads(text)
    assert list(data) == ["version", "summary", "open", "fields"]
    assert data["version"] == 1
    assert data["summary"] == {
        "fields": 11,
        "protected": 8,
        "public": 1,
        "follows": 0,
        "capability": 1,
        "open": 1,
    }
    assert data["open"] == ["Plain.label"]
    account = data["fields"][0]
    assert list(account) == [
        "field",
        "type",
        "name",
        "status",
        "checks",
        "grants",
        "object_grants",
        "needs_granted",
        "follows",
        "filterable",
    ]
    assert account["checks"][1] == {
        "phase": "before",
        "source": "field",
        "rule": {"$or": [{"admin": True}, {"member": True}]},
        "text": "{$or: [{admin: True}, {member: True}]}",
    }
    with pytest.raises(ValueError, match="version"):
        Report.from_json(json.dumps({**data, "version": 99}))


def test_markdown_is_a_table_with_one_row_per_field():
    report = build_report(policies.schema)
    lines = to_markdown(report).splitlines()
    rows = [line for line in lines if line.startswith("| `")]
    assert len(rows) == len(report.fields)
    assert lines[2] == (
        "| field | status | checks | grants | needs `$granted` | filterable |"
    )
    assert "| `Plain.label` | **open** |" in to_markdown(report)
    assert (
        "| `Query.account` | protected | before · default `{member: True}`<br>"
        "before · field `{$or: [{admin: True}, {member: True}]}` | read_email |  |  |"
    ) in rows


def test_types_with_object_rules_say_whether_their_lists_filter_in_the_query():
    report = build_report(policies.schema)
    rows = {row.coordinate: row for row in report.fields}
    # `Document`'s object rule is a rule function: it cannot become a filter.
    assert rows["Document.title"].filterable is False
    assert rows["Query.account"].filterable is None  # Query has no object rule
    assert "filter  " in to_text(report)
    assert "not in the query: a rule function" in to_text(report)

    authz = AuthExtension(lambda context: {"owner": FilterScope.equals(1)})

    @authz.type_rule({"owner": Column("owner_id")}, on_object=True)
    @strawberry.type
    class Note:
        title: str

    @strawberry.type
    class Query:
        notes: list[Note] = strawberry.field(default_factory=list)

    filtered = build_report(strawberry.Schema(query=Query, extensions=[authz]))
    (note,) = (row for row in filtered.fields if row.type_name == "Note")
    assert note.filterable is True
    assert "lists can be filtered in the query" in to_text(filtered)
    assert to_markdown(filtered).splitlines()[-1].endswith("| yes |")


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ({"$and": [{"a": True}, {"b": "x:y"}]}, "{a: True, b: x:y}"),
        ({"$and": [{"a": 1}, {"a": 2}]}, "{$and: [{a: 1}, {a: 2}]}"),
        ({"$not": {"role": "guest"}}, "{$not: {role: guest}}"),
        ({"$function": "Query.<lambda>"}, "Query.<lambda>()"),
        ({"team": "a b|c"}, '{team: "a b|c"}'),
        (False, "False"),
    ],
)
def test_rules_are_shown_compactly_as_written(rule, text):
    assert compact_rule(rule) == text
