"""Cases 6 and 7 of `per_object.py` in instructions, which the load does not move.

Run: ``python benchmarks/instructions.py [--items N] [--cases 6,7]``. Needs
``valgrind`` on the PATH (Debian: ``apt-get install valgrind``); without it
the script says so and exits 0.

Wall-time ratios on a shared machine move by ±0.05x from run to run; an
instruction count does not. For each variant (an object rule, and the same
output written by hand in the resolver, from `per_object.py`) the script
runs one process under ``valgrind --tool=callgrind`` that makes one request
and another that makes three, each after the same warm-up, and takes half
the difference: the instructions of one request, with the start-up and
the warm-up cancelled out. The ratio is ours / by hand.

Instructions are not time: a cache miss costs more than an add, and the
garbage collector's work depends on the heap. The wall-time figures of
`per_object.py` stay the targets; this is the steady measure beside them.
"""

# No `from __future__ import annotations`: `per_object` builds local
# Strawberry types whose annotations must resolve where they are defined.

import argparse
import asyncio
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import per_object as po

CASES = {
    "6 sync": (False, False),
    "6 async": (True, False),
    "7 sync": (False, True),
    "7 async": (True, True),
}


def run_requests(which: str, case: str, requests: int, items: int) -> None:
    """The child: warm up, then make `requests` requests of one variant."""
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    is_async, drop = CASES[case]
    rows = po.make_rows(items)
    hidden = po.quarter_hidden(rows)
    build = po.build_by_hand if which == "hand" else po.build_object_rule
    variant = build(rows, is_async=is_async, drop=drop, hidden=hidden)
    loop = asyncio.new_event_loop()
    for _ in range(1 + requests):  # the first is the warm-up
        po.time_once(variant, loop)  # also checks the data and the call count


def instructions(which: str, case: str, requests: int, items: int) -> int:
    """Instructions of a child process making `requests` requests."""
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "callgrind.out"
        child = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--child",
                which,
                case,
                str(requests),
                "--items",
                str(items),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    found = re.search(r"Collected : (\d+)", child.stderr)
    if found is None:
        raise RuntimeError(
            f"no instruction count in valgrind's output:\n{child.stderr}"
        )
    return int(found.group(1))


def per_request(which: str, case: str, items: int) -> float:
    return (
        instructions(which, case, 3, items) - instructions(which, case, 1, items)
    ) / 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--cases", default="6,7", help="6, 7 or 6,7")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "CASE", "N"))
    args = parser.parse_args(argv)
    if args.child:
        which, case, requests = args.child
        run_requests(which, case, int(requests), args.items)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing measured (apt-get install valgrind)")
        return 0
    chosen = {part.strip() for part in args.cases.split(",")}
    print(
        f"instructions per request, {args.items} documents x 5 fields, "
        f"Python {sys.version.split()[0]}"
    )
    for case in CASES:
        if case.split()[0] not in chosen:
            continue
        hand = per_request("hand", case, args.items)
        ours = per_request("ours", case, args.items)
        more = (ours - hand) / args.items
        print(
            f"case {case:8s} ours {ours / 1e6:8.1f} M  by hand {hand / 1e6:8.1f} M"
            f"  ratio {ours / hand:.3f}  ({more:,.0f} more per document)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
