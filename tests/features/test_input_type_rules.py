"""Issue 8, item 9: rules on input types are configuration errors, never ignored."""

import pytest
import strawberry

from strawberry_authz import AuthExtension, ConfigurationError


def scopes(context: object) -> dict[str, object]:
    return {"is_admin": False}


def test_type_rule_on_an_input_type_is_refused_at_decoration():
    authz = AuthExtension(scopes)

    with pytest.raises(ConfigurationError) as raised:

        @authz.type_rule({"is_admin": True})
        @strawberry.input
        class NoteInput:
            text: str

    message = str(raised.value)
    assert "input type NoteInput" in message
    assert "the field that takes the input" in message
    assert "params.args" in message


def test_type_post_rule_on_an_input_type_is_refused_at_decoration():
    authz = AuthExtension(scopes)

    with pytest.raises(ConfigurationError, match="input type NoteInput"):

        @authz.type_post_rule(lambda params, result: True)
        @strawberry.input
        class NoteInput:
            text: str


def input_with_field_rule(authz: AuthExtension) -> strawberry.Schema:
    @strawberry.input
    class NoteInput:
        text: str
        pinned: bool = strawberry.field(
            default=False, extensions=[authz.rule({"is_admin": True})]
        )

    @strawberry.type
    class Query:
        @strawberry.field
        def preview(self, note: NoteInput) -> str:
            return f"{note.text} pinned={note.pinned}"

    return strawberry.Schema(query=Query, extensions=[authz])


def test_rule_on_an_input_field_is_reported_by_validate():
    authz = AuthExtension(scopes)
    schema = input_with_field_rule(authz)

    with pytest.raises(ConfigurationError) as raised:
        authz.validate(schema)

    [problem] = raised.value.problems
    assert problem.startswith("NoteInput.pinned: authz.rule / post_rule")
    assert "the field that takes the input" in problem
    assert "params.args" in problem


def test_rule_on_an_input_field_refuses_requests_instead_of_being_ignored():
    authz = AuthExtension(scopes)
    schema = input_with_field_rule(authz)

    result = schema.execute_sync('{ preview(note: {text: "hi", pinned: true}) }')

    # The rule cannot be enforced, so nothing is served (fail closed).
    assert result.data is None
    assert [error.extensions for error in result.errors or []] == [
        {"code": "FORBIDDEN"}
    ]
    assert "pinned=True" not in repr(result)
