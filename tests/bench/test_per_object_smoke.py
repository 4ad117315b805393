"""Smoke test for `benchmarks/per_object.py`: small sizes, no timings.

The benchmark means something only if every authorized variant returns the
same data as the schema without authorization, really denies, and costs the
batched number of `load_fn` calls; these tests pin all three.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from benchkit import load_benchmark

ITEMS = 40


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("per_object")


def test_every_variant_returns_the_same_data_as_no_authorization(
    bench: ModuleType, loop: asyncio.AbstractEventLoop
) -> None:
    variants, cases = bench.build_variants(ITEMS)
    names = {v.name for v in variants}
    assert {c.numerator for c in cases} | {c.denominator for c in cases} <= names
    plain = next(v for v in variants if v.name == f"plain sync {ITEMS}")
    bare = plain.run(loop).data
    assert len(bare["documents"]) == ITEMS
    for variant in variants:
        result = variant.run(loop)
        if variant.hidden:  # the side-by-side cases deny one in four
            bench.check_result(variant, result)
            continue
        assert result.errors is None, (variant.name, result.errors)
        size = len(result.data["documents"])
        assert result.data == bench.expected_data(bench.make_rows(size)), variant.name
        if size == ITEMS:
            assert result.data == bare, variant.name


@pytest.mark.parametrize(
    ("items", "max_batch_size"), [(ITEMS, 1000), (25, 10), (30, 10), (1, 1)]
)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_load_fn_is_called_ceil_n_over_max_batch_size_times(
    bench: ModuleType,
    loop: asyncio.AbstractEventLoop,
    is_async: bool,
    items: int,
    max_batch_size: int,
) -> None:
    variant = bench.build_batch(
        bench.make_rows(items), is_async=is_async, max_batch_size=max_batch_size
    )
    assert variant.expected_calls == math.ceil(items / max_batch_size)
    for _ in range(2):  # every request pays its own batches, no more
        result = variant.run(loop)
        assert result.errors is None
        assert variant.calls[0] == math.ceil(items / max_batch_size)
        bench.check_result(variant, result)


@pytest.mark.parametrize("kind", ["batch sync", "batch async", "rulefn sync"])
def test_the_authorized_variants_really_deny(
    bench: ModuleType, loop: asyncio.AbstractEventLoop, kind: str
) -> None:
    rows = bench.make_rows(ITEMS)
    hidden = frozenset(row.id for row in rows if row.id % 3 == 0)
    if kind == "rulefn sync":
        variant = bench.build_rule_function(rows, hidden=hidden)
    else:
        variant = bench.build_batch(rows, is_async=kind == "batch async", hidden=hidden)
    result = variant.run(loop)
    documents = result.data["documents"]
    assert [d is None for d in documents] == [row.id in hidden for row in rows]
    assert all(
        d == bench.row_data(row) for d, row in zip(documents, rows, strict=True) if d
    )
    assert result.errors is not None
    assert len(result.errors) == len(hidden)
    assert {e.extensions["code"] for e in result.errors} == {"FORBIDDEN"}
    bench.check_result(variant, result)


@pytest.mark.parametrize("drop", [False, True], ids=["on_object", "drop_denied"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_object_rules_and_the_hand_written_version_serve_the_same(
    bench: ModuleType, loop: asyncio.AbstractEventLoop, is_async: bool, drop: bool
) -> None:
    rows = bench.make_rows(ITEMS)
    hidden = bench.quarter_hidden(rows)
    ours = bench.build_object_rule(rows, is_async=is_async, drop=drop, hidden=hidden)
    hand = bench.build_by_hand(rows, is_async=is_async, drop=drop, hidden=hidden)
    served = [variant.run(loop) for variant in (ours, hand)]
    assert served[0].data == served[1].data == ours.expected
    assert [e.path for e in served[0].errors or []] == [
        e.path for e in served[1].errors or []
    ]
    assert len(served[0].errors or []) == (0 if drop else len(hidden))
    for variant, result in zip((ours, hand), served, strict=True):
        bench.check_result(variant, result)


def test_a_broken_variant_cannot_look_fast(
    bench: ModuleType, loop: asyncio.AbstractEventLoop
) -> None:
    rows = bench.make_rows(ITEMS)
    denying = bench.build_batch(rows, is_async=False, hidden=frozenset({3}))
    denying.expected, denying.hidden = bench.expected_data(rows), frozenset()
    with pytest.raises(AssertionError, match="different data"):
        bench.time_once(denying, loop)

    unbatched = bench.build_batch(rows, is_async=False)
    unbatched.expected_calls = 2  # as if batching had been lost
    with pytest.raises(AssertionError, match="loader calls"):
        bench.time_once(unbatched, loop)


def test_the_quick_mode_runs_every_case_and_reports_it(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--check"]) == 0
    out = capsys.readouterr().out
    for case in tuple(f"case {n}" for n in range(1, 10)):
        assert case in out
    assert "check: every variant returned the expected data" in out


@pytest.fixture
def engine(bench: ModuleType) -> Iterator[tuple[Any, Any]]:
    missing = bench.spicedb_missing()
    if missing is not None:
        if os.environ.get("STRAWBERRY_AUTHZ_REQUIRE_SPICEDB") or os.environ.get("CI"):
            pytest.fail(f"embedded SpiceDB is required here but missing: {missing}")
        pytest.skip(f"embedded SpiceDB not installed ({missing})")
    db, token = bench.start_spicedb(bench.make_rows(ITEMS))
    try:
        yield db, token
    finally:
        db.close()


def test_the_spicedb_variant_shows_exactly_the_visible_documents_in_one_call(
    bench: ModuleType, loop: asyncio.AbstractEventLoop, engine: tuple[Any, Any]
) -> None:
    rows = bench.make_rows(ITEMS)
    variant = bench.build_spicedb(rows, *engine, max_batch_size=16)
    result = variant.run(loop)
    hidden = {row.id for row in rows if row.id % 4 == 3}
    documents = result.data["documents"]
    assert [d is None for d in documents] == [row.id in hidden for row in rows]
    assert result.errors is not None and len(result.errors) == len(hidden)
    assert variant.calls[0] == math.ceil(ITEMS / 16)
    bench.check_result(variant, result)


def _require_engine(bench: ModuleType, name: str) -> None:
    missing = bench.engine_missing(name)
    if missing is None:
        return
    if os.environ.get("STRAWBERRY_AUTHZ_REQUIRE_CERBOS") or os.environ.get("CI"):
        pytest.fail(f"{name} is required here but missing: {missing}")
    pytest.skip(f"{name} not installed ({missing})")


@pytest.mark.parametrize("each", [False, True], ids=["grouped", "each asked"])
def test_the_cedar_variant_shows_exactly_the_visible_documents_in_one_call(
    bench: ModuleType, loop: asyncio.AbstractEventLoop, each: bool
) -> None:
    _require_engine(bench, "cedar")
    rows = bench.make_engine_rows(ITEMS, denied=True)
    variant = bench.build_cedar(rows, each=each)
    for _ in range(2):  # every request pays its own calls, no more
        result = variant.run(loop)
        hidden = bench.engine_hidden(rows)
        assert 0 < len(hidden) < ITEMS
        documents = result.data["documents"]
        assert [d is None for d in documents] == [row.id in hidden for row in rows]
        assert variant.calls[0] == 1
        assert variant.engine_seconds[0] > 0
        bench.check_result(variant, result)


def test_the_cerbos_variant_asks_ceil_n_over_500_calls_and_times_them(
    bench: ModuleType, loop: asyncio.AbstractEventLoop
) -> None:
    _require_engine(bench, "cerbos")
    rows = bench.make_engine_rows(1001, denied=True)
    server = bench.start_cerbos()
    try:
        variant = bench.build_cerbos(rows, server, loop)
        result = variant.run(loop)
    finally:
        server.close()
    hidden = bench.engine_hidden(rows)
    documents = result.data["documents"]
    assert [d is None for d in documents] == [row.id in hidden for row in rows]
    assert variant.calls[0] == 3  # 500 + 500 + 1
    assert variant.engine_seconds[0] > 0
    bench.check_result(variant, result)


def test_each_round_times_every_variant_once_with_each_pair_back_to_back(
    bench: ModuleType,
) -> None:
    """A case's two variants run one after the other (so a change of machine
    speed between them is rare), the first of them alternating by round."""
    variants, cases = bench.build_variants(ITEMS)
    by_name = {v.name: v for v in variants}
    for index in range(2 * len(cases)):
        order = [v.name for v in bench.round_order(variants, cases, index)]
        assert sorted(order) == sorted(by_name)
        first = cases[index % len(cases)]
        pair = [first.numerator, first.denominator]
        assert order[:2] == (pair[::-1] if index % 2 else pair)
    adjacent = {
        case.label
        for index in range(len(cases))
        for case in cases
        for order in ([v.name for v in bench.round_order(variants, cases, index)],)
        if abs(order.index(case.numerator) - order.index(case.denominator)) == 1
    }
    assert adjacent == {case.label for case in cases}
