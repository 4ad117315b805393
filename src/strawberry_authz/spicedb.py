"""SpiceDB adapter: per-object checks answered by a Zanzibar-style engine.

Install with the extra `strawberry-authz[spicedb]` (the `authzed` client).
This module is imported only by its users; the core package never imports it.

```python
spicedb = SpiceDB(client, subject=lambda context: f"user:{context['user']}")
authz = AuthExtension(lambda context: {"can": spicedb.scope(context)})

@authz.type_rule(lambda p: {"can": ["document", p.root.id, "view"]})
@strawberry.type
class Document: ...
```

A scope value is `"document:42#view"`, `["document", "42", "view"]` or a
`ResourceCheck` (`Resource.check(obj, "view")`, its attributes unused): the
resource type, its id and the permission the request's subject must have.
All the values a request needs are checked with `CheckBulkPermissions`, one
call per chunk of `max_batch_size`.

Fail closed everywhere: an anonymous subject is denied without a call, a
conditional answer (a caveat missing its context) denies, a value SpiceDB
would reject denies only the fields that need it, and an engine error denies
the whole chunk. Every reason is logged on the `strawberry_authz` logger;
no text from the engine reaches a client.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from inspect import isawaitable
from typing import Any, Literal, TypeAlias

from authzed.api.v1 import (
    CheckBulkPermissionsPair,
    CheckBulkPermissionsRequest,
    CheckBulkPermissionsRequestItem,
    CheckBulkPermissionsResponse,
    CheckPermissionResponse,
    Consistency,
    LookupResourcesRequest,
    ObjectReference,
    SubjectReference,
    ZedToken,
)
from authzed.api.v1.permission_service_pb2 import LookupPermissionship
from authzed.api.v1.permission_service_pb2_grpc import PermissionsServiceStub

from ._batch import BatchScope
from ._columns import Column
from ._errors import AuthorizationFailedError
from .engines import ResourceCheck

__all__ = ["EmbeddedClient", "SpiceDB", "SpiceDBCheckError"]

logger = logging.getLogger("strawberry_authz")

PermissionsClient: TypeAlias = Any
"""Anything with the PermissionsService methods: an authzed `Client`,
`SyncClient` or `AsyncClient`, or a stub over a gRPC channel."""

SubjectFn: TypeAlias = Callable[[Any], str | None]
ConsistencyFn: TypeAlias = Callable[[Any], ZedToken | str | None]
ConsistencyOption: TypeAlias = (
    Literal["minimize_latency", "fully_consistent"] | ConsistencyFn
)

# The request validation rules of SpiceDB's v1 API. A bulk request holding one
# value that breaks them is rejected whole, so values are checked here first:
# a malformed value then denies only the fields that need it.
_TYPE = re.compile(r"([a-z][a-z0-9_]{1,61}[a-z0-9]/)*[a-z][a-z0-9_]{1,62}[a-z0-9]")
_ID = re.compile(r"[a-zA-Z0-9/_|\-=+]{1,1024}")
_RELATION = re.compile(r"[a-z][a-z0-9_]{1,62}[a-z0-9]")
_ANSWERS = {
    CheckPermissionResponse.PERMISSIONSHIP_HAS_PERMISSION: True,
    CheckPermissionResponse.PERMISSIONSHIP_NO_PERMISSION: False,
}
_CONDITIONAL = CheckPermissionResponse.PERMISSIONSHIP_CONDITIONAL_PERMISSION
_FOUND = LookupPermissionship.LOOKUP_PERMISSIONSHIP_HAS_PERMISSION


class SpiceDBCheckError(Exception):
    """One value could not be checked (malformed, or refused by SpiceDB).

    It denies only the fields that need that value, as a failure
    (`INTERNAL_SERVER_ERROR`); its message is logged, never sent to the client.
    """


class SpiceDB:
    """Checks per-object permissions against SpiceDB.

    Args:
        client: Anything with the PermissionsService methods: an authzed
            `Client`, `SyncClient` or `AsyncClient`. Sync results are used as
            they are and awaitables awaited, so a sync client also works
            under `schema.execute_sync`. `lookup_resources` needs its
            streaming `LookupResources` (a sync or an async iterator).
        subject: `subject(context)` returns the subject every check of the
            request is made for, `"user:alice"` or `"team:red#member"`, or
            `None` for an anonymous request: every value is then denied
            without calling SpiceDB.
        consistency: `"minimize_latency"` (the default: the fastest snapshot,
            possibly a few seconds old), `"fully_consistent"` (the newest
            snapshot; slow), or `consistency(context)` returning the
            `ZedToken` (or its `.token` string) of the request's last write:
            checks then see at least that write. `None` falls back to
            `minimize_latency`.
        max_batch_size: At most this many values per `CheckBulkPermissions`.
        max_lookup: A query filter (`authz.filter`) built from
            `LookupResources` denies every row when more resources than this
            are found: a truncated id list is never taken as the whole.

    Raises:
        ValueError: an unknown consistency name or a bad `max_batch_size`.
    """

    __slots__ = ("_consistency", "_subject", "client", "max_batch_size", "max_lookup")

    def __init__(
        self,
        client: PermissionsClient,
        *,
        subject: SubjectFn,
        consistency: ConsistencyOption = "minimize_latency",
        max_batch_size: int = 1000,
        max_lookup: int = 10_000,
    ) -> None:
        if not callable(subject):
            raise ValueError(f"SpiceDB: subject must be callable, got {subject!r}")
        if not callable(consistency) and consistency not in (
            "minimize_latency",
            "fully_consistent",
        ):
            raise ValueError(
                "SpiceDB: consistency must be 'minimize_latency', "
                f"'fully_consistent' or a function, got {consistency!r}"
            )
        if (
            not isinstance(max_batch_size, int)
            or isinstance(max_batch_size, bool)
            or max_batch_size < 1
        ):
            raise ValueError(
                "SpiceDB: max_batch_size must be a positive int, "
                f"got {max_batch_size!r}"
            )
        if (
            not isinstance(max_lookup, int)
            or isinstance(max_lookup, bool)
            or max_lookup < 1
        ):
            raise ValueError(
                f"SpiceDB: max_lookup must be a positive int, got {max_lookup!r}"
            )
        self.client = client
        self._subject = subject
        self._consistency = consistency
        self.max_batch_size = max_batch_size
        self.max_lookup = max_lookup

    @classmethod
    def from_embedded(
        cls,
        db: Any,
        *,
        subject: SubjectFn,
        consistency: ConsistencyOption = "minimize_latency",
        max_batch_size: int = 1000,
        max_lookup: int = 10_000,
    ) -> SpiceDB:
        """An adapter over an embedded SpiceDB (`spicedb_embedded.EmbeddedSpiceDB`).

        The embedded server answers unary calls (`CheckBulkPermissions`,
        `WriteRelationships`, ...) only through `db.permissions()` and
        streaming calls (`LookupResources`, ...) only through `db.channel()`;
        `spicedb.client` routes each call to the side that answers it, so it
        also serves the application's own writes.
        """
        return cls(
            EmbeddedClient(db),
            subject=subject,
            consistency=consistency,
            max_batch_size=max_batch_size,
            max_lookup=max_lookup,
        )

    def scope(self, context: Any) -> BatchScope:
        """The request's scope loader: `{"can": spicedb.scope(context)}`.

        Call it once per request (in `load_scopes`). Its values are
        `"document:42#view"` or `["document", "42", "view"]`; the subject
        and the consistency are read from `context` when a batch is checked,
        so a token stored by a mutation earlier in the request is honoured.

        In a type's rule, `["document", Column("id"), "view"]` checks each
        object by its `id` and, in a query filter (`authz.filter`), becomes
        `id IN (the ids LookupResources streams)`: at most `max_lookup` of
        them, else (or on any engine error) no row at all.
        """

        def check_many(values: list[Any]) -> Any:
            return self._check_many(context, values)

        def passing(value: Any) -> Any:
            return _passing_ids(self, context, value)

        return BatchScope(
            check_many,
            max_batch_size=self.max_batch_size,
            passing=passing,
            max_passing=self.max_lookup,
        )

    async def lookup_resources(
        self, context: Any, resource_type: str, permission: str
    ) -> set[str]:
        """The ids of every `resource_type` the subject has `permission` on.

        For resolvers that filter their data query up front
        (`WHERE id IN (...)`). Anonymous: an empty set, without a call.
        Conditional results are left out (fail closed). A sync client's
        stream is read on the event loop's thread; under an asyncio server
        prefer an `AsyncClient`.

        Raises:
            AuthorizationFailedError: SpiceDB failed (the reason is logged,
                never sent to the client) or an argument is malformed; its
                code is `INTERNAL_SERVER_ERROR`.
        """
        try:
            return {
                found
                async for found in _lookup_ids(self, context, resource_type, permission)
            }
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(
                "strawberry-authz: SpiceDB LookupResources(%s#%s) failed; "
                "denying (fail closed)",
                resource_type,
                permission,
            )
            raise AuthorizationFailedError() from None

    def _check_many(self, context: Any, values: list[Any]) -> Any:
        """One answer per value, in order; one engine call per chunk."""
        subject = _subject_reference(self._subject, context)
        if subject is None:
            return [False] * len(values)
        items: list[CheckBulkPermissionsRequestItem] = []
        where: list[int] = []  # index in `values` of each item sent
        answers: list[bool | BaseException] = [False] * len(values)
        for index, value in enumerate(values):
            try:
                resource, permission = _parse_value(value)
            except SpiceDBCheckError as error:
                answers[index] = error
                continue
            items.append(
                CheckBulkPermissionsRequestItem(
                    resource=resource, permission=permission, subject=subject
                )
            )
            where.append(index)
        if not items:
            return answers
        consistency = _consistency_for(self._consistency, context)
        size = self.max_batch_size
        requests = [
            CheckBulkPermissionsRequest(
                consistency=consistency, items=items[start : start + size]
            )
            for start in range(0, len(items), size)
        ]

        def fill(responses: list[CheckBulkPermissionsResponse]) -> Any:
            for chunk, response in enumerate(responses):
                start = chunk * size
                sent = items[start : start + size]
                for offset, answer in enumerate(_read_pairs(sent, response)):
                    answers[where[start + offset]] = answer
            return answers

        # The library hands at most `max_batch_size` values at a time, so
        # there is normally one request; more are sent one after the other.
        first = self.client.CheckBulkPermissions(requests[0])
        if not isawaitable(first):
            rest = [self.client.CheckBulkPermissions(r) for r in requests[1:]]
            return fill([first, *rest])

        async def answer_async() -> Any:
            responses = [await first]
            for request in requests[1:]:
                responses.append(
                    await _result(self.client.CheckBulkPermissions(request))
                )
            return fill(responses)

        return answer_async()


def _passing_ids(spicedb: SpiceDB, context: Any, value: Any) -> Any:
    """The ids `LookupResources` finds for `[type, Column(...), permission]`.

    An async iterator of resource ids (conditional results left out);
    the planner stops reading past `max_lookup`. Raises for a value of
    another shape (the filter then denies every row, logged).
    """
    if not (
        isinstance(value, (list, tuple))
        and len(value) == 3
        and type(value[1]) is Column
        and isinstance(value[0], str)
        and isinstance(value[2], str)
    ):
        raise SpiceDBCheckError(
            f"a filtered SpiceDB value is [type, Column(...), permission], "
            f"got {value!r}"
        )
    return _lookup_ids(spicedb, context, value[0], value[2])


async def _lookup_ids(
    spicedb: SpiceDB, context: Any, resource_type: str, permission: str
) -> AsyncIterator[str]:
    """The ids `LookupResources` streams (conditional results left out).

    Anonymous: nothing, without a call. A sync client's stream is read on
    the event loop's thread.
    """
    subject = _subject_reference(spicedb._subject, context)
    if subject is None:
        return
    if not _TYPE.fullmatch(resource_type) or not _RELATION.fullmatch(permission):
        raise SpiceDBCheckError(f"malformed lookup {resource_type!r} #{permission!r}")
    request = LookupResourcesRequest(
        consistency=_consistency_for(spicedb._consistency, context),
        resource_object_type=resource_type,
        permission=permission,
        subject=subject,
    )
    stream = spicedb.client.LookupResources(request)
    if not hasattr(stream, "__aiter__") and isawaitable(stream):
        stream = await stream
    if hasattr(stream, "__aiter__"):
        async for response in stream:
            if response.permissionship == _FOUND:
                yield response.resource_object_id
    else:
        for response in stream:
            if response.permissionship == _FOUND:
                yield response.resource_object_id


class EmbeddedClient:
    """The PermissionsService of an embedded SpiceDB, each call on its side.

    Unary calls go through `db.permissions()` (the server's own handlers);
    streaming calls through a stub over `db.channel()`, whose unary
    `CheckBulkPermissions` answers `UNIMPLEMENTED`.
    """

    def __init__(self, db: Any) -> None:
        unary = db.permissions()
        streaming = PermissionsServiceStub(db.channel())
        self.CheckPermission = unary.CheckPermission
        self.CheckBulkPermissions = unary.CheckBulkPermissions
        self.WriteRelationships = unary.WriteRelationships
        self.DeleteRelationships = unary.DeleteRelationships
        self.ExpandPermissionTree = unary.ExpandPermissionTree
        self.ReadRelationships = streaming.ReadRelationships
        self.LookupResources = streaming.LookupResources
        self.LookupSubjects = streaming.LookupSubjects


def _subject_reference(
    subject_of: Callable[[Any], str | None], context: Any
) -> SubjectReference | None:
    """The subject `subject_of(context)` names, or None for anonymous."""
    subject = subject_of(context)
    if subject is None:
        return None
    if not isinstance(subject, str):
        raise TypeError(f"SpiceDB subject() returned {subject!r}, expected str")
    head, _, relation = subject.partition("#")
    kind, _, object_id = head.partition(":")
    if not (
        _TYPE.fullmatch(kind)
        and (_ID.fullmatch(object_id) or object_id == "*")
        and (not relation or _RELATION.fullmatch(relation))
    ):
        raise ValueError(f"SpiceDB subject() returned a malformed {subject!r}")
    return SubjectReference(
        object=ObjectReference(object_type=kind, object_id=object_id),
        optional_relation=relation,
    )


def _consistency_for(consistency: Any, context: Any) -> Consistency:
    """The `Consistency` of one check, from `consistency=` and the context."""
    if not callable(consistency):
        if consistency == "fully_consistent":
            return Consistency(fully_consistent=True)
        return Consistency(minimize_latency=True)
    token = consistency(context)
    if token is None:
        return Consistency(minimize_latency=True)
    if isinstance(token, str):
        token = ZedToken(token=token)
    if not isinstance(token, ZedToken) or not token.token:
        raise TypeError(f"SpiceDB consistency() returned {token!r}")
    return Consistency(at_least_as_fresh=token)


def _parse_value(value: object) -> tuple[ObjectReference, str]:
    """`"document:42#view"`, `["document", "42", "view"]` or a `ResourceCheck`
    (its attributes unused: SpiceDB decides on relationships) -> resource,
    permission."""
    if isinstance(value, ResourceCheck):
        kind, object_id, permission = value.kind, value.id, value.action
    elif isinstance(value, str):
        head, _, permission = value.rpartition("#")
        kind, _, object_id = head.partition(":")
    elif isinstance(value, (list, tuple)) and len(value) == 3:
        kind, object_id, permission = value
        if isinstance(object_id, int) and not isinstance(object_id, bool):
            object_id = str(object_id)
    else:
        raise SpiceDBCheckError(f"malformed SpiceDB scope value {value!r}")
    if not (
        isinstance(kind, str)
        and isinstance(object_id, str)
        and isinstance(permission, str)
        and _TYPE.fullmatch(kind)
        and _ID.fullmatch(object_id)
        and _RELATION.fullmatch(permission)
    ):
        raise SpiceDBCheckError(
            f"malformed SpiceDB scope value {value!r}: expected "
            "'type:id#permission' or [type, id, permission]"
        )
    return ObjectReference(object_type=kind, object_id=object_id), permission


def _read_pairs(
    sent: list[CheckBulkPermissionsRequestItem],
    response: CheckBulkPermissionsResponse,
) -> list[bool | BaseException]:
    """One answer per item sent, checked against the request each pair echoes.

    A response that does not pair up with the request raises: the library
    then denies the whole chunk.
    """
    pairs: Sequence[CheckBulkPermissionsPair] = response.pairs
    if len(pairs) != len(sent):
        raise SpiceDBCheckError(
            f"CheckBulkPermissions answered {len(pairs)} pairs for {len(sent)} items"
        )
    answers: list[bool | BaseException] = []
    for item, pair in zip(sent, pairs, strict=True):
        if pair.HasField("request") and pair.request != item:
            raise SpiceDBCheckError("CheckBulkPermissions answered out of order")
        answers.append(_answer(item, pair))
    return answers


def _answer(
    item: CheckBulkPermissionsRequestItem, pair: CheckBulkPermissionsPair
) -> bool | BaseException:
    described = (
        f"{item.resource.object_type}:{item.resource.object_id}#{item.permission}"
    )
    if pair.WhichOneof("response") == "error":
        return SpiceDBCheckError(
            f"SpiceDB could not check {described}: "
            f"code {pair.error.code}: {pair.error.message}"
        )
    permissionship = pair.item.permissionship
    if permissionship in _ANSWERS:
        return _ANSWERS[permissionship]
    if permissionship == _CONDITIONAL:
        # A caveat lacked its context: the answer is unknown, so it denies.
        logger.warning(
            "strawberry-authz: SpiceDB answered %s conditionally (caveat context "
            "missing); denying (fail closed)",
            described,
        )
        return False
    return SpiceDBCheckError(
        f"SpiceDB answered {described} with permissionship {permissionship}"
    )


async def _result(call: Awaitable[CheckBulkPermissionsResponse] | Any) -> Any:
    return await call if isawaitable(call) else call
