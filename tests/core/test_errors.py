"""SPEC §8 — errors: codes, $or/$race precedence, error hooks, no leaks."""

import asyncio
import logging
from typing import Any

import pytest
import strawberry
from authzkit import codes
from graphql import GraphQLError

from strawberry_authz import AuthExtension, ForbiddenError, UnauthenticatedError

# -- helpers -------------------------------------------------------------------


def dump(result: Any) -> str:
    return repr((result.data, [error.formatted for error in result.errors or []]))


def raising(error: Exception, *, is_async: bool = False) -> Any:
    def loader(value: Any) -> bool:
        raise error

    async def async_loader(value: Any) -> bool:
        await asyncio.sleep(0)
        raise error

    return async_loader if is_async else loader


def answering(answer: bool, *, is_async: bool = False) -> Any:
    def loader(value: Any) -> bool:
        return answer

    async def async_loader(value: Any) -> bool:
        await asyncio.sleep(0)
        return answer

    return async_loader if is_async else loader


def scopes_for(is_async: bool = False) -> dict[str, Any]:
    return {
        "anonymous": raising(UnauthenticatedError(), is_async=is_async),
        "not_member": raising(ForbiddenError("Not a member."), is_async=is_async),
        "not_owner": raising(ForbiddenError("Not the owner."), is_async=is_async),
        "no": answering(False, is_async=is_async),
        "yes": answering(True, is_async=is_async),
        "broken": raising(
            RuntimeError("SELECT * FROM users -- secret"), is_async=is_async
        ),
    }


def one_field_schema(authz: AuthExtension, rules: Any, **options: Any) -> Any:
    @strawberry.type
    class Query:
        @authz.rule(rules, **options)
        @strawberry.field
        def value(self) -> str | None:
            return "the value"

    return strawberry.Schema(query=Query, extensions=[authz])


async def run(rules: Any, *, is_async: bool = False, **options: Any) -> Any:
    # With the branches' reasons (off by default): what they hold is pinned here.
    authz = AuthExtension(lambda context: scopes_for(is_async), error_reasons=True)
    return await one_field_schema(authz, rules, **options).execute("{ value }")


# -- error classes -------------------------------------------------------------


def test_forbidden_error_is_a_graphql_error_with_its_code():
    error = ForbiddenError()
    assert isinstance(error, GraphQLError)
    assert error.extensions["code"] == "FORBIDDEN"
    assert error.message


def test_unauthenticated_error_is_a_graphql_error_with_its_code():
    error = UnauthenticatedError()
    assert isinstance(error, GraphQLError)
    assert error.extensions["code"] == "UNAUTHENTICATED"
    assert error.message


@pytest.mark.parametrize(
    ("cls", "code"),
    [(ForbiddenError, "FORBIDDEN"), (UnauthenticatedError, "UNAUTHENTICATED")],
)
def test_denial_errors_keep_their_code_with_a_custom_message_and_extensions(cls, code):
    error = cls("Custom words.", extensions={"hint": "ask an admin"})
    assert error.message == "Custom words."
    assert error.extensions == {"code": code, "hint": "ask an admin"}


@pytest.mark.parametrize(
    ("cls", "code"),
    [(ForbiddenError, "FORBIDDEN"), (UnauthenticatedError, "UNAUTHENTICATED")],
)
async def test_raised_denial_error_reaches_the_client_with_message_and_extensions(
    cls, code
):
    error = cls("Custom words.", extensions={"hint": "ask an admin"})
    authz = AuthExtension(lambda context: {"s": raising(error)})
    result = await one_field_schema(authz, {"s": True}).execute("{ value }")
    assert result.data == {"value": None}
    [reported] = result.errors
    assert reported.message == "Custom words."
    assert reported.extensions == {"code": code, "hint": "ask an admin"}
    assert reported.path == ["value"]


# -- what a denied field reports -----------------------------------------------


@pytest.mark.parametrize("is_async", [False, True])
async def test_denied_field_reports_forbidden_by_default(is_async):
    result = await run({"no": True}, is_async=is_async)
    assert result.data == {"value": None}
    assert codes(result) == ["FORBIDDEN"]
    assert isinstance(result.errors[0].original_error, ForbiddenError)


@pytest.mark.parametrize("is_async", [False, True])
async def test_own_error_of_a_loader_is_reported_instead_of_forbidden(is_async):
    result = await run({"yes": True, "anonymous": True}, is_async=is_async)
    assert codes(result) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("is_async", [False, True])
