"""Smoke test for `benchmarks/overhead.py`: tiny sizes, one round.

The benchmark is only meaningful if every variant returns the same data and
the authorized variants really check: these tests pin both.
"""

from __future__ import annotations

import asyncio
from types import ModuleType

import pytest
from benchkit import load_benchmark

OBJECTS = 50


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("overhead")


def test_every_variant_returns_the_same_data(
    bench: ModuleType, loop: asyncio.AbstractEventLoop
) -> None:
    variants, expected = bench.build_variants(OBJECTS)
    assert {v.name for v in variants} >= {case.numerator for case in bench.CASES} | {
        case.denominator for case in bench.CASES
    }
    assert len(expected["items"]) == OBJECTS
    for variant in variants:
        result = variant.run(loop)
        assert result.errors is None, (variant.name, result.errors)
        assert result.data == expected, variant.name


def test_measure_and_report_run_one_round(
    bench: ModuleType,
    loop: asyncio.AbstractEventLoop,
    capsys: pytest.CaptureFixture[str],
) -> None:
    variants, expected = bench.build_variants(OBJECTS)
    timings = bench.measure(variants, expected, 1, loop)
    assert len(timings) == 1
    assert set(timings[0]) == {v.name for v in variants}
    bench.report(timings)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(bench.CASES)
    assert all(("PASS" in line) != ("FAIL" in line) for line in lines)


def test_a_broken_variant_cannot_look_fast(
    bench: ModuleType, loop: asyncio.AbstractEventLoop
) -> None:
    rows = bench.make_rows(OBJECTS)
    variant = bench.build_authz(rows, is_async=False, allow=False)
    with pytest.raises(AssertionError, match="errors"):
        bench.time_once(variant, loop, bench.expected_data(rows))


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_authorized_variant_really_checks(
    bench: ModuleType, loop: asyncio.AbstractEventLoop, is_async: bool
) -> None:
    rows = bench.make_rows(OBJECTS)
    denied = bench.build_authz(rows, is_async=is_async, allow=False).run(loop)
    assert denied.data is None
    assert denied.errors
    assert {e.extensions["code"] for e in denied.errors} == {"FORBIDDEN"}
    assert denied.errors[0].path[0] == "items"

    allowed = bench.build_authz(rows, is_async=is_async, allow=True)
    result = allowed.run(loop)
    assert result.errors is None
    assert result.data == bench.expected_data(rows)
    # The guard sits on the compiled resolvers the benchmark times.
    item = allowed.schema._schema.get_type("Item")
    assert all(hasattr(f.resolve, "guard") for f in item.fields.values())
