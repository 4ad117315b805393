"""PlanResources answers translated to a neutral condition tree (issue 20.2).

Against a real Cerbos server (`cerbos_policies/report.yaml` has one action
per operator). The translation must agree with Cerbos's own check on every
resource of a corpus, nulls and wrong types included (plan = check), and
refuse what it cannot express exactly.
"""

import itertools
from typing import Any

import cerboskit
import pytest
from cerbos.engine.v1 import engine_pb2
from cerbos.request.v1 import request_pb2
from cerbos.response.v1 import response_pb2
from google.protobuf import json_format

from strawberry_authz._cerbos_plan import (
    AllOf,
    AnyOf,
    Compare,
    Negation,
    PlannedFilter,
    UntranslatablePlan,
    holds,
    translate_plan,
)
from strawberry_authz.cerbos import _value

ALICE = engine_pb2.Principal(id="alice", roles=["user"])


@pytest.fixture
def cerbos_server(
    shared_cerbos_server: cerboskit.CerbosServer,
) -> cerboskit.CerbosServer:
    """One server for the module: these tests only read from it."""
    return shared_cerbos_server


REPORT = engine_pb2.PlanResourcesInput.Resource(kind="report")


def plan(server: cerboskit.CerbosServer, action: str, principal: Any = ALICE) -> Any:
    return cerboskit.sync_client(server).plan_resources(action, principal, REPORT)


EXPECTED = {
    "eq": Compare("eq", "owner", "alice"),
    "ne": Compare("ne", "status", "archived"),
    "lt": Compare("lt", "pages", 10),
    "ge": Compare("ge", "pages", 10),
    "in": Compare("in", "status", ("draft", "published")),
    "not": Negation(Compare("eq", "secret", True)),
    "all": AllOf((Compare("eq", "owner", "alice"), Compare("gt", "pages", 2))),
    "any": AnyOf((Compare("eq", "owner", "alice"), Compare("le", "pages", 2))),
    "deny_some": AllOf(
        (Negation(Compare("eq", "secret", True)), Compare("gt", "pages", 0))
    ),
}


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_a_conditional_plan_becomes_the_same_condition_on_attributes(
    cerbos_server: cerboskit.CerbosServer, action: str
) -> None:
    response = plan(cerbos_server, action)
    planned = translate_plan(response)
    assert planned == PlannedFilter("condition", EXPECTED[action], planned.call_id)
    assert planned.call_id == response.cerbos_call_id != ""


def test_always_allowed_and_always_denied_fold_to_all_and_none(
    cerbos_server: cerboskit.CerbosServer,
) -> None:
    reviewer = engine_pb2.Principal(
        id="dave", roles=["user"], attr={"reviewer": _value(True, "reviewer")}
    )
    assert translate_plan(plan(cerbos_server, "always")).kind == "allow_all"
    assert translate_plan(plan(cerbos_server, "nothing")).kind == "deny_all"
    # A condition on the principal alone is decided by the planner.
    assert translate_plan(plan(cerbos_server, "principal_only")).kind == "deny_all"
    only = plan(cerbos_server, "principal_only", reviewer)
    assert translate_plan(only).kind == "allow_all"


def test_an_operator_it_cannot_translate_is_refused(
    cerbos_server: cerboskit.CerbosServer,
) -> None:
    with pytest.raises(UntranslatablePlan, match="startsWith"):
        translate_plan(plan(cerbos_server, "unknown"))


# -- plan = check -------------------------------------------------------------
#
# Cerbos plans `none: [expr]` and `expr: "!(...)"` the same (`not(...)`), but
# checks them differently when a value is missing, null in an ordering, or of
# the wrong type: the first turns the error into false *before* the `not`
# (allowing), the second keeps it (denying). The translation reads errors the
# strict way: on such resources it may hide what the check allows, never show
# what it denies. On complete, well-typed resources the two agree exactly.

COMPLETE = [
    {"owner": o, "status": s, "pages": p, "secret": x}
    for o, s, p, x in itertools.product(
        ["alice", "bob"],
        ["draft", "archived", "published"],
        [0, 2, 10, 11.5],
        [True, False],
    )
]
ODD = [
    {"owner": o, "status": s, "pages": p, "secret": x}
    for o, s, p, x in itertools.product(
        ["alice", None, 7], ["draft", None], [2, None, "3"], [True, None, "yes", 1]
    )
] + [{}, {"owner": "alice"}, {"pages": 1}, {"secret": False}]
AMBIGUOUS = ["not_expr", "not_order", "not_order_expr"]


def checked(
    server: cerboskit.CerbosServer, action: str, resources: list[dict[str, Any]]
) -> list[bool]:
    entries = [
        request_pb2.CheckResourcesRequest.ResourceEntry(
            actions=[action],
            resource=engine_pb2.Resource(
                kind="report",
                id=str(n),
                attr={k: _value(v, k) for k, v in attrs.items()},
            ),
        )
        for n, attrs in enumerate(resources)
    ]
    response = cerboskit.sync_client(server).check_resources(
        principal=ALICE, resources=entries
    )
    return [result.actions[action] == 1 for result in response.results]


