"""Cedar adapter: per-object checks decided by Cedar policies, in process.

Install with the extra `strawberry-authz[cedar]` (`cedarpy`). This module is
imported only by its users; the core package never imports it.

```python
documents = Resource("document", attributes={"owner": "owner_id", "status": "status"})
cedar = Cedar(POLICIES, entities=[], principal=lambda c: f'user::"{c["user"]}"')
authz = AuthExtension(lambda context: {"can": cedar.scope(context)})

@authz.type_rule(lambda p: {"can": documents.check(p.root, "view")})
@strawberry.type
class Document: ...
```

A scope value is a `ResourceCheck` (from `Resource.check`): the resource
becomes a Cedar entity `kind::"id"` with its attributes, the action
`Action::"action"`. All the values a request needs are decided with one
`is_authorized_batch` call per chunk of `max_batch_size`. When no policy
can tell resources apart except by their attributes (see
`_reads_attributes_only`), the values of a chunk with the same kind, action
and attribute map share one Cedar request.

Fail closed everywhere: policies that do not parse are a `ConfigurationError`
when the adapter is built; an anonymous principal is denied without a call;
a value Cedar cannot take (not a `ResourceCheck`, a float attribute) denies
only its fields; a policy that errors while deciding a value (Cedar would
skip it, which can turn a `forbid` into an allow) denies that value; a
failure of the call denies the whole chunk. Reasons are logged on the
`strawberry_authz` logger; no text from the engine reaches a client.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeAlias

import cedarpy

from ._batch import BatchAnswers, BatchScope
from ._errors import ConfigurationError
from ._keys import scope_value_key
from .engines import EngineCallLedger, EngineCheckError, ResourceCheck

__all__ = ["Cedar"]

logger = logging.getLogger("strawberry_authz")

EntityUid: TypeAlias = "str | Mapping[str, str]"
"""`'user::"alice"'` or `{"type": "user", "id": "alice"}`."""
Entities: TypeAlias = "Sequence[Mapping[str, Any]] | cedarpy.Entities"
EntitiesSource: TypeAlias = "Entities | Callable[[Any], Entities]"

_I64 = 2**63
# A Cedar entity type: identifiers joined by `::`. One bad type makes Cedar
# refuse the whole call, so each value is checked here first.
_TYPE = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*(::[_a-zA-Z][_a-zA-Z0-9]*)*")
_RESERVED = {
    "true",
    "false",
    "if",
    "then",
    "else",
    "in",
    "like",
    "has",
    "is",
    "__cedar",
}


class Cedar:
    """Checks per-object permissions against Cedar policies, in process.

    Args:
        policies: The policy set, as Cedar text or a `cedarpy.PolicySet`.
        entities: The entities every decision may read besides the
            resources (principals, their groups): a list of Cedar JSON
            entities, a `cedarpy.Entities` handle (parsed once), or
            `entities(context)` returning either for the request. The
            resources of a batch are added to it for that call.
        principal: `principal(context)` returns the principal's uid
            (`{"type": "user", "id": "alice"}` or `'user::"alice"'`), or
            `None` for an anonymous request: every value is then denied
            without calling Cedar.
        context: `context(request_context)` returns the Cedar `context`
            record of every check of the request (default: empty).
        schema: A Cedar schema (text, JSON or `cedarpy.Schema`) the
            requests and entities are validated against.
        max_batch_size: At most this many values per `is_authorized_batch`.

    Raises:
        ConfigurationError: the policies do not parse, or an argument has
            the wrong type.
    """

    __slots__ = (
        "_by_attributes",
        "_calls",
        "_context",
        "_entities",
        "_principal",
        "max_batch_size",
        "policies",
        "schema",
    )

    def __init__(
        self,
        policies: str | cedarpy.PolicySet,
        *,
        entities: EntitiesSource,
        principal: Callable[[Any], EntityUid | None],
        context: Callable[[Any], Mapping[str, Any]] | None = None,
        schema: str | Mapping[str, Any] | cedarpy.Schema | None = None,
        max_batch_size: int = 1000,
    ) -> None:
        if isinstance(policies, str):
            try:
                policies = cedarpy.PolicySet.from_str(policies)
            except Exception as error:
                raise ConfigurationError(
                    f"Cedar: the policies do not parse: {error}"
                ) from None
        if not isinstance(policies, cedarpy.PolicySet):
            raise ConfigurationError(
                f"Cedar: policies must be Cedar text or a PolicySet, got {policies!r}"
            )
        if not callable(principal):
            raise ConfigurationError("Cedar: principal must be a function")
        if context is not None and not callable(context):
            raise ConfigurationError("Cedar: context must be a function or None")
        if (
            not isinstance(max_batch_size, int)
            or isinstance(max_batch_size, bool)
            or max_batch_size < 1
        ):
            raise ConfigurationError(
                f"Cedar: max_batch_size must be a positive int, got {max_batch_size!r}"
            )
        if isinstance(schema, Mapping):
            schema = json.dumps(schema)
        self.policies = policies
        self.schema = schema
        # Policies that read a resource only through its type and attributes
        # decide equal attribute maps alike: one request for all of them. Not
        # with a schema that may enumerate ids (`entity Color enum [...]`):
        # Cedar refuses an id it does not list, whatever the attributes.
        self._by_attributes = _reads_attributes_only(policies) and (
            schema is None or "enum" not in str(schema)
        )
        self._entities = entities
        self._principal = principal
        self._context = context
        self._calls = EngineCallLedger()
        self.max_batch_size = max_batch_size

    def scope(self, context: Any) -> BatchScope:
        """The request's scope loader: `{"can": cedar.scope(context)}`.

        Call it once per request (in `load_scopes`). Its values are
        `ResourceCheck`s (`Resource.check(obj, action)`).
        """
        calls = self._calls.open(context)

        def check_many(values: list[Any]) -> BatchAnswers:
            return self._check_many(context, values, calls)

        return BatchScope(check_many, max_batch_size=self.max_batch_size)

    def call_ids(self, context: Any) -> list[str]:
        """The ids of the `is_authorized_batch` calls made for this request.

        Each call's id is sent as the correlation id of its requests, so
        it also appears in Cedar's own answers and logs.
        """
        return self._calls.call_ids(context)

    def _check_many(
        self, context: Any, values: list[Any], calls: list[str]
    ) -> BatchAnswers:
        answers = BatchAnswers([False] * len(values))
        principal = self._principal(context)
        if principal is None:
            return answers
        principal = _uid(principal)
        record = dict(self._context(context)) if self._context else {}
        # As JSON once (cedarpy would encode a dict for every request); an
        # empty context is left out: Cedar's default is that same record,
        # and parsing "{}" for each request costs as much as deciding it.
        cedar_context = json.dumps(record) if record else None
        # A Cedar call holds one entity per uid: a second check of the same
        # resource with other attributes goes to the next round's call.
        # Every value's entity is in its round's call, as when each is asked:
        # a policy may read another resource from the entities (`doc::"b"
        # has x`, a principal or context entity that is a resource), and
        # base entities holding a resource's uid make Cedar refuse the call.
        rounds: list[dict[tuple[str, str], tuple[dict[str, Any], list[int]]]]
        rounds = [{}]
        kinds: dict[str, bool] = {}
        for index, value in enumerate(values):
            try:
                entity = _resource_entity(value, kinds)
            except EngineCheckError as error:
                answers[index] = error
                continue
            uid = (value.kind, value.id)
            for found in rounds:
                same = found.get(uid)
                if same is None:
                    found[uid] = (entity, [index])
                    break
                if _same_attributes(same[0]["attrs"], entity["attrs"]):
                    same[1].append(index)
                    break
            else:
                rounds.append({uid: (entity, [index])})
        if not rounds[0]:
            return answers
        base = self._entities(context) if callable(self._entities) else self._entities
        # Only the entities of the asked values are sent when no other entity
        # of the call can be one of them (see `_alone_in_call`).
        lean = self._by_attributes and _alone_in_call(principal, base, rounds)
        actions: dict[str, dict[str, str]] = {}
        for found in rounds:
            call_id = str(uuid.uuid4())
            calls.append(call_id)
            answers.call_ids.append(call_id)
            # Values Cedar answers alike share one request: each group's
            # first value is asked, its answer given to every member.
            indexes = [index for _, of_uid in found.values() for index in of_uid]
            groups: Sequence[Sequence[int]] = (
                _attribute_groups(values, indexes)
                if self._by_attributes
                else [[index] for index in indexes]
            )
            asked: list[Sequence[int]] = []
            requests = []
            for members in groups:
                value = values[members[0]]
                name = value.action
                action = actions.get(name)
                if action is None:
                    action = actions[name] = {"type": "Action", "id": name}
                request = {
                    "principal": principal,
                    "action": action,
                    "resource": found[(value.kind, value.id)][0]["uid"],
                    "correlation_id": call_id,
                }
                if cedar_context is not None:
                    request["context"] = cedar_context
                requests.append(request)
                asked.append(members)
            resources = (
                [found[(values[m[0]].kind, values[m[0]].id)][0] for m in asked]
                if lean
                else [entity for entity, _ in found.values()]
            )
            results = decide_batch(
                requests, self.policies, base, resources, self.schema, call_id
            )
            if len(results) != len(requests):
                raise EngineCheckError(
                    f"Cedar answered {len(results)} results for {len(requests)}"
                )
            for members, result in zip(asked, results, strict=True):
                answer = _answer(values[members[0]], result, call_id)
                if isinstance(answer, BaseException):
                    # Each member's own error, naming its own resource.
                    for index in members:
                        answers[index] = _answer(values[index], result, call_id)
                else:
                    for index in members:
                        answers[index] = answer
        return answers


def _alone_in_call(
    principal: EntityUid, base: Any, rounds: list[dict[tuple[str, str], Any]]
) -> bool:
    """Whether the values' entities can be left out of a call but the asked ones.

    With policies that dereference only `resource`, `principal` and
    `context` (`_reads_attributes_only`), a value's entity is read only when
    it is the request's resource, unless the principal is one of them, or
    the base entities hold one of their uids (Cedar then refuses the call).
    Unknown to the adapter (a `cedarpy.Entities` handle, a uid it does not
    read) is False: every value's entity is sent.
    """
    if not isinstance(principal, Mapping) or not isinstance(base, list):
        return False
    uids = [(principal.get("type"), principal.get("id"))]
    for entity in base:
        uid = entity.get("uid") if isinstance(entity, Mapping) else None
        if isinstance(uid, Mapping) and "__entity" in uid:
            uid = uid["__entity"]
        if not isinstance(uid, Mapping):
            return False
        uids.append((uid.get("type"), uid.get("id")))
    return not any(uid in found for found in rounds for uid in uids)


def _same_attributes(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Whether Cedar reads two attribute maps alike: as JSON, since Python
    finds `True == 1` (and `{"a": True} == {"a": 1}`)."""
    if one is other:
        return True
    try:
        return json.dumps(one, sort_keys=True) == json.dumps(other, sort_keys=True)
    except (TypeError, ValueError):
        return False


