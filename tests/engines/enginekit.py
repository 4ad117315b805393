"""One policy, three engines: the harnesses the contract suite runs against.

Who may view which document (the `view` action; `edit` is the owner only):

| document | owner | status    | viewers                  |
| -------- | ----- | --------- | ------------------------ |
| 1        | alice | draft     | alice                    |
| 2        | bob   | published | everyone                 |
| 3        | bob   | draft     | bob                      |
| 4        | carol | draft     | carol                    |
| 5        | alice | published | everyone                 |

SpiceDB holds it as relationships (owner, and `reader@user:*` for a
published document), Cerbos as a YAML policy on the attributes
(`cerbos_policies/`), Cedar as a policy text on the attributes (`POLICIES`).
Each harness builds its engine's adapter over a *counting* client, so tests
see how many resources each engine call carried.
"""

import asyncio
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import strawberry

from strawberry_authz import AuthExtension
from strawberry_authz.engines import Resource, ResourceCheck

HERE = Path(__file__).resolve().parent
SPICEDB_TESTS = str(HERE.parent / "spicedb")
if SPICEDB_TESTS not in sys.path:
    sys.path.insert(0, SPICEDB_TESTS)

import cerboskit  # noqa: E402

SECRET = "dial tcp 10.1.2.3:3593: connection refused (internal-pdp-7)"


@dataclasses.dataclass
class Doc:
    id: str
    owner: str
    status: str


def documents() -> dict[str, Doc]:
    return {
        "1": Doc("1", "alice", "draft"),
        "2": Doc("2", "bob", "published"),
        "3": Doc("3", "bob", "draft"),
        "4": Doc("4", "carol", "draft"),
        "5": Doc("5", "alice", "published"),
    }


VISIBLE = {
    "alice": ["1", "2", "5"],
    "bob": ["2", "3", "5"],
    "carol": ["2", "4", "5"],
}

DOCUMENTS = Resource("document", attributes=["owner", "status"])

CEDAR_POLICIES = """
permit(principal, action == Action::"view", resource)
when { resource.owner == principal.id || resource.status == "published" };

permit(principal, action == Action::"edit", resource)
when { resource.owner == principal.id };
"""

SPICEDB_SCHEMA = """
definition user {}

definition document {
    relation owner: user
    relation reader: user | user:*
    permission view = owner + reader
    permission edit = owner
}
"""


