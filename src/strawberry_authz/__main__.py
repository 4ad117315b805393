"""The command line: `python -m strawberry_authz report module:schema`.

Also installed as the console script `strawberry-authz`. Exit codes:
0 the report was printed; 1 `--fail-on-unprotected` found open fields
(named on stderr); 2 a usage error, a schema that cannot be loaded, or a
policy that does not validate (the `ConfigurationError` text on stderr).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Sequence

from strawberry import Schema

from ._errors import ConfigurationError
from ._extension import AuthExtension
from .report import Report, build_report, to_json, to_markdown, to_text

__all__ = ["load_schema", "main"]

EXIT_OK = 0
EXIT_UNPROTECTED = 1
EXIT_ERROR = 2

FORMATS: dict[str, Callable[[Report], str]] = {
    "text": to_text,
    "markdown": to_markdown,
    "json": to_json,
}


class LoadError(Exception):
    """The schema named on the command line cannot be loaded (exit 2)."""


def load_schema(spec: str) -> Schema:
    """The Strawberry schema named `module:attribute` (`attribute` may be dotted).

    The current directory is importable, as for `python -m`. An attribute
    that is not a `Schema` but is callable is called without arguments (a
    factory) and must return one. A `ConfigurationError` raised while
    importing or building propagates.
    """
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise LoadError(
            f"{spec!r}: expected module:attribute, e.g. myapp.schema:schema"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found: object = importlib.import_module(module_name)
    except ConfigurationError:
        raise
    except Exception as error:
        raise LoadError(
            f"cannot import {module_name!r}: {type(error).__name__}: {error}"
        ) from error
    for name in attribute.split("."):
        try:
            found = getattr(found, name)
        except AttributeError:
            raise LoadError(f"{spec!r}: no attribute {name!r}") from None
    if isinstance(found, Schema):
        return found
    if isinstance(found, AuthExtension):
        raise LoadError(
            f"{spec!r} is an AuthExtension, not a strawberry.Schema: name the "
            "schema that lists it in extensions=[...]"
        )
    if inspect.isroutine(found) or isinstance(found, functools.partial):
        try:
            made = found()
        except ConfigurationError:
            raise
        except Exception as error:
            message = f"{spec!r} raised {type(error).__name__}: {error}"
            raise LoadError(message) from None
        if isinstance(made, Schema):
            return made
        raise LoadError(
            f"{spec!r} returned {type(made).__name__}, not a strawberry.Schema"
        )
    hint = " (nor a function returning one)"
    if isinstance(getattr(found, "schema", None), Schema):
        hint = f" (did you mean {spec}.schema?)"
    kind = type(found).__name__
    raise LoadError(f"{spec!r} is {kind}, not a strawberry.Schema{hint}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strawberry-authz",
        description="Tools for strawberry-authz policies.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser(
        "report",
        help="print what protects each field of a schema",
        description=(
            "List every output field of a schema and the rules that apply to "
            "it; mark the fields nothing protects. Exits 2 if the policy does "
            "not validate."
        ),
    )
    report.add_argument(
        "schema", help="the schema as module:attribute (a Schema or a factory)"
    )
    report.add_argument(
        "--format", choices=sorted(FORMATS), default="text", help="default: text"
    )
    report.add_argument(
        "--fail-on-unprotected",
        action="store_true",
        help="exit 1 if any field is open (nothing protects it), naming them",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        report = build_report(load_schema(args.schema))
    except ConfigurationError as error:
        print(f"strawberry-authz: {error}", file=sys.stderr)
        return EXIT_ERROR
    except LoadError as error:
        print(f"strawberry-authz: {error}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:
        # Anything else is still "no report": one line and exit 2, never a
        # traceback and exit 1 (the code of "open fields").
        print(
            f"strawberry-authz: cannot report on {args.schema!r}: "
            f"{type(error).__name__}: {error}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    sys.stdout.write(FORMATS[args.format](report))
    if args.fail_on_unprotected and report.open:
        names = ", ".join(row.coordinate for row in report.open)
        print(
            f"strawberry-authz: {len(report.open)} unprotected field(s): {names}",
            file=sys.stderr,
        )
        return EXIT_UNPROTECTED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
