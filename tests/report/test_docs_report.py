"""The report shown in the docs is what the command prints today."""

import re
from pathlib import Path

from strawberry_authz.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "concepts" / "report.md"
SHOWN = re.compile(r"<!-- report: (?P<spec>\S+) -->\n```text\n(?P<text>.*?)```", re.S)


def test_the_example_report_in_the_docs_equals_a_fresh_run(monkeypatch, capsys):
    shown = list(SHOWN.finditer(PAGE.read_text(encoding="utf-8")))
    assert [match["spec"] for match in shown] == ["examples.teamnotes.schema:schema"]
    monkeypatch.chdir(ROOT)
    assert main(["report", shown[0]["spec"]]) == 0
    fresh = capsys.readouterr().out
    assert shown[0]["text"] == fresh, (
        "docs/concepts/report.md is stale: paste the output of "
        f"`python -m strawberry_authz report {shown[0]['spec']}`"
    )


def test_the_example_practises_deny_by_default_so_the_gate_passes(monkeypatch, capsys):
    # Issue 19, point 15: the example's own report --fail-on-unprotected
    # exits 0 (it had 16 open fields before).
    monkeypatch.chdir(ROOT)
    assert (
        main(["report", "examples.teamnotes.schema:schema", "--fail-on-unprotected"])
        == 0
    )
    out, err = capsys.readouterr()
    assert err == ""
    assert " 0 open" in out.splitlines()[0]
