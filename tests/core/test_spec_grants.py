"""SPEC §6 — grants: static and computed, recorded after passing, never leaking."""

import asyncio
import random
from typing import Any

import pytest
import strawberry
from authzkit import codes

from strawberry_authz import AuthExtension, ConfigurationError

# -- helpers -------------------------------------------------------------------


def dump(result: Any) -> str:
    return repr((result.data, [error.formatted for error in result.errors or []]))


def error_paths(result: Any) -> list[list[Any]]:
    return sorted((error.path for error in result.errors or []), key=repr)


def make_authz() -> AuthExtension:
    return AuthExtension(
        lambda context: {
            "allow": True,
            "flag": lambda name: bool((context or {}).get(name)),
        }
    )


def secret_doc(authz: AuthExtension, rule: Any = None) -> Any:
    """A `Doc` type whose `secret` needs `rule` (default `$granted: read`)."""

    @strawberry.type
    class Doc:
        title: str = "title"

        @authz.rule(rule or {"$granted": "read"})
        @strawberry.field
        def secret(self) -> str | None:
            return "the secret"

    return Doc


def owned_doc(authz: AuthExtension, wait: Any = lambda doc: 0) -> Any:
    """A `Doc` of an `owner`: its `secret`, `secret of <owner>`, needs a grant.

    The secret is given after `wait(doc)` seconds.
    """

    @strawberry.type
    class Doc:
        owner: str

        @authz.rule({"$granted": "read"})
        @strawberry.field
        async def secret(self) -> str | None:
            await asyncio.sleep(wait(self))
            return f"secret of {self.owner}"

    return Doc


def doc_schema(authz: AuthExtension, Doc: Any, **rule_options: Any) -> Any:
    """`Query.doc` returns a `Doc`, allowed, with `rule_options` (grants=...)."""

    @strawberry.type
    class Query:
        @authz.rule({"allow": True}, **rule_options)
        @strawberry.field
        def doc(self) -> Doc | None:  # type: ignore[valid-type]
            return Doc()  # type: ignore[no-any-return]

    return strawberry.Schema(query=Query, extensions=[authz])


def granting_and_plain_schema() -> strawberry.Schema:
    """`granting` grants `read` to its `Doc`, `plain` the same without grants."""
    authz = make_authz()
    Doc = secret_doc(authz)

    @strawberry.type
    class Query:
        @authz.rule({"allow": True}, grants=["read"])
        @strawberry.field
        def granting(self) -> Doc:  # type: ignore[valid-type]
            return Doc()

        @authz.rule({"allow": True})
        @strawberry.field
        def plain(self) -> Doc:  # type: ignore[valid-type]
            return Doc()

    return strawberry.Schema(query=Query, extensions=[authz])


# -- static and computed grants ---------------------------------------------------


def test_static_grant_lets_the_returned_objects_fields_pass():
    authz = make_authz()
    schema = doc_schema(authz, secret_doc(authz), grants=["read"])
    result = schema.execute_sync("{ doc { title secret } }")
    assert result.errors is None
    assert result.data == {"doc": {"title": "title", "secret": "the secret"}}


def test_granted_field_is_forbidden_when_the_parent_granted_nothing():
    schema = granting_and_plain_schema()
    result = schema.execute_sync("{ plain { secret } }")
    assert result.data == {"plain": {"secret": None}}
    assert codes(result) == ["FORBIDDEN"]
    assert "the secret" not in dump(result)


def test_granted_field_is_forbidden_when_the_parent_granted_another_name():
    authz = make_authz()

    @strawberry.type
    class Doc(secret_doc(authz)):  # type: ignore[misc]
        @authz.rule({"$granted": "write"})
        @strawberry.field
        def editable(self) -> bool | None:
            return True

    @strawberry.type
    class Query:
        @authz.rule({"allow": True}, grants=["write"])
        @strawberry.field
        def doc(self) -> Doc:
            return Doc()

        @authz.rule({"allow": True}, grants=["read"])
        @strawberry.field
        def readable(self) -> Doc:
            return Doc()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ doc { secret editable } }")
    assert result.data == {"doc": {"secret": None, "editable": True}}
    assert error_paths(result) == [["doc", "secret"]]


