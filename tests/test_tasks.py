"""Task definitions and their pinned data."""

from __future__ import annotations

import shutil

import pytest
import yaml

from conftest import DATA_DIR, ROOT
from ftbench.errors import DataIntegrityError, InvalidInput
from ftbench.tasks import load_examples, load_split, load_task_file, load_tasks

REQUIRED = {"sst2", "rotten_tomatoes", "trec", "banking77", "tweet_eval_emotion", "ag_news"}


def test_bundled_tasks(tasks):
    assert set(tasks.names()) >= REQUIRED
    for task in tasks.values():
        assert task.split == "test"
        assert task.hub is not None and task.source is not None


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_bundled_data_matches_checksums(tasks, name):
    task = tasks[name]
    examples = load_examples(task, DATA_DIR)
    assert len(examples) == task.num_examples
    assert set(examples.labels) == set(range(len(task.labels)))


def test_checksum_mismatch_is_an_error(tasks, tmp_path):
    shutil.copytree(DATA_DIR / "trec", tmp_path / "trec")
    target = tmp_path / "trec" / "test.jsonl"
    target.chmod(0o644)
    target.write_text(target.read_text().replace("What", "Who", 1))
    with pytest.raises(DataIntegrityError, match=r"test.jsonl: sha256 [0-9a-f]{64} does not match data_sha256"):
        load_examples(tasks["trec"], tmp_path)


def test_missing_data_file_is_an_error(tasks, tmp_path):
    with pytest.raises(DataIntegrityError, match="data file of task 'sst2' not found"):
        load_examples(tasks["sst2"], tmp_path)


def test_definition_hash_changes_with_the_definition(tasks, tmp_path):
    raw = yaml.safe_load((ROOT / "tasks" / "trec.yaml").read_text())
    raw["primary_metric"] = "f1_macro"
    (tmp_path / "trec.yaml").write_text(yaml.safe_dump(raw))
    changed = load_task_file(tmp_path / "trec.yaml")
    assert changed.definition_sha256 != tasks["trec"].definition_sha256
    assert len(changed.definition_sha256) == 64


def test_bad_task_definition_names_every_field(tmp_path):
    (tmp_path / "broken.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "broken",
                "title": "x",
                "dataset": "x",
                "data_file": "t.jsonl",
                "data_sha256": "nothex",
                "num_examples": 0,
                "labels": ["only"],
                "primary_metric": "vibes",
            }
        )
    )
    with pytest.raises(InvalidInput) as info:
        load_tasks(tmp_path)
    fields = {i.field for i in info.value.issues}
    assert fields == {"data_sha256", "num_examples", "labels", "primary_metric"}


def test_training_split_is_verified(tmp_path):
    assert len(load_split(DATA_DIR, "sst2", "train")) == 6920
    with pytest.raises(DataIntegrityError, match="has no split 'dev'"):
        load_split(DATA_DIR, "sst2", "dev")


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"data_sha256": "0" * 64}, "data_sha256", "does not match data_sha256"),
        ({"num_examples": 499}, "num_examples", "500 rows, task says 499"),
        ({"dataset": "no_such_dataset"}, "-", "not found"),
        ({"labels": ["a", "b", "c", "d", "e", "f", "g"], "prompt": None}, "labels", "differ from trec/meta.json"),
        ({"labels": ["a", "b", "c"], "prompt": None}, "-", "not in 0..2"),
    ],
)
def test_tasks_check_finds_bad_data_without_a_model(tmp_path, change, field, text):
    from click.testing import CliRunner

    from ftbench.cli import main

    (tmp_path / "tasks").mkdir()
    definition = {**yaml.safe_load((ROOT / "tasks" / "trec.yaml").read_text()), **change}
    definition = {k: v for k, v in definition.items() if v is not None}
    (tmp_path / "tasks" / "trec.yaml").write_text(yaml.safe_dump(definition))
    (tmp_path / "pyproject.toml").write_text(f'[tool.ftbench]\ndata_dir = "{DATA_DIR.as_posix()}"\n')
    result = CliRunner().invoke(main, ["--root", str(tmp_path), "tasks", "--check"])
    assert result.exit_code == 2
    assert any(f":{field}: " in line and text in line for line in result.stderr.splitlines()), result.stderr


def test_tasks_check_passes_on_the_bundled_tasks():
    from click.testing import CliRunner

    from ftbench.cli import main

    result = CliRunner().invoke(
        main, ["--root", str(ROOT), "tasks", "--check"], env={"FTBENCH_DATA_DIR": str(DATA_DIR)}
    )
    assert result.exit_code == 0 and "0 problem(s)" in result.stdout
