"""Every use of Strawberry's and graphql-core's private internals, in one place.

strawberry-authz installs its guards on the resolvers graphql-core calls, so it
needs a few things neither library promises: the graphql-core schema behind a
Strawberry schema and back, the Strawberry field behind a graphql-core field,
Strawberry's own resolver wrapper, its `Info`, and its argument conversion.
Each has one small function here; no other module touches a private name.

This is also the only place that knows which versions are supported and how
they differ (see docs/compatibility.md): Strawberry 0.287.1 up to 0.399 and
graphql-core 3.2 and 3.3. Differences are detected once, at import: by
feature where one can be seen, else by graphql-core's `version_info`; never
on the request path.

If a future release renames one of these internals, the functions fail loudly
(an `AttributeError` or `TypeError` at schema build or first request), never by
quietly returning "no rule here": a guard that is not installed would let a
request through.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import logging
import sys
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from functools import cached_property
from types import FrameType
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar, cast

from graphql import (
    GraphQLNamedType,
    GraphQLResolveInfo,
    GraphQLSchema,
    Undefined,
    default_type_resolver,
    version_info,
)
from strawberry.exceptions import StrawberryException
from strawberry.extensions import SchemaExtension
from strawberry.schema import Schema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import ExecutionContext
from strawberry.types.arguments import convert_arguments as _convert_arguments
from strawberry.types.base import StrawberryObjectDefinition, get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.types.private import is_private as _is_private

if TYPE_CHECKING:
    from graphql import GraphQLArgument, GraphQLField, GraphQLInputField
    from strawberry.types import Info

__all__ = [
    "ResolveInfo",
    "StrawberryException",
    "convert_arguments",
    "entering_stream",
    "graphql_schema",
    "is_private",
    "make_info",
    "object_definition",
    "operation_execution_context",
    "operation_is_sync",
    "own_fields",
    "read_attribute",
    "rebuild_resolver",
    "resolve_type_name",
    "serial_mutations",
    "strawberry_definition_of",
    "strawberry_error_logger",
    "strawberry_field_of",
    "strawberry_resolver_inputs",
    "strawberry_schema_of",
    "unwrap_info",
]

T = TypeVar("T")

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


# -- logging ---------------------------------------------------------------------


def strawberry_error_logger() -> logging.Logger:
    """The logger Strawberry writes every error of a result to, with traceback.

    `Schema.process_errors` logs each error through `StrawberryLogger`, whose
    logger this is; a filter on it sees each error once.
    """
    from strawberry.utils.logging import StrawberryLogger

    return StrawberryLogger.logger


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
    """The Strawberry field `gfield` was built from; None if it has none.

    Raises `TypeError` when the back-reference holds something else: a
    Strawberry that changed it must not make fields look unguarded.
    """
    if gfield is None:
        return None
    field = gfield.extensions.get(_BACKREF)
    if field is None or isinstance(field, StrawberryField):
        return field
    raise TypeError(
        f"expected a StrawberryField behind a graphql-core field: {field!r}"
    )


def strawberry_definition_of(
    gtype: GraphQLNamedType,
) -> StrawberryObjectDefinition | None:
    """The Strawberry object, interface or input definition behind `gtype`.

    None for types Strawberry did not build from a class (scalars, enums, the
    introspection types).
    """
    definition = gtype.extensions.get(_BACKREF)
    return definition if isinstance(definition, StrawberryObjectDefinition) else None


def own_fields(cls: type) -> list[StrawberryField]:
    """The fields of `cls`'s definition, each a field object of `cls` alone.

    A field object the definition shares with another type's (Strawberry 0.287
    gives every `relay.Node` type, and the `Node` interface, one and the same
    `id` field) is replaced in the definition by a copy with its own
    `extensions`, so a marker put on it covers this type only. Where each
    type already has its own fields (Strawberry 0.288+) nothing changes.
    """
    definition = get_object_definition(cls, strict=True)
    shared = {
        id(field)
        for base in cls.__mro__[1:]
        for field in getattr(get_object_definition(base), "fields", ())
    }
    for index, field in enumerate(definition.fields):
        if id(field) in shared:
            owned = copy.copy(field)
            owned.extensions = list(field.extensions)
            definition.fields[index] = owned
    return definition.fields


def is_private(annotation: object) -> bool:
    """Whether `annotation` is `strawberry.Private[...]` (never a GraphQL field)."""
    return _is_private(annotation)


def object_definition(cls: object) -> StrawberryObjectDefinition | None:
    """The Strawberry definition a `@strawberry.type` (or interface, input) class
    carries; None for any other object."""
    return get_object_definition(cls)


# -- resolvers, info and arguments ------------------------------------------------


def rebuild_resolver(
    schema: Schema, field: StrawberryField, extensions: list[Any]
) -> Callable[..., Any]:
    """The resolver Strawberry would install for `field` with only `extensions`
    (argument conversion, `Info`, field extensions and permission classes
    included). `field` itself is left as it is: the resolver is built from a
    shallow copy (Strawberry's own `copy` rebuilds the field from its
    arguments, which costs more than the rest of installing a guard)."""
    copied = object.__new__(type(field))
    for descriptor in _FIELD_SLOTS:
        # The slots' own descriptors: `StrawberryField.type` is a property
        # that resolves the annotation, not the slot.
        try:
            descriptor.__set__(copied, descriptor.__get__(field))
        except AttributeError:
            continue
    copied.__dict__.update(field.__dict__)
    copied.extensions = extensions
    copied.directives = list(field.directives or [])
    copied.permission_classes = list(field.permission_classes or [])
    # Strawberry applies a field's extensions again when it builds a resolver;
    # they were applied to this field when the schema was built, and some
    # (relay's node field) refuse a second time. The copy keeps their effect.
    for extension in extensions:
        with contextlib.suppress(AttributeError):
            extension.apply = _applied
    try:
        resolver: Callable[..., Any] = schema.schema_converter.from_resolver(copied)
    finally:
        for extension in extensions:
            with contextlib.suppress(AttributeError):
                del extension.apply
    return resolver


def read_attribute(
    schema: Schema, field: StrawberryField, resolver: Callable[..., Any]
) -> str | None:
    """The attribute `resolver` returns, when that is all it does; else None.

    Strawberry gives a field without a resolver of its own, extensions or
    exception handlers its `_get_basic_result`, which calls
    `field.get_result`, which returns `config.default_resolver(root,
    field.python_name)`. With `StrawberryField`'s own `get_result` and the
    default `getattr`, `getattr(root, name)` returns the same, one call
    instead of three. Anything else (a subclass's `get_result`, another
    default resolver, a resolver of another shape): None, and the resolver
    runs.
    """
    if (
        getattr(resolver, "__name__", None) == "_get_basic_result"
        and getattr(resolver, "_is_default", False) is True
        and not field.base_resolver
        and type(field).get_result is StrawberryField.get_result
        and schema.schema_converter.config.default_resolver is getattr
    ):
        return field.python_name
    return None


def _applied(field: StrawberryField) -> None:
    """`FieldExtension.apply` of an extension already applied to the field."""


_FIELD_SLOTS = tuple(
    vars(dataclasses.Field)[slot] for slot in dataclasses.Field.__slots__
)


def strawberry_resolver_inputs(
    frame_locals: Mapping[str, Any],
) -> tuple[Any, dict[str, Any]] | None:
    """The root and raw arguments, when `frame_locals` are those of the resolver
    Strawberry wraps every field in (its `_source` and `**kwargs`); else None."""
    if "_source" in frame_locals and isinstance(frame_locals.get("kwargs"), dict):
        return frame_locals["_source"], frame_locals["kwargs"]
    return None


# -- the operation an extension hook runs for --------------------------------------

#: Strawberry before 0.316 makes one extension instance per schema for sync
#: execution and subscriptions (0.291.3 to 0.298.0: for async execution too)
#: and sets its `execution_context` when an operation is *called*: two
#: subscriptions opened before either is iterated both see the second one's.
_EXTENSIONS_SHARED = isinstance(
    inspect.getattr_static(Schema, "_async_extensions", None), cached_property
)

#: How far up the stack Strawberry's own frame is from an `on_operation` hook.
_MAX_FRAMES = 16


def operation_execution_context(extension: SchemaExtension) -> ExecutionContext:
    """The execution context of the operation whose `on_operation` is starting.

    Call it at the start of the hook. Where Strawberry shares extension
    instances between operations, `extension.execution_context` may belong to
    another operation; the right one is the `execution_context` of the
    Strawberry method (`execute`, `execute_sync`, `_subscribe`) that entered
    the hook, found on the stack.
    """
    if _EXTENSIONS_SHARED:
        frame: FrameType | None = sys._getframe(1)
        for _ in range(_MAX_FRAMES):
            if frame is None:
                break
            found = frame.f_locals.get("execution_context")
            if isinstance(found, ExecutionContext) and frame.f_globals.get(
                "__name__", ""
            ).startswith("strawberry."):
                return found
            frame = frame.f_back
    return extension.execution_context


def operation_is_sync() -> bool:
    """Whether the operation whose `on_operation` is starting runs synchronously.

    `schema.execute_sync` may run while an event loop runs in the same thread
    (called from a coroutine): such an operation must still never be handed an
    awaitable. Strawberry tells its extensions nothing about it; its own frame
    on the stack does.
    """
    frame: FrameType | None = sys._getframe(1)
    for _ in range(_MAX_SYNC_FRAMES):
        if frame is None:
            break
        if frame.f_globals.get("__name__", "").startswith("strawberry.schema"):
            name = frame.f_code.co_name
            if name == "execute_sync":
                return True
            if name in ("execute", "subscribe", "_subscribe", "_stream"):
                return False
        frame = frame.f_back
    return False


_MAX_SYNC_FRAMES = 24


def resolve_type_name(item: object, info: Any, abstract: Any) -> str | None:
    """The name of the object type graphql-core will resolve `item` to.

    Uses the interface's or union's `resolve_type` (Strawberry sets one), else
    graphql-core's default (each possible type's `is_type_of`, then a
    `__typename`). None when that needs awaiting or fails.
    """
    resolver = abstract.resolve_type or default_type_resolver
    try:
        found = resolver(item, info, abstract)
    except Exception:
        return None
    if inspect.isawaitable(found):
        close = getattr(found, "close", None)
        if close is not None:
            close()
        return None
    if isinstance(found, str):
        return found
    return getattr(found, "name", None)


# -- mutations ----------------------------------------------------------------------

#: graphql-core 3.3 finishes each mutation field before it starts the next; 3.2
#: calls every field's resolver at once and only awaits them in order.
_MUTATIONS_SERIAL = version_info >= (3, 3)


def serial_mutations(schema: Schema) -> None:
    """Make `schema` run mutation fields one after another, as the GraphQL spec
    and graphql-core 3.3 do; nothing to do on 3.3.

    On graphql-core 3.2 a later synchronous mutation (say, a login) would run
    while an earlier field still awaits its asynchronous check, which would
    then decide with the later mutation's effects. Idempotent.
    """
    if _MUTATIONS_SERIAL:
        return
    current: Any = schema.execution_context_class
    if getattr(current, "_authz_serial_mutations", False):
        return
    schema.execution_context_class = type(
        current.__name__,
        (current,),
        {
            "execute_fields_serially": _execute_fields_serially,
            "_authz_serial_mutations": True,
        },
    )


def _execute_fields_serially(
    context: Any, parent_type: Any, source_value: Any, path: Any, fields: Any
) -> Any:
    """graphql-core 3.2's `execute_fields_serially`, awaiting each field first."""
    from graphql.pyutils import Path

    results: dict[str, Any] = {}
    items = iter(fields.items())

    def execute(response_name: str, field_nodes: Any) -> Any:
        field_path = Path(path, response_name, parent_type.name)
        return context.execute_field(parent_type, source_value, field_nodes, field_path)

    async def finish(response_name: str, pending: Any) -> dict[str, Any]:
        results[response_name] = await pending
        for name, field_nodes in items:
            result = execute(name, field_nodes)
            if result is not Undefined:
                awaited = context.is_awaitable(result)
                results[name] = await result if awaited else result
        return results

    for response_name, field_nodes in items:
        result = execute(response_name, field_nodes)
        if result is Undefined:
            continue
        if context.is_awaitable(result):
            return finish(response_name, result)
        results[response_name] = result
    return results