@pytest.mark.parametrize("is_async", [False, True])
def test_computed_grants_receive_params_and_the_result(is_async):
    authz = make_authz()
    seen: list[Any] = []
    Doc = owned_doc(authz)

    def sync_grants(params: Any, result: Any) -> Any:
        seen.append((params.args, params.context, result.owner))
        return "read" if result.owner == params.context["me"] else []

    async def async_grants(params: Any, result: Any) -> Any:
        await asyncio.sleep(0)
        return sync_grants(params, result)

    @strawberry.type
    class Query:
        @authz.rule({"allow": True}, grants=async_grants if is_async else sync_grants)
        @strawberry.field
        def doc(self, owner: str) -> Doc:  # type: ignore[valid-type]
            return Doc(owner=owner)

    schema = strawberry.Schema(query=Query, extensions=[authz])
    query = (
        '{ mine: doc(owner: "ann") { secret } theirs: doc(owner: "bob") { secret } }'
    )
    result = asyncio.run(schema.execute(query, context_value={"me": "ann"}))
    assert result.data == {
        "mine": {"secret": "secret of ann"},
        "theirs": {"secret": None},
    }
    assert error_paths(result) == [["theirs", "secret"]]
    assert "secret of bob" not in dump(result)
    assert sorted(seen, key=repr) == [
        ({"owner": "ann"}, {"me": "ann"}, "ann"),
        ({"owner": "bob"}, {"me": "ann"}, "bob"),
    ]


@pytest.mark.parametrize("is_async", [False, True])
async def test_computed_grants_may_return_a_list_of_names(is_async):
    authz = make_authz()
    Doc = secret_doc(
        authz, {"$and": {"$granted": "read"}, "$or": {"$granted": "audit"}}
    )

    def grants(params: Any, result: Any) -> list[str]:
        return ["read", "audit"]

    async def async_grants(params: Any, result: Any) -> list[str]:
        return ["read", "audit"]

    schema = doc_schema(authz, Doc, grants=async_grants if is_async else grants)
    result = await schema.execute("{ doc { secret } }")
    assert result.errors is None
    assert result.data == {"doc": {"secret": "the secret"}}


def test_post_rule_grants_are_given_once_the_post_rule_passed():
    authz = make_authz()

    @strawberry.type
    class Doc:
        public: bool

        @authz.rule({"$granted": "read"})
        @strawberry.field
        def secret(self) -> str | None:
            return "the secret"

    @strawberry.type
    class Query:
        @authz.post_rule(lambda params, doc: doc.public, grants=["read"])
        @strawberry.field
        def doc(self, public: bool) -> Doc | None:
            return Doc(public=public)

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync(
        "{ a: doc(public: true) { secret } b: doc(public: false) { secret } }"
    )
    assert result.data == {"a": {"secret": "the secret"}, "b": None}
    assert error_paths(result) == [["b"]]


# -- recorded only after resolving and passing ------------------------------------


def test_grants_are_not_computed_when_a_post_rule_denies():
    authz = make_authz()
    computed: list[Any] = []
    Doc = secret_doc(authz)

    def grants(params: Any, result: Any) -> str:
        computed.append(result)
        return "read"

    @strawberry.type
    class Query:
        @authz.post_rule(lambda params, doc: False, grants=grants)
        @strawberry.field
        def doc(self) -> Doc | None:  # type: ignore[valid-type]
            return Doc()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ doc { secret } }")
    assert result.data == {"doc": None}
    assert codes(result) == ["FORBIDDEN"]
    assert computed == []
    assert "the secret" not in dump(result)


def test_grants_are_not_computed_when_the_type_rule_or_defaults_deny():
    computed: list[Any] = []
    authz = AuthExtension(
        lambda context: {"allow": True, "deny": False},
        default_scopes={"Query": {"deny": True}},
    )

    def grants(params: Any, result: Any) -> str:
        computed.append(result)
        return "read"

    Doc = secret_doc(authz)

    @authz.type_rule({"deny": True})
    @strawberry.type
    class Box:
        @authz.rule({"allow": True}, grants=grants)
        @strawberry.field
        def doc(self) -> Doc | None:  # type: ignore[valid-type]
            return Doc()

    @strawberry.type
    class Query:
        @authz.rule({"allow": True}, grants=grants)
        @strawberry.field
        def doc(self) -> Doc | None:  # type: ignore[valid-type]
            return Doc()

        @authz.rule({"allow": True}, skip_defaults=True)
        @strawberry.field
        def box(self) -> Box:
            return Box()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ doc { secret } box { doc { secret } } }")
    assert result.data == {"doc": None, "box": {"doc": None}}
    assert computed == []


def test_grants_are_not_computed_when_the_resolver_raises():
    authz = make_authz()
    computed: list[Any] = []
    Doc = secret_doc(authz)

    @strawberry.type
    class Query:
        @authz.rule({"allow": True}, grants=lambda p, r: computed.append(r) or "read")
        @strawberry.field
        def doc(self) -> Doc | None:  # type: ignore[valid-type]
            raise ValueError("boom")

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ doc { secret } }")
    assert result.data == {"doc": None}
    assert computed == []


# -- scope of a grant --------------------------------------------------------------


