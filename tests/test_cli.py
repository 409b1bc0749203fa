"""The command line, through click's CliRunner (and a subprocess where imports matter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import ROOT, valid_spec
from ftbench.cli import main


def run(*args: str, root=None):
    prefix = ["--root", str(root)] if root else []
    return CliRunner().invoke(main, [*prefix, *args], catch_exceptions=False)


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and "ftbench, version" in result.output


@pytest.mark.parametrize(
    "command", ["validate", "evaluate", "tasks", "schema", "plan", "check", "verify", "collect", "report", "build"]
)
def test_every_command_has_help_with_an_example(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.output


def test_validate_good_submission(board, make_submission):
    folder = make_submission()
    result = run("validate", str(folder), root=board)
    assert result.exit_code == 0, result.output
    assert "1 valid, 0 invalid submission(s); 0 error(s), 0 warning(s)" in result.output


def test_validate_reports_path_field_message_and_fails(board, make_submission):
    spec = valid_spec()
    spec["model"]["base"]["revision"] = "main"
    spec["tasks"] = {"nope": {}}
    folder = make_submission(spec)
    result = run("validate", str(folder), root=board)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line]
    spec_file = folder / "submission.yaml"
    assert f"{spec_file}:model.base: 'revision' must be a full 40-hex commit hash pinning 'hub'" in lines
    assert any(line.startswith(f"{spec_file}:tasks.nope: unknown task") for line in lines)
    assert "0 valid, 1 invalid submission(s); 2 error(s)" in result.stdout


def test_validate_whole_board(board, make_submission):
    make_submission()
    result = run("validate", root=board)
    assert result.exit_code == 0
    assert result.stdout.startswith("1 valid")


def test_tasks_lists_sizes_and_metrics():
    result = run("tasks", root=ROOT)
    assert result.exit_code == 0
    sst2 = next(line for line in result.output.splitlines() if line.startswith("sst2 "))
    assert "sst2/test" in sst2 and "1821" in sst2 and "accuracy (higher is better)" in sst2


def test_tasks_json():
    data = json.loads(run("tasks", "--json", root=ROOT).output)
    assert {t["name"] for t in data} >= {"sst2", "banking77"}


@pytest.mark.parametrize("which", ["submission", "record", "task"])
def test_schema_is_json_schema(which):
    import jsonschema

    schema = json.loads(run("schema", which).output)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema") and schema["$id"].endswith(f"/{which}-v1.json")
    models = [schema, *schema.get("$defs", {}).values()]
    fields = [(m.get("title"), name, spec) for m in models for name, spec in m.get("properties", {}).items()]
    undocumented = [f"{model}.{name}" for model, name, spec in fields if not spec.get("description")]
    assert len(fields) > 10 and undocumented == []  # editors show these while a contributor types


def test_evaluate_rejects_unknown_task(board, make_submission):
    folder = make_submission()
    result = run("evaluate", str(folder), "--task", "nope", root=board)
    assert result.exit_code == 1
    assert "--task nope: unknown task" in result.stderr


def test_evaluate_refuses_an_invalid_submission(board, make_submission):
    spec = valid_spec()
    spec["model"]["adapter"]["path"] = "../../etc"
    folder = make_submission(spec)
    result = run("evaluate", str(folder), root=board)
    assert result.exit_code == 2
    assert "model.adapter.path: '../../etc' leaves the submission folder" in result.stderr


def test_missing_board_is_a_clean_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["tasks"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no ftbench board found")


@pytest.mark.parametrize("args", [["--help"], ["validate"], ["tasks"], ["schema"], ["plan"], ["check"]])
def test_light_commands_do_not_import_torch(args):
    code = (
        "import sys\nfrom ftbench.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def test_a_training_split_that_does_not_exist_is_an_error(board, make_submission):
    spec = valid_spec()
    spec["fine_tuning"]["training_data"] = [{"dataset": "sst2", "split": "trian"}]
    folder = make_submission(spec)
    result = run("validate", str(folder), root=board)
    assert result.exit_code == 2
    assert "fine_tuning.training_data.0.split: dataset 'sst2' has no split 'trian'" in result.stderr


def test_evaluate_explains_a_task_the_submission_does_not_list(board, make_submission):
    folder = make_submission()
    result = run("evaluate", str(folder), "--task", "trec", root=board)
    assert result.exit_code == 1
    assert "no submission lists --task trec (their tasks: my-model: sst2)" in result.stderr


def test_evaluate_refuses_a_batch_size_that_would_replace_the_boards_records(board, make_submission):
    result = run("evaluate", str(make_submission()), "--batch-size", "128", root=board)
    assert result.exit_code == 1 and "pass --results-dir" in result.stderr
