"""Third wave: failures, error_reasons, on_error hooks, capabilities, relay,
subscriptions, interfaces on root types and the audit log where they meet.

What held is in docs/security.md.
"""

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from authzkit import codes, docs_schema, dump, owners_schema, ruled_type
from strawberry import relay

from strawberry_authz import AuthExtension, BatchScope, ForbiddenError
from strawberry_authz.audit import AuditLog


def not_blocked_type(authz: AuthExtension) -> Any:
    """`Doc` (`id`), allowed when `{"$not": {"blocked": id}}` passes (on_object)."""
    return ruled_type(
        authz,
        "Doc",
        {"id": int},
        lambda p: {"$not": {"blocked": p.root.id}},
        on_object=True,
    )


def by_user(context: Any) -> dict[str, Any]:
    user = (context or {}).get("user")
    return {"user": lambda value: user == value, "admin": user == "admin"}


async def test_a_denial_lists_no_reasons_unless_asked():
    authz = AuthExtension(by_user)

    @strawberry.type
    class Query:
        @authz.rule({"$or": [{"admin": True}, {"user": "carol"}]})
        @strawberry.field
        def secret(self) -> str | None:
            return "SECRET"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ secret }", context_value={"user": "bob"})
    assert codes(result) == ["FORBIDDEN"]
    assert "reasons" not in (result.errors[0].extensions or {})
    assert "carol" not in dump(result) and "admin" not in dump(result)


@pytest.mark.parametrize("where", ["load_scopes", "batch", "batch_item"])
async def test_a_failure_under_not_is_internal_never_a_pass_never_text(where):
    def load_fn(values: list[Any]) -> Any:
        if where == "batch":
            raise RuntimeError("BATCH-SECRET")
        return [RuntimeError("ITEM-SECRET")] * len(values)

    def load_scopes(context: Any) -> Any:
        if where == "load_scopes":
            raise RuntimeError("SCOPES-SECRET")
        return {"blocked": BatchScope(load_fn)}

    authz = AuthExtension(load_scopes)
    Doc = not_blocked_type(authz)

    async def docs() -> list[Any]:
        return [Doc(id=1), Doc(id=2)]

    schema = docs_schema(authz, Doc, docs)
    result = await schema.execute("{ docs { id } }")
    assert "SECRET" not in dump(result)
    assert result.data["docs"] == [None, None]
    assert set(codes(result)) == {"INTERNAL_SERVER_ERROR"}


async def test_a_post_rules_on_error_never_rewrites_the_defaults_denial():
    def hide(_error: Any, _path: Any) -> Exception:
        return ForbiddenError("Not found.", extensions={"code": "NOT_FOUND"})

    authz = AuthExtension(
        lambda c: {"logged_in": bool((c or {}).get("user"))},
        default_scopes={"Query": {"logged_in": True}},
    )

    @strawberry.type
    class Query:
        @authz.post_rule(lambda p, result: result == p.context["user"], on_error=hide)
        @strawberry.field
        def note(self) -> str | None:
            return "alice"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    anonymous = await schema.execute("{ note }", context_value={})
    assert codes(anonymous) == ["FORBIDDEN"] or codes(anonymous) == ["UNAUTHENTICATED"]
    assert "NOT_FOUND" not in codes(anonymous)
    bob = await schema.execute("{ note }", context_value={"user": "bob"})
    assert bob.data == {"note": None} and "alice" not in dump(bob)


async def test_an_on_error_hook_that_raises_leaks_nothing_and_denies():
    def broken(_error: Any, _path: Any) -> Exception:
        raise RuntimeError("HOOK-SECRET")

    authz = AuthExtension(by_user)

    @strawberry.type
    class Query:
        @authz.rule({"admin": True}, on_error=broken)
        @strawberry.field
        def secret(self) -> str | None:
            return "SECRET-DATA"

        @authz.post_rule(lambda p, r: False, on_error=broken)
        @strawberry.field
        def later(self) -> str | None:
            return "LATER-DATA"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ secret later }", context_value={"user": "bob"})
    assert "SECRET" not in dump(result) and "LATER-DATA" not in dump(result)
    assert result.data == {"secret": None, "later": None}


def capability_schema() -> strawberry.Schema:
    authz = AuthExtension(by_user, fallback_rule=False)

    @authz.type_rule(lambda p: p.context.get("user") == p.root.owner, on_object=True)
    @strawberry.type
    class Doc:
        owner: str
        can_edit: bool = authz.can_field(lambda p: True)
        permissions = authz.permissions_field({"edit": {"admin": False}})

    @strawberry.type
    class Query:
        @authz.rule(True)
        @strawberry.field
        def doc(self) -> Doc | None:
            return Doc(owner="alice")

        @authz.rule(True)
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return [Doc(owner="alice"), Doc(owner="bob")]

    return strawberry.Schema(query=Query, extensions=[authz])


async def test_a_capability_under_a_denied_object_is_never_served():
    schema = capability_schema()
    result = await schema.execute(
        "{ doc { canEdit permissions { name allowed } } "
        "docs { owner canEdit permissions { name allowed } } }",
        context_value={"user": "bob"},
    )
    assert result.data["doc"] is None
    assert result.data["docs"][0] is None
    assert result.data["docs"][1]["owner"] == "bob"
    assert result.data["docs"][1]["canEdit"] is True
    assert "alice" not in dump(result)