async def test_unexpected_loader_exception_denies_as_a_failure_and_no_leak(
    is_async, caplog
):
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await run({"broken": True}, is_async=is_async)
    assert result.data == {"value": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "secret" not in dump(result)
    assert "SELECT" not in dump(result)


@pytest.mark.parametrize("key", ["$or", "$race"])
@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    "branches",
    [
        ["anonymous", "no"],
        ["no", "anonymous"],
        ["not_member", "anonymous", "not_owner"],
        ["broken", "anonymous"],
    ],
)
async def test_any_unauthenticated_branch_makes_a_failed_or_unauthenticated(
    key, is_async, branches
):
    rules = {key: [{name: True} for name in branches]}
    result = await run(rules, is_async=is_async)
    assert result.data == {"value": None}
    assert codes(result) == ["UNAUTHENTICATED"]
    reasons = result.errors[0].extensions["reasons"]
    assert len(reasons) == len(branches)
    assert [reason["code"] for reason in reasons].count("UNAUTHENTICATED") == 1


@pytest.mark.parametrize("key", ["$or", "$race"])
@pytest.mark.parametrize("is_async", [False, True])
async def test_failed_or_without_unauthenticated_branch_is_forbidden_with_every_reason(
    key, is_async
):
    rules = {key: {"not_member": True, "not_owner": True, "no": True}}
    result = await run(rules, is_async=is_async)
    assert result.data == {"value": None}
    assert codes(result) == ["FORBIDDEN"]
    reasons = result.errors[0].extensions["reasons"]
    assert len(reasons) == 3
    messages = repr(reasons)
    assert "Not a member." in messages
    assert "Not the owner." in messages
    assert all(reason["code"] == "FORBIDDEN" for reason in reasons)


@pytest.mark.parametrize("key", ["$or", "$race"])
async def test_failed_or_reports_exactly_one_error_for_the_field(key):
    authz = AuthExtension(lambda context: scopes_for(True))

    @strawberry.type
    class Item:
        @authz.rule({key: [{"anonymous": True}, {"not_member": True}, {"no": True}]})
        @strawberry.field
        def secret(self) -> str | None:
            return "secret"

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return [Item(), Item()]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ items { secret } }")
    assert result.data == {"items": [{"secret": None}, {"secret": None}]}
    assert codes(result) == ["UNAUTHENTICATED", "UNAUTHENTICATED"]
    assert sorted(error.path for error in result.errors) == [
        ["items", 0, "secret"],
        ["items", 1, "secret"],
    ]


async def test_nested_or_keeps_unauthenticated_precedence_and_all_reasons():
    rules = {
        "$or": [
            {"$race": [{"not_member": True}, {"anonymous": True}]},
            {"not_owner": True},
        ]
    }
    result = await run(rules, is_async=True)
    assert codes(result) == ["UNAUTHENTICATED"]
    messages = repr(result.errors[0].extensions["reasons"])
    assert "Not a member." in messages
    assert "Not the owner." in messages


@pytest.mark.parametrize("key", ["$or", "$race"])
async def test_reasons_of_an_or_never_carry_an_unexpected_exception_message(key):
    rules = {key: [{"broken": True}, {"not_member": True}]}
    result = await run(rules, is_async=True)
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert len(result.errors[0].extensions["reasons"]) == 2
    assert "secret" not in dump(result)
    assert "RuntimeError" not in dump(result)


# -- error_resolver and on_error -----------------------------------------------


class Replacement(GraphQLError):
    pass


def test_error_resolver_receives_the_error_and_the_response_path():
    seen: list[tuple[Exception, list[Any]]] = []

    def error_resolver(error, path):
        seen.append((error, path))
        return None

    authz = AuthExtension(
        lambda context: {"anonymous": raising(UnauthenticatedError()), "no": False},
        error_resolver=error_resolver,
    )

    @strawberry.type
    class Item:
        @authz.rule({"no": True})
        @strawberry.field
        def secret(self) -> str | None:
            return "secret"

    @strawberry.type
    class Query:
        @authz.rule({"anonymous": True})
        @strawberry.field
        def me(self) -> str | None:
            return "me"

        @strawberry.field
        def items(self) -> list[Item]:
            return [Item(), Item()]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ whoami: me list: items { hidden: secret } }")
    # Returning None keeps the original errors.
    assert codes(result) == ["UNAUTHENTICATED", "FORBIDDEN", "FORBIDDEN"]
    by_path = {tuple(path): error for error, path in seen}
    assert set(by_path) == {
        ("whoami",),
        ("list", 0, "hidden"),
        ("list", 1, "hidden"),
    }
    assert isinstance(by_path[("whoami",)], UnauthenticatedError)
    assert by_path[("whoami",)].extensions["code"] == "UNAUTHENTICATED"
    assert isinstance(by_path[("list", 0, "hidden")], ForbiddenError)
    assert all(isinstance(path, list) for _, path in seen)


