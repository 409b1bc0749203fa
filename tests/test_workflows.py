"""The GitHub Actions workflows: linters, and the untrusted-code boundary they must keep.

``pr.yml`` runs contributor content, so it must hold no write permission and no secret;
``pr-comment.yml`` holds a write token, so it must never check out or run anything;
``main.yml`` grants write permissions only to the jobs that push records or deploy Pages.
actionlint and zizmor come from the ``dev`` extra; outside CI a missing one skips its test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
PINNED_USES = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(name: str) -> dict:
    """A workflow file as a dict; PyYAML reads the ``on:`` key as ``True``, so it is renamed."""
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict) -> list[dict]:
    """Every step of every job."""
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def write_scopes(permissions: object) -> set[str]:
    """The scopes a ``permissions`` value grants write access to (``*`` for write-all)."""
    if isinstance(permissions, str):
        return {"*"} if permissions == "write-all" else set()
    return {scope for scope, level in (permissions or {}).items() if level == "write"}


def tool(name: str) -> str:
    """Path of a linter installed next to this Python (the venv) or on PATH.

    A missing linter skips the test locally but fails it in CI, where it must be installed.
    """
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found:
        return found
    message = f"{name} not found: pip install -e '.[dev]'"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


WORKFLOW_FILES = sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def test_the_three_workflows_exist():
    assert {"pr.yml", "pr-comment.yml", "main.yml"} <= set(WORKFLOW_FILES)


# ------------------------------------------------------------------------------- linters


def test_actionlint_finds_nothing():
    files = [f".github/workflows/{name}" for name in WORKFLOW_FILES]
    result = run_tool(tool("actionlint"), "-no-color", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing():
    result = run_tool(tool("zizmor"), "--offline", "--no-progress", "--color=never", ".github/workflows")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout, result.stdout


def test_zizmor_ignores_only_the_workflow_run_trigger():
    """The single accepted finding: pr-comment.yml's workflow_run trigger (it runs no PR code)."""
    result = run_tool(
        tool("zizmor"), "--offline", "--no-progress", "--no-ignores", "--format=json", ".github/workflows"
    )
    findings = json.loads(result.stdout)
    where = sorted((f["ident"], f["locations"][0]["symbolic"]["key"]["Local"]["verbatim_path"]) for f in findings)
    assert where == [("dangerous-triggers", ".github/workflows/pr-comment.yml")]


