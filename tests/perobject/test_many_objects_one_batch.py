"""A list of objects decided in one pass: every object gets its own answer.

With an event loop, a rule function returning one `BatchScope` value per
object is asked without a call per object, and the errors of denied items
are made once per error and copied: neither may hand one object's answer,
or one denial's error, to another.
"""

from typing import Any

import pytest
import strawberry
from authzkit import dump
from graphql import GraphQLError

from strawberry_authz import AuthExtension, BatchScope

OWNERS = ["me", "other", "me", "shared", "other", "me"]


def schema(load_fn: Any, rule: Any, *, on_object: bool, **options: Any):
    authz = AuthExtension(lambda _: {"owns": BatchScope(load_fn)}, **options)

    @authz.type_rule(rule, on_object=on_object)
    @strawberry.type
    class Doc:
        owner: strawberry.Private[str]
        text: str

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return [
                Doc(owner=owner, text="mine" if owner == "me" else "LEAK")
                for owner in OWNERS
            ]

    return strawberry.Schema(query=Query, extensions=[authz])


def owner_rule(params: Any) -> Any:
    return {"owns": params.root.owner}


@pytest.mark.parametrize("on_object", [False, True], ids=["type_rule", "on_object"])
async def test_a_value_many_objects_share_is_asked_once_and_decides_each(on_object):
    asked: list[list[Any]] = []

    async def owns(values: list[Any]) -> list[bool]:
        asked.append(list(values))
        return [value == "me" for value in values]

    result = await schema(owns, owner_rule, on_object=on_object).execute(
        "{ docs { text } }"
    )
    assert "LEAK" not in dump(result)
    mine = {"text": "mine"}
    assert result.data == {"docs": [mine, None, mine, None, None, mine]}
    assert asked == [["me", "other", "shared"]]


@pytest.mark.parametrize("on_object", [False, True], ids=["type_rule", "on_object"])
async def test_objects_whose_rules_answer_other_shapes_are_decided_their_own_way(
    on_object,
):
    """Only some objects' rules return one batch value; the others return
    `True`, `False` or a rule set, and each is decided by what it returned."""

    async def owns(values: list[Any]) -> list[bool]:
        return [value == "me" for value in values]

    def rule(params: Any) -> Any:
        owner = params.root.owner
        if owner == "shared":
            return True
        if owner == "other":
            return {"$or": [{"owns": "nobody"}, {"owns": owner}]}
        return {"owns": owner}

    result = await schema(owns, rule, on_object=on_object).execute("{ docs { text } }")
    assert "LEAK" in dump(result)  # the "shared" one, which its rule allows
    data = [item and item["text"] for item in result.data["docs"]]
    assert data == ["mine", None, "mine", "LEAK", None, "mine"]


async def test_denied_items_keep_the_error_of_what_denied_each():
    """Items denied by `False` and by an error raised for their value: each
    item's error is its own denial's, at its own path."""

    async def owns(values: list[Any]) -> list[Any]:
        return [
            True
            if value == "me"
            else GraphQLError("Shared with you no more.", extensions={"code": "GONE"})
            if value == "shared"
            else False
            for value in values
        ]

    result = await schema(owns, owner_rule, on_object=True).execute("{ docs { text } }")
    assert "LEAK" not in dump(result)
    errors = sorted(result.errors, key=lambda error: error.path)
    assert [error.path for error in errors] == [
        ["docs", 1],
        ["docs", 3],
        ["docs", 4],
    ]
    assert [error.extensions["code"] for error in errors] == [
        "FORBIDDEN",
        "GONE",
        "FORBIDDEN",
    ]
    assert errors[1].message == "Shared with you no more."
    # Every item raised its own copy: none is the same object as another.
    originals = [error.original_error for error in errors]
    assert len({id(error) for error in originals}) == 3


async def test_error_hooks_still_see_every_denied_item_at_its_path():
    seen: list[Any] = []

    def error_resolver(error: Exception, path: list[Any]) -> None:
        seen.append(path)

    async def owns(values: list[Any]) -> list[bool]:
        return [value == "me" for value in values]

    authz_schema = schema(
        owns, owner_rule, on_object=True, error_resolver=error_resolver
    )
    result = await authz_schema.execute("{ docs { text } }")
    assert "LEAK" not in dump(result)
    assert sorted(seen) == [["docs", 1], ["docs", 3], ["docs", 4]]


async def test_a_value_of_the_wrong_declared_type_is_never_asked():
    """With `scopes=` declared, each returned value is checked against its
    type before it is asked: the one-value shortcut skips no check."""
    asked: list[Any] = []

    async def owns(values: list[Any]) -> list[bool]:
        asked.extend(values)
        return [True for _ in values]

    def rule(params: Any) -> Any:
        owner = params.root.owner
        return {"owns": 3 if owner == "other" else owner}

    result = await schema(owns, rule, on_object=True, scopes={"owns": str}).execute(
        "{ docs { text } }"
    )
    assert "LEAK" in dump(result)  # the "shared" one, which the batch allows
    data = [item and item["text"] for item in result.data["docs"]]
    assert data == ["mine", None, "mine", "LEAK", None, "mine"]
    assert 3 not in asked


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_each_denial_of_a_batch_names_the_value_it_denied(is_async):
    """Denials of one batch share an error, not a reason: each names its own
    value (made when read, so thousands cost nothing until logged)."""
    decisions: list[Any] = []

    def owns(values: list[Any]) -> list[bool]:
        return [value == "me" for value in values]

    async def owns_async(values: list[Any]) -> list[bool]:
        return owns(values)

    built = schema(
        owns_async if is_async else owns,
        owner_rule,
        on_object=True,
        on_decision=decisions.append,
    )
    if is_async:
        result = await built.execute("{ docs { text } }")
    else:
        result = built.execute_sync("{ docs { text } }")
    assert "LEAK" not in dump(result)
    reasons = {tuple(d.path): d.reason for d in decisions if not d.allowed and d.path}
    assert reasons[("docs", 1)] == "scope 'owns' denied 'other'"
    assert reasons[("docs", 3)] == "scope 'owns' denied 'shared'"
    assert reasons[("docs", 4)] == "scope 'owns' denied 'other'"
