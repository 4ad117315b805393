"""Type-level grants: `authz.type_rule(..., grants=fn)` (issue 3, point 4).

The "author may see drafts" case: one check on the object grants `author`,
and every field that needs it says `{"$granted": "author"}`.
"""

import asyncio
from typing import Any

import strawberry
from featurekit import codes

from strawberry_authz import AuthExtension, UnauthenticatedError


def load_scopes(context: dict[str, Any]) -> dict[str, Any]:
    user = context.get("user")

    def is_logged_in(value: bool) -> bool:
        if user is None:
            raise UnauthenticatedError()
        return True

    return {"is_logged_in": is_logged_in}


NOTES = [("ann", "n1"), ("bob", "n2"), ("ann", "n3")]


def notes_schema(authz: AuthExtension, type_rule_decorator) -> strawberry.Schema:
    @strawberry.type
    class Attachment:
        name: str

        @authz.rule({"$granted": "author"})
        @strawberry.field
        def content(self) -> str | None:
            return f"content of {self.name}"

    @type_rule_decorator
    @strawberry.type
    class Note:
        id: str
        author: str

        @strawberry.field
        def title(self) -> str:
            return f"title {self.id}"

        @authz.rule({"$granted": "author"})
        @strawberry.field
        def draft(self) -> str | None:
            return f"draft {self.id}"

        @authz.rule({"$granted": "author"})
        @strawberry.field
        def history(self) -> list[str] | None:
            return [f"edit of {self.id}"]

        @strawberry.field
        def attachment(self) -> Attachment:
            return Attachment(name=f"file of {self.id}")

    @strawberry.type
    class Query:
        @strawberry.field
        def notes(self) -> list[Note]:
            return [Note(id=id_, author=author) for author, id_ in NOTES]

        @strawberry.field
        def note(self, id: str) -> Note | None:
            return next(
                (Note(id=i, author=a) for a, i in NOTES if i == id),
                None,
            )

        @authz.rule({"is_logged_in": True}, grants=["author"])
        @strawberry.field
        def shared_attachment(self) -> Attachment:
            return Attachment(name="shared")

    return strawberry.Schema(query=Query, extensions=[authz])


def author_grants(calls: list[Any]):
    def grants(params) -> list[str]:
        calls.append(params.root.id)
        return ["author"] if params.root.author == params.context["user"] else []

    return grants


async def test_grants_only_type_rule_lets_the_author_see_drafts():
    authz = AuthExtension(load_scopes)
    calls: list[str] = []
    schema = notes_schema(authz, authz.type_rule(grants=author_grants(calls)))
    result = await schema.execute(
        "{ notes { id title draft history } }", context_value={"user": "ann"}
    )
    assert result.data == {
        "notes": [
            {
                "id": "n1",
                "title": "title n1",
                "draft": "draft n1",
                "history": ["edit of n1"],
            },
            {"id": "n2", "title": "title n2", "draft": None, "history": None},
            {
                "id": "n3",
                "title": "title n3",
                "draft": "draft n3",
                "history": ["edit of n3"],
            },
        ]
    }
    assert sorted(e.path for e in result.errors) == [
        ["notes", 1, "draft"],
        ["notes", 1, "history"],
    ]
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]
    assert "draft n2" not in repr(result.data)


async def test_type_grants_are_computed_once_per_object_instance():
    authz = AuthExtension(load_scopes)
    calls: list[str] = []
    schema = notes_schema(authz, authz.type_rule(grants=author_grants(calls)))
    result = await schema.execute(
        "{ notes { draft history again: draft } }", context_value={"user": "bob"}
    )
    assert result.data["notes"][1] == {
        "draft": "draft n2",
        "history": ["edit of n2"],
        "again": "draft n2",
    }
    assert sorted(calls) == ["n1", "n2", "n3"]


async def test_each_object_instance_gets_its_own_type_grants():
    authz = AuthExtension(load_scopes)
    calls: list[str] = []
    schema = notes_schema(authz, authz.type_rule(grants=author_grants(calls)))
    result = await schema.execute(
        '{ mine: note(id: "n1") { draft } theirs: note(id: "n2") { draft } }',
        context_value={"user": "ann"},
    )
    assert result.data == {"mine": {"draft": "draft n1"}, "theirs": {"draft": None}}
    assert [e.path for e in result.errors] == [["theirs", "draft"]]
    assert sorted(calls) == ["n1", "n2"]


async def test_type_grants_are_not_visible_to_child_objects():
    authz = AuthExtension(load_scopes)
    schema = notes_schema(authz, authz.type_rule(grants=author_grants([])))
    result = await schema.execute(
        '{ note(id: "n1") { draft attachment { name content } } }',
        context_value={"user": "ann"},
    )
    assert result.data == {
        "note": {
            "draft": "draft n1",
            "attachment": {"name": "file of n1", "content": None},
        }
    }
    assert [e.path for e in result.errors] == [["note", "attachment", "content"]]

    # The same child type does get a grant its parent *field* gives.
    shared = await schema.execute(
        "{ sharedAttachment { content } }", context_value={"user": "ann"}
    )
    assert shared.errors is None
    assert shared.data == {"sharedAttachment": {"content": "content of shared"}}


