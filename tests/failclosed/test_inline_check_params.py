"""Issue 8.7 — inline checks give rule functions the field's real AuthParams."""

from typing import Any

import pytest
import strawberry

from strawberry_authz import AuthExtension


@strawberry.input
class Filter:
    owner_name: str


def build(seen: list[Any], *, guarded: bool) -> strawberry.Schema:
    authz = AuthExtension(lambda _: {"yes": True})

    def rule(params: Any) -> bool:
        seen.append((params.root, params.args))
        return params.args["filter"].owner_name == params.root.owner

    def maybe_guard(field: Any) -> Any:
        return authz.rule({"yes": True})(field) if guarded else field

    @strawberry.type
    class Doc:
        owner: str

        @maybe_guard
        @strawberry.field
        def sync_body(self, info: strawberry.Info, filter: Filter) -> str | None:
            return "body" if authz.check_sync(info, rule) else None

        @maybe_guard
        @strawberry.field
        async def async_body(self, info: strawberry.Info, filter: Filter) -> str | None:
            return "body" if await authz.check(info, rule) else None

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:
            return [Doc(owner="ann"), Doc(owner="bob")]

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("guarded", [False, True], ids=["plain", "guarded"])
@pytest.mark.parametrize("field", ["syncBody", "asyncBody"])
async def test_rule_function_of_an_inline_check_gets_converted_args_and_root(
    field, guarded
):
    seen: list[Any] = []
    schema = build(seen, guarded=guarded)
    result = await schema.execute(
        f'{{ docs {{ {field}(filter: {{ownerName: "ann"}}) }} }}'
    )
    assert not result.errors
    assert result.data == {"docs": [{field: "body"}, {field: None}]}
    assert [root.owner for root, _ in seen] == ["ann", "bob"]
    for _, args in seen:
        assert isinstance(args["filter"], Filter)
        assert args["filter"].owner_name == "ann"
