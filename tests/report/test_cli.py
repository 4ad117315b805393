"""`python -m strawberry_authz report` and `strawberry-authz report`: exit codes.

0: the report was printed; 1: `--fail-on-unprotected` found open fields
(named on stderr); 2: usage errors, a schema that cannot be loaded, a policy
that does not validate (its `ConfigurationError` text on stderr).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from strawberry_authz.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
POLICIES = "tests.report.policies"


@pytest.fixture(autouse=True)
def in_the_project(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_report_exits_0_even_with_open_fields(capsys):
    code, out, err = run(capsys, "report", f"{POLICIES}:schema")
    assert code == 0 and err == ""
    assert "Plain.label         OPEN" in out


def test_fail_on_unprotected_exits_1_and_names_the_open_fields(capsys):
    code, out, err = run(
        capsys, "report", f"{POLICIES}:schema", "--fail-on-unprotected"
    )
    assert code == 1
    assert err == "strawberry-authz: 1 unprotected field(s): Plain.label\n"
    assert out.startswith("Policy coverage:")


def test_fail_on_unprotected_exits_0_when_a_fallback_covers_everything(capsys):
    code, _, err = run(capsys, "report", f"{POLICIES}:guarded", "--fail-on-unprotected")
    assert (code, err) == (0, "")


def test_a_policy_that_does_not_validate_exits_2_with_the_configuration_error(capsys):
    code, out, err = run(capsys, "report", f"{POLICIES}:unreachable_grant")
    assert code == 2 and out == ""
    assert err == (
        "strawberry-authz: Secret.value: key '$granted': grant 'never_given' is "
        "given by no field returning Secret and by no type grants of it, so this "
        "rule can never pass\n"
    )


def test_a_configuration_error_while_importing_exits_2_with_its_text(capsys):
    code, out, err = run(capsys, "report", "tests.report.broken_policy:schema")
    assert code == 2 and out == ""
    assert err.startswith("strawberry-authz: fallback_rule: key '$nope': unknown key")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.report.policies", "expected module:attribute"),
        ("tests.report.nowhere:schema", "cannot import 'tests.report.nowhere'"),
        (f"{POLICIES}:missing", "no attribute 'missing'"),
        (f"{POLICIES}:not_a_schema", "is int, not a strawberry.Schema"),
    ],
)
def test_a_schema_that_cannot_be_loaded_exits_2(capsys, spec, message):
    code, out, err = run(capsys, "report", spec)
    assert code == 2 and out == ""
    assert message in err


@pytest.mark.parametrize(
    "argv",
    [[], ["report"], ["report", f"{POLICIES}:schema", "--format", "yaml"], ["other"]],
)
def test_usage_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "usage: strawberry-authz" in capsys.readouterr().err


def test_a_factory_is_called_for_its_schema(capsys):
    code, out, _ = run(capsys, "report", f"{POLICIES}:make_schema", "--format", "json")
    assert code == 0
    assert json.loads(out)["open"] == ["Plain.label"]


def test_python_dash_m_runs_as_a_real_process():
    done = subprocess.run(
        [
            *(sys.executable, "-m", "strawberry_authz", "report", f"{POLICIES}:schema"),
            *("--format", "json", "--fail-on-unprotected"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == "strawberry-authz: 1 unprotected field(s): Plain.label\n"
    assert json.loads(done.stdout)["summary"] == {
        "fields": 11,
        "protected": 8,
        "public": 1,
        "follows": 0,
        "capability": 1,
        "open": 1,
    }


def test_the_installed_console_script_runs():
    script = Path(sys.executable).parent / "strawberry-authz"
    assert script.exists(), "reinstall the package: pip install -e ."
    # From the project directory, as in CI: it imports modules from there.
    env = {**os.environ, "PYTHONPATH": ""}
    guarded = subprocess.run(
        [str(script), "report", f"{POLICIES}:guarded", "--fail-on-unprotected"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert (guarded.returncode, guarded.stderr) == (0, "")
    assert "Plain.label         before      fallback   False" in guarded.stdout
    broken = subprocess.run(
        [str(script), "report", f"{POLICIES}:unreachable_grant"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert broken.returncode == 2
    assert "grant 'never_given' is given by no field" in broken.stderr


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        (
            "app",
            "'tests.report.not_schemas:app' is GraphQL, not a strawberry.Schema "
            "(did you mean tests.report.not_schemas:app.schema?)\n",
        ),
        (
            "failing_factory",
            "'tests.report.not_schemas:failing_factory' raised RuntimeError: "
            "database is down\n",
        ),
        (
            "authz",
            "'tests.report.not_schemas:authz' is an AuthExtension, not a "
            "strawberry.Schema: name the schema that lists it in extensions=[...]\n",
        ),
    ],
)
def test_a_target_that_is_not_a_schema_exits_2_with_one_line(
    capsys, attribute, message
):
    code, out, err = run(capsys, "report", f"tests.report.not_schemas:{attribute}")
    assert (code, out) == (2, "")
    assert err == f"strawberry-authz: {message}"