def _attribute_groups(values: list[Any], indexes: list[int]) -> list[list[int]]:
    """`indexes` of `values`, grouped by kind, action and attribute map.

    Members of a group differ only in their ids. The key keeps each
    attribute's type (`True` is not `1`, `1` not `"1"`); a value that is
    not a plain `ResourceCheck`, or whose attributes cannot be keyed, is a
    group of its own.
    """
    groups: dict[Hashable, list[int]] = {}
    for index in indexes:
        value = values[index]
        key: Hashable = index  # an int: never equal to a tuple key
        if type(value) is ResourceCheck:
            # The value's canonical key (`engines._check_key`) without its id.
            with contextlib.suppress(Exception):  # unkeyable: its own group
                key = scope_value_key(value._replace(id=""))
        members = groups.get(key)
        if members is None:
            groups[key] = [index]
        else:
            members.append(index)
    return list(groups.values())


def _reads_attributes_only(policies: cedarpy.PolicySet) -> bool:
    """True when no policy can tell two resources of one type with equal
    attributes apart: the resource is named only as `resource.attr`,
    `resource has attr` or `resource is Type` (scope `resource` or
    `resource is Type`). Anything else (`resource == ...`, `in`, the resource
    as a value, a template slot, a construct this cedarpy cannot show) is
    False: then each resource is asked.
    """
    try:
        from cedarpy import pst  # cedarpy 4.12: an earlier one asks each resource

        tree = policies.to_pst()
    except Exception:
        return False

    def is_resource(node: object) -> bool:
        return isinstance(node, pst.Var) and node.name == "resource"

    for policy in (*tree.static_policies.values(), *tree.templates.values()):
        if not isinstance(policy.resource, (pst.ScopeAny, pst.ScopeIs)):
            return False
        stack: list[Any] = list(policy.clauses)
        while stack:
            node = stack.pop()
            if isinstance(node, pst.Var):
                if node.name == "resource":
                    return False  # the resource as a value: its identity
            elif isinstance(node, (pst.GetAttr, pst.HasAttr)):
                # Only these three are read from the entities directly; any
                # other entity (a literal, `resource.parent`, `context.doc`)
                # may be a resource of the call that was not sent.
                base = node.base
                if not (
                    isinstance(base, pst.Var)
                    and base.name in ("resource", "principal", "context")
                ):
                    return False
            elif isinstance(node, pst.Is) and is_resource(node.base):
                if node.in_expr is not None:
                    return False
            elif isinstance(node, Mapping):
                stack.extend(node.values())
            elif isinstance(node, tuple):
                stack.extend(node)
            elif dataclasses.is_dataclass(node) and not isinstance(node, type):
                stack.extend(
                    getattr(node, field.name) for field in dataclasses.fields(node)
                )
    return True


