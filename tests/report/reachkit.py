"""Reading every field of a schema as one viewer, by executing queries.

`fields_read(schema, context)` builds, for every output field, a query
along every path from a root type that reaches it (up to a depth), runs
each (queries and mutations with `execute`, subscriptions with
`subscribe`), and returns the coordinates (`Type.field`) whose value the
viewer got, with the paths tried for each. The report tests use it to check
what the report says against what a request meets.
"""

import asyncio
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLUnionType,
)

from strawberry_authz._compat import graphql_schema

# One step of a path: (field name, the concrete type to select it on, or None).
Step = tuple[str, str | None]


def _named(gtype: Any) -> Any:
    while isinstance(gtype, (GraphQLNonNull, GraphQLList)):
        gtype = gtype.of_type
    return gtype


def _concrete(gschema: Any, gtype: Any) -> list[GraphQLObjectType]:
    if isinstance(gtype, GraphQLObjectType):
        return [gtype]
    if isinstance(gtype, (GraphQLInterfaceType, GraphQLUnionType)):
        return list(gschema.get_possible_types(gtype))
    return []


def _paths(
    gschema: Any, root: GraphQLObjectType, depth: int
) -> Iterator[tuple[list[Step], GraphQLObjectType, str, GraphQLField]]:
    """Every (steps to an object, its type, field name, field) from `root`."""
    frontier: list[tuple[list[Step], GraphQLObjectType]] = [([], root)]
    for _ in range(depth):
        following: list[tuple[list[Step], GraphQLObjectType]] = []
        for steps, gtype in frontier:
            for name, gfield in gtype.fields.items():
                if any(
                    isinstance(arg.type, GraphQLNonNull) for arg in gfield.args.values()
                ):
                    continue  # the test schemas need no argument to reach a field
                yield steps, gtype, name, gfield
                named = _named(gfield.type)
                abstract = not isinstance(named, GraphQLObjectType)
                for target in _concrete(gschema, named):
                    on = target.name if abstract else None
                    following.append(([*steps, (name, on)], target))
        frontier = following


def _selection(steps: list[Step], last: str, composite: bool) -> str:
    text = f"{last} {{ __typename }}" if composite else last
    for name, on in reversed(steps):
        inner = f"... on {on} {{ {text} }}" if on else text
        text = f"{name} {{ {inner} }}"
    return text


def _values(data: Any, keys: list[str]) -> Iterator[Any]:
    """Every value found in `data` along `keys` (lists expanded)."""
    if isinstance(data, list):
        for item in data:
            yield from _values(item, keys)
        return
    if not keys:
        yield data
        return
    if isinstance(data, dict) and keys[0] in data:
        yield from _values(data[keys[0]], keys[1:])


async def _run(schema: strawberry.Schema, operation: str, text: str, context: Any):
    if operation != "subscription":
        return [
            await schema.execute(f"{operation} {{ {text} }}", context_value=context)
        ]
    stream = await schema.subscribe(f"subscription {{ {text} }}", context_value=context)
    if not hasattr(stream, "__aiter__"):
        return [stream]
    return [event async for event in stream]


def fields_read(
    schema: strawberry.Schema, context: Any, depth: int = 5
) -> tuple[set[str], dict[str, int]]:
    """The fields `context`'s viewer reads a value of; and paths tried per field."""
    gschema = graphql_schema(schema)
    roots = [
        ("query", gschema.query_type),
        ("mutation", gschema.mutation_type),
        ("subscription", gschema.subscription_type),
    ]
    read: set[str] = set()
    tried: dict[str, int] = {}

    async def main() -> None:
        for operation, root in roots:
            if root is None:
                continue
            for steps, gtype, name, gfield in _paths(gschema, root, depth):
                composite = not hasattr(_named(gfield.type), "serialize")
                coordinate = f"{gtype.name}.{name}"
                tried[coordinate] = tried.get(coordinate, 0) + 1
                text = _selection(steps, name, composite)
                keys = [step for step, _ in steps] + [name]
                for result in await _run(schema, operation, text, context):
                    if any(v is not None for v in _values(result.data, keys)):
                        read.add(coordinate)

    asyncio.run(main())
    return read, tried