async def test_every_item_of_a_granting_list_field_sees_the_grant():
    authz = make_authz()
    Doc = owned_doc(authz)

    @strawberry.type
    class Query:
        @authz.rule({"allow": True}, grants=["read"])
        @strawberry.field
        def docs(self) -> list[Doc]:  # type: ignore[valid-type]
            return [Doc(owner=str(n)) for n in range(5)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ docs { owner secret } }")
    assert result.errors is None
    assert result.data == {
        "docs": [{"owner": str(n), "secret": f"secret of {n}"} for n in range(5)]
    }


def test_items_of_a_nested_list_see_the_grant_of_the_list_field():
    authz = make_authz()
    Doc = secret_doc(authz)

    @strawberry.type
    class Query:
        @authz.rule({"allow": True}, grants=["read"])
        @strawberry.field
        def grid(self) -> list[list[Doc]]:  # type: ignore[valid-type]
            return [[Doc(), Doc()], [Doc()]]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ grid { secret } }")
    assert result.errors is None
    seen = {"secret": "the secret"}
    assert result.data == {"grid": [[seen, seen], [seen]]}


def test_grants_are_not_inherited_by_grandchildren():
    authz = make_authz()

    @strawberry.type
    class Page:
        @authz.rule({"$granted": "read"})
        @strawberry.field
        def text(self) -> str | None:
            return "page text"

    @strawberry.type
    class Doc(secret_doc(authz)):  # type: ignore[misc]
        @strawberry.field
        def page(self) -> Page:
            return Page()

        @authz.rule({"allow": True}, grants=["read"])
        @strawberry.field
        def granted_page(self) -> Page:
            return Page()

    @strawberry.type
    class Query:
        @authz.rule({"allow": True}, grants=["read"])
        @strawberry.field
        def doc(self) -> Doc:
            return Doc()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync(
        "{ doc { secret page { text } grantedPage { text } } }"
    )
    assert result.data == {
        "doc": {
            "secret": "the secret",
            "page": {"text": None},
            "grantedPage": {"text": "page text"},
        }
    }
    assert error_paths(result) == [["doc", "page", "text"]]


def test_grant_of_one_field_is_not_seen_under_a_sibling_field():
    schema = granting_and_plain_schema()
    result = schema.execute_sync(
        "{ granting { secret } plain { secret } again: granting { secret } }"
    )
    assert result.data == {
        "granting": {"secret": "the secret"},
        "plain": {"secret": None},
        "again": {"secret": "the secret"},
    }
    assert error_paths(result) == [["plain", "secret"]]


# -- no leak: aliases, list items, requests ------------------------------------------


async def test_computed_grant_of_one_alias_never_leaks_to_another_alias():
    authz = make_authz()
    Doc = owned_doc(authz)

    @strawberry.type
    class Query:
        @authz.rule(
            {"allow": True}, grants=lambda params, doc: ["read"] * params.args["open"]
        )
        @strawberry.field
        async def doc(self, name: str, open: bool, delay: float) -> Doc:  # type: ignore[valid-type]
            await asyncio.sleep(delay)
            return Doc(owner=name)

    schema = strawberry.Schema(query=Query, extensions=[authz])
    query = """{
        a: doc(name: "a", open: false, delay: 0.03) { secret }
        b: doc(name: "b", open: true, delay: 0.0) { secret }
        c: doc(name: "c", open: false, delay: 0.01) { secret }
        d: doc(name: "d", open: true, delay: 0.02) { secret }
    }"""
    result = await schema.execute(query)
    assert result.data == {
        "a": {"secret": None},
        "b": {"secret": "secret of b"},
        "c": {"secret": None},
        "d": {"secret": "secret of d"},
    }
    assert error_paths(result) == [["a", "secret"], ["c", "secret"]]
    assert "secret of a" not in dump(result)
    assert "secret of c" not in dump(result)


async def test_per_item_computed_grant_never_leaks_to_a_sibling_item():
    authz = make_authz()
    finished: list[int] = []
    done = [asyncio.Event() for _ in range(11)]
    done[10].set()

    Detail = owned_doc(authz, wait=lambda detail: 0.001 * (10 - int(detail.owner)))

    @strawberry.type
    class Item:
        n: int

        @authz.rule(
            {"allow": True},
            grants=lambda params, detail: (
                "read" if int(detail.owner) % 3 == 0 else None
            ),
        )
        @strawberry.field
        async def detail(self) -> Detail:  # type: ignore[valid-type]
            # Later items finish first: each waits for the next one.
            await done[self.n + 1].wait()
            await asyncio.sleep(0)
            finished.append(self.n)
            done[self.n].set()
            return Detail(owner=str(self.n))

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return [Item(n=n) for n in range(10)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ items { n detail { secret } } }")
    assert finished == list(range(9, -1, -1))
    assert result.data == {
        "items": [
            {"n": n, "detail": {"secret": f"secret of {n}" if n % 3 == 0 else None}}
            for n in range(10)
        ]
    }
    assert error_paths(result) == sorted(
        (["items", n, "detail", "secret"] for n in range(10) if n % 3), key=repr
    )
    for n in range(10):
        if n % 3:
            assert f"secret of {n}'" not in dump(result)


