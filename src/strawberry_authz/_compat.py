"""Every use of Strawberry's and graphql-core's private internals, in one place.

strawberry-authz installs its guards on the resolvers graphql-core calls, so it
needs a few things neither library promises: the graphql-core schema behind a
Strawberry schema and back, the Strawberry field behind a graphql-core field,
Strawberry's own resolver wrapper, its `Info`, and its argument conversion.
Each has one small function here; no other module touches a private name.

This is also the only place that knows which versions are supported and how
they differ (see docs/compatibility.md): Strawberry 0.287.1 up to 0.399 and
graphql-core 3.2 and 3.3. Differences are detected by feature, once at
import, never by comparing version strings on the request path.

If a future release renames one of these internals, the functions fail loudly
(an `AttributeError` or `TypeError` at schema build or first request), never by
quietly returning "no rule here": a guard that is not installed would let a
request through.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from graphql import GraphQLNamedType, GraphQLResolveInfo, GraphQLSchema
from strawberry.exceptions import StrawberryException
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments as _convert_arguments
from strawberry.types.base import StrawberryObjectDefinition, get_object_definition
from strawberry.types.field import StrawberryField

if TYPE_CHECKING:
    from graphql import GraphQLArgument, GraphQLField, GraphQLInputField
    from strawberry import Schema
    from strawberry.types import Info

__all__ = [
    "ResolveInfo",
    "StrawberryException",
    "convert_arguments",
    "graphql_schema",
    "make_info",
    "object_definition",
    "rebuild_resolver",
    "strawberry_definition_of",
    "strawberry_field_of",
    "strawberry_resolver_inputs",
    "strawberry_schema_of",
    "unwrap_info",
]

#: The key under which Strawberry keeps, in a graphql-core type's or field's
#: `extensions`, the Strawberry definition it was built from.
_BACKREF: str = GraphQLCoreConverter.DEFINITION_BACKREF

#: Strawberry 0.288+ passes `info` on to input types that build their own
#: value; 0.287 has no such parameter.
_CONVERT_TAKES_INFO = "info" in inspect.signature(_convert_arguments).parameters

# graphql-core 3.3 makes the resolve info generic in its context type; 3.2's is a
# plain NamedTuple that cannot be subscripted at run time.
if TYPE_CHECKING:
    ResolveInfo: TypeAlias = GraphQLResolveInfo[Any]
else:
    ResolveInfo = GraphQLResolveInfo


# -- schemas ---------------------------------------------------------------------


def graphql_schema(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema a Strawberry schema executes with."""
    gschema: GraphQLSchema = schema._schema
    return gschema


def strawberry_schema_of(gschema: GraphQLSchema) -> Schema:
    """The Strawberry schema that built `gschema` (as `info.schema` gives it).

    Raises `AttributeError` for a schema Strawberry did not build.
    """
    return cast("Schema", gschema._strawberry_schema)  # type: ignore[attr-defined]


# -- definitions behind graphql-core objects --------------------------------------


def strawberry_field_of(
    gfield: GraphQLField | GraphQLInputField | GraphQLArgument | None,
) -> StrawberryField | None:
    """The Strawberry field `gfield` was built from; None if it has none."""
    if gfield is None:
        return None
    field = gfield.extensions.get(_BACKREF)
    return field if isinstance(field, StrawberryField) else None


def strawberry_definition_of(
    gtype: GraphQLNamedType,
) -> StrawberryObjectDefinition | None:
    """The Strawberry object, interface or input definition behind `gtype`.

    None for types Strawberry did not build from a class (scalars, enums, the
    introspection types).
    """
    definition = gtype.extensions.get(_BACKREF)
    return definition if isinstance(definition, StrawberryObjectDefinition) else None


def object_definition(cls: object) -> StrawberryObjectDefinition | None:
    """The Strawberry definition a `@strawberry.type` (or interface, input) class
    carries; None for any other object."""
    return get_object_definition(cls)


# -- resolvers, info and arguments ------------------------------------------------


def rebuild_resolver(schema: Schema, field: StrawberryField) -> Callable[..., Any]:
    """The resolver Strawberry would install for `field` (argument conversion,
    `Info`, field extensions and permission classes included)."""
    resolver: Callable[..., Any] = schema.schema_converter.from_resolver(field)
    return resolver


def strawberry_resolver_inputs(
    frame_locals: Mapping[str, Any],
) -> tuple[Any, dict[str, Any]] | None:
    """The root and raw arguments, when `frame_locals` are those of the resolver
    Strawberry wraps every field in (its `_source` and `**kwargs`); else None."""
    if "_source" in frame_locals and isinstance(frame_locals.get("kwargs"), dict):
        return frame_locals["_source"], frame_locals["kwargs"]
    return None


def unwrap_info(info: object) -> object:
    """graphql-core's resolve info behind a Strawberry `Info`; anything else as is."""
    return getattr(info, "_raw_info", info)


def make_info(
    schema: Schema, raw_info: ResolveInfo, field: StrawberryField | None
) -> Info:
    """The Strawberry `Info` a resolver of `field` would receive for `raw_info`.

    Built with the schema's configured `info_class`, so custom Info classes work.
    """
    info_class = schema.config.info_class
    return info_class(_raw_info=raw_info, _field=field)  # type: ignore[arg-type]


def convert_arguments(
    schema: Schema, field: StrawberryField, raw: dict[str, Any], info: Info
) -> dict[str, Any]:
    """`raw` (graphql-core's argument values) as the resolver of `field` gets
    them: Python names, input types as Strawberry objects, unset left out."""
    if _CONVERT_TAKES_INFO:
        return _convert_arguments(
            raw,
            field.arguments,
            scalar_registry=schema.schema_converter.scalar_registry,
            config=schema.config,
            info=info,
        )
    return _convert_arguments(
        raw,
        field.arguments,
        scalar_registry=schema.schema_converter.scalar_registry,
        config=schema.config,
    )
