"""What policy-engine adapters share: resources with attributes, and call ids.

A policy decision point (Cerbos, Cedar, ...) decides on the *attributes* of
the resource (owner, status, department), not only on its id. A rule hands
it a `ResourceCheck` built from the object through a declared `Resource`
mapping, so every rule on a kind sends the same attributes:

```python
documents = Resource("document", attributes={"owner": "owner_id", "status": "status"})

@authz.type_rule(lambda p: {"can": documents.check(p.root, "view")})
@strawberry.type
class Document: ...
```

A `ResourceCheck` is keyed canonically by the scope cache (kind, id,
action and the attribute map, order-free): two equal attribute maps share
one answer, a changed attribute is a new question.

`EngineCalls` keeps the ids of the engine calls one request made, so a
decision hook or `AuditLog(engine_calls=...)` can name them.
"""

from __future__ import annotations

import enum
import operator
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, NamedTuple, TypeAlias

from ._columns import Column, RowValue
from ._errors import ConfigurationError
from ._keys import register_key, scope_value_key

__all__ = [
    "AttributeSource",
    "EngineCallLedger",
    "EngineCheckError",
    "Resource",
    "ResourceCheck",
    "RowCheck",
    "json_attribute",
]

AttributeSource: TypeAlias = "str | Callable[[Any], object]"
"""Where an attribute comes from: an attribute name of the object, or a
function of the object."""


class EngineCheckError(Exception):
    """One value could not be checked by the engine (malformed, refused, an
    evaluation error, a missing answer).

    It denies only the fields that need that value, with `FORBIDDEN`; its
    message is logged, never sent to the client.
    """


class ResourceCheck(NamedTuple):
    """One question to a policy engine: may the principal do `action` on it?

    Built by `Resource.check`; `attributes` is a fresh dict of JSON values
    (str, int, float, bool, None, lists and dicts of them).
    """

    kind: str
    id: str
    action: str
    attributes: Mapping[str, Any]


_SCALARS = frozenset({str, int, bool, float, type(None)})


def _check_key(check: ResourceCheck) -> Hashable:
    """The cache key of a check: its names and the attribute map, order-free.

    One flat tuple: the tag and names, then `name, type, value` per
    attribute sorted by name, the type `None` and `scope_value_key`'s
    canonical form for a value that is not a scalar. Scalars keep their
    type (`True` is not `1`). Flat, the key is a single tuple of atoms the
    garbage collector soon stops scanning (thousands are kept per list of
    objects).
    """
    attributes = check.attributes
    key: list[Any] = ["resource-check", check.kind, check.id, check.action]
    for name in sorted(attributes):
        value = attributes[name]
        kind = type(value)
        if kind in _SCALARS:
            key += (name, kind, value)
        else:
            key += (name, None, scope_value_key(value))
    return tuple(key)


register_key(ResourceCheck, _check_key)


class Resource:
    """How objects of one kind are shown to a policy engine.

    Args:
        kind: The resource kind the policies name (`"document"`).
        id: Where the id comes from: an attribute name (default `"id"`) or a
            function of the object. Ints are sent as strings.
        attributes: The attributes the policies read: a mapping
            `{policy name: attribute name or function}`, or a list of
            attribute names sent under their own name. Enums are sent as
            their `.value`.

    Raises:
        ConfigurationError: a kind, id or attribute source of the wrong type.
    """

    __slots__ = ("_attributes", "_id", "attribute_sources", "id_source", "kind")

    def __init__(
        self,
        kind: str,
        *,
        id: AttributeSource = "id",
        attributes: Mapping[str, AttributeSource] | Iterable[str] = (),
    ) -> None:
        if not isinstance(kind, str) or not kind:
            raise ConfigurationError(f"Resource: kind must be a name, got {kind!r}")
        if not (isinstance(id, str) and id) and not callable(id):
            raise ConfigurationError(
                f"Resource {kind!r}: id must be an attribute name or a function, "
                f"got {id!r}"
            )
        if isinstance(attributes, Mapping):
            sources = dict(attributes)
        elif isinstance(attributes, (str, bytes)):
            raise ConfigurationError(
                f"Resource {kind!r}: attributes must be a mapping or a list of "
                f"names, got {attributes!r}"
            )
        else:
            sources = {name: name for name in attributes}
        for name, source in sources.items():
            if not isinstance(name, str) or not name:
                raise ConfigurationError(
                    f"Resource {kind!r}: attribute name {name!r} is not a string"
                )
            if not (isinstance(source, str) and source) and not callable(source):
                raise ConfigurationError(
                    f"Resource {kind!r}: attribute {name!r} must come from an "
                    f"attribute name or a function, got {source!r}"
                )
        self.kind = kind
        # As declared: a column name or a function (a query filter maps names).
        self.id_source: AttributeSource = id
        self.attribute_sources = tuple(sources.items())
        self._id = _reader(id)
        # (name, how to read it), read for every object: attribute names
        # through `attrgetter` (no Python frame per read).
        self._attributes = tuple(
            (name, _reader(source)) for name, source in sources.items()
        )

    def check(self, obj: object, action: str) -> ResourceCheck:
        """The question "may the principal do `action` on `obj`?".

        Raises:
            TypeError: the id is not a non-empty string or int, or an
                attribute is not a JSON value. Raised in a rule function,
                it denies that object's fields (fail closed).
        """
        if not isinstance(action, str) or not action:
            raise TypeError(f"Resource {self.kind!r}: action must be a name")
        raw_id = self._id(obj)
        kind = type(raw_id)
        if kind is int or (isinstance(raw_id, int) and kind is not bool):
            raw_id = str(raw_id)
        elif not isinstance(raw_id, str):
            raw_id = None
        if not raw_id:
            raise TypeError(
                f"Resource {self.kind!r}: id of {type(obj).__qualname__} is "
                f"{kind.__name__}, expected a non-empty str or int"
            )
        attributes = {}
        for name, read in self._attributes:
            value = read(obj)
            # Plain values as they are; the rest converted (or refused).
            if type(value) not in _SCALARS:
                value = json_attribute(value, self.kind, name)
            attributes[name] = value
        return ResourceCheck(self.kind, raw_id, action, attributes)

    def each(self, action: str) -> RowCheck:
        """The question "may the principal do `action`?" for each object.

        A scope value for a type's rule that also filters queries:
        `@authz.type_rule({"can": documents.each("view")})`. Checked for one
        object it is `check(obj, action)`; planned for a query, the engine
        answers with a condition on the columns this mapping reads (each
        attribute given by name is the column of that name; the id too).

        Raises:
            ConfigurationError: `action` is not a name, or nothing of the
                mapping is read by name (no column to filter on).
        """
        return RowCheck(self, action)

    def __repr__(self) -> str:
        names = [name for name, _ in self._attributes]
        return f"Resource({self.kind!r}, attributes={names!r})"


