"""SPEC §2/§5 — post rules: decide with the resolver's result, never leak it."""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import codes, holder_schema

from strawberry_authz import AuthExtension, UnauthenticatedError

# -- helpers -------------------------------------------------------------------


def dump(result: Any) -> str:
    return repr((result.data, [error.formatted for error in result.errors or []]))


def make_authz(calls: list[Any] | None = None) -> AuthExtension:
    def load(context: Any) -> dict[str, Any]:
        def role(value: str) -> bool:
            if calls is not None:
                calls.append(value)
            return value in (context or {}).get("roles", ())

        return {"role": role, "yes": True}

    return AuthExtension(load)


SECRET = "TOP-SECRET-7731"


@strawberry.type
class Note:
    owner: str
    text: str


# -- the post rule sees the result --------------------------------------------------


@pytest.mark.parametrize("is_async_resolver", [False, True])
async def test_post_rule_receives_params_and_the_resolvers_result(is_async_resolver):
    authz = make_authz()
    seen: list[Any] = []

    def decide(params: Any, note: Any) -> bool:
        seen.append((params.args, params.context["me"], note))
        return note.owner == params.context["me"]

    if is_async_resolver:

        async def resolve(owner: str) -> Note | None:
            await asyncio.sleep(0)
            return Note(owner=owner, text=SECRET)

    else:

        def resolve(owner: str) -> Note | None:
            return Note(owner=owner, text=SECRET)

    @strawberry.type
    class Query:
        note: Note | None = strawberry.field(
            resolver=resolve, extensions=[authz.post_rule(decide)]
        )

    schema = strawberry.Schema(query=Query, extensions=[authz])
    mine = await schema.execute(
        '{ note(owner: "ann") { text } }', context_value={"me": "ann"}
    )
    assert mine.errors is None
    assert mine.data == {"note": {"text": SECRET}}
    theirs = await schema.execute(
        '{ note(owner: "bob") { text } }', context_value={"me": "ann"}
    )
    assert theirs.data == {"note": None}
    assert codes(theirs) == ["FORBIDDEN"]
    assert SECRET not in dump(theirs)
    assert [(args, me, note.owner) for args, me, note in seen] == [
        ({"owner": "ann"}, "ann", "ann"),
        ({"owner": "bob"}, "ann", "bob"),
    ]


def test_post_rule_runs_after_the_resolver_and_a_denial_keeps_its_side_effects():
    authz = make_authz()
    order: list[str] = []

    def decide(params: Any, result: Any) -> bool:
        order.append(f"post rule saw {result}")
        return False

    @strawberry.type
    class Query:
        @authz.post_rule(decide)
        @strawberry.field
        def value(self) -> str | None:
            order.append("resolver")
            return SECRET

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ value }")
    assert order == ["resolver", f"post rule saw {SECRET}"]
    assert result.data == {"value": None}
    assert SECRET not in dump(result)


# -- denial never returns the result -------------------------------------------------


def test_denied_nullable_field_is_null_with_a_forbidden_error():
    authz = make_authz()

    @strawberry.type
    class Query:
        @authz.post_rule(lambda params, note: note.owner == "nobody")
        @strawberry.field
        def note(self) -> Note | None:
            return Note(owner="ann", text=SECRET)

        @strawberry.field
        def other(self) -> str:
            return "still here"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ note { owner text } other }")
    assert result.data == {"note": None, "other": "still here"}
    assert codes(result) == ["FORBIDDEN"]
    assert result.errors[0].path == ["note"]
    assert SECRET not in str(result)
    assert "ann" not in str(result)


def test_denied_non_null_field_nulls_the_nearest_nullable_parent_without_leak():
    authz = make_authz()

    @strawberry.type
    class Box:
        label: str = "box label"

        @authz.post_rule(lambda params, text: SECRET not in text)
        @strawberry.field
        def text(self) -> str:
            return f"contains {SECRET}"

    @strawberry.type
    class Shelf:
        @strawberry.field
        def box(self) -> Box:
            return Box()

    @strawberry.type
    class Query:
        @strawberry.field
        def shelf(self) -> Shelf | None:
            return Shelf()

        @strawberry.field
        def sibling(self) -> str:
            return "sibling"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ shelf { box { label text } } sibling }")
    assert result.data == {"shelf": None, "sibling": "sibling"}
    assert codes(result) == ["FORBIDDEN"]
    assert result.errors[0].path == ["shelf", "box", "text"]
    assert SECRET not in str(result)
    assert SECRET not in dump(result)


