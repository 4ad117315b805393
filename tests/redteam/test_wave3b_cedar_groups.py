"""Third wave (b): Cedar asks one request for values with equal attributes.

A group's answer must be the one Cedar gives each member: the oracle is
`cedarpy.is_authorized` per resource (and, where a policy reads another
resource of the call, the same adapter with every value asked).
"""

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from strawberry_authz.cedar import Cedar
from strawberry_authz.engines import EngineCheckError, ResourceCheck

cedarpy = pytest.importorskip("cedarpy")

ALICE_UID = {"type": "user", "id": "alice"}
ALICE = [{"uid": ALICE_UID, "attrs": {"id": "alice"}, "parents": []}]
PERMIT = "permit(principal, action, resource);\n"


def decide(
    policies: str,
    values: list[ResourceCheck],
    *,
    base: list[Any] = ALICE,
    principal: Any = ALICE_UID,
    context: dict[str, Any] | None = None,
    grouped: bool = True,
) -> list[Any]:
    cedar = Cedar(
        policies,
        entities=base,
        principal=lambda _: principal,
        context=(lambda _: context) if context else None,
    )
    if not grouped:
        cedar._by_attributes = False
    return list(cedar.scope({}).load_fn(values))


def alone(
    policies: str,
    value: ResourceCheck,
    *,
    base: list[Any] = ALICE,
    principal: Any = ALICE_UID,
    context: dict[str, Any] | None = None,
) -> bool:
    """Cedar's answer for this one resource, asked alone (errors deny)."""
    entity = {
        "uid": {"type": value.kind, "id": value.id},
        "attrs": dict(value.attributes),
        "parents": [],
    }
    request = {
        "principal": principal,
        "action": {"type": "Action", "id": value.action},
        "resource": {"type": value.kind, "id": value.id},
        "context": context or {},
    }
    try:
        result = cedarpy.is_authorized(request, policies, [*base, entity])
    except Exception:
        return False
    return result.decision.value == "Allow" and not result.diagnostics.errors


def served(answers: list[Any]) -> list[bool]:
    return [answer is True for answer in answers]


def doc(name: str, **attributes: Any) -> ResourceCheck:
    return ResourceCheck("doc", name, "view", attributes)


def test_a_policy_naming_another_member_of_a_group_reads_that_member() -> None:
    """`doc::"b" has secret` reads b from the entities: b must be among them."""
    policies = (
        PERMIT + 'forbid(principal, action, resource) when { doc::"b" has secret };'
    )
    values = [doc("a", secret=True), doc("b", secret=True)]

    assert served(decide(policies, values)) == [False, False]
    assert alone(policies, values[1]) is False


def test_a_context_entity_that_is_a_member_of_the_group_is_read() -> None:
    policies = (
        PERMIT + "forbid(principal, action, resource) when { context.t has secret };"
    )
    context = {"t": {"__entity": {"type": "doc", "id": "b"}}}
    values = [doc("a", secret=True), doc("b", secret=True)]

    assert served(decide(policies, values, context=context)) == [False, False]
    assert alone(policies, values[1], context=context) is False


@pytest.mark.parametrize(
    "principal", [ALICE_UID, 'user::"alice"'], ids=["record", "text"]
)
def test_a_principal_that_is_a_member_of_the_group_is_read(principal: Any) -> None:
    """Users listing users: the principal's entity comes from the resources."""
    policies = (
        PERMIT + "forbid(principal, action, resource) when { principal has banned };"
    )
    users = [
        ResourceCheck("user", name, "view", {"banned": True})
        for name in ("bob", "alice")
    ]

    answers = decide(policies, users, base=[], principal=principal)

    assert served(answers) == [False, False]
    assert alone(policies, users[1], base=[]) is False


