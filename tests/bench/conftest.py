"""Fixtures shared by the benchmarks' smoke tests."""

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh event loop, for benchmark variants that run async queries."""
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()