async def test_async_per_item_grants_never_leak_to_a_sibling_item():
    authz = make_authz()

    @strawberry.type
    class Detail:
        n: int

        @authz.rule({"$granted": "read"})
        @strawberry.field
        def secret(self) -> str | None:
            return f"secret {self.n}"

    async def grants(params: Any, detail: Any) -> list[str]:
        await asyncio.sleep(0.001 * (8 - detail.n))
        return ["read"] if detail.n % 2 else []

    @strawberry.type
    class Item:
        n: int

        @authz.rule({"allow": True}, grants=grants)
        @strawberry.field
        async def detail(self) -> Detail:
            await asyncio.sleep(0.001 * (8 - self.n))
            return Detail(n=self.n)

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return [Item(n=n) for n in range(8)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ items { detail { secret } } }")
    assert result.data == {
        "items": [
            {"detail": {"secret": f"secret {n}" if n % 2 else None}} for n in range(8)
        ]
    }


async def test_grants_never_leak_to_another_concurrent_request():
    authz = make_authz()
    Doc = owned_doc(authz, wait=lambda doc: random.random() / 200)

    async def grants(params: Any, doc: Any) -> list[str]:
        await asyncio.sleep(random.random() / 200)
        return ["read"] if params.context["me"] == doc.owner else []

    @strawberry.type
    class Query:
        @authz.rule({"allow": True}, grants=grants)
        @strawberry.field
        async def doc(self, owner: str) -> Doc:  # type: ignore[valid-type]
            await asyncio.sleep(random.random() / 200)
            return Doc(owner=owner)

    schema = strawberry.Schema(query=Query, extensions=[authz])
    query = '{ doc(owner: "u0") { secret } }'
    users = [f"u{n % 4}" for n in range(24)]
    results = await asyncio.gather(
        *(schema.execute(query, context_value={"me": me}) for me in users)
    )
    for me, result in zip(users, results, strict=True):
        if me == "u0":
            assert result.errors is None
            assert result.data == {"doc": {"secret": "secret of u0"}}
        else:
            assert result.data == {"doc": {"secret": None}}
            assert codes(result) == ["FORBIDDEN"]
            assert "secret of u0" not in dump(result)


# -- a field that only gives grants (issue 19, point 12) --------------------------


def _grants_only_schema(**options: Any) -> strawberry.Schema:
    authz = AuthExtension(
        lambda context: {"logged_in": bool((context or {}).get("user"))}, **options
    )

    @strawberry.type
    class Profile:
        @authz.rule({"$granted": "self"})
        @strawberry.field
        def email(self) -> str | None:
            return "me@example.com"

    @strawberry.type
    class Query:
        @authz.grants(["self"])
        @strawberry.field
        def me(self) -> Profile | None:
            return Profile()

        @authz.grants(lambda params, profile: ["self"] if profile else [])
        @strawberry.field
        def computed(self) -> Profile | None:
            return Profile()

    return strawberry.Schema(query=Query, extensions=[authz])


def test_authz_grants_gives_grants_without_a_rule_of_its_own():
    schema = _grants_only_schema(default_scopes={"Query": {"logged_in": True}})
    result = schema.execute_sync(
        "{ me { email } computed { email } }", context_value={"user": "ada"}
    )
    assert result.data == {
        "me": {"email": "me@example.com"},
        "computed": {"email": "me@example.com"},
    }
    anonymous = schema.execute_sync("{ me { email } }", context_value={})
    assert anonymous.data == {"me": None}  # the default scopes still apply


def test_a_grants_only_field_is_not_an_allow_under_deny_by_default():
    schema = _grants_only_schema(fallback_rule=False)
    result = schema.execute_sync("{ me { email } }", context_value={"user": "ada"})
    assert result.data == {"me": None}
    assert codes(result) == ["FORBIDDEN"]  # no rule of its own: the fallback


def test_authz_grants_with_a_rule_on_the_same_field_is_refused_at_validate():
    authz = make_authz()

    @strawberry.type
    class Query:
        @authz.grants(["read"])
        @authz.rule({"allow": True}, grants=["read"])
        @strawberry.field
        def doc(self) -> str | None:
            return "doc"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with pytest.raises(ConfigurationError, match="grants= given on both"):
        authz.validate(schema)
