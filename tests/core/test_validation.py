"""SPEC §7 — validation of static rules against `scopes=` / `grants=`."""

import logging
from typing import Any, Literal, TypedDict

import pydantic
import pytest
import strawberry
from authzkit import codes

from strawberry_authz import AuthExtension, ConfigurationError

# -- declarations --------------------------------------------------------------

Access = Literal["user", "admin"]


class ScopesDict(TypedDict, total=False):
    is_public: bool
    is_logged_in: bool
    has_access: Access
    level: int
    teams: list[str]


class ScopesModel(pydantic.BaseModel):
    is_public: bool = False
    is_logged_in: bool = False
    has_access: Access = "user"
    level: int = 0
    teams: list[str] = []


SCOPES_MAPPING = {
    "is_public": bool,
    "is_logged_in": bool,
    "has_access": Access,
    "level": int,
    "teams": list[str],
}

DECLARATIONS = pytest.mark.parametrize(
    "scopes",
    [ScopesDict, ScopesModel, SCOPES_MAPPING],
    ids=["TypedDict", "pydantic", "mapping"],
)
GRANT_DECLARATIONS = pytest.mark.parametrize(
    "grants",
    [
        Literal["read_photos", "read_email"],
        ["read_photos", "read_email"],
        ("read_photos", "read_email"),
        {"read_photos", "read_email"},
    ],
    ids=["Literal", "list", "tuple", "set"],
)


def load_scopes(context: Any) -> dict[str, Any]:
    return {
        "is_public": True,
        "is_logged_in": True,
        "has_access": lambda level: level == "user",
        "level": lambda level: level <= 3,
        "teams": lambda teams: "core" in teams,
    }


def decorate_field(authz: AuthExtension, rules: Any, **options: Any) -> None:
    """Decorate `Photo.caption` with `rules` (raises if they are invalid)."""

    @strawberry.type
    class Photo:
        @authz.rule(rules, **options)
        @strawberry.field
        def caption(self) -> str:
            return "x"


def assert_names(error: ConfigurationError, *parts: str) -> None:
    message = str(error)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


# -- static field rules --------------------------------------------------------


INVALID = [
    ({"is_admin": True}, "is_admin"),
    ({"has_access": "root"}, "has_access"),
    ({"has_access": 1}, "has_access"),
    ({"level": "3"}, "level"),
    ({"level": True}, "level"),
    ({"teams": "core"}, "teams"),
    ({"teams": ["core", 7]}, "teams"),
    ({"is_public": False}, "is_public"),
    ({"is_public": 1}, "is_public"),
    ({"is_logged_in": "yes"}, "is_logged_in"),
    ({"$or": [{"is_public": True}, {"has_access": "root"}]}, "has_access"),
    ({"$chain": {"is_logged_in": True, "levle": 1}}, "levle"),
    ({"$and": {"$race": [{"$or": {"is_public": False}}]}}, "is_public"),
]


@DECLARATIONS
@pytest.mark.parametrize(("rules", "key"), INVALID)
def test_invalid_static_rule_raises_naming_type_field_and_key(scopes, rules, key):
    authz = AuthExtension(load_scopes, scopes=scopes)
    with pytest.raises(ConfigurationError) as raised:
        decorate_field(authz, rules)
    assert_names(raised.value, "Photo", "caption", key)


@DECLARATIONS
@pytest.mark.parametrize(
    "rules",
    [
        {"is_public": True},
        {"has_access": "admin", "is_logged_in": True},
        {"level": 3},
        {"teams": ["core", "web"]},
        {"$or": [{"has_access": "user"}, {"has_access": "admin"}]},
        {"$chain": {"is_logged_in": True, "$race": {"level": 1, "is_public": True}}},
    ],
)
def test_valid_static_rule_is_accepted(scopes, rules):
    authz = AuthExtension(load_scopes, scopes=scopes)
    decorate_field(authz, rules)


@DECLARATIONS
def test_invalid_value_is_reported_with_the_offending_value(scopes):
    authz = AuthExtension(load_scopes, scopes=scopes)
    with pytest.raises(ConfigurationError) as raised:
        decorate_field(authz, {"has_access": "root"})
    assert_names(raised.value, "root")


