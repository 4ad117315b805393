"""SPEC §2/§5 — where rules apply: default scopes, type rules, own rules, skips."""

from typing import Any

import pytest
import strawberry
from authzkit import codes

from strawberry_authz import AuthExtension, ConfigurationError

# -- helpers -------------------------------------------------------------------


def loader_for(names: list[str]):
    """`load_scopes` exposing each name as a loader reading the context."""

    def load(context: Any) -> dict[str, Any]:
        return {name: (lambda _v, n=name: bool(context.get(n))) for name in names}

    return load


SCOPES = ["logged_in", "staff", "own", "writer"]


def make_authz(**defaults: Any) -> AuthExtension:
    return AuthExtension(
        loader_for(SCOPES),
        default_scopes=defaults
        or {"Query": {"logged_in": True}, "Mutation": {"writer": True}},
    )


def run(schema: strawberry.Schema, query: str, **context: bool) -> Any:
    return schema.execute_sync(query, context_value=dict(context))


def answer(authz: AuthExtension, value: str, rule: Any = None, **options: Any) -> Any:
    """A field resolving to `value`; under `authz.rule(rule, **options)` if given."""

    def resolve() -> str | None:
        return value

    field = strawberry.field(resolver=resolve)
    return field if rule is None else authz.rule(rule, **options)(field)


# -- default scopes per operation type ------------------------------------------


def _defaults_schema() -> strawberry.Schema:
    authz = make_authz()

    @strawberry.type
    class Query:
        plain = answer(authz, "plain")
        ruled = answer(authz, "ruled", {"own": True})
        skipping = answer(authz, "skipping", {"own": True}, skip_defaults=True)

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def touch(self) -> str | None:
            return "touched"

        @authz.rule({"own": True})
        @strawberry.mutation
        def guarded(self) -> str | None:
            return "guarded"

    return strawberry.Schema(query=Query, mutation=Mutation, extensions=[authz])


def test_query_defaults_apply_to_a_root_field_without_its_own_rule():
    schema = _defaults_schema()
    assert run(schema, "{ plain }").data == {"plain": None}
    assert codes(run(schema, "{ plain }")) == ["FORBIDDEN"]
    assert run(schema, "{ plain }", logged_in=True).data == {"plain": "plain"}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({}, None),
        ({"logged_in": True}, None),
        ({"own": True}, None),
        ({"logged_in": True, "own": True}, "ruled"),
    ],
)
def test_query_defaults_and_the_fields_own_rule_must_both_pass(context, expected):
    result = run(_defaults_schema(), "{ ruled }", **context)
    assert result.data == {"ruled": expected}
    assert (result.errors is None) == (expected is not None)


@pytest.mark.parametrize(
    ("context", "expected"),
    [({}, None), ({"logged_in": True}, None), ({"own": True}, "skipping")],
)
def test_skip_defaults_drops_query_defaults_but_keeps_the_own_rule(context, expected):
    result = run(_defaults_schema(), "{ skipping }", **context)
    assert result.data == {"skipping": expected}


def test_mutation_defaults_apply_to_a_mutation_without_its_own_rule():
    schema = _defaults_schema()
    denied = run(schema, "mutation { touch }", logged_in=True)
    assert denied.data == {"touch": None}
    assert codes(denied) == ["FORBIDDEN"]
    allowed = run(schema, "mutation { touch }", writer=True)
    assert allowed.errors is None
    assert allowed.data == {"touch": "touched"}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"writer": True}, None),
        ({"own": True}, None),
        ({"logged_in": True, "own": True}, None),
        ({"writer": True, "own": True}, "guarded"),
    ],
)
def test_mutation_with_a_rule_needs_mutation_defaults_and_its_rule(context, expected):
    result = run(_defaults_schema(), "mutation { guarded }", **context)
    assert result.data == {"guarded": expected}


def test_denied_mutation_resolver_never_runs():
    authz = make_authz()
    calls: list[str] = []

    @strawberry.type
    class Query:
        ok: str = "ok"

    @strawberry.type
    class Mutation:
        @authz.rule({"own": True})
        @strawberry.mutation
        def delete(self) -> bool | None:
            calls.append("delete")
            return True

    schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=[authz])
    result = run(schema, "mutation { delete }", writer=True)
    assert result.data == {"delete": None}
    assert calls == []
    assert run(schema, "mutation { delete }", writer=True, own=True).data == {
        "delete": True
    }
    assert calls == ["delete"]


