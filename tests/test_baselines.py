"""Reference baselines: hand-checkable trivial baselines, a TF-IDF model that separates a toy set,
byte-identical files, the command, and stale files told apart from current ones."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from sklearn.metrics import accuracy_score, f1_score

from conftest import ROOT
from ftbench.baseline_files import baselines_path, dumps, read_baselines, stale_reasons
from ftbench.baselines import majority, stratified, task_baselines, tfidf_logreg, uniform
from ftbench.cli import main
from ftbench.errors import FtbenchError, InvalidInput
from ftbench.tasks import Examples, Task, load_task_file
from ftbench.testing import write_perplexity_task

LABELS = ["neg", "pos", "other"]
TRAIN = [
    ("good great fine", 1),
    ("great good nice", 1),
    ("nice fine good", 1),
    ("bad awful poor", 0),
    ("awful bad grim", 0),
    ("poor grim bad", 0),
    ("grim awful poor", 0),
    ("meh so so", 2),
    ("so meh so", 2),
    ("meh meh so", 2),
]
HELD_OUT = [("good nice", 1), ("bad poor", 0), ("great fine", 1), ("awful grim", 0), ("so meh", 2), ("meh so", 2)]


def _jsonl(rows: list[tuple[str, int]]) -> bytes:
    return "".join(json.dumps({"idx": i, "text": t, "label": y}) + "\n" for i, (t, y) in enumerate(rows)).encode()


def write_board(root: Path, train=TRAIN, held_out=HELD_OUT, with_train: bool = True) -> Task:
    """A board with one toy task ``toy``: held-out and (optionally) train files, meta.json, task YAML."""
    folder = root / "data" / "toy"
    folder.mkdir(parents=True, exist_ok=True)
    files = {"test": _jsonl(held_out), **({"train": _jsonl(train)} if with_train else {})}
    for split, data in files.items():
        (folder / f"{split}.jsonl").write_bytes(data)
    splits = {
        s: {"file": f"{s}.jsonl", "rows": d.count(b"\n"), "sha256": hashlib.sha256(d).hexdigest()}
        for s, d in files.items()
    }
    (folder / "meta.json").write_text(json.dumps({"name": "toy", "labels": LABELS, "splits": splits}))
    definition = {
        "name": "toy",
        "title": "Toy",
        "dataset": "toy",
        "data_file": "test.jsonl",
        "data_sha256": splits["test"]["sha256"],
        "num_examples": len(held_out),
        "labels": LABELS,
        **({"train_split": "train"} if with_train else {}),
    }
    (root / "tasks").mkdir(exist_ok=True)
    (root / "tasks" / "toy.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))
    (root / "pyproject.toml").write_text('[tool.ftbench]\ndata_dir = "data"\n')
    return load_task_file(root / "tasks" / "toy.yaml")


def examples(rows: list[tuple[str, int]]) -> Examples:
    return Examples(tuple(range(len(rows))), tuple(t for t, _ in rows), tuple(y for _, y in rows))


def run(root: Path, *args: str):
    return CliRunner().invoke(main, ["--root", str(root), "baselines", *args], catch_exceptions=False)


@pytest.fixture
def toy(tmp_path: Path) -> Task:
    return write_board(tmp_path)


# ---------------------------------------------------------------- the baselines, by hand


def test_majority_is_the_most_frequent_train_label_scored_by_hand(toy):
    # train: 4 × neg, 3 × pos, 3 × other -> always neg; held-out gold: 2 neg, 2 pos, 2 other
    b = majority(toy, examples(HELD_OUT), examples(TRAIN))
    assert b.predictions == (0,) * 6 and b.confidences == (1.0,) * 6 and b.fitted_on == "train"
    assert "'neg'" in b.description and "train split: 4 of 10" in b.description
    assert b.metrics["accuracy"] == pytest.approx(2 / 6)
    # neg: precision 2/6, recall 1, F1 = 2·(1/3)/(4/3) = 0.5; pos and other: 0
    assert b.metrics["f1_macro"] == pytest.approx(0.5 / 3)
    assert b.metrics["recall_macro"] == pytest.approx(1 / 3)


def test_majority_without_a_train_split_counts_the_held_out_gold_and_says_so(tmp_path):
    task = write_board(tmp_path, held_out=[("a", 2), ("b", 1), ("c", 2), ("d", 1)], with_train=False)
    b = majority(task, examples([("a", 2), ("b", 1), ("c", 2), ("d", 1)]), None)
    assert b.predictions == (1,) * 4  # a tie between 1 and 2 goes to the lowest id
    assert b.fitted_on == "test" and "held-out test split's gold labels (no train split)" in b.description
    assert b.metrics["accuracy"] == 0.5


def test_stratified_draws_with_the_train_shares(toy):
    train = examples([("x", 0)] * 3 + [("y", 1)])  # shares 0.75, 0.25, 0 (label 2 never drawn)
    held_out = examples([("z", i % 3) for i in range(4000)])
    b = stratified(toy, held_out, train)
    pred = np.array(b.predictions)
    assert set(pred.tolist()) == {0, 1}
    assert abs((pred == 0).mean() - 0.75) < 0.03
    assert set(zip(b.predictions, b.confidences, strict=True)) == {(0, 0.75), (1, 0.25)}
    # the metrics, checked against scikit-learn on the predictions
    assert b.metrics["accuracy"] == pytest.approx(accuracy_score(held_out.labels, pred))
    assert b.metrics["f1_macro"] == pytest.approx(f1_score(held_out.labels, pred, labels=[0, 1, 2], average="macro"))
    low, high = b.intervals.bounds["accuracy"]
    assert low < b.metrics["accuracy"] < high and b.intervals.resamples == 1000 and b.intervals.level == 0.95


def test_uniform_matches_the_sites_uniform_reference_row(toy):
    from ftbench.leaderboard import uniform_random_baseline

    held_out = examples([("z", i % 3) for i in range(300)])
    b = uniform(toy, held_out)
    assert b.confidences == (round(1 / 3, 4),) * 300 and b.fitted_on is None
    assert b.metrics == pytest.approx(uniform_random_baseline(held_out.labels, 3, list(b.metrics)))


def test_tfidf_logreg_separates_a_separable_toy_set(toy):
    import sklearn

    b = tfidf_logreg(toy, examples(HELD_OUT), examples(TRAIN))
    assert b.predictions == tuple(y for _, y in HELD_OUT)
    assert b.metrics["accuracy"] == 1.0 and b.metrics["f1_macro"] == 1.0
    assert all(1 / 3 < c <= 1.0 for c in b.confidences)
    assert f"scikit-learn {sklearn.__version__}" in b.description and b.fitted_on == "train"


def test_a_task_without_a_train_split_gets_no_tfidf_baseline(tmp_path):
    task = write_board(tmp_path, with_train=False)
    made = task_baselines(task, examples(HELD_OUT), None, None)
    assert [b.name for b in made.baselines] == ["majority", "stratified", "uniform"]
    assert made.train_split is None and made.train_sha256 is None


def test_the_same_inputs_give_byte_identical_files(toy):
    texts = [dumps(task_baselines(toy, examples(HELD_OUT), examples(TRAIN), "0" * 64)) for _ in range(2)]
    assert texts[0] == texts[1]
    assert (
        texts[0] == json.dumps(json.loads(texts[0]), sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    )


# ---------------------------------------------------------------- the command and the file


def test_command_writes_a_file_per_classification_task_and_skips_perplexity(tmp_path):
    task = write_board(tmp_path)
    write_perplexity_task(tmp_path, "corpus", [("A", "some words here"), ("B", "more words")])
    result = run(tmp_path)
    assert result.exit_code == 0, result.output
    assert "skipped corpus: a perplexity task" in result.output
    path = baselines_path(tmp_path / "baselines", "toy")
    doc = json.loads(path.read_text())
    meta = json.loads((tmp_path / "data" / "toy" / "meta.json").read_text())
    assert doc["data_sha256"] == task.data_sha256 and doc["train_sha256"] == meta["splits"]["train"]["sha256"]
    assert [b["name"] for b in doc["baselines"]] == ["majority", "stratified", "uniform", "tfidf_logreg"]
    first = doc["baselines"][0]
    assert set(first) == {"name", "description", "fitted_on", "metrics", "intervals", "predictions"}
    assert first["predictions"]["idx"] == list(range(6))
    stored = read_baselines(path)
    assert stored.get("tfidf_logreg").predictions == tuple(y for _, y in HELD_OUT)
    assert stale_reasons(stored, task, meta["splits"]["train"]["sha256"]) == ()
    assert not (tmp_path / "baselines" / "corpus.json").exists()


def test_two_runs_of_the_command_write_the_same_bytes(tmp_path):
    write_board(tmp_path)
    path = baselines_path(tmp_path / "baselines", "toy")
    assert run(tmp_path).exit_code == 0
    before = path.read_bytes()
    assert run(tmp_path, "--task", "toy").exit_code == 0
    assert path.read_bytes() == before


def test_changed_held_out_data_makes_the_file_stale(tmp_path):
    write_board(tmp_path)
    assert run(tmp_path).exit_code == 0
    assert run(tmp_path, "--check").exit_code == 0
    changed = write_board(tmp_path, held_out=[*HELD_OUT[:-1], ("so so", 2)])  # new file, new data_sha256
    stored = read_baselines(baselines_path(tmp_path / "baselines", "toy"))
    assert "the held-out data changed (data_sha256 differs)" in stale_reasons(stored, changed, stored.train_sha256)
    result = run(tmp_path, "--check")
    assert result.exit_code == 2 and "stale: the held-out data changed" in result.stderr


def test_changed_train_data_makes_the_file_stale(tmp_path):
    task = write_board(tmp_path)
    assert run(tmp_path).exit_code == 0
    stored = read_baselines(baselines_path(tmp_path / "baselines", "toy"))
    assert stale_reasons(stored, task, "f" * 64) == ("the train data changed (its sha256 in meta.json differs)",)


def test_missing_data_file_is_reported_as_path_field_message(tmp_path):
    write_board(tmp_path)
    (tmp_path / "data" / "toy" / "test.jsonl").unlink()
    result = run(tmp_path)
    assert result.exit_code == 2
    assert re.search(r"toy\.yaml:data_file: .*test\.jsonl: data file of task 'toy' not found", result.stderr)
    assert not (tmp_path / "baselines").exists()


def test_missing_train_file_is_reported_against_train_split(tmp_path):
    write_board(tmp_path)
    (tmp_path / "data" / "toy" / "train.jsonl").unlink()
    result = run(tmp_path)
    assert result.exit_code == 2 and re.search(r"toy\.yaml:train_split: .*train\.jsonl", result.stderr)


def test_command_help_has_an_example():
    result = CliRunner().invoke(main, ["baselines", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output


# ---------------------------------------------------------------- the reader refuses bad files


def test_reader_refuses_misaligned_predictions_and_bad_json(tmp_path):
    write_board(tmp_path)
    assert run(tmp_path).exit_code == 0
    path = baselines_path(tmp_path / "baselines", "toy")
    doc = json.loads(path.read_text())
    doc["baselines"][1]["predictions"]["idx"] = [5, 4, 3, 2, 1, 0]
    doc["baselines"][2]["surprise"] = 1
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidInput) as caught:
        read_baselines(path)
    fields = {i.field for i in caught.value.issues}
    assert fields == {"baselines.2.surprise"}  # the schema is checked before the alignment
    del doc["baselines"][2]["surprise"]
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidInput) as caught:
        read_baselines(path)
    assert [i.field for i in caught.value.issues] == ["baselines.1.predictions"]
    path.write_text("{not json")
    with pytest.raises(FtbenchError, match="not valid JSON"):
        read_baselines(path)


def test_the_reader_does_not_import_scikit_learn():
    code = (
        "import sys, ftbench.baseline_files, ftbench.baselines; print('sklearn' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.split() == ["False", "False"]


def test_a_forged_baseline_number_is_refused_and_the_board_falls_back(toy, tmp_path):
    from ftbench.baseline_files import current_baselines, forged_fields

    assert run(tmp_path).exit_code == 0
    path = baselines_path(tmp_path / "baselines", "toy")
    gold = [y for _, y in HELD_OUT]
    assert forged_fields(read_baselines(path), toy, gold) == []
    doc = json.loads(path.read_text())
    doc["baselines"][-1]["metrics"]["accuracy"] = 0.01  # a better-looking or worse-looking reference
    doc["baselines"][0]["intervals"]["bounds"]["accuracy"] = [0.0, 1.0]
    path.write_text(json.dumps(doc))
    stored = read_baselines(path)  # well-formed: only recomputing finds it
    assert forged_fields(stored, toy, gold) == [
        "baselines.0.intervals",
        f"baselines.{len(doc['baselines']) - 1}.metrics",
    ]
    found, issues = current_baselines([toy], tmp_path / "baselines", tmp_path / "data", {"toy": gold})
    assert found == {} and {i.severity for i in issues} == {"error"}
    assert all(i.message == "does not follow from the predictions and the held-out labels" for i in issues)
    result = run(tmp_path, "--check")  # the command checks the numbers too, not only freshness
    assert result.exit_code == 2 and "does not follow from the predictions" in result.stderr