def test_denied_non_null_root_field_nulls_the_whole_data_without_leak():
    authz = make_authz()

    @strawberry.type
    class Query:
        @authz.post_rule(lambda params, value: False)
        @strawberry.field
        def value(self) -> str:
            return SECRET

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ value }")
    assert result.data is None
    assert codes(result) == ["FORBIDDEN"]
    assert SECRET not in str(result)


def test_denied_list_item_only_nulls_that_item_when_items_are_nullable():
    authz = make_authz()

    @strawberry.type
    class Item:
        n: int

        @authz.post_rule(lambda params, text: params.root.n != 1)
        @strawberry.field
        def text(self) -> str | None:
            return f"text {self.n}" if self.n != 1 else SECRET

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return [Item(n=n) for n in range(3)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ items { text } }")
    assert result.data == {
        "items": [{"text": "text 0"}, {"text": None}, {"text": "text 2"}]
    }
    assert result.errors[0].path == ["items", 1, "text"]
    assert SECRET not in str(result)


# -- what a post rule may return --------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "expected", "error_codes"),
    [((), None, ["FORBIDDEN"]), (("admin",), SECRET, [])],
)
def test_post_rule_may_return_a_rule_set_checked_with_scopes(
    roles, expected, error_codes
):
    calls: list[Any] = []
    authz = make_authz(calls)

    @strawberry.type
    class Query:
        @authz.post_rule(
            lambda params, note: (
                True if note.owner == params.context["me"] else {"role": "admin"}
            )
        )
        @strawberry.field
        def note(self, owner: str) -> Note | None:
            return Note(owner=owner, text=SECRET)

    schema = strawberry.Schema(query=Query, extensions=[authz])
    context = {"me": "ann", "roles": roles}
    own = schema.execute_sync('{ note(owner: "ann") { text } }', context_value=context)
    assert own.data == {"note": {"text": SECRET}}
    assert calls == []  # a post rule returning True asks no scope
    other = schema.execute_sync(
        '{ note(owner: "bob") { text } }', context_value=context
    )
    assert other.data == {"note": None if expected is None else {"text": expected}}
    assert codes(other) == error_codes
    assert calls == ["admin"]


@pytest.mark.parametrize("allowed", [False, True])
async def test_async_post_rule_decides_after_awaiting(allowed):
    authz = make_authz()

    async def decide(params: Any, value: str) -> Any:
        await asyncio.sleep(0.001)
        return {"yes": True} if allowed else False

    @strawberry.type
    class Query:
        @authz.post_rule(decide)
        @strawberry.field
        async def value(self) -> str | None:
            return SECRET

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ value }")
    assert result.data == {"value": SECRET if allowed else None}
    assert codes(result) == ([] if allowed else ["FORBIDDEN"])


async def test_post_rule_raising_a_denial_error_reports_it_without_the_result():
    authz = make_authz()

    def decide(params: Any, value: str) -> bool:
        raise UnauthenticatedError()

    @strawberry.type
    class Query:
        @authz.post_rule(decide)
        @strawberry.field
        async def value(self) -> str | None:
            return SECRET

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ value }")
    assert result.data == {"value": None}
    assert codes(result) == ["UNAUTHENTICATED"]
    assert SECRET not in str(result)


# -- type_post_rule ----------------------------------------------------------------


