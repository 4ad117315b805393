"""Helpers shared by the tests: what a client receives, and what was logged."""

import asyncio
import logging
from typing import Any

import pytest
import strawberry


def codes(result: Any) -> list[str | None]:
    """The `extensions["code"]` of every error of an execution result."""
    return [(error.extensions or {}).get("code") for error in result.errors or []]


def messages(result: Any) -> list[str]:
    """The message of every error of an execution result."""
    return [error.message for error in result.errors or []]


def dump(results: Any) -> str:
    """Everything a client would receive, as text (to look for leaks)."""
    if not isinstance(results, list):
        results = [results]
    return repr([(r.data, [e.formatted for e in r.errors or []]) for r in results])


def authz_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Warnings and errors logged by strawberry-authz, as one text."""
    return "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("strawberry_authz")
        and record.levelno >= logging.WARNING
    )


def ruled_type(
    authz: Any, name: str, fields: dict[str, Any], rule: Any, **options: Any
) -> Any:
    """An object type `name` of `fields` under `authz.type_rule(rule, **options)`."""
    cls = type(name, (), {"__annotations__": dict(fields)})
    return authz.type_rule(rule, **options)(strawberry.type(cls))


def owned_type(authz: Any, name: str, rule: Any, **options: Any) -> Any:
    """An object type `name` under `authz.type_rule(rule, **options)`.

    Its objects carry a private `owner`, for the rule to read, and a `text`,
    to look for in the response: `Doc(owner="me", text="mine")`.
    """
    fields = {"owner": strawberry.Private[str], "text": str}
    return ruled_type(authz, name, fields, rule, **options)


def titled_type(authz: Any, rule: Any, **options: Any) -> Any:
    """A `Doc` type (`id`, `title`, `body`) under `authz.type_rule(rule, **options)`."""
    return ruled_type(
        authz, "Doc", {"id": int, "title": str, "body": str}, rule, **options
    )


def titled(doc_type: Any, ids: Any) -> list[Any]:
    """A `titled_type` object for each of `ids`: title `t{id}`, body `b{id}`."""
    return [doc_type(id=i, title=f"t{i}", body=f"b{i}") for i in ids]


def docs_schema(
    authz: Any, item_type: Any, make: Any, *, nullable: bool = True
) -> strawberry.Schema:
    """A schema whose `Query.docs` (a list of `item_type`) returns `make()`.

    `make` gives what a resolver may return: a list, an iterable, an async
    generator, or a coroutine of one (an async resolver).
    """
    item = item_type | None if nullable else item_type

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[item]:  # type: ignore[valid-type]
            return make()  # type: ignore[no-any-return]

    return strawberry.Schema(query=Query, extensions=[authz])


def ids_schema(authz: Any, rule: Any, ids: Any, **options: Any) -> strawberry.Schema:
    """`Query.docs` returns a `Doc` (`id`) per id of `ids` (None: a null item),
    `Doc` under `authz.type_rule(rule, **options)`; made anew per request."""
    doc_type = ruled_type(authz, "Doc", {"id": int}, rule, **options)
    listed = list(ids)
    return docs_schema(
        authz, doc_type, lambda: [None if i is None else doc_type(id=i) for i in listed]
    )


def owners_schema(authz: Any, owners: list[str]) -> strawberry.Schema:
    """`Query.docs`, an async resolver, returns a `Doc` (`owner`) per name of
    `owners`; `Doc`'s object rule asks `owns` for the owner, denied docs are
    dropped."""
    doc_type = ruled_type(
        authz,
        "Doc",
        {"owner": str},
        lambda p: {"owns": p.root.owner},
        on_object=True,
        drop_denied=True,
    )

    async def docs() -> list[Any]:
        await asyncio.sleep(0)
        return [doc_type(owner=owner) for owner in owners]

    return docs_schema(authz, doc_type, docs, nullable=False)


def holder_schema(authz: Any, name: str, value_type: Any) -> strawberry.Schema:
    """A schema whose one root field, `Query.<name>`, returns `value_type()`."""

    def resolve() -> value_type:  # type: ignore[valid-type]
        return value_type()

    query = type("Query", (), {name: strawberry.field(resolver=resolve)})
    return strawberry.Schema(query=strawberry.type(query), extensions=[authz])


def asked_docs_schema(
    authz: Any,
    ids: list[int],
    *,
    rule: Any = None,
    guarded: dict[str, int] | None = None,
    logout_after: float | None = None,
    **options: Any,
) -> strawberry.Schema:
    """`Query.docs`: a `Doc` (`id`, `text` `SECRET<id>`) per id of `ids`, under
    `authz.type_rule(rule, on_object=True, **options)` (`{"can": id}` by
    default). Per `name: n` of `guarded`, a field `name` under
    `authz.rule({"can": n})` answering `value-<name>`. With `logout_after`
    (seconds, 0 for none), an async `logout` that waits that long, then makes
    the viewer `context["user"] = "guest"` and calls `authz.clear_cache`."""
    doc_type = ruled_type(
        authz,
        "Doc",
        {"id": int, "text": str},
        rule or (lambda p: {"can": p.root.id}),
        on_object=True,
        **options,
    )

    def docs() -> list[doc_type | None]:  # type: ignore[valid-type]
        return [doc_type(id=i, text=f"SECRET{i}") for i in ids]

    fields: dict[str, Any] = {"docs": strawberry.field(resolver=docs)}
    for name, value in (guarded or {}).items():

        def answer(name: str = name) -> str | None:
            return f"value-{name}"

        fields[name] = strawberry.field(
            resolver=answer, extensions=[authz.rule({"can": value})]
        )
    if logout_after is not None:
        pause = logout_after

        async def logout(info: strawberry.Info) -> bool:
            if pause:
                await asyncio.sleep(pause)
            info.context["user"] = "guest"
            authz.clear_cache(info)
            return True

        fields["logout"] = strawberry.field(resolver=logout)
    query = strawberry.type(type("Query", (), fields))
    return strawberry.Schema(query=query, extensions=[authz])
