"""Time to install the guards on a schema, against its size.

Run: ``python benchmarks/install.py [--sizes 125,250,500,1000] [--repeat R]``.

Each schema has N object types of 10 fields; every type carries a type rule
and one field of each a field rule with grants, and every type is reachable
from ``Query`` through a list field. The figure is the median time of
``authz.validate(schema)`` (planning + installing every guard) over R fresh
builds, divided by the number of guarded fields, the garbage collector's
first pass over what installing made included. Install must be linear:
the time for the largest schema at most 5x the time for one a quarter of
its size (linear is 4x), and at most 20 µs per guarded field.
"""

import argparse
import gc
import statistics
import time
from typing import Any

import strawberry

from strawberry_authz import AuthExtension

FIELDS_PER_TYPE = 10


def build(types: int) -> tuple[AuthExtension, strawberry.Schema, int]:
    """A schema of `types` object types, and its number of guarded fields."""
    authz = AuthExtension(
        lambda _: {"ok": True}, default_scopes={"Query": {"ok": True}}
    )
    classes: list[type] = []
    for index in range(types):
        namespace: dict[str, Any] = {
            "__annotations__": {f"f{n}": int for n in range(1, FIELDS_PER_TYPE)},
            **{f"f{n}": n for n in range(1, FIELDS_PER_TYPE)},
        }

        def granted(self: Any) -> int:
            return 0

        namespace["f0"] = authz.rule({"ok": True}, grants=["g"])(
            strawberry.field(granted)
        )
        cls = type(f"T{index}", (), namespace)
        classes.append(authz.type_rule({"ok": True})(strawberry.type(cls)))

    query_namespace: dict[str, Any] = {}
    for index, cls in enumerate(classes):

        def items(self: Any) -> list[Any]:
            return []

        items.__annotations__["return"] = list[cls]  # type: ignore[valid-type]
        query_namespace[f"list{index}"] = strawberry.field(items)
    query = strawberry.type(type("Query", (), query_namespace))
    schema = strawberry.Schema(query=query, extensions=[authz])
    guarded = types * FIELDS_PER_TYPE + types  # every type's fields + root lists
    return authz, schema, guarded


def measure(types: int, repeat: int) -> tuple[float, int]:
    """Median seconds to install guards on a fresh schema of `types` types."""
    times = []
    guarded = 0
    for _ in range(repeat):
        authz, schema, guarded = build(types)
        gc.collect()
        started = time.perf_counter()
        authz.validate(schema)
        # Install pauses the collector; its first pass over what install
        # made comes at the next allocation, and is part of the cost.
        gc.collect(0)
        times.append(time.perf_counter() - started)
    return statistics.median(times), guarded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="125,250,500,1000")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    results = {size: measure(size, options.repeat) for size in sizes}
    print(f"{'types':>6} {'guarded':>8} {'install ms':>11} {'µs/field':>9}")
    for size, (seconds, guarded) in results.items():
        per_field = seconds / guarded * 1e6
        print(f"{size:>6} {guarded:>8} {seconds * 1e3:>11.1f} {per_field:>9.1f}")
    smallest, largest = sizes[0], sizes[-1]
    ratio = results[largest][0] / results[smallest][0]
    print(
        f"time({largest}) / time({smallest}) = {ratio:.2f}x "
        f"(linear: {largest / smallest:.1f}x)"
    )
    if largest == 4 * (quarter := largest // 4) and quarter in results:
        quarter_ratio = results[largest][0] / results[quarter][0]
        print(
            f"time({largest}) / time({quarter}) = {quarter_ratio:.2f}x "
            "(target <= 5x; linear is 4x)"
        )


if __name__ == "__main__":
    main()