class Harness:
    """One engine, its data, and the adapter the tests check through."""

    name = ""
    attributes = True  # values carry the resource's attributes
    call_ids = True  # the adapter reports its engine call ids
    times_out = True  # its checks are awaited (scope_timeout applies)

    def __init__(self) -> None:
        self.docs = documents()
        self.sent: list[int] = []  # resources per engine call
        self.poisoned: set[str] = set()  # ids whose value the engine can't take

    def adapter(self, *, asynchronous: bool = True, **options: Any) -> Any:
        raise NotImplementedError

    def value(self, check: ResourceCheck) -> object:
        """The scope value of `check` (malformed for a poisoned id)."""
        if check.id in self.poisoned:
            return self.malformed(check)
        return self.native(check)

    def native(self, check: ResourceCheck) -> object:
        return check

    def malformed(self, check: ResourceCheck) -> object:
        """A value this engine would refuse (its adapter must catch it first)."""
        return check._replace(kind="not a kind!")

    def share(self, doc_id: str, user: str) -> None:
        """Make `user` the owner of `doc_id`, as the application would."""
        self.docs[doc_id].owner = user

    def break_engine(self) -> None:
        raise NotImplementedError

    def slow(self, seconds: float) -> Any:
        """An adapter whose engine answers after `seconds` (async)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


def document_type(
    authz: AuthExtension,
    *,
    action: str = "view",
    value: Callable[[ResourceCheck], Any] = lambda check: check,
) -> Any:
    """`Document` (its private `doc`, and its `id`), whose type rule asks the
    `can` scope for `value(DOCUMENTS.check(doc, action))`."""

    @authz.type_rule(lambda p: {"can": value(DOCUMENTS.check(p.root.doc, action))})
    @strawberry.type
    class Document:
        doc: strawberry.Private[Doc]

        @strawberry.field
        def id(self) -> str:
            return self.doc.id

    return Document


def schema_for(
    harness: Harness,
    adapter: Any,
    *,
    action: str = "view",
    **options: Any,
) -> strawberry.Schema:
    """`documents` (every document, denied ones null) and `document(id)`."""
    authz = AuthExtension(lambda context: {"can": adapter.scope(context)}, **options)
    Document = document_type(authz, action=action, value=harness.value)

    @strawberry.type
    class Query:
        @strawberry.field
        def documents(self, ids: list[str] | None = None) -> list[Document | None]:
            chosen = ids if ids is not None else sorted(harness.docs)
            return [Document(doc=harness.docs[n]) for n in chosen]

        @strawberry.field
        def copies(self) -> list[Document | None]:
            """Document 1 three times: twice as stored, once changed."""
            stored = harness.docs["1"]
            changed = dataclasses.replace(stored, status="published")
            return [Document(doc=stored), Document(doc=stored), Document(doc=changed)]

    return strawberry.Schema(query=Query, extensions=[authz])


def visible(result: Any) -> list[str]:
    assert result.errors is None or all(
        (e.extensions or {}).get("code") in {"FORBIDDEN", "INTERNAL_SERVER_ERROR"}
        for e in result.errors
    ), result.errors
    return [d["id"] for d in result.data["documents"] if d is not None]


# -- SpiceDB ------------------------------------------------------------------


class SpiceDBHarness(Harness):
    name = "spicedb"
    attributes = False
    call_ids = False

    def __init__(self) -> None:
        super().__init__()
        import spicedbkit
        from spicedb_embedded import EmbeddedSpiceDB

        self._kit = spicedbkit
        self.db = EmbeddedSpiceDB.start(SPICEDB_SCHEMA, self._relationships())
        self._channels: list[Any] = []

    def _relationships(self) -> list[Any]:
        rows = []
        for doc in self.docs.values():
            rows.append(
                self._kit.relationship(
                    f"document:{doc.id}", "owner", f"user:{doc.owner}"
                )
            )
            if doc.status == "published":
                rows.append(
                    self._kit.relationship(f"document:{doc.id}", "reader", "user:*")
                )
        return rows

    def malformed(self, check: ResourceCheck) -> object:
        return check._replace(id=f"{check.id} !")

    def adapter(self, *, asynchronous: bool = True, **options: Any) -> Any:
        from strawberry_authz.spicedb import SpiceDB

        harness = self
        unary = self.db.permissions()

        class Client:
            def CheckBulkPermissions(self, request: Any) -> Any:
                harness.sent.append(len(request.items))
                if asynchronous:
                    return _later(unary.CheckBulkPermissions, request)
                return unary.CheckBulkPermissions(request)

        options.setdefault("consistency", "fully_consistent")
        return SpiceDB(Client(), subject=_spicedb_subject, **options)

    def share(self, doc_id: str, user: str) -> None:
        super().share(doc_id, user)
        self._kit.write(
            self.db.permissions(), f"document:{doc_id}", "owner", f"user:{user}"
        )

    def break_engine(self) -> None:
        self._kit.stop(self.db)

    def slow(self, seconds: float) -> Any:
        from strawberry_authz.spicedb import SpiceDB

        unary = self.db.permissions()

        class Slow:
            async def CheckBulkPermissions(self, request: Any) -> Any:
                await asyncio.sleep(seconds)
                return unary.CheckBulkPermissions(request)

        return SpiceDB(Slow(), subject=_spicedb_subject, consistency="fully_consistent")

    def close(self) -> None:
        self._kit.stop(self.db)


def _spicedb_subject(context: Any) -> str | None:
    user = context.get("user")
    return f"user:{user}" if user else None


async def _later(call: Callable[[Any], Any], request: Any) -> Any:
    return call(request)


# -- Cerbos -------------------------------------------------------------------


class CerbosHarness(Harness):
    name = "cerbos"

    def __init__(self) -> None:
        super().__init__()
        self.server = cerboskit.CerbosServer().start()

    def adapter(self, *, asynchronous: bool = True, **options: Any) -> Any:
        from strawberry_authz.cerbos import Cerbos

        client = (
            cerboskit.async_client(self.server)
            if asynchronous
            else cerboskit.sync_client(self.server)
        )
        return Cerbos(
            Counting(client, self.sent), principal=_cerbos_principal, **options
        )

    def break_engine(self) -> None:
        self.server.stop()

    def slow(self, seconds: float) -> Any:
        from strawberry_authz.cerbos import Cerbos

        client = cerboskit.async_client(self.server)

        class Slow:
            async def check_resources(self, **request: Any) -> Any:
                await asyncio.sleep(seconds)
                return await client.check_resources(**request)

        return Cerbos(Slow(), principal=_cerbos_principal)

    def close(self) -> None:
        self.server.close()


def _cerbos_principal(context: Any) -> dict[str, Any] | None:
    user = context.get("user")
    return {"id": user, "roles": ["user"]} if user else None


class Counting:
    """A Cerbos client that records how many resources each call carries."""

    def __init__(self, client: Any, sent: list[int]) -> None:
        self.client = client
        self.sent = sent

    def check_resources(self, **request: Any) -> Any:
        self.sent.append(len(request["resources"]))
        return self.client.check_resources(**request)


# -- Cedar --------------------------------------------------------------------


class CedarHarness(Harness):
    name = "cedar"
    times_out = False  # in process and synchronous: no I/O to wait on

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def adapter(self, *, asynchronous: bool = True, **options: Any) -> Any:
        from strawberry_authz import cedar
        from strawberry_authz.cedar import Cedar

        harness = self
        decide = cedar.decide_batch  # each call is one is_authorized_batch

        def counting(requests: list[Any], *args: Any, **kwargs: Any) -> Any:
            harness.sent.append(len(requests))
            return decide(requests, *args, **kwargs)

        self._restore = (cedar, decide)
        cedar.decide_batch = counting  # type: ignore[assignment]
        return Cedar(
            CEDAR_POLICIES,
            entities=self._entities,
            principal=_cedar_principal,
            **options,
        )

    def _entities(self, context: Any) -> list[dict[str, Any]]:
        if self.down:
            # The entity store the principals come from is unreachable.
            raise ConnectionError(SECRET)
        user = context["user"]
        return [
            {"uid": {"type": "user", "id": user}, "attrs": {"id": user}, "parents": []}
        ]

    def break_engine(self) -> None:
        self.down = True

    def close(self) -> None:
        restore = getattr(self, "_restore", None)
        if restore is not None:
            module, decide = restore
            module.decide_batch = decide


def _cedar_principal(context: Any) -> dict[str, str] | None:
    user = context.get("user")
    return {"type": "user", "id": user} if user else None


HARNESSES: dict[str, type[Harness]] = {
    "spicedb": SpiceDBHarness,
    "cerbos": CerbosHarness,
    "cedar": CedarHarness,
}
