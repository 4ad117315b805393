"""Smoke test for `benchmarks/engines.py`: small sizes, no timings.

The figures mean something only if every run returns the visible documents
with one FORBIDDEN per hidden one and makes the chunked number of engine
calls; the benchmark asserts both, and this runs it once on 600 documents.
"""

import asyncio
import logging

import pytest
from benchkit import load_benchmark


def test_the_cedar_case_checks_its_answers_and_calls(
    cedar_installed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    load_benchmark("engines").cedar_case(600, 1, True)
    assert "1 is_authorized_batch calls" in capsys.readouterr().out


def test_the_cerbos_case_checks_its_answers_and_calls(
    cerbos_installed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    try:
        asyncio.run(load_benchmark("engines").cerbos_case(600, 1, True))
    finally:
        logging.getLogger("strawberry.execution").setLevel(logging.NOTSET)
    assert "2 CheckResources calls" in capsys.readouterr().out
