"""SPEC §1 — the quick-picture example, as written, run for four kinds of users."""

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import strawberry
from authzkit import codes

from strawberry_authz import AuthExtension, UnauthenticatedError

# -- a small in-memory user table ----------------------------------------------


@dataclass
class Account:
    id: str
    email: str
    access: list[str] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)


ALICE = Account("1", "alice@example.com", ["user"], ["https://img/alice-secret.jpg"])
BOB = Account("2", "bob@example.com", ["user"], ["https://img/bob.jpg"])
ROOT = Account("3", "root@example.com", ["user", "admin"], [])
ACCOUNTS = {account.id: account for account in (ALICE, BOB, ROOT)}


# -- SPEC §1, copied; only the resolvers are filled in --------------------------


class Scopes(TypedDict, total=False):  # optional: declares names and value types
    is_public: bool
    is_logged_in: bool
    has_access: Literal["guest", "user", "moderator", "admin"]


async def load_scopes(context) -> dict:  # runs lazily, at most once per request
    user = context["user"]

    def is_logged_in(_: bool) -> bool:
        if user is None:
            raise UnauthenticatedError()
        return True

    return {
        "is_public": True,  # a plain bool scope
        "is_logged_in": is_logged_in,  # a loader: called with the rule's value
        "has_access": lambda level: user is not None and level in user.access,
    }


authz = AuthExtension(
    load_scopes,
    scopes=Scopes,
    grants=Literal["read_user_photos"],
    default_scopes={
        "Query": {"is_logged_in": True},
        "Mutation": {"is_logged_in": True},
        "Subscription": {"subscribe": {"is_logged_in": True}},
    },
)


@authz.type_rule({"is_logged_in": True})  # type-wide: every field of Photo
@strawberry.type
class Photo:
    url: str


@strawberry.type
class User:
    id: strawberry.ID

    @authz.rule({"$granted": "read_user_photos"})
    @strawberry.field
    def photos(self) -> list[Photo]:
        return [Photo(url=url) for url in ACCOUNTS[str(self.id)].photos]


def _user(account: Account | None) -> User | None:
    return None if account is None else User(id=strawberry.ID(account.id))


@strawberry.type
class Query:
    @authz.rule(
        {"$or": {"is_public": True, "is_logged_in": True}},
        skip_defaults=True,
        grants=["read_user_photos"],
    )
    @strawberry.field
    async def user(self, id: strawberry.ID) -> User | None:
        return _user(ACCOUNTS.get(str(id)))

    @authz.post_rule(
        lambda params, user: (
            True
            if user is not None
            and params.context["user"] is not None
            and user.id == params.context["user"].id
            else {"has_access": "admin"}
        )
    )
    @strawberry.field
    async def user_by_email(self, email: str) -> User | None:
        return _user(next((a for a in ACCOUNTS.values() if a.email == email), None))


schema = strawberry.Schema(query=Query, extensions=[authz])


# -- helpers -------------------------------------------------------------------


def dump(result: Any) -> str:
    return repr((result.data, [error.formatted for error in result.errors or []]))


async def run(query: str, user: Account | None) -> Any:
    return await schema.execute(query, context_value={"user": user})


USER_WITH_PHOTO_COUNT = '{ user(id: "1") { id photos { __typename } } }'
USER_WITH_PHOTO_URLS = '{ user(id: "1") { id photos { url } } }'
ALICE_BY_EMAIL = '{ userByEmail(email: "alice@example.com") { id } }'


# -- the example validates -------------------------------------------------------


def test_quick_picture_schema_passes_validation():
    authz.validate(schema)


# -- anonymous -----------------------------------------------------------------


async def test_anonymous_can_read_a_public_user_despite_query_defaults():
    result = await run('{ user(id: "1") { id } }', None)
    assert result.errors is None
    assert result.data == {"user": {"id": "1"}}


async def test_anonymous_reaches_photos_through_the_grant_of_user():
    result = await run(USER_WITH_PHOTO_COUNT, None)
    assert result.errors is None
    assert result.data == {"user": {"id": "1", "photos": [{"__typename": "Photo"}]}}


async def test_anonymous_cannot_read_photo_url_and_gets_unauthenticated():
    result = await run(USER_WITH_PHOTO_URLS, None)
    assert codes(result) == ["UNAUTHENTICATED"]
    assert result.errors[0].path == ["user", "photos", 0, "url"]
    # url is non-null in a non-null list: the nearest nullable parent is `user`.
    assert result.data == {"user": None}
    assert "alice-secret" not in dump(result)


async def test_anonymous_user_by_email_needs_login_and_gets_unauthenticated():
    result = await run(ALICE_BY_EMAIL, None)
    assert codes(result) == ["UNAUTHENTICATED"]
    assert result.data == {"userByEmail": None}


# -- the owner -----------------------------------------------------------------


async def test_owner_reads_photo_urls_through_user():
    result = await run(USER_WITH_PHOTO_URLS, ALICE)
    assert result.errors is None
    assert result.data == {
        "user": {"id": "1", "photos": [{"url": "https://img/alice-secret.jpg"}]}
    }


async def test_owner_gets_own_record_by_email():
    result = await run(ALICE_BY_EMAIL, ALICE)
    assert result.errors is None
    assert result.data == {"userByEmail": {"id": "1"}}


async def test_photos_without_the_grant_are_forbidden_even_for_the_owner():
    result = await run(
        '{ userByEmail(email: "alice@example.com") { id photos { url } } }', ALICE
    )
    assert codes(result) == ["FORBIDDEN"]
    assert result.errors[0].path == ["userByEmail", "photos"]
    assert result.data == {"userByEmail": None}
    assert "alice-secret" not in dump(result)


# -- another logged-in user -----------------------------------------------------


async def test_other_user_reads_photo_urls_of_a_public_user():
    result = await run(USER_WITH_PHOTO_URLS, BOB)
    assert result.errors is None
    assert result.data["user"]["photos"] == [{"url": "https://img/alice-secret.jpg"}]


async def test_other_user_is_forbidden_someone_elses_record_by_email():
    result = await run(ALICE_BY_EMAIL, BOB)
    assert codes(result) == ["FORBIDDEN"]
    assert result.data == {"userByEmail": None}
    assert "alice" not in dump(result).lower()


async def test_other_user_still_gets_own_record_by_email():
    result = await run('{ userByEmail(email: "bob@example.com") { id } }', BOB)
    assert result.errors is None
    assert result.data == {"userByEmail": {"id": "2"}}


# -- an admin ------------------------------------------------------------------


async def test_admin_gets_anyones_record_by_email():
    result = await run(ALICE_BY_EMAIL, ROOT)
    assert result.errors is None
    assert result.data == {"userByEmail": {"id": "1"}}


async def test_admin_reads_photo_urls_through_user():
    result = await run(USER_WITH_PHOTO_URLS, ROOT)
    assert result.errors is None
    assert result.data["user"]["photos"] == [{"url": "https://img/alice-secret.jpg"}]


async def test_unknown_email_is_null_for_a_logged_in_non_admin_without_leak():
    # The post rule sees `None`: not the caller's own record, so admin is needed.
    result = await run('{ userByEmail(email: "nobody@example.com") { id } }', BOB)
    assert result.data == {"userByEmail": None}
    assert codes(result) == ["FORBIDDEN"]