@pytest.mark.parametrize("is_async", [False, True])
async def test_error_resolver_may_return_an_exception_to_raise_instead(is_async):
    def error_resolver(error, path):
        code = error.extensions["code"]
        return Replacement(f"Denied ({code}).", extensions={"code": "DENIED"})

    authz = AuthExtension(
        lambda context: scopes_for(is_async), error_resolver=error_resolver
    )
    result = await one_field_schema(authz, {"anonymous": True}).execute("{ value }")
    assert result.data == {"value": None}
    [error] = result.errors
    assert error.message == "Denied (UNAUTHENTICATED)."
    assert error.extensions == {"code": "DENIED"}
    assert error.path == ["value"]


def test_on_error_may_return_an_exception_to_raise_instead():
    seen: list[tuple[Exception, list[Any]]] = []

    def on_error(error, path):
        seen.append((error, path))
        return Replacement("Nope.", extensions={"code": "NOPE"})

    authz = AuthExtension(lambda context: {"no": False})
    schema = one_field_schema(authz, {"no": True}, on_error=on_error)
    result = schema.execute_sync("{ renamed: value }")
    assert result.data == {"renamed": None}
    assert codes(result) == ["NOPE"]
    assert result.errors[0].message == "Nope."
    [(error, path)] = seen
    assert isinstance(error, ForbiddenError)
    assert path == ["renamed"]


def test_on_error_returning_none_keeps_the_original_error():
    authz = AuthExtension(
        lambda context: {"anonymous": raising(UnauthenticatedError())}
    )
    schema = one_field_schema(
        authz, {"anonymous": True}, on_error=lambda error, path: None
    )
    result = schema.execute_sync("{ value }")
    assert codes(result) == ["UNAUTHENTICATED"]


def test_on_error_of_a_rule_is_preferred_to_the_global_error_resolver():
    authz = AuthExtension(
        lambda context: {"no": False},
        error_resolver=lambda error, path: Replacement(
            "global", extensions={"code": "GLOBAL"}
        ),
    )

    @strawberry.type
    class Query:
        @authz.rule(
            {"no": True},
            on_error=lambda error, path: Replacement(
                "local", extensions={"code": "LOCAL"}
            ),
        )
        @strawberry.field
        def local(self) -> str | None:
            return "l"

        @authz.rule({"no": True})
        @strawberry.field
        def other(self) -> str | None:
            return "o"

    result = strawberry.Schema(query=Query, extensions=[authz]).execute_sync(
        "{ local other }"
    )
    assert result.data == {"local": None, "other": None}
    assert sorted(codes(result)) == ["GLOBAL", "LOCAL"]
    by_field = {error.path[0]: error.message for error in result.errors}
    assert by_field == {"local": "local", "other": "global"}


def test_on_error_of_a_type_rule_applies_to_its_fields():
    authz = AuthExtension(lambda context: {"no": False})

    @authz.type_rule(
        {"no": True},
        on_error=lambda error, path: Replacement(
            f"hidden at {'.'.join(map(str, path))}", extensions={"code": "HIDDEN"}
        ),
    )
    @strawberry.type
    class Item:
        name: str | None = "n"

    @strawberry.type
    class Query:
        @strawberry.field
        def item(self) -> Item:
            return Item()

    result = strawberry.Schema(query=Query, extensions=[authz]).execute_sync(
        "{ item { name } }"
    )
    assert result.data == {"item": {"name": None}}
    assert codes(result) == ["HIDDEN"]
    assert result.errors[0].message == "hidden at item.name"


def not_found(error, path):
    return Replacement("No such note.", extensions={"code": "NOT_FOUND"})


@pytest.mark.parametrize("is_async", [False, True])
async def test_on_error_of_a_post_rule_never_rewrites_the_default_scopes_denial(
    is_async,
):
    authz = AuthExtension(
        lambda context: scopes_for(is_async),
        default_scopes={"Query": {"anonymous": True}},
    )

    @strawberry.type
    class Query:
        @authz.post_rule(lambda params, note: note is not None, on_error=not_found)
        @strawberry.field
        def note(self) -> str | None:
            return None

    result = await strawberry.Schema(query=Query, extensions=[authz]).execute(
        "{ note }"
    )
    assert codes(result) == ["UNAUTHENTICATED"]  # not the post rule's NOT_FOUND


