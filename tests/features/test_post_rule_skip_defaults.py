"""Issue 8, item 14: what `post_rule(..., skip_defaults=True)` does and does not check.

The docs warn that such a field checks nothing before its resolver runs;
these tests pin that sharp edge, so the warning stays true.
"""

from typing import Any

import strawberry
from featurekit import PlainQuery, codes

from strawberry_authz import AuthExtension


def mutation_schema(writes: list[str], **post_options: Any) -> strawberry.Schema:
    authz = AuthExtension(
        lambda context: {"is_logged_in": context["user"] is not None},
        default_scopes={"Mutation": {"is_logged_in": True}},
    )

    @strawberry.type
    class Mutation:
        @authz.post_rule(lambda params, result: {"is_logged_in": True}, **post_options)
        @strawberry.mutation
        def write(self) -> bool | None:
            writes.append("written")
            return True

    return strawberry.Schema(query=PlainQuery, mutation=Mutation, extensions=[authz])


def test_post_rule_with_skip_defaults_runs_the_mutation_for_anyone():
    writes: list[str] = []
    schema = mutation_schema(writes, skip_defaults=True)

    result = schema.execute_sync("mutation { write }", context_value={"user": None})

    assert result.data == {"write": None}
    assert codes(result) == ["FORBIDDEN"]
    assert writes == ["written"]  # the side effect happened: nothing checked first


def test_post_rule_keeping_the_defaults_never_runs_the_mutation_for_anonymous():
    writes: list[str] = []
    schema = mutation_schema(writes)

    result = schema.execute_sync("mutation { write }", context_value={"user": None})

    assert result.data == {"write": None}
    assert codes(result) == ["FORBIDDEN"]
    assert writes == []
