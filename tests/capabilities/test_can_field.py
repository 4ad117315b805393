"""`authz.can_field`: a `Boolean!` per object, false when denied, never an error."""

import asyncio
import logging
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes
from capkit import Loads, can_edit_column, notes_schema, owner_of, owns

from strawberry_authz import AuthExtension, ConfigurationError, UnauthenticatedError

QUERY = "{ notes { id viewerCanEdit } }"


def expected(count: int, user: str) -> list[bool]:
    return [owner_of(i) == user for i in range(count)]


@pytest.mark.parametrize("slow", [False, True], ids=["sync", "async"])
async def test_each_object_of_a_list_answers_for_itself(slow):
    loads = Loads(slow=slow)
    schema = notes_schema(AuthExtension(loads.load_scopes), owns, count=10)
    result = await schema.execute(QUERY, context_value={"user": "u2"})
    assert result.errors is None
    assert can_edit_column(result) == expected(10, "u2")
    assert sum(can_edit_column(result)) == 2  # notes 2 and 9


def test_a_static_rule_set_answers_the_same_for_every_object():
    loads = Loads()
    schema = notes_schema(AuthExtension(loads.load_scopes), {"has_role": "editor"})
    editor = schema.execute_sync(QUERY, context_value={"roles": ["editor"]})
    reader = schema.execute_sync(QUERY, context_value={"roles": ["reader"]})
    assert (editor.errors, reader.errors) == (None, None)
    assert can_edit_column(editor) == [True] * 5
    assert can_edit_column(reader) == [False] * 5


def test_the_field_is_a_non_null_boolean_with_its_description():
    authz = AuthExtension(Loads().load_scopes)

    @strawberry.type
    class Note:
        id: int
        viewer_can_edit: bool = authz.can_field(owns, description="May edit.")

    @strawberry.type
    class Query:
        note: Note

    sdl = str(strawberry.Schema(query=Query, extensions=[authz]))
    assert '"""May edit."""\n  viewerCanEdit: Boolean!' in sdl


def test_rule_functions_get_the_object_as_root_and_no_arguments():
    seen: list[tuple[Any, Any]] = []

    def rule(params: Any) -> bool:
        seen.append((params.root.id, params.args))
        return params.root.id % 2 == 0

    schema = notes_schema(AuthExtension(Loads().load_scopes), rule, count=4)
    result = schema.execute_sync(QUERY)
    assert can_edit_column(result) == [True, False, True, False]
    assert seen == [(0, {}), (1, {}), (2, {}), (3, {})]


def test_works_under_execute_sync_with_sync_loaders():
    loads = Loads()
    schema = notes_schema(AuthExtension(loads.load_scopes), owns, count=8)
    result = schema.execute_sync(QUERY, context_value={"user": "u1"})
    assert result.errors is None
    assert can_edit_column(result) == expected(8, "u1")


# -- never an error -----------------------------------------------------------------


def raising_loader(context: Any) -> dict[str, Any]:
    def owns_note(owner: str) -> bool:
        raise RuntimeError("database down: secret-dsn")

    return {"owns_note": owns_note}


def async_raising_loader(context: Any) -> dict[str, Any]:
    async def owns_note(owner: str) -> bool:
        await asyncio.sleep(0)
        raise RuntimeError("database down: secret-dsn")

    return {"owns_note": owns_note}


def raising_rule(params: Any) -> bool:
    raise KeyError("secret-key")


async def async_raising_rule(params: Any) -> bool:
    await asyncio.sleep(0)
    raise KeyError("secret-key")


FAILURES = {
    "raising loader": (raising_loader, owns, "RuntimeError"),
    "raising async loader": (async_raising_loader, owns, "RuntimeError"),
    "raising rule function": (Loads().load_scopes, raising_rule, "KeyError"),
    "raising async rule function": (
        Loads().load_scopes,
        async_raising_rule,
        "KeyError",
    ),
    "rule function returning garbage": (Loads().load_scopes, lambda p: 42, "42"),
    "rule function returning a bad rule set": (
        Loads().load_scopes,
        lambda p: {"$bogus": 1},
        "$bogus",
    ),
    "unknown scope": (Loads().load_scopes, {"no_such_scope": 1}, "no_such_scope"),
    "load_scopes raising": (
        lambda context: 1 / 0,
        owns,
        "ZeroDivisionError",
    ),
}


@pytest.mark.parametrize(
    ("load_scopes", "rule", "logged"), FAILURES.values(), ids=FAILURES.keys()
)
async def test_an_unexpected_failure_is_false_and_logged_never_an_error(
    load_scopes, rule, logged, caplog
):
    schema = notes_schema(AuthExtension(load_scopes), rule, count=3)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute(QUERY, context_value={"user": "u0"})
    assert result.errors is None
    assert can_edit_column(result) == [False, False, False]
    assert logged in authz_logs(caplog)
    assert "secret" not in repr(result.data)


