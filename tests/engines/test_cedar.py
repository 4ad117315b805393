"""The Cedar adapter, in process (issue 20.3).

What the contract suite does not cover: policies that do not parse, policies
that error while deciding, values Cedar has no type for, the entities and
context options, and one resource asked with two attribute maps at once.
"""

import json
import logging
from typing import Any

import cedarpy
import pytest
from enginekit import CEDAR_POLICIES, DOCUMENTS, Doc

from strawberry_authz import ConfigurationError
from strawberry_authz.cedar import Cedar
from strawberry_authz.engines import EngineCheckError, Resource

pytestmark = pytest.mark.usefixtures("cedar_installed")

ALICE = [
    {"uid": {"type": "user", "id": "alice"}, "attrs": {"id": "alice"}, "parents": []}
]
DRAFT = Doc("1", "alice", "draft")
BOBS = Doc("3", "bob", "draft")


def as_alice(context: Any) -> Any:
    return {"type": "user", "id": "alice"}


def check(cedar: Cedar, values: list[Any], context: Any = None) -> Any:
    return cedar.scope(context if context is not None else {}).load_fn(values)


def test_policies_that_do_not_parse_are_refused_when_built() -> None:
    with pytest.raises(ConfigurationError, match="do not parse"):
        Cedar("permit(principal, action, resource", entities=[], principal=as_alice)


@pytest.mark.parametrize(
    "options",
    [{"max_batch_size": 0}, {"principal": "alice"}, {"context": "weekday"}],
)
def test_bad_options_are_refused_when_built(options: dict[str, Any]) -> None:
    options.setdefault("principal", as_alice)
    with pytest.raises(ConfigurationError):
        Cedar(CEDAR_POLICIES, entities=[], **options)


def test_a_policy_set_handle_and_an_entities_handle_are_used_as_they_are() -> None:
    cedar = Cedar(
        cedarpy.PolicySet.from_str(CEDAR_POLICIES),
        entities=cedarpy.Entities.from_json_str(json.dumps(ALICE)),
        principal=as_alice,
    )
    answers = check(
        cedar, [DOCUMENTS.check(DRAFT, "edit"), DOCUMENTS.check(BOBS, "edit")]
    )
    assert list(answers) == [True, False]


