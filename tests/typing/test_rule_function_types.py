"""`AuthParams` is generic in the root and context type (issue 19, point 9).

A rule function that says what it decides on gets its mistakes caught by
`mypy --strict` before any request runs; the exported aliases type rule
functions and scope loaders. Checked by running mypy on a small module.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = textwrap.dedent(
    """
    from dataclasses import dataclass
    from typing import Any, TypedDict

    from strawberry_authz import (
        AuthParams,
        LoadScopes,
        PostRuleFunction,
        RuleFunction,
        RuleResult,
        ScopeLoader,
    )


    @dataclass
    class Note:
        owner_id: int


    class Context(TypedDict):
        user_id: int


    def owns(params: AuthParams[Note, Context]) -> bool:
        return params.root.owner_id == params.context["user_id"]


    def misspelt(params: AuthParams[Note, Context]) -> bool:
        return bool(params.root.owner_idd == 1)


    def wrong_key(params: AuthParams[Note, Context]) -> bool:
        return bool(params.context["user"] == 1)


    def anything(params: AuthParams) -> RuleResult:
        return {"has_access": params.root.whatever}


    def after(params: AuthParams[Note], note: Note | None) -> bool:
        return note is not None and note.owner_id == params.root.owner_id


    def is_member(team: int) -> bool:
        return team == 1


    def load_scopes(context: Context) -> dict[str, ScopeLoader]:
        return {"is_logged_in": True, "is_member": is_member}


    rules: list[RuleFunction] = [owns, anything]
    post: PostRuleFunction = after
    loader: LoadScopes = load_scopes
    """
)


def test_mypy_strict_catches_a_misspelt_root_attribute_and_context_key(tmp_path):
    module = tmp_path / "policy.py"
    module.write_text(SNIPPET)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [
        line.split(": error: ")[1]
        for line in done.stdout.splitlines()
        if ": error: " in line
    ]
    assert errors == [
        '"Note" has no attribute "owner_idd"; maybe "owner_id"?  [attr-defined]',
        'TypedDict "Context" has no key "user"  [typeddict-item]',
    ], done.stdout