@DECLARATIONS
@pytest.mark.parametrize(("rules", "key"), INVALID[:3])
def test_invalid_type_rule_raises_naming_the_type_and_key(scopes, rules, key):
    authz = AuthExtension(load_scopes, scopes=scopes)

    @strawberry.type
    class Photo:
        url: str

    with pytest.raises(ConfigurationError) as raised:
        authz.type_rule(rules)(Photo)
    assert_names(raised.value, "Photo", key)


@DECLARATIONS
@pytest.mark.parametrize(("rules", "key"), INVALID[:3])
def test_invalid_default_scopes_raise_naming_the_operation_and_key(scopes, rules, key):
    with pytest.raises(ConfigurationError) as raised:
        AuthExtension(load_scopes, scopes=scopes, default_scopes={"Mutation": rules})
    assert_names(raised.value, "Mutation", key)


def test_invalid_rule_in_field_extensions_form_is_a_configuration_error():
    authz = AuthExtension(load_scopes, scopes=ScopesDict)
    with pytest.raises(ConfigurationError) as raised:

        @strawberry.type
        class Photo:
            caption: str = strawberry.field(
                default="x", extensions=[authz.rule({"has_access": "root"})]
            )

        @strawberry.type
        class Query:
            photo: Photo

        schema = strawberry.Schema(query=Query, extensions=[authz])
        authz.validate(schema)
    assert_names(raised.value, "Photo", "caption", "has_access")


# -- grants --------------------------------------------------------------------


@GRANT_DECLARATIONS
def test_unknown_granted_name_raises_naming_field_and_name(grants):
    authz = AuthExtension(load_scopes, grants=grants)
    with pytest.raises(ConfigurationError) as raised:
        decorate_field(authz, {"$granted": "read_fotos"})
    assert_names(raised.value, "Photo", "caption", "$granted", "read_fotos")


@GRANT_DECLARATIONS
def test_unknown_granted_name_nested_in_logic_raises(grants):
    authz = AuthExtension(load_scopes, grants=grants)
    with pytest.raises(ConfigurationError) as raised:
        decorate_field(
            authz, {"$or": [{"is_public": True}, {"$granted": "read_fotos"}]}
        )
    assert_names(raised.value, "Photo", "caption", "read_fotos")


@GRANT_DECLARATIONS
def test_unknown_name_in_grants_list_raises_naming_field_and_name(grants):
    authz = AuthExtension(load_scopes, grants=grants)
    with pytest.raises(ConfigurationError) as raised:
        decorate_field(authz, {"is_public": True}, grants=["read_photos", "read_mail"])
    assert_names(raised.value, "Photo", "caption", "read_mail")


@GRANT_DECLARATIONS
def test_unknown_name_in_post_rule_grants_raises(grants):
    authz = AuthExtension(load_scopes, grants=grants)
    with pytest.raises(ConfigurationError) as raised:

        @strawberry.type
        class Photo:
            @authz.post_rule(lambda params, result: True, grants=["read_mail"])
            @strawberry.field
            def caption(self) -> str:
                return "x"

    assert_names(raised.value, "Photo", "caption", "read_mail")


@GRANT_DECLARATIONS
def test_declared_grant_names_are_accepted(grants):
    authz = AuthExtension(load_scopes, grants=grants)
    decorate_field(authz, {"$granted": "read_email"}, grants=["read_photos"])


def test_scopes_and_grants_declared_together_report_every_problem_of_a_rule():
    authz = AuthExtension(load_scopes, scopes=ScopesDict, grants=Literal["read_photos"])
    with pytest.raises(ConfigurationError) as raised:
        decorate_field(
            authz,
            {"is_admin": True, "$or": [{"has_access": "root"}, {"$granted": "nope"}]},
        )
    assert_names(raised.value, "is_admin", "has_access", "nope")


# -- without declarations ------------------------------------------------------


