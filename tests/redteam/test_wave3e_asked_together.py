"""Red team, wave 3e: the values a list pass asks wait as one `AskedTogether`.

Each value a list pass asks stands in the scope cache as the pass's single
`AskedTogether` until its batch answers, and the batch writes its answer
there only where that object still stands. Whatever else asks one of those
values gets that value's answer, a clear makes every later value the fresh
loader's, and nobody waits forever.
"""

import asyncio
from typing import Any

import pytest
from authzkit import asked_docs_schema, dump

from strawberry_authz import AuthExtension, BatchScope


@pytest.mark.parametrize("drop_denied", [False, True], ids=["nulled", "dropped"])
async def test_a_value_asked_again_after_a_clear_never_gets_the_old_loaders_answer(
    drop_denied,
):
    """A list longer than `max_batch_size` sends its first chunk as the admin,
    then a resolver logs out and clears while the pass yields: the rest of
    the list asks the same values again, as the guest. The admin's chunk
    answering last must not become the answer of the values asked again.

    Red before the fix (items 2 and 3 served to the guest)."""
    asked: list[tuple[str, list[Any]]] = []

    def scopes(context: Any) -> dict[str, Any]:
        user = context["user"]

        async def load(values: list[Any]) -> list[bool]:
            asked.append((user, list(values)))
            # The admin's chunk (asked before the clear) answers last.
            await asyncio.sleep(0.05 if user == "admin" else 0.2)
            return [user == "admin" for _ in values]

        return {"can": BatchScope(load, max_batch_size=2)}

    authz = AuthExtension(scopes)
    schema = asked_docs_schema(
        authz, [1, 2, 1, 2, 3], logout_after=0, drop_denied=drop_denied
    )
    result = await asyncio.wait_for(
        schema.execute("{ docs { id text } logout }", context_value={"user": "admin"}),
        timeout=10,
    )
    assert result.data["logout"] is True
    assert "SECRET" not in dump(result)
    assert result.data["docs"] == ([] if drop_denied else [None] * 5)
    # The scenario: the admin's chunk was asked, and the values again as the guest.
    assert asked[0] == ("admin", [1, 2])
    assert ("guest", [1, 2]) in asked


async def test_a_clear_while_another_scopes_chunk_is_not_full_leaves_no_wait():
    """At the clear, scope `see` holds a value not sent yet (its chunk is not
    full): it is asked of the old loader, unremembered, and the list goes on
    with the fresh one; every item answers, none with the admin's answer.

    The request still waits for the old loader's batches (none outlives it).

    Red (a hang) if `ask_afresh` runs before the stale queues are sent:
    `_send` then counts them on the new `AskedTogether`, which their
    answers never count down. Red (a batch still running) if `ask_afresh`
    no longer keeps the old `AskedTogether` pending."""
    calls = {"started": 0, "done": 0}

    def scopes(context: Any) -> dict[str, Any]:
        user = context["user"]

        async def load(values: list[Any]) -> list[bool]:
            calls["started"] += 1
            await asyncio.sleep(0.2 if user == "admin" else 0.01)
            calls["done"] += 1
            return [user == "admin" for _ in values]

        return {
            "can": BatchScope(load, max_batch_size=2),
            "see": BatchScope(load, max_batch_size=50),
        }

    authz = AuthExtension(scopes)
    schema = asked_docs_schema(
        authz,
        [10, 1, 2, 11, 10, 3, 4, 12],
        rule=lambda p: {"can" if p.root.id < 10 else "see": p.root.id},
        logout_after=0,
    )
    result = await asyncio.wait_for(
        schema.execute("{ docs { id text } logout }", context_value={"user": "admin"}),
        timeout=10,
    )
    assert result.data == {"docs": [None] * 8, "logout": True}
    assert "SECRET" not in dump(result)
    assert calls["started"] == calls["done"] > 0


def _failing_first_chunk(asked: list[list[Any]]) -> Any:
    """`can`, batches of 2: a call holding 0 raises (with a message that must
    not reach the client); else even ids are allowed."""

    def scopes(context: Any) -> dict[str, Any]:
        async def load(values: list[Any]) -> list[bool]:
            asked.append(list(values))
            await asyncio.sleep(0.01 if 0 in values else 0)
            if 0 in values:
                raise RuntimeError("PYTHON-DETAIL engine down")
            return [value % 2 == 0 for value in values]

        return {"can": BatchScope(load, max_batch_size=2)}

    return scopes


async def test_values_of_two_lists_and_a_field_each_get_their_own_answer():
    """Two aliases of a list longer than a chunk, and fields asking values
    of the first one's later chunks while they run: each item and field
    gets its own value's answer, a failing chunk denies its own values
    only, and every field answers (no wait forever, no Python message).

    Red (a hang) if `_batch._settle` no longer wakes the `AskedTogether`
    whose last value it answered; red (wrong answers) if
    `AskedTogether.answer_waiters` answers the waiters of every key with
    the first outcome it is given."""
    asked: list[list[Any]] = []
    authz = AuthExtension(_failing_first_chunk(asked))
    schema = asked_docs_schema(authz, list(range(8)), guarded={"five": 5, "six": 6})
    result = await asyncio.wait_for(
        schema.execute("{ a: docs { id text } b: docs { id } five six }"),
        timeout=10,
    )
    allowed = {2, 4, 6}
    assert result.data["a"] == [
        {"id": i, "text": f"SECRET{i}"} if i in allowed else None for i in range(8)
    ]
    assert result.data["b"] == [{"id": i} if i in allowed else None for i in range(8)]
    assert result.data["five"] is None and result.data["six"] == "value-six"
    assert "SECRET1" not in dump(result) and "value-five" not in dump(result)
    assert "PYTHON-DETAIL" not in dump(result)
    assert sorted(v for call in asked for v in call) == list(range(8))


async def test_a_value_repeated_across_chunks_gets_its_own_answer_in_each():
    """Objects of later chunks whose value an earlier object of the same
    pass asked wait for that value, not the one asked just before them.

    Red if the pass's `known is asked` branch records the value asked last
    (`asked_values.append(asked_values[-1])`) instead of the object's own."""
    asked: list[list[Any]] = []

    def scopes(context: Any) -> dict[str, Any]:
        async def load(values: list[Any]) -> list[bool]:
            asked.append(list(values))
            await asyncio.sleep(0)
            return [value % 3 == 0 for value in values]

        return {"can": BatchScope(load, max_batch_size=3)}

    authz = AuthExtension(scopes)
    ids = [0, 1, 2, 3, 4, 5, 1, 0, 2, 3, 5, 4, 7, 6]
    schema = asked_docs_schema(authz, ids)
    result = await asyncio.wait_for(schema.execute("{ docs { id text } }"), timeout=10)
    assert result.data["docs"] == [
        {"id": i, "text": f"SECRET{i}"} if i % 3 == 0 else None for i in ids
    ]
    assert sorted(v for call in asked for v in call) == list(range(8))  # each once
