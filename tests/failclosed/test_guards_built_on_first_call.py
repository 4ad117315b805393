"""Install places a stand-in per field; the guard is built on the first call.

The stand-in must enforce the plan on that very call, keep the guards of
every AuthExtension of the schema in front of the field, and deny (with a
plain message) when building fails.
"""

import logging

import strawberry

from strawberry_authz import AuthExtension
from strawberry_authz import _install as install_module
from tests.authzkit import authz_logs, codes, dump


def two_extension_schema() -> strawberry.Schema:
    a = AuthExtension(lambda context: {"a": context["a"]})
    b = AuthExtension(lambda context: {"b": context["b"]})

    @strawberry.type
    class Query:
        @b.rule({"b": True})
        @a.rule({"a": True})
        @strawberry.field
        def both(self) -> int | None:
            return 1

        @a.rule({"a": True})
        @strawberry.field
        def only_a(self) -> int | None:
            return 2

        @b.rule({"b": True})
        @strawberry.field
        def only_b(self) -> int | None:
            return 3

    return strawberry.Schema(Query, extensions=[a, b])


EXPECTED = [
    ({"a": True, "b": True}, {"both": 1, "onlyA": 2, "onlyB": 3}),
    ({"a": False, "b": True}, {"both": None, "onlyA": None, "onlyB": 3}),
    ({"a": True, "b": False}, {"both": None, "onlyA": 2, "onlyB": None}),
    ({"a": False, "b": False}, {"both": None, "onlyA": None, "onlyB": None}),
]


def test_every_auth_extension_of_a_schema_enforces_its_own_rules():
    schema = two_extension_schema()
    # The first request builds every guard; the later ones run through them.
    for context, expected in [*EXPECTED, *EXPECTED]:
        result = schema.execute_sync("{ both onlyA onlyB }", context_value=context)
        assert result.data == expected, context
        assert set(codes(result)) <= {"FORBIDDEN"}


def test_the_first_call_of_a_field_is_already_guarded():
    authz = AuthExtension(lambda context: {"ok": False})

    @strawberry.type
    class Query:
        @authz.rule({"ok": True})
        @strawberry.field
        def secret(self) -> str | None:
            return "the secret"

    schema = strawberry.Schema(Query, extensions=[authz])
    first = schema.execute_sync("{ secret }")
    assert first.data == {"secret": None}
    assert codes(first) == ["FORBIDDEN"]
    assert "the secret" not in dump(first)


def test_a_guard_that_cannot_be_built_denies_with_a_plain_message(monkeypatch, caplog):
    authz = AuthExtension(lambda context: {"ok": True})

    @strawberry.type
    class Query:
        @authz.rule({"ok": True})
        @strawberry.field
        def value(self) -> int | None:
            return 1

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail of the resolver rebuild")

    monkeypatch.setattr(install_module, "rebuild_resolver", broken)
    schema = strawberry.Schema(Query, extensions=[authz])
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync("{ value }")
    assert result.data == {"value": None}
    assert codes(result) == ["FORBIDDEN"]
    assert "internal detail" not in dump(result)
    assert "Query.value" in authz_logs(caplog)
