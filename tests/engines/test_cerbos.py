"""The Cerbos adapter against a real Cerbos server (issue 20.1, 20.5, 20.7).

What the contract suite does not cover: the principal, Cerbos's own limit of
500 resources per call, answers that do not match the request, a server
stopped mid-request and policies that do not compile.
"""

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import cerboskit
import pytest
import strawberry
from authzkit import authz_logs, codes, dump
from cerbos.effect.v1 import effect_pb2
from cerbos.engine.v1 import engine_pb2
from enginekit import DOCUMENTS, Doc, document_type

from strawberry_authz import AuthExtension, BatchScope, ConfigurationError
from strawberry_authz.cerbos import MAX_RESOURCES, Cerbos
from strawberry_authz.engines import EngineCheckError

DRAFT = Doc("1", "alice", "draft")


def check(cerbos: Cerbos, context: Any, values: list[Any]) -> list[Any]:
    scope = cerbos.scope(context)
    assert isinstance(scope, BatchScope)
    answered = scope.load_fn(values)
    assert not asyncio.iscoroutine(answered)
    return list(answered)


class Recording:
    """A real client whose responses a test may change before they are read."""

    def __init__(self, client: Any, change: Any = None) -> None:
        self.client = client
        self.change = change
        self.sent: list[int] = []

    def check_resources(self, **request: Any) -> Any:
        self.sent.append(len(request["resources"]))
        response = self.client.check_resources(**request)
        if self.change is not None:
            self.change(response)
        return response


def user(name: str, **attributes: Any) -> dict[str, Any]:
    return {"id": name, "roles": ["user"], "attributes": attributes}


def test_principal_attributes_reach_the_policy(
    cerbos_server: cerboskit.CerbosServer,
) -> None:
    cerbos = Cerbos(
        cerboskit.sync_client(cerbos_server), principal=lambda context: context
    )
    review = DOCUMENTS.check(DRAFT, "review")

    assert check(cerbos, user("dave", reviewer=True), [review]) == [True]
    assert check(cerbos, user("dave", reviewer=False), [review]) == [False]
    assert check(cerbos, user("dave"), [review]) == [False]


def test_a_principal_message_is_sent_as_it_is(
    cerbos_server: cerboskit.CerbosServer,
) -> None:
    principal = engine_pb2.Principal(id="alice", roles=["user"])
    cerbos = Cerbos(
        cerboskit.sync_client(cerbos_server), principal=lambda context: principal
    )
    answers = check(cerbos, {}, [DOCUMENTS.check(DRAFT, a) for a in ("view", "edit")])
    assert answers == [True, True]


@pytest.mark.parametrize(
    "principal",
    [{"id": "alice"}, {"id": "alice", "roles": "user"}, {"roles": ["user"]}, "alice"],
)
def test_a_malformed_principal_fails_the_whole_chunk_without_a_call(
    cerbos_server: cerboskit.CerbosServer, principal: Any
) -> None:
    client = Recording(cerboskit.sync_client(cerbos_server))
    cerbos = Cerbos(client, principal=lambda context: principal)
    with pytest.raises(TypeError):
        check(cerbos, {}, [DOCUMENTS.check(DRAFT, "view")])
    assert client.sent == []


