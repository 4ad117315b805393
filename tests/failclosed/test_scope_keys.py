"""Issue 8.2 — scope cache keys never merge different values."""

import asyncio
import dataclasses
import datetime
import enum
import logging
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pydantic
import pytest
import strawberry
from authzkit import authz_logs, codes, dump

from strawberry_authz import AuthExtension, BatchScope


class Same:
    """Distinct objects that all print the same."""

    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed

    def __repr__(self) -> str:
        return "Same()"

    def __eq__(self, other: object) -> bool:  # and so unhashable
        return other is self


class Hidden(pydantic.BaseModel):
    doc_id: int = pydantic.Field(repr=False)


@dataclasses.dataclass(frozen=True)
class Ref:
    doc_id: int


class Color(enum.Enum):
    RED = 1
    BLUE = 2


def schema_checking(values: list[Any], answer: Any) -> tuple[strawberry.Schema, list]:
    """A list of items whose rule asks scope `may` about each item's value."""
    calls: list[Any] = []

    def may(value: Any) -> bool:
        calls.append(value)
        return bool(answer(value))

    authz = AuthExtension(lambda _: {"may": may})

    @authz.type_rule(lambda params: {"may": params.root.value})
    @strawberry.type
    class Item:
        index: int
        value: strawberry.Private[Any]

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item | None]:
            return [Item(index=i, value=v) for i, v in enumerate(values)]

    return strawberry.Schema(query=Query, extensions=[authz]), calls


def test_objects_with_the_same_repr_never_share_an_answer():
    schema, _ = schema_checking([Same(True), Same(False)], lambda v: v.allowed)
    result = schema.execute_sync("{ items { index } }")
    assert result.data == {"items": [{"index": 0}, None]}
    assert codes(result) == ["FORBIDDEN"]


def test_pydantic_models_without_repr_are_keyed_by_their_field_values():
    values = [Hidden(doc_id=1), Hidden(doc_id=2), Hidden(doc_id=1)]
    schema, calls = schema_checking(values, lambda v: v.doc_id == 1)
    result = schema.execute_sync("{ items { index } }")
    assert result.data == {"items": [{"index": 0}, None, {"index": 2}]}
    assert len(calls) == 2  # equal models share one answer


def test_dataclasses_and_enums_are_keyed_by_type_and_value():
    values = [Ref(1), Ref(2), Ref(1), Color.RED, Color.BLUE, 1, True]
    allowed = {Ref(1), Color.RED, 1}
    schema, calls = schema_checking(
        values, lambda v: v in allowed and type(v) is not bool
    )
    result = schema.execute_sync("{ items { index } }")
    indexes = [item and item["index"] for item in result.data["items"]]
    assert indexes == [0, None, 2, 3, None, 5, None]  # True is not 1
    assert len(calls) == 6


def test_lists_of_strings_and_ints_are_keyed_by_member_types_and_kind():
    """The per-object value `["doc", id]`: equal lists share one answer; a
    `True` or `1.0` in place of `1`, a tuple in place of a list, or a string
    subclass never shares it."""

    class Name(str):
        pass

    values = [
        ["doc", 1],
        ["doc", True],
        ["doc", 1.0],
        ("doc", 1),
        [Name("doc"), 1],
        ["doc", 1],
        ["doc", "1"],
    ]
    schema, calls = schema_checking(
        values,
        lambda v: type(v) is list and [type(m) for m in v] == [str, int] and v[1] == 1,
    )
    result = schema.execute_sync("{ items { index } }")
    indexes = [item and item["index"] for item in result.data["items"]]
    assert indexes == [0, None, None, None, None, 5, None]
    assert len(calls) == 6  # the two equal lists share one answer


def test_a_value_nested_600_levels_denies_that_field_with_forbidden_only(caplog):
    deep: Any = "x"
    for _ in range(600):
        deep = [deep]
    schema, calls = schema_checking([deep, "shallow"], lambda v: True)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync("{ items { index } }")
    assert result.data == {"items": [None, {"index": 1}]}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "nested" not in dump(result) and "Recursion" not in dump(result)
    assert "nested deeper" in authz_logs(caplog)
    assert calls == ["shallow"]


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded: internal detail")


@pytest.mark.parametrize("answer", [False, RuntimeError("loader detail")])
def test_a_value_whose_repr_raises_denies_without_leaking(answer, caplog):
    def decide(_: Any) -> bool:
        if isinstance(answer, Exception):
            raise answer
        return answer

    schema, _ = schema_checking([BadRepr()], decide)
    result = schema.execute_sync("{ items { index } }")
    assert result.data == {"items": [None]}
    failed = isinstance(answer, Exception)
    assert codes(result) == ["INTERNAL_SERVER_ERROR" if failed else "FORBIDDEN"]
    assert "detail" not in dump(result) and "exploded" not in dump(result)


class ExplodingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("mapping internals")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("mapping internals")

    def __len__(self) -> int:
        return 1


def test_load_scopes_returning_a_mapping_that_raises_denies_without_leaking(
    caplog,
):
    authz = AuthExtension(lambda _: ExplodingMapping())

    @strawberry.type
    class Query:
        @authz.rule({"anything": True})
        @strawberry.field
        def secret(self) -> str | None:
            return "secret"

        @strawberry.field
        def public(self) -> str:
            return "public"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ secret public }")
    assert result.data == {"secret": None, "public": "public"}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "internals" not in dump(result)
    assert "load_scopes" in authz_logs(caplog)


class BrokenZone(datetime.tzinfo):
    """A time zone whose offset cannot be told: hashing its times raises."""

    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
        raise RuntimeError("zone database unavailable")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    "odd",
    [
        ["doc", Decimal("sNaN")],
        Decimal("sNaN"),
        {"doc": [Decimal("sNaN")]},
        ["doc", datetime.datetime(2026, 1, 1, tzinfo=BrokenZone())],
    ],
    ids=["in_a_list", "alone", "nested", "broken_tzinfo"],
)
def test_a_value_whose_hash_raises_denies_its_object_only(is_async, odd, caplog):
    """A signaling NaN, or a time whose zone fails, cannot be hashed: the
    object whose rule asks about one is denied as a failure; the list's
    other objects are decided."""
    asked: list[Any] = []

    def load(values: list[Any]) -> list[bool]:
        asked.extend(values)
        return [True for _ in values]

    async def load_async(values: list[Any]) -> list[bool]:
        return load(values)

    scope = BatchScope(load_async if is_async else load)
    authz = AuthExtension(lambda _: {"can": scope})

    @authz.type_rule(
        lambda p: {"can": odd if p.root.index == 2 else ["doc", p.root.index]},
        on_object=True,
    )
    @strawberry.type
    class Item:
        index: int

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item | None]:
            return [Item(index=i) for i in range(4)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        if is_async:
            result = asyncio.run(
                asyncio.wait_for(schema.execute("{ items { index } }"), 10)
            )
        else:
            result = schema.execute_sync("{ items { index } }")
    assert result.data == {"items": [{"index": 0}, {"index": 1}, None, {"index": 3}]}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "NaN" not in dump(result) and "zone" not in dump(result)
    assert "cannot be hashed" in authz_logs(caplog)
    assert asked == [["doc", 0], ["doc", 1], ["doc", 3]]