def test_query_defaults_do_not_apply_to_mutations_and_vice_versa():
    schema = _defaults_schema()
    # Only the query default holds: the mutation is still denied.
    assert run(schema, "mutation { touch }", logged_in=True).data == {"touch": None}
    # Only the mutation default holds: the query is still denied.
    assert run(schema, "{ plain }", writer=True).data == {"plain": None}


def test_nested_field_does_not_get_the_operation_defaults():
    authz = make_authz()

    @strawberry.type
    class Item:
        @strawberry.field
        def name(self) -> str:
            return "item"

        @authz.rule({"own": True})
        @strawberry.field
        def ruled(self) -> str | None:
            return "ruled"

    @strawberry.type
    class Query:
        @authz.rule({"staff": True}, skip_defaults=True)
        @strawberry.field
        def item(self) -> Item:
            return Item()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = run(schema, "{ item { name ruled } }", staff=True, own=True)
    assert result.errors is None
    assert result.data == {"item": {"name": "item", "ruled": "ruled"}}


# -- renamed root types ----------------------------------------------------------


def test_renamed_root_types_still_get_the_defaults_of_their_operation():
    authz = make_authz()

    @strawberry.type(name="Root")
    class Q:
        @strawberry.field
        def plain(self) -> str | None:
            return "plain"

    @strawberry.type(name="Changes")
    class M:
        @strawberry.mutation
        def touch(self) -> str | None:
            return "touched"

    schema = strawberry.Schema(query=Q, mutation=M, extensions=[authz])
    assert "type Root" in str(schema)
    assert codes(run(schema, "{ plain }")) == ["FORBIDDEN"]
    assert run(schema, "{ plain }").data == {"plain": None}
    assert run(schema, "{ plain }", logged_in=True).data == {"plain": "plain"}
    assert run(schema, "mutation { touch }", logged_in=True).data == {"touch": None}
    assert run(schema, "mutation { touch }", writer=True).data == {"touch": "touched"}


def test_object_type_named_query_that_is_not_the_root_gets_no_query_defaults():
    authz = make_authz()

    @strawberry.type(name="Query")
    class Inner:
        @strawberry.field
        def value(self) -> str:
            return "inner"

    @strawberry.type(name="Root")
    class Root:
        @authz.rule({"staff": True}, skip_defaults=True)
        @strawberry.field
        def inner(self) -> Inner:
            return Inner()

    schema = strawberry.Schema(query=Root, extensions=[authz])
    result = run(schema, "{ inner { value } }", staff=True)
    assert result.errors is None
    assert result.data == {"inner": {"value": "inner"}}


# -- type rules ----------------------------------------------------------------


def _type_rule_schema() -> strawberry.Schema:
    authz = make_authz()

    @authz.type_rule({"staff": True})
    @strawberry.type
    class Secret:
        plain = answer(authz, "plain")
        ruled = answer(authz, "ruled", {"own": True})
        skipping = answer(authz, "skipping", {"own": True}, skip_type_rules=True)
        other = answer(authz, "other")

    @strawberry.type
    class Query:
        @authz.rule({"logged_in": True}, skip_defaults=True)
        @strawberry.field
        def secret(self) -> Secret:
            return Secret()

    return strawberry.Schema(query=Query, extensions=[authz])


def test_type_rule_applies_to_every_field_of_the_type():
    schema = _type_rule_schema()
    denied = run(schema, "{ secret { plain other } }", logged_in=True)
    assert denied.data == {"secret": {"plain": None, "other": None}}
    assert codes(denied) == ["FORBIDDEN", "FORBIDDEN"]
    allowed = run(schema, "{ secret { plain other } }", logged_in=True, staff=True)
    assert allowed.errors is None
    assert allowed.data == {"secret": {"plain": "plain", "other": "other"}}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"staff": True}, None),
        ({"own": True}, None),
        ({"staff": True, "own": True}, "ruled"),
    ],
)
def test_type_rule_and_the_fields_own_rule_must_both_pass(context, expected):
    result = run(_type_rule_schema(), "{ secret { ruled } }", logged_in=True, **context)
    assert result.data == {"secret": {"ruled": expected}}


@pytest.mark.parametrize(
    ("context", "expected"),
    [({"staff": True}, None), ({"own": True}, "skipping")],
)
def test_skip_type_rules_drops_the_type_rule_but_keeps_the_own_rule(context, expected):
    result = run(
        _type_rule_schema(), "{ secret { skipping } }", logged_in=True, **context
    )
    assert result.data == {"secret": {"skipping": expected}}