# -- subscriptions -----------------------------------------------------------------


class _EnteringStream(Generic[T]):
    """`source`, calling `enter()` in the caller's context before each event.

    graphql-core executes each event in the context of the task that asks the
    stream for it. Where the source itself runs differs: graphql-core 3.3
    pulls it in that same task, 3.2 (`MapAsyncIterator`) in a task of its own,
    whose context changes never reach the event's execution. So `enter()` runs
    twice per event: synchronously in `__anext__` (the caller's context, where
    the event executes) and again where the source is pulled.
    """

    __slots__ = ("_enter", "_iterator")

    def __init__(self, source: AsyncIterable[T], enter: Callable[[], object]) -> None:
        self._iterator = aiter(source)
        self._enter = enter

    def __aiter__(self) -> _EnteringStream[T]:
        return self

    def __anext__(self) -> Awaitable[T]:
        # A plain method on purpose: this line runs in the caller's context.
        self._enter()
        return self._pull()

    async def _pull(self) -> T:
        self._enter()
        return await anext(self._iterator)

    async def aclose(self) -> None:
        close = getattr(self._iterator, "aclose", None)
        if close is not None:
            await close()


def entering_stream(
    source: AsyncIterable[T], enter: Callable[[], object]
) -> AsyncIterator[T]:
    """The events of `source`, with `enter()` called before each one both where
    graphql-core executes the event and where the source produces it (see
    `_EnteringStream`). Closing the result closes `source`."""
    return _EnteringStream(source, enter)


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