async def test_an_unauthenticated_loader_is_false_not_an_error(caplog):
    def load_scopes(context: Any) -> dict[str, Any]:
        def owns_note(owner: str) -> bool:
            raise UnauthenticatedError()

        return {"owns_note": owns_note}

    schema = notes_schema(AuthExtension(load_scopes), owns, count=3)
    with caplog.at_level(logging.DEBUG, logger="strawberry_authz"):
        result = await schema.execute(QUERY)
    assert result.errors is None
    assert can_edit_column(result) == [False, False, False]
    # An expected denial is the answer, not a failure: logged at DEBUG only.
    assert authz_logs(caplog) == ""
    assert "is false" in caplog.text


def test_an_async_loader_under_execute_sync_is_false_and_logged(caplog):
    loads = Loads(slow=True)
    schema = notes_schema(AuthExtension(loads.load_scopes), owns, count=2)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync(QUERY, context_value={"user": "u0"})
    assert result.errors is None
    assert can_edit_column(result) == [False, False]
    assert "execute_sync" in authz_logs(caplog)


def test_a_bad_static_rule_set_is_refused_at_decoration():
    authz = AuthExtension(Loads().load_scopes, scopes={"owns_note": str})
    with pytest.raises(ConfigurationError, match=r"\$nope"):
        authz.can_field({"$nope": 1})
    with pytest.raises(ConfigurationError, match="unknown_scope"):
        authz.can_field({"unknown_scope": "x"})


# -- which rules apply to the field -------------------------------------------------


def test_type_rules_do_not_turn_the_answer_into_an_error():
    loads = Loads()
    schema = notes_schema(
        AuthExtension(loads.load_scopes), owns, count=3, type_rule={"has_role": "x"}
    )
    result = schema.execute_sync(
        "{ notes { viewerCanEdit } }", context_value={"user": "u1"}
    )
    assert result.errors is None
    assert can_edit_column(result) == [False, True, False]
    # The type's own fields are still denied.
    denied = schema.execute_sync("{ notes { id } }", context_value={"user": "u1"})
    assert denied.errors


def test_default_scopes_do_not_apply_to_a_root_capability_field():
    loads = Loads()
    authz = AuthExtension(
        loads.load_scopes, default_scopes={"Query": {"is_logged_in": True}}
    )

    @strawberry.type
    class Query:
        can_sign_up: bool = authz.can_field({"has_role": "guest"})

        @strawberry.field
        def secret(self) -> str:
            return "s"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ canSignUp }", context_value={"roles": ["guest"]})
    assert (result.data, result.errors) == ({"canSignUp": True}, None)
    assert schema.execute_sync("{ secret }").errors  # anonymous: denied


def test_grants_of_the_field_returning_the_object_are_seen():
    authz = AuthExtension(Loads().load_scopes)

    @strawberry.type
    class Note:
        id: int
        viewer_can_share: bool = authz.can_field({"$granted": "share"})

    @strawberry.type
    class Query:
        @authz.rule({"is_logged_in": True}, grants=["share"])
        @strawberry.field
        def shared(self) -> Note:
            return Note(id=1)

        @strawberry.field
        def plain(self) -> Note:
            return Note(id=2)

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync(
        "{ shared { viewerCanShare } plain { viewerCanShare } }",
        context_value={"user": "u"},
    )
    assert result.errors is None
    assert result.data == {
        "shared": {"viewerCanShare": True},
        "plain": {"viewerCanShare": False},
    }


# -- without the extension ----------------------------------------------------------


def test_without_the_extension_the_field_never_says_true(caplog):
    schema = notes_schema(
        AuthExtension(Loads().load_scopes), lambda p: True, count=2, extension=False
    )
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync(QUERY)
    assert result.errors is None
    assert can_edit_column(result) == [False, False]
    assert "Note.viewerCanEdit" in authz_logs(caplog)


def test_without_the_extension_a_type_ruled_capability_is_denied_not_true():
    schema = notes_schema(
        AuthExtension(Loads().load_scopes),
        lambda p: True,
        count=2,
        type_rule={"has_role": "x"},
        extension=False,
    )
    result = schema.execute_sync("{ notes { viewerCanEdit } }")
    # The type rule's marker denies it, as every field of the type.
    assert result.data is None
    assert codes(result) == ["FORBIDDEN"]


def test_a_capability_of_another_extension_is_false():
    mine = AuthExtension(Loads().load_scopes)
    other = AuthExtension(Loads().load_scopes)

    @strawberry.type
    class Query:
        always: bool = other.can_field(lambda p: True)

    schema = strawberry.Schema(query=Query, extensions=[mine])
    result = schema.execute_sync("{ always }")
    assert (result.data, result.errors) == ({"always": False}, None)
