"""Cerbos adapter: per-object checks decided by a Cerbos policy decision point.

Install with the extra `strawberry-authz[cerbos]` (the `cerbos` SDK, gRPC).
This module is imported only by its users; the core package never imports it.

```python
documents = Resource("document", attributes={"owner": "owner_id", "status": "status"})
cerbos = Cerbos(
    AsyncCerbosClient("localhost:3593"),
    principal=lambda c: {"id": c["user"], "roles": ["user"]},
)
authz = AuthExtension(lambda context: {"can": cerbos.scope(context)})

@authz.type_rule(lambda p: {"can": documents.check(p.root, "view")})
@strawberry.type
class Document: ...
```

A scope value is a `ResourceCheck` (from `Resource.check`): the resource's
kind, id and attributes, and the action; or `Resource.each(action)`, which
also filters queries (`authz.filter`): the scope's `passing=` asks
`PlanResources` once per operation and type, and the plan becomes a
condition on the mapped columns (`cerbos_plan.row_condition`); anything it
cannot translate, and any engine error, denies every row. All the values
a request needs are checked with `CheckResources`, one call per chunk of
`max_batch_size` (at most 500, Cerbos's own ceiling; the server's
`requestLimits.maxResourcesPerRequest`, 50 by default, must allow it).

Fail closed everywhere: an anonymous principal is denied without a call; a
value Cerbos would refuse denies only the fields that need it; an answer
missing a resource or an action, an unknown effect, or a validation error
denies that value; an engine error (server down, a policy that does not
compile, a time-out) denies the whole chunk. Reasons are logged on the
`strawberry_authz` logger; no text from the engine reaches a client.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping
from inspect import isawaitable
from typing import Any, TypeAlias

from cerbos.effect.v1 import effect_pb2
from cerbos.engine.v1 import engine_pb2
from cerbos.request.v1 import request_pb2
from google.protobuf import struct_pb2

from ._batch import BatchAnswers, BatchScope
from ._cerbos_plan import RESOURCE_ID, row_condition, translate_plan
from ._errors import ConfigurationError
from .conditions import Condition
from .engines import EngineCallLedger, EngineCheckError, ResourceCheck, RowCheck

__all__ = ["MAX_RESOURCES", "Cerbos"]

logger = logging.getLogger("strawberry_authz")

MAX_RESOURCES = 500
"""The most resources one `CheckResources` call may carry (Cerbos's ceiling)."""

CerbosClient: TypeAlias = Any
"""A `cerbos.sdk.grpc.client.CerbosClient` or `AsyncCerbosClient` (anything
with their `check_resources(principal=, resources=, request_id=)`)."""
PrincipalSpec: TypeAlias = "engine_pb2.Principal | Mapping[str, Any]"
PrincipalFn: TypeAlias = Callable[[Any], "PrincipalSpec | None"]

# Cerbos's request validation: one bad entry makes it refuse the whole
# request, so entries are checked here first and a bad one denies alone.
_KIND = re.compile(r"[A-Za-z][\w@.\-/]*(:[A-Za-z][\w@.\-/]*)*")
_ACTION = re.compile(r"\S.*")
_SAFE_INT = 2**53
_EFFECTS = {effect_pb2.EFFECT_ALLOW: True, effect_pb2.EFFECT_DENY: False}


class Cerbos:
    """Checks per-object permissions against a Cerbos PDP.

    Args:
        client: A Cerbos gRPC client, sync (`CerbosClient`) or async
            (`AsyncCerbosClient`). Sync answers are used as they are, so a
            sync client also works under `schema.execute_sync`.
        principal: `principal(context)` builds the principal of the
            request: a `cerbos.engine.v1.engine_pb2.Principal`, or a mapping
            `{"id": ..., "roles": [...], "attributes": {...}}` (optional
            `"policy_version"`, `"scope"`). `None` is an anonymous request:
            every value is denied without calling Cerbos (return a principal
            with an `anonymous` role to let policies decide instead).
        max_batch_size: At most this many resources per `CheckResources`
            (1 to 500).

    Raises:
        ConfigurationError: `principal` is not callable or `max_batch_size`
            is out of range.
    """

    __slots__ = ("_calls", "_principal", "client", "max_batch_size")

    def __init__(
        self,
        client: CerbosClient,
        *,
        principal: PrincipalFn,
        max_batch_size: int = MAX_RESOURCES,
    ) -> None:
        if not callable(principal):
            raise ConfigurationError("Cerbos: principal must be a function")
        if (
            not isinstance(max_batch_size, int)
            or isinstance(max_batch_size, bool)
            or not 1 <= max_batch_size <= MAX_RESOURCES
        ):
            raise ConfigurationError(
                f"Cerbos: max_batch_size must be an int from 1 to {MAX_RESOURCES}, "
                f"got {max_batch_size!r}"
            )
        self.client = client
        self._principal = principal
        self._calls = EngineCallLedger()
        self.max_batch_size = max_batch_size

    def scope(self, context: Any) -> BatchScope:
        """The request's scope loader: `{"can": cerbos.scope(context)}`.

        Call it once per request (in `load_scopes`). Its values are
        `ResourceCheck`s (`Resource.check(obj, action)`); the principal is
        built when the first batch is checked.
        """
        calls = self._calls.open(context)

        def check_many(values: list[Any]) -> Any:
            return self._check_many(context, values, calls)

        def passing(value: Any) -> Any:
            return plan_rows(self, context, value, calls)

        return BatchScope(
            check_many, max_batch_size=self.max_batch_size, passing=passing
        )

    def call_ids(self, context: Any) -> list[str]:
        """The Cerbos call ids (`cerbosCallId`) of this request's checks.

        The same ids key Cerbos's own decision log, when it keeps one.
        """
        return self._calls.call_ids(context)

    def _check_many(self, context: Any, values: list[Any], calls: list[str]) -> Any:
        """One answer per value, in order; one `CheckResources` per chunk."""
        answers = BatchAnswers([False] * len(values))
        spec = self._principal(context)
        if spec is None:
            return answers
        principal = _principal(spec)
        entries: list[request_pb2.CheckResourcesRequest.ResourceEntry] = []
        where: list[int] = []
        kinds: dict[tuple[str, str], bool] = {}
        for index, value in enumerate(values):
            try:
                entries.append(_entry(value, kinds))
            except EngineCheckError as error:
                answers[index] = error
                continue
            where.append(index)
        if not entries:
            return answers
        size = self.max_batch_size
        chunks = [
            (entries[start : start + size], where[start : start + size])
            for start in range(0, len(entries), size)
        ]

        def fill(chunk: int, response: Any) -> None:
            indexes = chunks[chunk][1]
            call_id = response.cerbos_call_id or response.request_id
            calls.append(call_id)
            answers.call_ids.append(call_id)
            asked = [values[index] for index in indexes]
            for index, answer in zip(
                indexes, _read(asked, response, call_id), strict=True
            ):
                answers[index] = answer

        first = self._call(principal, chunks[0][0])
        if not isawaitable(first):
            fill(0, first)
            for chunk in range(1, len(chunks)):
                fill(chunk, self._call(principal, chunks[chunk][0]))
            return answers

        async def answer_async() -> BatchAnswers:
            fill(0, await first)
            for chunk in range(1, len(chunks)):
                response = self._call(principal, chunks[chunk][0])
                fill(chunk, await response if isawaitable(response) else response)
            return answers

        return answer_async()

    def _call(self, principal: engine_pb2.Principal, entries: list[Any]) -> Any:
        return self.client.check_resources(
            principal=principal, resources=entries, request_id=str(uuid.uuid4())
        )


def plan_rows(cerbos: Cerbos, context: Any, value: Any, calls: list[str]) -> Any:
    """Which rows pass `value` (a `Resource.each(action)`), by `PlanResources`.

    `True`, `False`, or a row condition on the mapped columns; or an
    awaitable of one, for an async client. An anonymous principal passes no
    row without a call. Raises (the plan then denies every row, logged) for
    another value, an engine error, or a plan it cannot translate exactly.
    """
    if not isinstance(value, RowCheck):
        raise EngineCheckError(
            f"a filtered Cerbos value is Resource.each(action), got {value!r}"
        )
    if not (_KIND.fullmatch(value.kind) and _ACTION.fullmatch(value.action)):
        raise EngineCheckError(
            f"Cerbos would refuse kind {value.kind!r} / action {value.action!r}"
        )
    spec = cerbos._principal(context)
    if spec is None:
        return False
    answered = cerbos.client.plan_resources(
        value.action,
        _principal(spec),
        engine_pb2.PlanResourcesInput.Resource(kind=value.kind),
        request_id=str(uuid.uuid4()),
    )
    if isawaitable(answered):
        return _rows_later(answered, value, calls)
    return _rows(answered, value, calls)


async def _rows_later(answered: Any, value: RowCheck, calls: list[str]) -> Any:
    return _rows(await answered, value, calls)


def _rows(response: Any, value: RowCheck, calls: list[str]) -> bool | Condition:
    calls.append(response.cerbos_call_id or response.request_id)
    planned = translate_plan(response, variables={RESOURCE_ID: RESOURCE_ID})
    return row_condition(planned, value.attribute_columns, value.id_column)


def _principal(spec: PrincipalSpec) -> engine_pb2.Principal:
    """The `Principal` message `principal(context)` describes."""
    if isinstance(spec, engine_pb2.Principal):
        return spec
    if not isinstance(spec, Mapping):
        raise TypeError(
            f"Cerbos principal() returned {type(spec).__name__}, expected a "
            "Principal or a mapping with id, roles and attributes"
        )
    principal_id, roles = spec.get("id"), spec.get("roles", ())
    if not isinstance(principal_id, str) or not principal_id:
        raise TypeError("Cerbos principal() returned no id")
    if (
        isinstance(roles, str)
        or not roles
        or not all(isinstance(role, str) and role for role in roles)
    ):
        raise TypeError("Cerbos principal() must give at least one role name")
    attributes = spec.get("attributes", spec.get("attr", {}))
    return engine_pb2.Principal(
        id=principal_id,
        roles=list(roles),
        attr={name: _value(item, name) for name, item in attributes.items()},
        policy_version=spec.get("policy_version", ""),
        scope=spec.get("scope", ""),
    )


def _entry(
    value: object, kinds: dict[tuple[str, str], bool]
) -> request_pb2.CheckResourcesRequest.ResourceEntry:
    """The entry of one value; `kinds` remembers the kinds and actions
    already found valid in this batch."""
    if not isinstance(value, ResourceCheck):
        raise EngineCheckError(
            f"Cerbos scope value {value!r} is not a ResourceCheck "
            "(use Resource.check(obj, action))"
        )
    names = (value.kind, value.action)
    valid = kinds.get(names)
    if valid is None:
        valid = kinds[names] = bool(
            _KIND.fullmatch(value.kind) and _ACTION.fullmatch(value.action)
        )
    if not valid:
        raise EngineCheckError(
            f"Cerbos would refuse kind {value.kind!r} / action {value.action!r}"
        )
    # Filled in place: building a `Value` per attribute and copying it into
    # the map costs twice as much.
    entry = request_pb2.CheckResourcesRequest.ResourceEntry(actions=[value.action])
    resource = entry.resource
    resource.kind = value.kind
    resource.id = value.id
    attr = resource.attr
    for name, item in value.attributes.items():
        kind = type(item)
        if kind is str:
            attr[name].string_value = item
        elif kind is bool:
            attr[name].bool_value = item
        else:
            attr[name].CopyFrom(_value(item, name))
    return entry


def _value(item: Any, name: str) -> struct_pb2.Value:
    """A JSON value as a protobuf `Value` (ints beyond 2**53 are refused)."""
    if item is None:
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    if isinstance(item, bool):
        return struct_pb2.Value(bool_value=item)
    if isinstance(item, str):
        return struct_pb2.Value(string_value=item)
    if isinstance(item, int) and -_SAFE_INT <= item <= _SAFE_INT:
        return struct_pb2.Value(number_value=item)
    if isinstance(item, float):
        return struct_pb2.Value(number_value=item)
    if isinstance(item, list):
        return struct_pb2.Value(
            list_value=struct_pb2.ListValue(values=[_value(x, name) for x in item])
        )
    if isinstance(item, Mapping):
        return struct_pb2.Value(
            struct_value=struct_pb2.Struct(
                fields={key: _value(x, name) for key, x in item.items()}
            )
        )
    raise EngineCheckError(f"attribute {name!r} = {item!r} cannot be sent to Cerbos")


def _read(
    asked: list[ResourceCheck], response: Any, call_id: str
) -> list[bool | BaseException]:
    """One answer per value sent, each checked against the value it answers."""
    results = response.results
    if len(results) != len(asked):
        raise EngineCheckError(
            f"CheckResources (call {call_id}) answered {len(results)} resources "
            f"for {len(asked)}"
        )
    answers: list[bool | BaseException] = []
    for value, result in zip(asked, results, strict=True):
        action = value.action
        resource = result.resource
        if resource.id != value.id or resource.kind != value.kind:
            answers.append(
                EngineCheckError(
                    f"Cerbos answered {_described(value, call_id)} out of order"
                )
            )
        elif result.validation_errors:
            answers.append(
                EngineCheckError(
                    f"Cerbos found {_described(value, call_id)} invalid: "
                    + "; ".join(e.message for e in result.validation_errors)
                )
            )
        else:
            effect = result.actions.get(action)
            answer = _EFFECTS.get(effect) if effect is not None else None
            if answer is None:
                answers.append(
                    EngineCheckError(f"Cerbos left out {_described(value, call_id)}")
                    if effect is None
                    else EngineCheckError(
                        f"Cerbos answered {_described(value, call_id)} with "
                        f"effect {effect}"
                    )
                )
            else:
                answers.append(answer)
    return answers


def _described(value: ResourceCheck, call_id: str) -> str:
    return f"{value.kind}:{value.id} {value.action} (call {call_id})"