class RowCheck(RowValue):
    """`Resource.each(action)`: a resource check read from each row.

    Attributes:
        resource: The `Resource` mapping.
        action: The action asked.
        id_column: The column of the resource id (None when a function
            gives the id: then a plan on the id cannot be filtered).
        attribute_columns: `{policy attribute: column}` for the attributes
            read by name; an attribute given by a function has no column.
    """

    __slots__ = ("action", "attribute_columns", "columns", "id_column", "resource")

    def __init__(self, resource: Resource, action: str) -> None:
        if not isinstance(action, str) or not action:
            raise ConfigurationError(
                f"Resource {resource.kind!r}: each() needs an action name, "
                f"got {action!r}"
            )
        self.resource = resource
        self.action = action
        source = resource.id_source
        self.id_column = source if isinstance(source, str) else None
        self.attribute_columns = {
            name: source
            for name, source in resource.attribute_sources
            if isinstance(source, str)
        }
        named = [self.id_column, *self.attribute_columns.values()]
        self.columns = tuple(
            Column(name) for name in dict.fromkeys(named) if name is not None
        )
        if not self.columns:
            raise ConfigurationError(
                f"Resource {resource.kind!r}: each() needs the id or an attribute "
                "read by name (a column); every one is a function"
            )

    @property
    def kind(self) -> str:
        return self.resource.kind

    def read(self, obj: object) -> ResourceCheck:
        return self.resource.check(obj, self.action)

    def __repr__(self) -> str:
        return f"Resource({self.kind!r}).each({self.action!r})"


def _reader(source: AttributeSource) -> Callable[[Any], object]:
    if not isinstance(source, str):
        return source
    if "." in source:  # a name, never a path: `attrgetter` would follow dots
        return lambda obj: getattr(obj, source)
    return operator.attrgetter(source)


_MAX_DEPTH = 16


def json_attribute(value: object, kind: str, name: str, depth: int = 0) -> Any:
    """`value` as a JSON value (enums by `.value`), else `TypeError`."""
    if depth > _MAX_DEPTH:
        raise TypeError(f"Resource {kind!r}: attribute {name!r} nests too deeply")
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_attribute(item, kind, name, depth + 1) for item in value]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"Resource {kind!r}: attribute {name!r} has a non-string key"
                )
            out[key] = json_attribute(item, kind, name, depth + 1)
        return out
    raise TypeError(
        f"Resource {kind!r}: attribute {name!r} is {type(value).__qualname__}, "
        "not a JSON value (str, int, float, bool, None, list, dict)"
    )


class _Calls(list[str]):
    """One request's call ids (a list that can be weakly referenced)."""

    __slots__ = ("__weakref__", "context")

    context: object


class EngineCallLedger:
    """The ids of the engine calls each request made, found by its context.

    An adapter opens a ledger entry in `scope(context)` (once per request)
    and appends the id of every call it makes for that request. The entry
    lives as long as the request's scope does; `call_ids(context)` reads it
    (from a decision hook: `decision.context`).
    """

    __slots__ = ("_entries", "_lock")

    def __init__(self) -> None:
        self._entries: dict[int, weakref.ref[_Calls]] = {}
        self._lock = threading.Lock()

    def open(self, context: object) -> list[str]:
        """A new, empty list of call ids for the request of `context`.

        The caller keeps it alive (in its scope's closure); when it is
        collected, the entry goes too.
        """
        calls = _Calls()
        calls.context = context
        if context is None:
            # Requests without a context cannot be told apart: not recorded.
            return calls
        key = id(context)
        entries = self._entries

        def forget(ref: weakref.ref[_Calls], key: int = key) -> None:
            with self._lock:
                if entries.get(key) is ref:
                    del entries[key]

        with self._lock:
            entries[key] = weakref.ref(calls, forget)
        return calls

    def call_ids(self, context: object) -> list[str]:
        """The ids of the calls made so far for the request of `context`
        (none for a request without a context)."""
        ref = self._entries.get(id(context))
        calls = ref() if ref is not None else None
        if calls is None or calls.context is not context:
            return []
        return list(calls)
