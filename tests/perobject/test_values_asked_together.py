"""The values a list asks together wait in the scope cache as one
`AskedTogether`, not a future each: whoever else asks one of them while its
batch runs gets its answer, and nobody waits forever."""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import asked_docs_schema, codes, dump

from strawberry_authz import AuthExtension, BatchScope, _batch


def _even_scope(asked: list[list[Any]]) -> Any:
    """`can`: a batch scope allowing even ids; `asked` gets each call's values."""

    def scopes(context: Any) -> dict[str, Any]:
        async def load(values: list[Any]) -> list[bool]:
            asked.append(list(values))
            await asyncio.sleep(0)
            return [value % 2 == 0 for value in values]

        return {"can": BatchScope(load)}

    return scopes


def _schema(authz: AuthExtension, ids: list[int]) -> strawberry.Schema:
    """`docs` under `{"can": id}` per object; `three` and `four`: fields
    under `{"can": 3}` and `{"can": 4}`."""
    return asked_docs_schema(authz, ids, guarded={"three": 3, "four": 4})


def _expected_docs(ids: list[int]) -> list[Any]:
    return [{"id": i} if i % 2 == 0 else None for i in ids]


async def test_a_field_asking_a_value_a_list_waits_for_gets_the_lists_answer():
    asked: list[list[Any]] = []
    authz = AuthExtension(_even_scope(asked))
    schema = _schema(authz, list(range(6)))
    result = await asyncio.wait_for(
        schema.execute("{ docs { id } three four }"), timeout=10
    )
    assert result.data == {
        "docs": _expected_docs(list(range(6))),
        "three": None,
        "four": "value-four",
    }
    assert "SECRET" not in dump(result)
    assert asked == [list(range(6))]  # 3 and 4 asked once, with the list


async def test_two_lists_of_the_same_objects_ask_each_value_once():
    asked: list[list[Any]] = []
    authz = AuthExtension(_even_scope(asked))
    schema = _schema(authz, list(range(8)))
    result = await asyncio.wait_for(
        schema.execute("{ a: docs { id } b: docs { id text } }"), timeout=10
    )
    assert result.data["a"] == _expected_docs(list(range(8)))
    assert result.data["b"] == [
        {"id": i, "text": f"SECRET{i}"} if i % 2 == 0 else None for i in range(8)
    ]
    assert sorted(v for call in asked for v in call) == list(range(8))


async def test_a_batch_that_cannot_settle_leaves_no_field_waiting(monkeypatch):
    def broken(results: Any, name: str, chunk: Any, outcomes: Any) -> None:
        raise RuntimeError("settling broke")

    monkeypatch.setattr(_batch, "_settle", broken)
    authz = AuthExtension(_even_scope([]))
    schema = _schema(authz, list(range(6)))
    result = await asyncio.wait_for(
        schema.execute("{ docs { id text } three four }"), timeout=10
    )
    assert result.data == {"docs": [None] * 6, "three": None, "four": None}
    assert set(codes(result)) == {"INTERNAL_SERVER_ERROR"}
    assert "SECRET" not in dump(result) and "settling broke" not in dump(result)


async def test_a_value_that_cannot_be_settled_fails_alone(monkeypatch):
    """Settling a chunk breaks at its last value (one answer too few reach
    it): that value fails closed, the values settled before it and the
    list's other chunks keep their own answers, and nothing waits."""
    read = _batch._read_answers
    calls: list[int] = []

    def one_short_once(*args: Any) -> Any:
        outcomes = read(*args)
        calls.append(len(outcomes))
        return outcomes[:-1] if len(calls) == 1 else outcomes

    monkeypatch.setattr(_batch, "_read_answers", one_short_once)

    def scopes(context: Any) -> dict[str, Any]:
        async def load(values: list[Any]) -> list[bool]:
            await asyncio.sleep(0)
            return [True] * len(values)

        return {"can": BatchScope(load, max_batch_size=4)}

    authz = AuthExtension(scopes)
    schema = _schema(authz, list(range(8)))
    result = await asyncio.wait_for(schema.execute("{ docs { id } }"), timeout=10)
    assert calls == [4, 4]
    served: list[Any] = [{"id": i} for i in range(8)]
    served[3] = None
    assert result.data == {"docs": served}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]


@pytest.mark.parametrize("pause", [False, True], ids=["same_turn", "while_asked"])
async def test_a_clear_while_a_list_waits_leaves_its_items_undecided(pause):
    """Its values were asked as the viewer before the clear: their answers
    are not served after it; the items fail closed."""

    def scopes(context: Any) -> dict[str, Any]:
        user = context["user"]

        async def load(values: list[Any]) -> list[bool]:
            await asyncio.sleep(0.01)
            return [user == "admin" for _ in values]

        return {"can": BatchScope(load)}

    authz = AuthExtension(scopes)
    # With a pause, the batch is running by the time the viewer switches.
    schema = asked_docs_schema(authz, [0, 1, 2], logout_after=0.001 if pause else 0)
    result = await asyncio.wait_for(
        schema.execute("{ docs { id text } logout }", context_value={"user": "admin"}),
        timeout=10,
    )
    assert result.data == {"docs": [None] * 3, "logout": True}
    assert "SECRET" not in dump(result)
