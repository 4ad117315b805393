"""Observability tests (issue 10, points 4 and 5): make `obskit` importable.

pytest runs with `--import-mode=importlib`, which puts no test folder on
`sys.path`; the helpers module lives next to this file.
"""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture
def telemetry() -> Iterator[Any]:
    """An `obskit.Telemetry`: in-memory SDK providers, shut down afterwards."""
    from obskit import Telemetry

    telemetry = Telemetry()
    yield telemetry
    telemetry.meter_provider.shutdown()
    telemetry.tracer_provider.shutdown()