def test_type_post_rule_checks_every_field_of_the_type_with_its_result():
    authz = make_authz()
    seen: list[tuple[str, Any]] = []

    def decide(params: Any, value: Any) -> bool:
        seen.append((params.info.field_name, value))
        return not (isinstance(value, str) and SECRET in value)

    @authz.type_post_rule(decide)
    @strawberry.type
    class Profile:
        name: str | None = "ann"
        password: str | None = SECRET

        @strawberry.field
        def bio(self) -> str | None:
            return f"bio with {SECRET}"

    schema = holder_schema(authz, "profile", Profile)
    result = schema.execute_sync("{ profile { name password bio } }")
    assert result.data == {"profile": {"name": "ann", "password": None, "bio": None}}
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]
    assert SECRET not in str(result)
    assert sorted(seen) == sorted(
        [("name", "ann"), ("password", SECRET), ("bio", f"bio with {SECRET}")]
    )


def test_type_post_rule_and_a_fields_own_post_rule_must_both_pass():
    authz = make_authz()

    @authz.type_post_rule(lambda params, value: value != "type says no")
    @strawberry.type
    class Thing:
        @authz.post_rule(lambda params, value: value != "field says no")
        @strawberry.field
        def value(self, text: str) -> str | None:
            return text

    schema = holder_schema(authz, "thing", Thing)
    result = schema.execute_sync(
        """{ thing {
            ok: value(text: "fine")
            a: value(text: "type says no")
            b: value(text: "field says no")
        } }"""
    )
    assert result.data == {"thing": {"ok": "fine", "a": None, "b": None}}
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]


# -- post rule together with a rule ------------------------------------------------


def _rule_and_post_rule_schema(
    authz: AuthExtension, form: str, ran: list[str]
) -> strawberry.Schema:
    def resolve(owner: str) -> Note | None:
        ran.append(owner)
        return Note(owner=owner, text=SECRET)

    def is_mine(params: Any, note: Any) -> bool:
        return note.owner == params.context["me"]

    if form == "decorators":

        @strawberry.type
        class Query:
            @authz.rule({"role": "reader"})
            @authz.post_rule(is_mine)
            @strawberry.field
            def note(self, owner: str) -> Note | None:
                return resolve(owner)

    else:

        @strawberry.type
        class Query:
            note: Note | None = strawberry.field(
                resolver=resolve,
                extensions=[authz.rule({"role": "reader"}), authz.post_rule(is_mine)],
            )

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("form", ["decorators", "extensions"])
@pytest.mark.parametrize(
    ("roles", "owner", "expected", "resolver_ran"),
    [
        ((), "ann", None, False),  # the pre rule denies: the resolver never runs
        (("reader",), "bob", None, True),  # pre passes, post denies
        (("reader",), "ann", SECRET, True),  # both pass
    ],
)
def test_rule_and_post_rule_on_one_field_must_both_pass(
    form, roles, owner, expected, resolver_ran
):
    authz = make_authz()
    ran: list[str] = []
    schema = _rule_and_post_rule_schema(authz, form, ran)
    authz.validate(schema)
    result = schema.execute_sync(
        f'{{ note(owner: "{owner}") {{ text }} }}',
        context_value={"me": "ann", "roles": roles},
    )
    assert result.data == {"note": None if expected is None else {"text": expected}}
    assert ran == ([owner] if resolver_ran else [])
    if expected is None:
        assert codes(result) == ["FORBIDDEN"]
        assert SECRET not in str(result)


def test_post_rule_with_a_type_rule_needs_both():
    authz = make_authz()

    @authz.type_rule({"role": "reader"})
    @strawberry.type
    class Box:
        @authz.post_rule(lambda params, text: text != SECRET)
        @strawberry.field
        def text(self, value: str) -> str | None:
            return value

    schema = holder_schema(authz, "box", Box)
    query = f'{{ box {{ ok: text(value: "fine") no: text(value: "{SECRET}") }} }}'
    reader = schema.execute_sync(query, context_value={"roles": ("reader",)})
    assert reader.data == {"box": {"ok": "fine", "no": None}}
    assert codes(reader) == ["FORBIDDEN"]
    assert SECRET not in dump(reader)
    anonymous = schema.execute_sync(query, context_value={"roles": ()})
    assert anonymous.data == {"box": {"ok": None, "no": None}}