def test_on_error_of_a_rule_sees_only_its_own_rules_denials():
    authz = AuthExtension(lambda context: {"no": False, "yes": True})

    def type_hook(error, path):
        return Replacement("type said no", extensions={"code": "TYPE"})

    def field_hook(error, path):
        return Replacement("field said no", extensions={"code": "FIELD"})

    @authz.type_rule({"no": True}, on_error=type_hook)
    @strawberry.type
    class Closed:
        @authz.rule({"yes": True}, on_error=field_hook)
        @strawberry.field
        def by_type(self) -> str | None:
            return "x"

    @authz.type_rule({"yes": True}, on_error=type_hook)
    @strawberry.type
    class Open:
        @authz.rule({"no": True}, on_error=field_hook)
        @strawberry.field
        def by_field(self) -> str | None:
            return "x"

        @authz.post_rule(lambda params, result: False, on_error=not_found)
        @strawberry.field
        def by_post(self) -> str | None:
            return "x"

    @strawberry.type
    class Query:
        @strawberry.field
        def closed(self) -> Closed:
            return Closed()

        @strawberry.field
        def open(self) -> Open:
            return Open()

    result = strawberry.Schema(query=Query, extensions=[authz]).execute_sync(
        "{ closed { byType } open { byField byPost } }"
    )
    by_path = {".".join(map(str, e.path)): e.extensions["code"] for e in result.errors}
    assert by_path == {
        "closed.byType": "TYPE",
        "open.byField": "FIELD",
        "open.byPost": "NOT_FOUND",
    }


def test_error_resolver_that_raises_still_denies_without_leaking(caplog):
    def error_resolver(error, path):
        raise RuntimeError("resolver-internal-detail")

    authz = AuthExtension(lambda context: {"no": False}, error_resolver=error_resolver)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = one_field_schema(authz, {"no": True}).execute_sync("{ value }")
    assert result.data == {"value": None}
    assert codes(result) == ["FORBIDDEN"]
    assert "resolver-internal-detail" not in dump(result)


# -- nothing of a denied field leaks -------------------------------------------


@pytest.mark.parametrize("is_async", [False, True])
async def test_pre_rule_denial_never_runs_the_resolver(is_async):
    resolved: list[str] = []
    authz = AuthExtension(lambda context: scopes_for(is_async))

    @strawberry.type
    class Query:
        @authz.rule({"$or": {"no": True, "anonymous": True}})
        @strawberry.field
        async def secret(self) -> str | None:
            resolved.append("secret")
            return "top secret"

    result = await strawberry.Schema(query=Query, extensions=[authz]).execute(
        "{ secret }"
    )
    assert result.data == {"secret": None}
    assert resolved == []
    assert "top secret" not in dump(result)


@pytest.mark.parametrize("is_async", [False, True])
async def test_post_rule_denial_keeps_the_result_out_of_the_response(is_async):
    authz = AuthExtension(lambda context: scopes_for(is_async))

    @strawberry.type
    class Account:
        owner: str
        iban: str

    @strawberry.type
    class Query:
        @authz.post_rule(
            lambda params, account: (
                True if account.owner == params.context["user"] else {"no": True}
            )
        )
        @strawberry.field
        async def account(self, owner: str) -> Account | None:
            return Account(owner=owner, iban=f"DE89-{owner}-0000")

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute(
        '{ mine: account(owner: "ann") { iban } theirs: account(owner: "bob") '
        "{ owner iban } }",
        context_value={"user": "ann"},
    )
    assert result.data == {"mine": {"iban": "DE89-ann-0000"}, "theirs": None}
    assert codes(result) == ["FORBIDDEN"]
    assert "bob" not in dump(result)


async def test_denied_non_null_field_nulls_its_nullable_parent_without_leaking():
    authz = AuthExtension(lambda context: {"no": False})

    @strawberry.type
    class Profile:
        name: str = "Bob"

        @authz.post_rule(lambda params, result: False)
        @strawberry.field
        def email(self) -> str:
            return "bob@example.com"

    @strawberry.type
    class Query:
        @strawberry.field
        def profile(self) -> Profile | None:
            return Profile()

    result = await strawberry.Schema(query=Query, extensions=[authz]).execute(
        "{ profile { name email } }"
    )
    assert result.data == {"profile": None}
    assert codes(result) == ["FORBIDDEN"]
    assert result.errors[0].path == ["profile", "email"]
    assert "bob@example.com" not in dump(result)
    assert "Bob" not in dump(result)