def by_plan(
    server: cerboskit.CerbosServer, action: str, resources: list[dict[str, Any]]
) -> list[bool]:
    planned = translate_plan(plan(server, action))
    assert planned.condition is not None
    return [holds(planned.condition, attrs) for attrs in resources]


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_the_plan_agrees_with_the_check_on_complete_resources(
    cerbos_server: cerboskit.CerbosServer, action: str
) -> None:
    planned = by_plan(cerbos_server, action, COMPLETE)
    check = checked(cerbos_server, action, COMPLETE)
    assert planned == check
    assert any(check) and not all(check)  # the corpus tells them apart


@pytest.mark.parametrize("action", sorted([*EXPECTED, *AMBIGUOUS]))
def test_the_plan_never_admits_a_resource_the_check_denies(
    cerbos_server: cerboskit.CerbosServer, action: str
) -> None:
    resources = COMPLETE + ODD
    planned = by_plan(cerbos_server, action, resources)
    check = checked(cerbos_server, action, resources)
    over = [r for r, p, c in zip(resources, planned, check, strict=True) if p and not c]
    assert over == []


# -- answers it refuses, built by hand -----------------------------------------


def response(filter_json: dict[str, Any], **fields: Any) -> Any:
    message = response_pb2.PlanResourcesResponse(**fields)
    json_format.ParseDict(filter_json, message.filter)
    return message


def condition(operator: str, *operands: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "KIND_CONDITIONAL",
        "condition": {"expression": {"operator": operator, "operands": operands}},
    }


OWNER = {"variable": "request.resource.attr.owner"}


@pytest.mark.parametrize(
    ("filter_json", "why"),
    [
        (condition("eq", OWNER, {"value": None}), "null"),
        (condition("ne", OWNER, {"value": None}), "null"),
        (condition("eq", OWNER, {"value": {"a": 1}}), "struct"),
        (
            condition("eq", {"variable": "request.principal.attr.x"}, {"value": 1}),
            "variable",
        ),
        (
            condition("eq", {"variable": "request.resource.attr.a.b"}, {"value": 1}),
            "variable",
        ),
        (condition("eq", OWNER), "operands"),
        (condition("eq", OWNER, OWNER), "attribute vs value"),
        (condition("in", {"value": "alice"}, OWNER), "attribute vs value"),
        (condition("in", OWNER, {"value": "alice"}), "list"),
        (condition("lt", OWNER, {"value": [1]}), "list"),
        (condition("and"), "empty"),
        (condition("not", {"value": True}), "not an expression"),
        (condition("hasIntersection", OWNER, {"value": ["a"]}), "hasIntersection"),
        ({"kind": "KIND_UNSPECIFIED"}, "kind"),
    ],
)
def test_what_it_cannot_express_exactly_is_refused(
    filter_json: dict[str, Any], why: str
) -> None:
    with pytest.raises(UntranslatablePlan, match=why):
        translate_plan(response(filter_json))


def test_validation_errors_are_refused() -> None:
    from cerbos.schema.v1 import schema_pb2

    answer = response(
        {"kind": "KIND_ALWAYS_ALLOWED"},
        validation_errors=[schema_pb2.ValidationError(message="bad owner")],
    )
    with pytest.raises(UntranslatablePlan, match="bad owner"):
        translate_plan(answer)


def test_a_constant_on_the_left_is_turned_around_and_the_id_is_named() -> None:
    answer = response(
        condition("lt", {"value": 3}, {"variable": "request.resource.attr.pages"})
    )
    assert translate_plan(answer).condition == Compare("gt", "pages", 3)
    by_id = response(
        condition("eq", {"variable": "request.resource.id"}, {"value": "7"})
    )
    assert translate_plan(by_id).condition == Compare("eq", "id", "7")
    renamed = translate_plan(by_id, variables={"request.resource.id": "pk"})
    assert renamed.condition == Compare("eq", "pk", "7")


@pytest.mark.parametrize(
    ("condition", "attributes", "expected"),
    [
        (Compare("eq", "secret", True), {"secret": 1}, False),  # CEL: true != 1
        (Negation(Compare("eq", "secret", True)), {"secret": 1}, True),
        (Compare("eq", "pages", 2), {"pages": 2.0}, True),  # numbers compare
        (Compare("lt", "pages", 10), {"pages": "3"}, False),  # no overload: error
        (Negation(Compare("lt", "pages", 10)), {"pages": None}, False),
        (AnyOf((Compare("lt", "pages", 1), Compare("eq", "a", 1))), {"a": 1}, True),
        (AllOf((Compare("lt", "pages", 1), Compare("eq", "a", 2))), {"a": 1}, False),
        (Compare("in", "s", ("a", "b")), {"s": None}, False),
    ],
)
def test_holds_reads_values_as_cel_does(
    condition: Any, attributes: dict[str, Any], expected: bool
) -> None:
    assert holds(condition, attributes) is expected
