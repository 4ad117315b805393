"""Issue 16, points 5, 9 and 10 attacked from outside: what held.

- A list's grant reaches its items and no further: not a sibling alias that
  did not grant it, not the objects one level further down.
- The fields of an object under object rules have no guard of their own:
  reached outside an operation of the extension they are still never
  served, because the field returning the object denies.
- A decision hook that raises on every object record changes nothing the
  client sees.
"""

from typing import Any

import pytest
import strawberry
from authzkit import codes, dump
from graphql import execute_sync, parse

from strawberry_authz import AuthExtension
from strawberry_authz._compat import graphql_schema


def granting_schema(on_object: bool, on_decision: Any = None) -> strawberry.Schema:
    authz = AuthExtension(lambda _: {}, on_decision=on_decision)

    @authz.type_rule({"$granted": "read"}, on_object=on_object)
    @strawberry.type
    class Leaf:
        secret: str = "leaf secret"

    @authz.type_rule({"$granted": "read"}, on_object=on_object)
    @strawberry.type
    class Item:
        id: int
        secret: str = "item secret"

        @strawberry.field
        def leaf(self) -> Leaf | None:
            return Leaf()

        @strawberry.field
        def leaves(self) -> list[Leaf | None]:
            return [Leaf(), Leaf()]

    @strawberry.type
    class Query:
        @authz.rule(True, grants=["read"])
        @strawberry.field
        def granted(self) -> list[Item | None]:
            return [Item(id=0), Item(id=1)]

        @authz.rule(True)
        @strawberry.field
        def plain(self) -> list[Item | None]:
            return [Item(id=0), Item(id=1)]

        @authz.rule(True, grants=["read"])
        @strawberry.field
        def leaf(self) -> Leaf | None:  # the grant a Leaf may be read with
            return Leaf()

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("on_object", [False, True])
async def test_a_list_grant_never_reaches_a_sibling_alias_or_grandchildren(
    on_object, is_async
):
    schema = granting_schema(on_object)
    query = """{
      a: granted { id secret leaf { secret } leaves { secret } }
      b: plain { id secret }
    }"""
    result = await schema.execute(query) if is_async else schema.execute_sync(query)
    granted = result.data["a"]
    assert [item["id"] for item in granted] == [0, 1]
    assert all(item["secret"] == "item secret" for item in granted)
    # One level further down the grant is gone: the leaves are denied.
    assert all(item["leaf"] is None for item in granted)
    assert all(item["leaves"] in (None, [None, None]) for item in granted)
    assert result.data["b"] == [None, None]
    assert "leaf secret" not in dump(result)
    assert set(codes(result)) == {"FORBIDDEN"}


def test_fields_of_an_object_rule_type_are_never_served_outside_an_operation():
    schema = granting_schema(on_object=True)
    schema.execute_sync("{ granted { id } }")  # installs the guards
    # graphql-core directly: no operation of the extension is open.
    result = execute_sync(graphql_schema(schema), parse("{ granted { id secret } }"))
    assert result.data is None  # `granted` is a non-null list
    assert "item secret" not in repr(result)
    assert [e.extensions for e in result.errors] == [{"code": "FORBIDDEN"}]


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_hook_raising_on_every_object_record_changes_nothing(is_async, caplog):
    def broken(decision: Any) -> None:
        raise RuntimeError("hook down")

    quiet = granting_schema(on_object=True)
    noisy = granting_schema(on_object=True, on_decision=broken)
    query = "{ granted { id secret } plain { id secret } }"
    results = [
        await schema.execute(query) if is_async else schema.execute_sync(query)
        for schema in (quiet, noisy)
    ]
    assert results[0].data == results[1].data
    assert codes(results[0]) == codes(results[1]) == ["FORBIDDEN"] * 2
    assert "on_decision callback raised (ignored)" in caplog.text