def test_a_forbid_policy_that_errors_denies_instead_of_being_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Cedar skips an erroring policy; here that would let the permit through."""
    policies = """
    permit(principal, action, resource);
    forbid(principal, action, resource) when { resource.locked };
    """
    cedar = Cedar(policies, entities=ALICE, principal=as_alice)
    answers = check(cedar, [DOCUMENTS.check(DRAFT, "view")])  # no `locked`
    [answer] = answers
    assert isinstance(answer, EngineCheckError)
    assert "locked" in str(answer) and answers.call_ids[0] in str(answer)


@pytest.mark.parametrize("bad", [1.5, None, 2**70, [1.5]])
def test_an_attribute_cedar_has_no_type_for_denies_only_its_value(bad: Any) -> None:
    cedar = Cedar(CEDAR_POLICIES, entities=ALICE, principal=as_alice)
    bad_value = DOCUMENTS.check(DRAFT, "view")._replace(attributes={"owner": bad})
    good = DOCUMENTS.check(Doc("5", "alice", "draft"), "view")
    answers = check(cedar, [bad_value, good])
    assert isinstance(answers[0], EngineCheckError)
    # Sent, it would have made Cedar refuse the whole call.
    assert answers[1] is True


def test_one_resource_with_two_attribute_maps_is_decided_on_each() -> None:
    cedar = Cedar(CEDAR_POLICIES, entities=ALICE, principal=as_alice)
    theirs = DOCUMENTS.check(BOBS, "view")
    published = theirs._replace(attributes={**theirs.attributes, "status": "published"})
    answers = check(cedar, [theirs, published, theirs])
    assert list(answers) == [False, True, False]
    assert len(answers.call_ids) == 2  # one entity per uid in a Cedar call


def test_the_context_function_gives_the_cedar_context() -> None:
    policies = "permit(principal, action, resource) when { context.office };"
    cedar = Cedar(
        policies,
        entities=ALICE,
        principal=as_alice,
        context=lambda request: {"office": request["office"]},
    )
    value = DOCUMENTS.check(DRAFT, "view")
    assert list(check(cedar, [value], {"office": True})) == [True]
    assert list(check(cedar, [value], {"office": False})) == [False]


def test_without_a_context_function_the_context_is_the_empty_record() -> None:
    policies = "permit(principal, action, resource) unless { context has office };"
    cedar = Cedar(policies, entities=ALICE, principal=as_alice)
    assert list(check(cedar, [DOCUMENTS.check(DRAFT, "view")])) == [True]


def test_cedarpys_public_function_decides_the_same_when_its_rust_entry_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from strawberry_authz import cedar as module

    policies = CEDAR_POLICIES + (
        'forbid(principal, action, resource) when { resource.status == "x" && '
        "resource.nothing };"
    )
    cedar = Cedar(policies, entities=ALICE, principal=as_alice)
    broken = DOCUMENTS.check(Doc("4", "alice", "x"), "view")
    values = [DOCUMENTS.check(DRAFT, "view"), DOCUMENTS.check(BOBS, "view"), broken]
    fast = list(check(cedar, values))
    monkeypatch.setattr(module, "_RUST_BATCH", None)
    public = list(check(cedar, values))
    for answers in (fast, public):
        assert answers[:2] == [True, False]
        assert isinstance(answers[2], EngineCheckError)


def test_a_principal_in_cedar_text_works_and_a_malformed_one_fails_the_chunk() -> None:
    cedar = Cedar(CEDAR_POLICIES, entities=ALICE, principal=lambda c: c["principal"])
    value = DOCUMENTS.check(DRAFT, "edit")
    assert list(check(cedar, [value], {"principal": 'user::"alice"'})) == [True]
    with pytest.raises(TypeError):
        check(cedar, [value], {"principal": {"type": "user"}})


def test_entities_that_are_not_a_list_fail_the_chunk(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cedar = Cedar(CEDAR_POLICIES, entities=lambda c: "alice", principal=as_alice)
    with caplog.at_level(logging.ERROR), pytest.raises(TypeError):
        check(cedar, [DOCUMENTS.check(DRAFT, "view")])


def test_answers_read_without_parsing_are_those_cedar_gave() -> None:
    from strawberry_authz import cedar as module

    policies = cedarpy.PolicySet.from_str(
        '@id("errors")\n'
        'permit(principal, action == Action::"view", resource) when '
        '{ resource.owner == "alice" };\n'
        "forbid(principal, action, resource) when { resource.broken };"
    )
    entities = json.dumps(
        [
            {"uid": {"type": "document", "id": i}, "attrs": attrs, "parents": []}
            for i, attrs in (
                ("1", {"owner": "alice", "broken": False}),
                ("2", {"owner": "bob", "broken": False}),
                ("3", {"owner": "alice"}),
            )
        ]
    )
    requests = [
        {
            "principal": {"type": "user", "id": "alice"},
            "action": {"type": "Action", "id": "view"},
            "resource": {"type": "document", "id": i},
            "correlation_id": call,
        }
        for i, call in (("1", "c1"), ("2", "c1"), ("3", "c1"), ("1", "c2"))
    ]
    assert module._RUST_BATCH is not None
    answered = module._RUST_BATCH(requests, policies, entities, None, False)
    records = module._records(answered, "c1")
    for record, text in zip(records, answered, strict=True):
        parsed = json.loads(text)
        assert record["decision"] == parsed["decision"]
        assert record["correlation_id"] == parsed["correlation_id"]
        assert bool(record["diagnostics"].get("errors")) == bool(
            parsed["diagnostics"]["errors"]
        )
    assert [r["decision"] for r in records] == ["Allow", "Deny", "Allow", "Allow"]
    # The forbid errored and Cedar skipped it: its errors are read (they deny).
    assert records[2]["diagnostics"]["errors"]
    assert records[3]["correlation_id"] == "c2"  # another call's: out of order


# -- Equal attribute maps, one Cedar request ----------------------------------


@pytest.fixture
def requests_sent(monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """The requests of each `is_authorized_batch` call."""
    from strawberry_authz import cedar as module

    sent: list[list[Any]] = []
    decide = module.decide_batch

    def counting(requests: list[Any], *args: Any) -> Any:
        sent.append([request["resource"]["id"] for request in requests])
        return decide(requests, *args)

    monkeypatch.setattr(module, "decide_batch", counting)
    return sent


def test_equal_attribute_maps_are_one_request_when_policies_read_only_attributes(
    requests_sent: list[list[Any]],
) -> None:
    cedar = Cedar(CEDAR_POLICIES, entities=ALICE, principal=as_alice)
    docs = [Doc(str(i), "alice" if i % 2 else "bob", "draft") for i in range(1, 7)]

    answers = check(cedar, [DOCUMENTS.check(doc, "view") for doc in docs])

    assert list(answers) == [True, False, True, False, True, False]
    # One question per attribute map, each answer given to every document.
    assert requests_sent == [["1", "2"]]


ANY = "permit(principal, action, resource"
IDENTITY_POLICIES = {
    "scope ==": ANY + ' == document::"1");',
    "scope in": ANY + ' in document::"1");',
    "scope is in": ANY + ' is document in document::"1");',
    "is in": ANY + ') when { resource is document in document::"1" };',
    "compared": ANY + ') when { resource == document::"1" };',
    "in a set": ANY + ') when { [document::"1"].contains(resource) };',
    "in the context": ANY + ") when { context.doc == resource };",
    "a forbid": ANY
    + ');\nforbid(principal, action, resource) unless { resource == document::"1" };',
}


@pytest.mark.parametrize("policy", IDENTITY_POLICIES.values(), ids=IDENTITY_POLICIES)
def test_equal_attribute_maps_are_each_asked_when_a_policy_names_a_resource(
    policy: str, requests_sent: list[list[Any]]
) -> None:
    cedar = Cedar(
        policy,
        entities=ALICE,
        principal=as_alice,
        context=lambda c: {"doc": {"__entity": {"type": "document", "id": "1"}}},
    )
    same = [Doc(i, "alice", "draft") for i in ("1", "2", "3")]

    answers = check(cedar, [DOCUMENTS.check(doc, "view") for doc in same])

    assert list(answers) == [True, False, False]
    assert requests_sent == [["1", "2", "3"]]


def test_a_linked_template_naming_a_resource_asks_each_document(
    requests_sent: list[list[Any]],
) -> None:
    policies = cedarpy.PolicySet.from_str(
        "permit(principal, action, resource == ?resource);"
    ).with_linked("policy0", "only-1", {"?resource": {"type": "document", "id": "1"}})
    cedar = Cedar(policies, entities=ALICE, principal=as_alice)
    same = [Doc(i, "alice", "draft") for i in ("1", "2")]

    answers = check(cedar, [DOCUMENTS.check(doc, "view") for doc in same])

    assert list(answers) == [True, False]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([True, 1, "1", True], [True, False, False, True]),
        ([1, True, 1], [False, True, False]),
        (
            [{"x": True, "y": 1}, {"y": 1, "x": True}, {"x": 1, "y": 1}],
            [True, True, False],
        ),
        ([[True], [1], [True]], [True, False, True]),
    ],
    ids=["scalars", "int first", "records", "sets"],
)
def test_attribute_maps_that_differ_in_a_type_are_asked_apart(
    flags: list[Any], expected: list[bool]
) -> None:
    policies = """
    permit(principal, action, resource) when {
        resource.flag == true || resource.flag == {"x": true, "y": 1}
        || resource.flag == [true]
    };
    """
    cedar = Cedar(policies, entities=ALICE, principal=as_alice)
    flagged = Resource(
        "document", id=lambda doc: doc[0], attributes={"flag": lambda doc: doc[1]}
    )
    values = [flagged.check((str(i), flag), "view") for i, flag in enumerate(flags)]

    assert list(check(cedar, values)) == expected


def test_an_error_shared_by_equal_attribute_maps_names_each_document(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policies = "permit(principal, action, resource) when { resource.locked };"
    cedar = Cedar(policies, entities=ALICE, principal=as_alice)
    values = [DOCUMENTS.check(Doc(i, "alice", "draft"), "view") for i in ("7", "8")]

    answers = check(cedar, values)

    assert all(isinstance(answer, EngineCheckError) for answer in answers)
    assert "'7'" in str(answers[0]) and "'8'" in str(answers[1])


def test_with_a_schema_of_enumerated_ids_each_resource_is_asked() -> None:
    """Cedar refuses an id its schema's `enum` does not list: never answered
    from a listed resource with the same (no) attributes."""
    schema = """
    entity user { id: String };
    entity color enum ["red", "blue"];
    action view appliesTo { principal: [user], resource: [color] };
    """
    cedar = Cedar(
        "permit(principal, action, resource is color);",
        entities=ALICE,
        principal=as_alice,
        schema=schema,
    )
    colors = Resource("color", id=lambda name: name)

    _, green = check(
        cedar, [colors.check("red", "view"), colors.check("green", "view")]
    )

    assert green is not True


@pytest.mark.parametrize("grouped", [True, False], ids=["grouped", "each asked"])
def test_one_resource_asked_with_true_and_with_1_is_decided_on_each(
    grouped: bool,
) -> None:
    """Python finds `{"flag": True} == {"flag": 1}`; Cedar does not."""
    policies = "permit(principal, action, resource) when { resource.flag == true };"
    if not grouped:
        policies += '\nforbid(principal, action, resource == document::"none");'
    cedar = Cedar(policies, entities=ALICE, principal=as_alice)
    flagged = Resource(
        "document", id=lambda doc: doc[0], attributes={"flag": lambda doc: doc[1]}
    )
    values = [flagged.check(("1", flag), "view") for flag in (True, 1, [True], [1])]

    assert list(check(cedar, values)) == [True, False, False, False]