def _uid(principal: EntityUid) -> EntityUid:
    if isinstance(principal, str):
        return principal
    if isinstance(principal, Mapping):
        kind, name = principal.get("type"), principal.get("id")
        if isinstance(kind, str) and isinstance(name, str) and kind and name:
            return {"type": kind, "id": name}
    raise TypeError(
        f"Cedar principal() returned {principal!r}, expected "
        '{"type": ..., "id": ...} or \'Type::"id"\''
    )


def _resource_entity(value: object, kinds: dict[str, bool]) -> dict[str, Any]:
    if not isinstance(value, ResourceCheck):
        raise EngineCheckError(
            f"Cedar scope value {value!r} is not a ResourceCheck "
            "(use Resource.check(obj, action))"
        )
    kind = value.kind
    valid = kinds.get(kind)
    if valid is None:
        valid = kinds[kind] = bool(_TYPE.fullmatch(kind)) and not (
            _RESERVED & set(kind.split("::"))
        )
    if not valid:
        raise EngineCheckError(f"{kind!r} is not a Cedar entity type")
    attributes = value.attributes
    # A dict of strings and booleans (the common map) is sent as it is: it
    # is only read. Anything else is copied, each value checked.
    plain = type(attributes) is dict
    if plain:
        for item in attributes.values():
            item_kind = type(item)
            if item_kind is not str and item_kind is not bool:
                plain = False
                break
    if not plain:
        attributes = {
            name: _cedar_value(item, name) for name, item in attributes.items()
        }
    return {
        "uid": {"type": kind, "id": value.id},
        "attrs": attributes,
        "parents": _NO_PARENTS,
    }


