"""BatchScope attacks."""

import asyncio

import pytest
import strawberry
from authzkit import dump

from strawberry_authz import AuthExtension, BatchScope

ANSWERS = {}


class Exploding(list):
    """A list whose len() fails: load_fn's broken answer."""

    def __len__(self):
        raise RuntimeError("db password is hunter2")


def make(load_fn):
    authz = AuthExtension(lambda ctx: {"can": BatchScope(load_fn)})

    @authz.type_rule(lambda p: {"can": p.root.id}, on_object=True)
    @strawberry.type
    class Item:
        id: int

    @authz.type_rule(lambda p: {"can": p.root.id})
    @strawberry.type
    class Field:
        id: int

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item | None]:
            return [Item(id=1), Item(id=2)]

        @strawberry.field
        def fields(self) -> list[Field | None]:
            return [Field(id=1), Field(id=2)]

        @strawberry.field
        def one(self) -> Field | None:
            return Field(id=1)

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize(
    "query", ["{ items { id } }", "{ fields { id } }", "{ one { id } }"]
)
def test_a_broken_answer_sequence_never_leaks_its_text_sync(query):
    schema = make(lambda values: Exploding([True] * len(values)))
    r = schema.execute_sync(query)
    assert "hunter2" not in dump(r), dump(r)


@pytest.mark.parametrize(
    "query", ["{ items { id } }", "{ fields { id } }", "{ one { id } }"]
)
def test_a_broken_answer_sequence_never_leaks_its_text_async(query):
    schema = make(lambda values: Exploding([True] * 2))
    r = asyncio.run(schema.execute(query))
    assert "hunter2" not in dump(r), dump(r)


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_base_exceptions_from_load_fn_sync(exc):
    def load_fn(values):
        raise exc("bye")

    schema = make(load_fn)
    with pytest.raises(exc):
        schema.execute_sync("{ items { id } }")