async def test_type_rule_with_rules_and_grants_checks_both():
    authz = AuthExtension(load_scopes)
    calls: list[str] = []
    schema = notes_schema(
        authz, authz.type_rule({"is_logged_in": True}, grants=author_grants(calls))
    )
    anonymous = await schema.execute(
        '{ note(id: "n1") { title } }', context_value={"user": None}
    )
    assert anonymous.data == {"note": None}
    assert codes(anonymous) == ["UNAUTHENTICATED"]

    author = await schema.execute(
        '{ note(id: "n1") { title draft } }', context_value={"user": "ann"}
    )
    assert author.errors is None
    assert author.data == {"note": {"title": "title n1", "draft": "draft n1"}}

    reader = await schema.execute(
        '{ note(id: "n1") { title draft } }', context_value={"user": "bob"}
    )
    assert reader.data == {"note": {"title": "title n1", "draft": None}}
    assert codes(reader) == ["FORBIDDEN"]


async def test_async_type_grants_are_computed_once_per_instance():
    authz = AuthExtension(load_scopes)
    calls: list[str] = []

    async def grants(params) -> str | None:
        calls.append(params.root.id)
        await asyncio.sleep(0.01)
        return "author" if params.root.author == params.context["user"] else None

    schema = notes_schema(authz, authz.type_rule(grants=grants))
    result = await schema.execute(
        "{ notes { id draft history } }", context_value={"user": "ann"}
    )
    assert [note["draft"] for note in result.data["notes"]] == [
        "draft n1",
        None,
        "draft n3",
    ]
    assert [note["history"] for note in result.data["notes"]] == [
        ["edit of n1"],
        None,
        ["edit of n3"],
    ]
    assert sorted(calls) == ["n1", "n2", "n3"]


def test_sync_type_grants_work_under_execute_sync():
    authz = AuthExtension(load_scopes)
    calls: list[str] = []
    schema = notes_schema(authz, authz.type_rule(grants=author_grants(calls)))
    result = schema.execute_sync(
        "{ notes { draft history } }", context_value={"user": "bob"}
    )
    assert [note["draft"] for note in result.data["notes"]] == [None, "draft n2", None]
    assert sorted(calls) == ["n1", "n2", "n3"]


async def test_type_grants_do_not_leak_between_requests():
    authz = AuthExtension(load_scopes)
    schema = notes_schema(authz, authz.type_rule(grants=author_grants([])))
    query = '{ note(id: "n2") { draft } }'
    results = await asyncio.gather(
        *(
            schema.execute(query, context_value={"user": user})
            for user in ("bob", "ann", "bob", "ann")
        )
    )
    assert [r.data["note"]["draft"] for r in results] == [
        "draft n2",
        None,
        "draft n2",
        None,
    ]


async def test_type_grants_declared_on_an_interface_reach_every_implementer():
    authz = AuthExtension(load_scopes)

    @authz.type_rule(
        grants=lambda params: "author" if params.root.owner == "ann" else []
    )
    @strawberry.interface
    class Owned:
        owner: str

    @strawberry.type
    class Draft(Owned):
        @authz.rule({"$granted": "author"})
        @strawberry.field
        def text(self) -> str | None:
            return f"draft of {self.owner}"

    @strawberry.type
    class Query:
        @strawberry.field
        def drafts(self) -> list[Draft]:
            return [Draft(owner="ann"), Draft(owner="bob")]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ drafts { owner text } }")
    assert result.data == {
        "drafts": [
            {"owner": "ann", "text": "draft of ann"},
            {"owner": "bob", "text": None},
        ]
    }
    assert [e.path for e in result.errors] == [["drafts", 1, "text"]]


async def test_inline_check_in_an_own_field_sees_the_type_grants():
    # `$granted` in an inline check of one of the object's own fields must
    # answer as the same rule on the field would (here: `draft`).
    authz = AuthExtension(load_scopes)

    @authz.type_rule(grants=author_grants([]))
    @strawberry.type
    class Note:
        id: str
        author: str

        @authz.rule({"$granted": "author"})
        @strawberry.field
        def draft(self) -> str | None:
            return f"draft {self.id}"

        @strawberry.field
        async def body(self, info: strawberry.Info) -> str:
            if await authz.check(info, {"$granted": "author"}):
                return f"full body {self.id}"
            return f"teaser {self.id}"

    @strawberry.type
    class Query:
        @strawberry.field
        def notes(self) -> list[Note]:
            return [Note(id=id_, author=author) for author, id_ in NOTES]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute(
        "{ notes { draft body } }", context_value={"user": "ann"}
    )
    assert [n["draft"] for n in result.data["notes"]] == ["draft n1", None, "draft n3"]
    assert [n["body"] for n in result.data["notes"]] == [
        "full body n1",
        "teaser n2",
        "full body n3",
    ]