def test_without_scopes_unknown_names_are_not_checked_ahead_but_deny(caplog):
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Query:
        @authz.rule({"is_admin": True})
        @strawberry.field
        def secret(self) -> str | None:
            return "secret"

        @authz.rule({"has_access": "root"})
        @strawberry.field
        def root(self) -> str | None:
            return "root"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    authz.validate(schema)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync("{ secret root }")
    assert result.data == {"secret": None, "root": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR", "FORBIDDEN"]  # missing, no
    assert any(
        "is_admin" in record.getMessage()
        for record in caplog.records
        if record.name.startswith("strawberry_authz")
    )


def test_without_grants_any_granted_name_is_accepted_at_decoration():
    authz = AuthExtension(load_scopes)
    decorate_field(authz, {"$granted": "whatever_name"})


# -- authz.validate(schema) ----------------------------------------------------


def test_validate_accepts_a_sound_schema_and_requests_still_work():
    authz = AuthExtension(load_scopes, scopes=ScopesDict, grants=Literal["read_photos"])

    @strawberry.type
    class Photo:
        @authz.rule({"$granted": "read_photos"})
        @strawberry.field
        def url(self) -> str:
            return "u"

    @strawberry.type
    class Query:
        @authz.rule({"has_access": "user"}, grants=["read_photos"])
        @strawberry.field
        def photos(self) -> list[Photo]:
            return [Photo()]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    authz.validate(schema)
    result = schema.execute_sync("{ photos { url } }")
    assert result.errors is None
    assert result.data == {"photos": [{"url": "u"}]}


def test_validate_reports_a_granted_name_no_field_returning_the_type_grants():
    authz = AuthExtension(load_scopes, grants=["read_photos", "read_email"])

    @strawberry.type
    class Photo:
        @authz.rule({"$granted": "read_email"})
        @strawberry.field
        def url(self) -> str:
            return "u"

    @strawberry.type
    class Query:
        @authz.rule({"is_public": True}, grants=["read_photos"])
        @strawberry.field
        def photo(self) -> Photo:
            return Photo()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with pytest.raises(ConfigurationError) as raised:
        authz.validate(schema)
    assert_names(raised.value, "Photo", "url", "read_email")


def test_validate_reports_a_schema_that_does_not_list_the_extension():
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Query:
        @authz.rule({"is_public": True})
        @strawberry.field
        def value(self) -> str:
            return "v"

    schema = strawberry.Schema(query=Query)
    with pytest.raises(ConfigurationError) as raised:
        authz.validate(schema)
    assert "extensions" in str(raised.value)


def test_validate_raises_one_error_listing_every_problem():
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Photo:
        @authz.rule({"$granted": "read_exif"})
        @strawberry.field
        def exif(self) -> str:
            return "e"

        @authz.rule({"$or": [{"is_public": True}, {"$granted": "read_geo"}]})
        @strawberry.field
        def location(self) -> str:
            return "l"

    @strawberry.type
    class Query:
        @strawberry.field
        def photo(self) -> Photo:
            return Photo()

    schema = strawberry.Schema(query=Query)  # the extension is missing too
    with pytest.raises(ConfigurationError) as raised:
        authz.validate(schema)
    error = raised.value
    assert len(error.problems) >= 3
    assert any("exif" in p and "read_exif" in p for p in error.problems)
    assert any("location" in p and "read_geo" in p for p in error.problems)
    assert any("extensions" in p for p in error.problems)
    for problem in error.problems:
        assert problem in str(error)


def test_unvalidated_misconfigured_schema_denies_at_the_first_request(caplog):
    authz = AuthExtension(load_scopes)
    resolved: list[str] = []

    @strawberry.type
    class Photo:
        @authz.rule({"$granted": "read_exif"})
        @strawberry.field
        def exif(self) -> str:
            resolved.append("exif")
            return "e"

    @strawberry.type
    class Query:
        @strawberry.field
        def photo(self) -> Photo | None:
            resolved.append("photo")
            return Photo()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync("{ photo { exif } }")
    assert result.errors
    assert not result.data
    assert "exif" not in resolved
    assert any(
        "read_exif" in record.getMessage()
        for record in caplog.records
        if record.name.startswith("strawberry_authz")
    )