# ----------------------------------------------------------------- every workflow


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_actions_are_pinned_to_a_commit_with_a_version_comment(name):
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    for line in text.splitlines():
        match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
        if not match:
            continue
        ref, rest = match.groups()
        assert PINNED_USES.match(ref), f"{name}: {ref} is not pinned to a full commit SHA"
        assert re.match(r"\s+#\s*v\d+\.\d+\.\d+", rest), f"{name}: {ref} has no '# vX.Y.Z' comment"


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_defaults_grant_nothing_and_every_job_has_permissions_and_a_timeout(name):
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job_name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{name}:{job_name} has no permissions block"
        assert isinstance(job.get("timeout-minutes"), int), f"{name}:{job_name} has no timeout"


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_run_bodies_contain_no_expressions(name):
    """Values reach shell scripts through env, never by ``${{ }}`` templating into the script."""
    for step in steps(load(name)):
        assert "${{" not in step.get("run", ""), f"{name}: step {step.get('name')!r} templates into run"
        assert "${{" not in step.get("with", {}).get("script", ""), f"{name}: templating into a script"


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_checkouts_keep_no_credentials(name):
    for step in steps(load(name)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False


# ------------------------------------------------------------------------ pr.yml


def test_pr_workflow_has_no_write_permission_and_no_secret():
    workflow = load("pr.yml")
    assert list(workflow["on"]) == ["pull_request"]
    grants = [workflow["permissions"], *(job.get("permissions") for job in workflow["jobs"].values())]
    assert all(not write_scopes(p) for p in grants)
    assert all(p in ({}, {"contents": "read"}) for p in grants)
    expressions = re.findall(r"\$\{\{.*?\}\}", json.dumps(workflow), flags=re.DOTALL)
    assert expressions, "no expressions found: the check below would be vacuous"
    assert not [e for e in expressions if re.search(r"\bsecrets\b", e)]


def test_pr_workflow_uploads_the_report_even_when_validation_fails():
    by_id = {step.get("id"): step for step in steps(load("pr.yml")) if step.get("id")}
    assert by_id["validate"]["run"].strip() == "ftbench validate"
    assert by_id["validate"].get("continue-on-error") is True
    assert "--output" in by_id["report"]["run"]
    assert "cancelled()" in by_id["report"]["if"] or "always()" in by_id["report"]["if"]
    uploads = [s for s in steps(load("pr.yml")) if s.get("uses", "").startswith("actions/upload-artifact@")]
    report = next(s for s in uploads if s["with"]["name"] == "ftbench-pr-report")
    assert "cancelled()" in report["if"] or "always()" in report["if"]


# ---------------------------------------------------------------- pr-comment.yml


def test_comment_workflow_listens_to_the_pr_workflow_only():
    workflow = load("pr-comment.yml")
    assert list(workflow["on"]) == ["workflow_run"]
    assert workflow["on"]["workflow_run"]["workflows"] == [load("pr.yml")["name"]]
    assert workflow["on"]["workflow_run"]["types"] == ["completed"]


def test_comment_workflow_never_checks_out_or_runs_anything():
    for step in steps(load("pr-comment.yml")):
        assert "run" not in step, f"step {step.get('name')!r} runs a shell command"
        uses = step["uses"]
        assert not uses.startswith(("actions/checkout@", "./", "docker://")), uses
        assert uses.split("@")[0] in {"actions/download-artifact", "actions/github-script"}, uses


def test_comment_workflow_holds_only_the_permissions_it_needs():
    (job,) = load("pr-comment.yml")["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}


def test_comment_script_validates_the_number_and_uses_a_sticky_marker():
    (script,) = [s["with"]["script"] for s in steps(load("pr-comment.yml")) if "script" in s.get("with", {})]
    assert "Number.isSafeInteger" in script
    assert "pull.head.sha !== RUN_HEAD_SHA" in script
    assert "<!-- ftbench-report -->" in script
    assert "updateComment" in script and "createComment" in script


# ------------------------------------------------------------------------ main.yml


def test_main_workflow_writes_only_where_needed():
    jobs = load("main.yml")["jobs"]
    writes = {name: write_scopes(job.get("permissions")) for name, job in jobs.items()}
    assert writes == {"plan": set(), "evaluate": set(), "publish": {"contents"}, "deploy": {"pages", "id-token"}}
    assert jobs["deploy"]["environment"]["name"] == "github-pages"


def test_main_workflow_fans_out_the_plan_and_publishes_when_nothing_was_evaluated():
    workflow = load("main.yml")
    jobs = workflow["jobs"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert jobs["evaluate"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert "--format github-matrix" in next(s["run"] for s in jobs["plan"]["steps"] if s.get("id") == "plan")
    assert "'skipped'" in jobs["publish"]["if"] and "!cancelled()" in jobs["publish"]["if"]
    assert jobs["deploy"]["needs"] == "publish"


# ------------------------------------------------------------------- the tool lookup


def test_a_missing_linter_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        tool("actionlint")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        tool("actionlint")
    (tmp_path / "actionlint").write_text("")
    assert tool("actionlint") == str(tmp_path / "actionlint")


def _guard_script() -> str:
    [step] = [s for s in steps(load("pr.yml")) if s.get("id") == "records"]
    return step["run"]


@pytest.mark.parametrize(("edit", "fails"), [("results/m/sst2.json", True), ("submissions/m/README.md", False)])
def test_pr_workflow_fails_a_pull_request_that_edits_records(tmp_path, edit, fails):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    for rel in ("results/m/sst2.json", "submissions/m/README.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}\n")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    git("update-ref", "refs/remotes/origin/main", "HEAD")
    git("checkout", "-q", "-b", "pr")
    (tmp_path / edit).write_text('{"accuracy": 1.0}\n')
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "pr")
    result = subprocess.run(
        ["bash", "-e", "-c", _guard_script()],
        cwd=tmp_path,
        env={"BASE_REF": "main", "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
    )
    assert (result.returncode != 0) == fails
    assert ("results/m/sst2.json" in result.stdout) == fails


def test_codeowners_cover_everything_that_changes_numbers_or_pages():
    owned = {
        line.split()[0].strip("/")
        for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"results", "tasks", "ftbench", ".github", ".ci", "pyproject.toml", "templates", "pages", "scripts"} <= owned
