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
from strawberry_authz.engines import EngineCheckError

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