def _root_type_rule_schema() -> strawberry.Schema:
    authz = make_authz()

    @authz.type_rule({"staff": True})
    @strawberry.type
    class Query:
        plain = answer(authz, "plain")
        ruled = answer(authz, "ruled", {"own": True})
        no_type_rule = answer(
            authz, "no_type_rule", {"own": True}, skip_type_rules=True
        )
        no_defaults = answer(authz, "no_defaults", {"own": True}, skip_defaults=True)

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"logged_in": True}, None),
        ({"staff": True}, None),
        ({"logged_in": True, "staff": True}, "plain"),
    ],
)
def test_type_rule_on_the_root_query_adds_to_the_query_defaults(context, expected):
    result = run(_root_type_rule_schema(), "{ plain }", **context)
    assert result.data == {"plain": expected}


ALL_THREE = {"logged_in": True, "staff": True, "own": True}


@pytest.mark.parametrize("missing", ["logged_in", "staff", "own"])
def test_all_three_layers_and_together_so_each_one_alone_denies(missing):
    context = {name: True for name in ALL_THREE if name != missing}
    result = run(_root_type_rule_schema(), "{ ruled }", **context)
    assert result.data == {"ruled": None}
    assert codes(result) == ["FORBIDDEN"]


def test_all_three_layers_passing_lets_the_field_resolve():
    result = run(_root_type_rule_schema(), "{ ruled }", **ALL_THREE)
    assert result.errors is None
    assert result.data == {"ruled": "ruled"}


@pytest.mark.parametrize(
    ("field", "context", "expected"),
    [
        # skip_type_rules keeps the defaults
        ("noTypeRule", {"logged_in": True, "own": True}, "no_type_rule"),
        ("noTypeRule", {"staff": True, "own": True}, None),
        # skip_defaults keeps the type rule
        ("noDefaults", {"staff": True, "own": True}, "no_defaults"),
        ("noDefaults", {"logged_in": True, "own": True}, None),
    ],
)
def test_a_skip_option_on_a_root_field_drops_only_its_own_layer(
    field, context, expected
):
    result = run(_root_type_rule_schema(), f"{{ {field} }}", **context)
    assert result.data == {field: expected}


# -- rule forms ----------------------------------------------------------------


def test_rule_in_field_extensions_guards_a_field_without_resolver():
    authz = make_authz()

    @strawberry.type
    class Profile:
        name: str = "public name"
        email: str | None = strawberry.field(
            default="secret@example.com", extensions=[authz.rule({"own": True})]
        )

    @strawberry.type
    class Query:
        @authz.rule({"logged_in": True}, skip_defaults=True)
        @strawberry.field
        def profile(self) -> Profile:
            return Profile()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    denied = run(schema, "{ profile { name email } }", logged_in=True)
    assert denied.data == {"profile": {"name": "public name", "email": None}}
    assert codes(denied) == ["FORBIDDEN"]
    assert "secret@example.com" not in repr(denied)
    allowed = run(schema, "{ profile { name email } }", logged_in=True, own=True)
    assert allowed.errors is None
    assert allowed.data == {
        "profile": {"name": "public name", "email": "secret@example.com"}
    }


def test_rule_in_extensions_on_a_root_field_without_resolver_gets_defaults_too():
    authz = make_authz()

    @strawberry.type
    class Query:
        motto: str | None = strawberry.field(
            default="hi", extensions=[authz.rule({"own": True})]
        )

    schema = strawberry.Schema(query=Query, extensions=[authz])

    def motto(**context: bool) -> Any:
        return schema.execute_sync(
            "{ motto }", context_value=context, root_value=Query()
        ).data

    assert motto(own=True) == {"motto": None}
    assert motto(logged_in=True) == {"motto": None}
    assert motto(own=True, logged_in=True) == {"motto": "hi"}


def test_two_rules_on_one_field_are_a_configuration_error_at_validate():
    authz = make_authz()

    @strawberry.type
    class Query:
        @authz.rule({"own": True})
        @authz.rule({"staff": True})
        @strawberry.field
        def twice(self) -> str:
            return "twice"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with pytest.raises(ConfigurationError) as raised:
        authz.validate(schema)
    assert "twice" in str(raised.value)


def test_two_rules_on_one_field_never_let_a_request_through():
    authz = make_authz()

    @strawberry.type
    class Query:
        @authz.rule({"own": True})
        @authz.rule({"staff": True})
        @strawberry.field
        def twice(self) -> str | None:
            return "twice"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = run(schema, "{ twice }", **ALL_THREE)
    assert result.data is None or result.data == {"twice": None}
    assert result.errors