@pytest.mark.parametrize("size", [0, MAX_RESOURCES + 1, True, "10"])
def test_max_batch_size_is_one_to_500(size: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_batch_size"):
        Cerbos(object(), principal=lambda context: None, max_batch_size=size)


def test_principal_must_be_a_function() -> None:
    with pytest.raises(ConfigurationError, match="principal"):
        Cerbos(object(), principal="alice")  # type: ignore[arg-type]


async def test_1001_documents_take_exactly_three_calls_of_at_most_500(
    cerbos_server: cerboskit.CerbosServer,
) -> None:
    client = Recording(cerboskit.async_client(cerbos_server))
    cerbos = Cerbos(client, principal=lambda context: user("alice"))
    docs = [Doc(str(n), "alice" if n % 3 else "bob", "draft") for n in range(1001)]
    authz = AuthExtension(lambda context: {"can": cerbos.scope(context)})

    Document = document_type(authz)

    @strawberry.type
    class Query:
        @strawberry.field
        def documents(self) -> list[Document | None]:
            return [Document(doc=doc) for doc in docs]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    context: dict[str, Any] = {}
    result = await schema.execute("{ documents { id } }", context_value=context)

    seen = [d["id"] for d in result.data["documents"] if d is not None]
    assert seen == [str(n) for n in range(1001) if n % 3]
    assert client.sent == [500, 500, 1]
    assert len(set(cerbos.call_ids(context))) == 3
    assert cerbos.call_ids({}) == []  # another request's context: none


def test_an_answer_missing_a_resource_fails_the_chunk(
    cerbos_server: cerboskit.CerbosServer,
) -> None:
    def drop_last(response: Any) -> None:
        del response.results[-1]

    client = Recording(cerboskit.sync_client(cerbos_server), drop_last)
    cerbos = Cerbos(client, principal=lambda context: user("alice"))
    with pytest.raises(EngineCheckError, match="answered 1 resources for 2"):
        check(cerbos, {}, [DOCUMENTS.check(DRAFT, a) for a in ("view", "edit")])


def test_an_unknown_effect_or_a_missing_action_denies_that_value(
    cerbos_server: cerboskit.CerbosServer,
) -> None:
    def tamper(response: Any) -> None:
        response.results[0].actions["view"] = effect_pb2.EFFECT_NO_MATCH
        del response.results[1].actions["edit"]

    client = Recording(cerboskit.sync_client(cerbos_server), tamper)
    cerbos = Cerbos(client, principal=lambda context: user("alice"))
    answers = check(
        cerbos,
        {},
        [DOCUMENTS.check(DRAFT, "view"), DOCUMENTS.check(DRAFT, "edit")],
    )
    assert isinstance(answers[0], EngineCheckError)
    assert "effect" in str(answers[0])
    assert isinstance(answers[1], EngineCheckError)
    assert "left out" in str(answers[1])


def test_an_answer_for_another_resource_denies_that_value(
    cerbos_server: cerboskit.CerbosServer,
) -> None:
    def swap(response: Any) -> None:
        response.results[0].resource.id = "99"

    client = Recording(cerboskit.sync_client(cerbos_server), swap)
    cerbos = Cerbos(client, principal=lambda context: user("alice"))
    answers = check(cerbos, {}, [DOCUMENTS.check(DRAFT, "view")])
    assert isinstance(answers[0], EngineCheckError)


def test_an_attribute_cerbos_cannot_hold_denies_only_its_value(
    cerbos_server: cerboskit.CerbosServer,
) -> None:
    client = Recording(cerboskit.sync_client(cerbos_server))
    cerbos = Cerbos(client, principal=lambda context: user("alice"))
    huge = DOCUMENTS.check(DRAFT, "view")._replace(attributes={"owner": 2**60})
    answers = check(cerbos, {}, [huge, DOCUMENTS.check(DRAFT, "view")])
    assert isinstance(answers[0], EngineCheckError)
    assert answers[1] is True
    assert client.sent == [1]


async def test_a_server_stopped_mid_request_denies_the_rest_plainly(
    cerbos_server: cerboskit.CerbosServer, caplog: pytest.LogCaptureFixture
) -> None:
    cerbos = Cerbos(
        cerboskit.async_client(cerbos_server), principal=lambda context: user("alice")
    )
    authz = AuthExtension(lambda context: {"can": cerbos.scope(context)})

    Document = document_type(authz)

    @strawberry.type
    class Query:
        @strawberry.field
        def first(self) -> Document | None:
            return Document(doc=DRAFT)

        @strawberry.field
        async def later(self) -> Document | None:
            await asyncio.sleep(0.3)  # after `first` was checked
            cerbos_server.stop()
            return Document(doc=Doc("5", "alice", "published"))

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute("{ first { id } later { id } }")

    assert result.data == {"first": {"id": "1"}, "later": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "UNAVAILABLE" not in dump(result) and "127.0.0.1" not in dump(result)
    assert "UNAVAILABLE" in authz_logs(caplog)


def test_policies_that_do_not_compile_keep_cerbos_from_serving(
    cerbos_installed: None,
) -> None:
    """Cerbos refuses to start; the adapter pointed at it denies."""
    home = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(cerboskit.POLICIES, home / "policies")
        (home / "policies" / "broken.yaml").write_text(
            (cerboskit.POLICIES / "document.yaml")
            .read_text()
            .replace("resource: document", "resource: folder")
            .replace("request.principal.attr.reviewer == true", "request.principal ==")
        )
        server = cerboskit.CerbosServer(home / "policies")
        with pytest.raises(RuntimeError, match="compil"):
            server.start(timeout=10)
        cerbos = Cerbos(
            cerboskit.sync_client(server), principal=lambda context: user("alice")
        )
        with pytest.raises(Exception, match="UNAVAILABLE"):
            check(cerbos, {}, [DOCUMENTS.check(DRAFT, "view")])
        server.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