_NO_PARENTS: list[Any] = []  # shared by every resource entity, never changed


def _cedar_value(value: Any, name: str) -> Any:
    """A Cedar JSON value; Cedar has no floats, no nulls, and 64-bit ints."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if -_I64 <= value < _I64:
            return value
    elif isinstance(value, list):
        return [_cedar_value(item, name) for item in value]
    elif isinstance(value, Mapping):
        return {key: _cedar_value(item, name) for key, item in value.items()}
    raise EngineCheckError(
        f"attribute {name!r} = {value!r} has no Cedar type "
        "(Cedar has strings, booleans, 64-bit ints, sets and records)"
    )


# The Rust function `cedarpy.is_authorized_batch` wraps: it takes the
# requests as they are and answers JSON text, where the wrapper copies each
# request and builds a result object per answer (a third of the call's time
# for thousands of small checks). cedarpy is pinned to 4.12.x, which has it;
# without it, the public function.
_RUST_BATCH: Callable[..., list[str]] | None = getattr(
    getattr(cedarpy, "_internal", None), "is_authorized_batch", None
)


def decide_batch(
    requests: list[dict[str, Any]],
    policies: cedarpy.PolicySet,
    base: Any,
    resources: list[dict[str, Any]],
    schema: Any,
    call_id: str,
) -> list[Mapping[str, Any]]:
    """One `is_authorized_batch` call: each answer as Cedar's JSON record
    (`decision`, `correlation_id`, `diagnostics.errors`), in order."""
    entities = _with(base, resources)
    if _RUST_BATCH is None:
        return [
            {
                "decision": result.decision.value,
                "correlation_id": result.correlation_id,
                "diagnostics": {"errors": result.diagnostics.errors},
            }
            for result in cedarpy.is_authorized_batch(
                requests, policies, entities, schema
            )
        ]
    if isinstance(entities, cedarpy.Entities):
        entities = entities._inner
    elif not isinstance(entities, str):
        entities = json.dumps(entities)
    answered = _RUST_BATCH(requests, policies, entities, schema, False)
    return _records(answered, call_id)


_NO_ERRORS = '"errors":[]},"metrics":{'


def _records(answered: list[str], call_id: str) -> list[Mapping[str, Any]]:
    """Cedar's answers (JSON text) as records.

    Most answers are a plain Allow or Deny of this call without errors:
    told by their text, without parsing it. Cedar writes the decision and
    the correlation id first, and `"errors":[]` (quotes unescaped, so never
    inside a string) can only be the empty list of diagnostics errors: the
    other lists (`reason`) and maps (annotations, metrics) hold strings and
    numbers. Any other text, from another cedarpy too, is parsed in full.
    """
    tail = ',"correlation_id":' + json.dumps(call_id) + ',"diagnostics":{'
    allow_head = '{"decision":"Allow"' + tail
    deny_head = '{"decision":"Deny"' + tail
    allowed = {"decision": "Allow", "correlation_id": call_id, "diagnostics": {}}
    denied = {"decision": "Deny", "correlation_id": call_id, "diagnostics": {}}
    records: list[Mapping[str, Any]] = []
    for text in answered:
        if _NO_ERRORS in text:
            if text.startswith(allow_head):
                records.append(allowed)
                continue
            if text.startswith(deny_head):
                records.append(denied)
                continue
        records.append(json.loads(text))
    return records


def _with(base: Any, resources: list[dict[str, Any]]) -> Any:
    """The base entities plus this call's resources."""
    if isinstance(base, cedarpy.Entities):
        return base.with_added_json_str(json.dumps(resources))
    if isinstance(base, (str, bytes)) or not isinstance(base, Sequence):
        raise TypeError(
            "Cedar entities must be a list of entities or cedarpy.Entities, "
            f"got {type(base).__name__}"
        )
    return [*base, *resources]


def _answer(
    value: ResourceCheck, result: Mapping[str, Any], call_id: str
) -> bool | BaseException:
    decision = result.get("decision")
    if result.get("correlation_id") != call_id:
        return EngineCheckError(f"Cedar answered {_described(value)} out of order")
    errors = (result.get("diagnostics") or {}).get("errors")
    if errors:
        # Cedar skips a policy that errors: a failing `forbid` would let the
        # permit through. An error anywhere denies (fail closed).
        return EngineCheckError(
            f"Cedar could not decide {_described(value)} (call {call_id}): "
            + "; ".join(map(str, errors))
        )
    if decision == "Allow":
        return True
    if decision == "Deny":
        return False
    return EngineCheckError(f"Cedar answered {_described(value)} with {decision!r}")


def _described(value: ResourceCheck) -> str:
    return f"{value.kind}::{value.id!r} {value.action}"