@pytest.mark.parametrize("handle", [False, True], ids=["list", "handle"])
def test_base_entities_holding_a_member_s_uid_deny_as_asking_it_alone_does(
    handle: bool,
) -> None:
    """Cedar refuses two entities with one uid: asked alone, b is an error."""
    policies = (
        PERMIT + "forbid(principal, action, resource) when { principal has banned };"
    )
    base = [*ALICE, {"uid": {"type": "doc", "id": "b"}, "attrs": {}, "parents": []}]
    values = [doc("a", secret=True), doc("b", secret=True)]

    entities = cedarpy.Entities.from_json_str(json.dumps(base)) if handle else base

    try:
        answers = decide(policies, values, base=entities)
    except ValueError:  # the handle refuses it: the call fails, all denied
        answers = [EngineCheckError("refused")] * len(values)

    assert alone(policies, values[1], base=base) is False
    assert isinstance(answers[1], EngineCheckError)


# Policies that read the resource only by type and attributes (so grouped).
POLICIES = [
    PERMIT,
    "permit(principal, action, resource) when { resource.flag == true };",
    "permit(principal, action, resource) when { resource.n == 1 };",
    'permit(principal, action, resource) when { resource.s == "1" };',
    "permit(principal, action, resource) when { resource.l.contains(1) };",
    'permit(principal, action, resource) when { resource.r == {"x": true} };',
    "permit(principal, action, resource is doc) unless { resource has flag };",
    'permit(principal, action, resource) when { resource.s like "1*" };',
    PERMIT + "forbid(principal, action, resource) when { resource.n > 0 };",
    PERMIT + 'forbid(principal, action, resource) when { doc::"b" has flag };',
    PERMIT + "forbid(principal, action, resource) when { principal has flag };",
    PERMIT + "forbid(principal, action, resource) when { if resource has n "
    'then resource.n == 1 else doc::"c" has s };',
]
SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-2, max_value=2),
    st.sampled_from(["1", "", "1x", "é", "e\u0301"]),
)
ATTRIBUTES = st.dictionaries(
    st.sampled_from(["flag", "n", "s", "l", "r"]),
    st.one_of(
        SCALARS,
        st.lists(SCALARS, max_size=2),
        st.dictionaries(st.sampled_from(["x"]), SCALARS, max_size=1),
    ),
    max_size=3,
)
VALUES = st.lists(
    st.builds(
        ResourceCheck,
        st.sampled_from(["doc", "user"]),
        st.sampled_from(["a", "b", "c", "alice"]),
        st.sampled_from(["view", "edit"]),
        ATTRIBUTES,
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies=st.sampled_from(POLICIES), values=VALUES)
@example(  # a, c share a request; c with other attributes is in the call
    policies=POLICIES[-1],
    values=[doc("a"), doc("c"), doc("c", flag=False, s=False)],
)
def test_groups_answer_what_each_resource_asked_alone_or_in_the_call_answers(
    policies: str, values: list[ResourceCheck]
) -> None:
    """Grouped never allows what the same call asking each value denies, and
    never allows what Cedar asked about the resource alone denies."""
    grouped = served(decide(policies, values, base=[]))
    each = served(decide(policies, values, base=[], grouped=False))

    assert grouped == each
    uids = [(value.kind, value.id) for value in values]
    for value, answer in zip(values, grouped, strict=True):
        unique = uids.count((value.kind, value.id)) == 1
        if (
            answer
            and unique
            and " doc::" not in policies
            and "principal has" not in policies
        ):
            assert alone(policies, value, base=[]) is True, (value, json.dumps(values))


ENUM_SCHEMA = """
entity user { id: String };
entity color enum ["red", "blue"];
action view appliesTo { principal: [user], resource: [color] };
"""


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param(lambda: ENUM_SCHEMA, id="text"),
        pytest.param(lambda: cedarpy.Schema.from_str(ENUM_SCHEMA), id="handle"),
    ],
)
def test_an_id_an_enum_schema_does_not_list_is_never_answered_from_a_listed_one(
    schema: Any,
) -> None:
    """Cedar refuses `color::"green"` when the schema lists red and blue,
    whether the schema is text or a `cedarpy.Schema` handle."""
    cedar = Cedar(
        "permit(principal, action, resource is color);",
        entities=ALICE,
        principal=lambda _: ALICE_UID,
        schema=schema(),
    )
    values = [
        ResourceCheck("color", "red", "view", {}),
        ResourceCheck("color", "green", "view", {}),
    ]

    _, green = cedar.scope({}).load_fn(values)

    assert green is not True
