"""Resources with attributes, and how their checks are keyed (issue 20.4).

A `Resource` declares once how objects of a kind are shown to an engine; a
`ResourceCheck` is keyed canonically, so equal attribute maps share one
cached answer and a changed attribute is a new question.
"""

import enum
from dataclasses import dataclass
from typing import Any

import pytest

from strawberry_authz import ConfigurationError
from strawberry_authz._keys import scope_key
from strawberry_authz.engines import EngineCallLedger, Resource, ResourceCheck


class Status(enum.Enum):
    DRAFT = "draft"


@dataclass
class Note:
    id: int
    author: str
    status: Status
    tags: tuple[str, ...] = ()


NOTE = Note(7, "ann", Status.DRAFT, ("a", "b"))


def test_a_check_reads_the_id_and_the_declared_attributes() -> None:
    notes = Resource(
        "note",
        attributes={"owner": "author", "status": "status", "n": lambda n: len(n.tags)},
    )
    assert notes.check(NOTE, "read") == ResourceCheck(
        "note", "7", "read", {"owner": "ann", "status": "draft", "n": 2}
    )


def test_attribute_names_may_be_listed_and_the_id_computed() -> None:
    notes = Resource("note", id=lambda n: f"n-{n.id}", attributes=["author", "tags"])
    check = notes.check(NOTE, "read")
    assert check.id == "n-7"
    assert check.attributes == {"author": "ann", "tags": ["a", "b"]}


@pytest.mark.parametrize(
    "arguments",
    [
        {"kind": ""},
        {"kind": 3},
        {"kind": "note", "id": 3},
        {"kind": "note", "attributes": "author"},
        {"kind": "note", "attributes": {"owner": 3}},
        {"kind": "note", "attributes": {1: "author"}},
    ],
)
def test_a_bad_declaration_is_a_configuration_error(arguments: dict[str, Any]) -> None:
    kind = arguments.pop("kind")
    with pytest.raises(ConfigurationError, match="Resource"):
        Resource(kind, **arguments)


@pytest.mark.parametrize(
    "note",
    [
        Note(0, "ann", Status.DRAFT, (object(),)),  # type: ignore[arg-type]
        Note(True, "ann", Status.DRAFT),
        Note("", "ann", Status.DRAFT),  # type: ignore[arg-type]
    ],
)
def test_an_id_or_attribute_no_engine_can_take_raises_naming_the_kind(
    note: Note,
) -> None:
    notes = Resource("note", attributes=["tags"])
    with pytest.raises(TypeError, match="'note'"):
        notes.check(note, "read")


def test_equal_attribute_maps_share_a_key_and_a_changed_one_does_not() -> None:
    one = ResourceCheck("note", "7", "read", {"owner": "ann", "status": "draft"})
    same = ResourceCheck("note", "7", "read", {"status": "draft", "owner": "ann"})
    changed = ResourceCheck("note", "7", "read", {"owner": "ann", "status": "final"})
    typed = ResourceCheck("note", "7", "read", {"owner": "ann", "status": True})
    other = ResourceCheck("note", "7", "read", {"owner": "ann", "status": 1})

    assert scope_key("can", one) == scope_key("can", same)
    assert scope_key("can", one) != scope_key("can", changed)
    assert scope_key("can", typed) != scope_key("can", other)  # True is not 1
    # A check is never mistaken for a plain list naming the same resource.
    assert scope_key("can", one) != scope_key("can", ["note", "7", "read", {}])


def test_nested_attributes_are_keyed_by_their_content() -> None:
    def key(attributes: dict[str, Any]) -> object:
        return scope_key("can", ResourceCheck("note", "7", "read", attributes))

    assert key({"tags": ["a", "b"], "meta": {"x": 1}}) == key(
        {"meta": {"x": 1}, "tags": ["a", "b"]}
    )
    assert key({"tags": ["a", "b"]}) != key({"tags": ["a", "c"]})
    assert key({"tags": ["a"]}) != key({"tags": "a"})
    assert key({"meta": {"x": 1}}) != key({"meta": {"x": True}})
    # Names and values never run together: a different split is another key.
    assert key({"a": "b", "c": "d"}) != key({"a": "b"})


def test_values_equal_in_python_but_of_another_type_are_another_key() -> None:
    def key(value: Any) -> object:
        return scope_key("can", ResourceCheck("note", "7", "read", {"v": value}))

    keys = [key(v) for v in (True, 1, 1.0, "1", [1], [1.0], [True], {"x": 1})]
    assert len(set(keys)) == len(keys)
    assert key({"x": 1}) != key({"x": 1.0}) and key([1]) == key([1])


def test_an_attribute_name_with_a_dot_is_one_name_not_a_path() -> None:
    class Shown:
        id = 1
        a = Note(2, "nested", Status.DRAFT)

    shown = Shown()
    setattr(shown, "a.author", "literal")
    notes = Resource("note", attributes={"who": "a.author"})
    assert notes.check(shown, "read").attributes == {"who": "literal"}


def test_call_ids_belong_to_the_request_that_made_them() -> None:
    ledger = EngineCallLedger()
    first, second = {"user": "ann"}, {"user": "ann"}
    calls = ledger.open(first)
    calls.append("call-1")
    ledger.open(second).append("call-2")

    assert ledger.call_ids(first) == ["call-1"]
    assert ledger.call_ids({"user": "ann"}) == []  # an equal context is another


def test_call_ids_go_when_the_request_scope_does() -> None:
    ledger = EngineCallLedger()
    context: dict[str, Any] = {}
    ledger.open(context).append("call-1")  # nothing keeps it: the request ended
    assert ledger.call_ids(context) == []
    assert ledger._entries == {}


def test_requests_without_a_context_never_share_call_ids() -> None:
    ledger = EngineCallLedger()
    first = ledger.open(None)
    first.append("call-1")
    assert ledger.call_ids(None) == []