def relay_schema(drop: bool) -> strawberry.Schema:
    authz = AuthExtension(by_user, fallback_rule=False)

    @authz.type_rule(
        lambda p: p.context.get("user") == p.root.owner,
        on_object=True,
        drop_denied=drop,
    )
    @strawberry.type
    class Doc(relay.Node):
        code: relay.NodeID[str]
        owner: str

    @strawberry.type
    class Query:
        @authz.rule(True)
        @relay.connection(relay.ListConnection[Doc])
        async def docs(self) -> list[Doc]:
            return [Doc(code="a", owner="alice"), Doc(code="b", owner="bob")]

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("drop", [False, True])
async def test_relay_edges_under_deny_by_default_never_serve_a_denied_node(drop):
    """`Edge.node` is non-null: a denied node nulls the connection (closed,
    with or without drop_denied; a page without it comes from authz.filter)."""
    schema = relay_schema(drop)
    query = "{ docs { edges { cursor node { owner } } pageInfo { hasNextPage } } }"
    result = await schema.execute(query, context_value={"user": "alice"})
    assert "bob" not in dump(result)
    assert result.data is None
    assert codes(result) == ["FORBIDDEN"]
    assert result.errors[0].path == ["docs", "edges", 1, "node"]


async def test_subscription_events_that_are_lists_are_decided_item_by_item():
    records: list[dict[str, Any]] = []
    authz = AuthExtension(
        by_user, on_decision=AuditLog(records.append, only_denied=True)
    )

    @authz.type_rule(lambda p: p.context.get("user") == p.root.owner, on_object=True)
    @strawberry.type
    class Doc:
        owner: str

    @strawberry.type
    class Query:
        ok: bool = True

    @strawberry.type
    class Subscription:
        @authz.rule(True)
        @strawberry.subscription
        async def batches(self) -> AsyncGenerator[list[Doc | None], None]:
            for owners in (["alice", "bob"], ["bob"]):
                yield [Doc(owner=o) for o in owners]

    schema = strawberry.Schema(
        query=Query, subscription=Subscription, extensions=[authz]
    )
    stream = await schema.subscribe(
        "subscription { batches { owner } }", context_value={"user": "alice"}
    )
    events = [event async for event in stream]
    assert "bob" not in dump(events)
    assert events[0].data == {"batches": [{"owner": "alice"}, None]}
    assert events[1].data == {"batches": [None]}
    assert len(records) == 2 and {r["effect"] for r in records} == {"deny"}


async def test_an_object_rule_on_an_interface_a_root_type_implements_is_enforced():
    authz = AuthExtension(by_user)

    @authz.type_rule({"admin": True}, on_object=True)
    @strawberry.interface
    class Guarded:
        secret: str

    @strawberry.type
    class Query(Guarded):
        secret: str = "ROOT-SECRET"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    bob = await schema.execute(
        "{ secret }", context_value={"user": "bob"}, root_value=Query()
    )
    assert "ROOT-SECRET" not in dump(bob) and codes(bob) == ["FORBIDDEN"]
    admin = await schema.execute(
        "{ secret }", context_value={"user": "admin"}, root_value=Query()
    )
    assert admin.data == {"secret": "ROOT-SECRET"}


async def test_two_viewers_at_once_never_share_batch_answers():
    gate = asyncio.Event()

    def load_scopes(context: Any) -> dict[str, Any]:
        user = context["user"]

        async def load_fn(values: list[Any]) -> list[bool]:
            if user == "alice":
                await gate.wait()
            else:
                gate.set()
            return [value == user for value in values]

        return {"owns": BatchScope(load_fn)}

    authz = AuthExtension(load_scopes)
    schema = owners_schema(authz, ["alice", "bob"])
    a, b = await asyncio.gather(
        schema.execute("{ docs { owner } }", context_value={"user": "alice"}),
        schema.execute("{ docs { owner } }", context_value={"user": "bob"}),
    )
    assert a.data == {"docs": [{"owner": "alice"}]}
    assert b.data == {"docs": [{"owner": "bob"}]}


@pytest.mark.parametrize(
    "answer",
    [
        lambda vs: ["false"] * len(vs),
        lambda vs: [0] * len(vs),
        lambda vs: {v: "no" for v in vs},
        lambda vs: [None] * len(vs),
        lambda vs: iter([False] * len(vs)),
        lambda vs: [False] * (len(vs) + 1),
    ],
    ids=["text", "zero", "map-text", "none", "iterator", "too-many"],
)
async def test_a_batch_answer_that_is_not_a_bool_never_passes_a_not(answer):
    authz = AuthExtension(lambda c: {"blocked": BatchScope(answer)})
    Doc = not_blocked_type(authz)

    async def docs() -> Any:
        yield Doc(id=1)

    schema = docs_schema(authz, Doc, docs)
    result = await schema.execute("{ docs { id } }")
    assert result.data == {"docs": [None]}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
