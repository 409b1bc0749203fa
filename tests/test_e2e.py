"""End to end with real weights: the bundled MiniLM LoRA submission, evaluated through the CLI."""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from sklearn.metrics import accuracy_score, f1_score

from conftest import DATA_DIR, ROOT
from ftbench.cli import main
from ftbench.record import iter_record_paths, read_record
from ftbench.tasks import load_examples, load_tasks

pytestmark = pytest.mark.slow
BUNDLED = ROOT / "submissions" / "minilm-lora-r8"


def test_real_adapter_on_a_limit_slice(tmp_path):
    results = tmp_path / "results"
    args = [
        "--root",
        str(ROOT),
        "evaluate",
        str(BUNDLED),
        "--task",
        "sst2",
        "--limit",
        "96",
        "--results-dir",
        str(results),
        "--no-progress",
    ]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    record = read_record(results / "minilm-lora-r8" / "sst2.limit96.json")
    assert record.complete is False and len(record.predictions.pred) == 96
    gold = load_examples(load_tasks(ROOT / "tasks")["sst2"], DATA_DIR).head(96).labels
    assert record.metrics["accuracy"] == pytest.approx(accuracy_score(gold, record.predictions.pred))
    assert record.metrics["accuracy"] > 0.75  # a trained adapter, far above chance on this slice
    assert record.efficiency["parameters_total"] > 22_000_000
    # the adapter is measured as deployed too: left unmerged, its own parameters run beside the base's
    eff, unmerged = record.efficiency, record.efficiency["unmerged"]
    assert (
        eff["parameters_base"] == eff["parameters_total"] < unmerged["parameters_total"] == eff["parameters_effective"]
    )
    assert unmerged["latency"]["n"] >= 50 and unmerged["throughput"]["repeats"] >= 3 and "flags" in unmerged["validity"]
    assert eff["latency"]["duration_s"] >= 2.0 and eff["model_memory_mb"] > 0
    merged, shortcut = record.provenance.model["notes"]
    assert merged == "adapter merged into the base weights for inference"
    assert shortcut.startswith("scoring pass: the last encoder layer at the first token only")
    base = record.provenance.weights[0].files[0]
    assert base["sha256"] == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    # the same command again finds the record current and evaluates nothing
    again = CliRunner().invoke(main, args, catch_exceptions=False)
    assert "1 pair(s): 0 to evaluate, 1 current" in again.stderr


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="side by side needs two compute threads")
def test_side_by_side_batches_give_the_same_predictions_as_one_at_a_time():
    import torch

    from ftbench.config import load_config
    from ftbench.jobs import plan_jobs
    from ftbench.models.backends import load_model
    from ftbench.runner import run_classifier
    from ftbench.runner.classifier import length_bucketed_batches, side_by_side_from
    from ftbench.submissions import load_submissions

    config = load_config(ROOT)
    [job] = plan_jobs(load_submissions(config, [BUNDLED]).require_valid(), config, only_tasks=["sst2"])
    model = load_model(job, config, "cpu").model
    texts = list(load_examples(job.task, config.data_dir).head(200).texts)
    threads = torch.get_num_threads()
    seen: list[int] = []  # torch's threads in each call
    predict = model.predict_proba

    def watched(batch):
        seen.append(torch.get_num_threads())
        return predict(batch)

    model.predict_proba = watched
    torch.set_num_threads(2)
    try:
        alone = run_classifier(model, texts, batch_size=16, progress=False, policy=None, threads=1)
        assert set(seen) == {2}
        seen.clear()
        side = run_classifier(model, texts, batch_size=16, progress=False, policy=None, threads=2)
        lengths = model.token_lengths(texts)
        split = side_by_side_from(length_bucketed_batches(lengths, 16), lengths, 2)
        assert split < len(seen) - 1  # some batches were short enough to go side by side
        assert set(seen[: 1 + split]) == {2} and set(seen[1 + split :]) == {
            1
        }  # warm-up, long ones alone; then one each
        assert (alone.streams, side.streams) == (1, 2)
        # the same predictions in the texts' order; a small batch's products may split the work
        # otherwise on one thread than on two, so the last bits of a probability can differ
        assert alone.predictions == side.predictions and np.abs(alone.probs - side.probs).max() < 1e-5
        assert torch.get_num_threads() == 2 and not model._backends_set  # put back as found
        with pytest.raises(RuntimeError, match="a batch failed"), model.concurrent(2):
            assert torch.get_num_threads() == 1 and model._backends_set
            raise RuntimeError("a batch failed")
        assert torch.get_num_threads() == 2 and not model._backends_set  # put back after an error too
    finally:
        torch.set_num_threads(threads)


def test_new_task_needs_no_code(board, tmp_path):
    """A task added as one YAML file (plus its data) is planned and evaluated by the unchanged
    CLI, which refuses a model whose classification head would be random."""
    from ftbench.tasks import file_sha256

    data = tmp_path / "data"
    shutil.copytree(DATA_DIR / "tweet_eval_sentiment", data / "tweet_eval_sentiment")
    task = {
        "name": "tweet_sentiment_val",
        "title": "TweetEval sentiment (validation)",
        "dataset": "tweet_eval_sentiment",
        "split": "validation",
        "data_file": "validation.jsonl",
        "data_sha256": file_sha256(data / "tweet_eval_sentiment" / "validation.jsonl"),
        "num_examples": 2000,
        "labels": ["negative", "neutral", "positive"],
        "primary_metric": "f1_macro",
    }
    (board / "tasks" / "tweet_sentiment_val.yaml").write_text(yaml.safe_dump(task))
    sub = board / "submissions" / "minilm-base"
    sub.mkdir()
    (sub / "README.md").write_text("# MiniLM, untrained head\n")
    (sub / "submission.yaml").write_text(
        yaml.safe_dump(
            {
                "id": "minilm-base",
                "name": "MiniLM base",
                "submitter": {"name": "t"},
                "date": "2026-01-01",
                "license": "apache-2.0",
                "fine_tuning": {"method": "prompting"},
                "model": {
                    "base": {
                        "hub": "sentence-transformers/all-MiniLM-L6-v2",
                        "revision": "c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
                    }
                },
                "tasks": {"tweet_sentiment_val": {}},
            }
        )
    )
    args = ["--root", str(board), "evaluate", "--limit", "40", "--data-dir", str(data), "--no-progress"]
    planned = CliRunner().invoke(main, ["--root", str(board), "plan"], catch_exceptions=False)
    assert "missing  minilm-base/tweet_sentiment_val" in planned.output
    # the pinned base has no classification head and no adapter brings one: refused, not ranked by luck
    refused = CliRunner().invoke(main, args, catch_exceptions=False)
    assert refused.exit_code == 1 and "no trained classification head" in refused.stderr
    assert "minilm-base/tweet_sentiment_val FAILED" in refused.stderr and "Traceback" not in refused.output
    assert not (board / "results" / "minilm-base").exists()


def test_bundled_records_recompute_from_predictions():
    """Every committed record's accuracy and macro-F1 follow from its stored predictions."""
    tasks = load_tasks(ROOT / "tasks")
    paths = iter_record_paths(ROOT / "results")
    assert paths, "the board ships evaluated records"
    for path in paths:
        record = read_record(path)
        task = tasks[record.task.name]
        examples = load_examples(task, DATA_DIR)
        assert record.complete, path
        if task.type == "perplexity":  # bits per byte from the documents' log-likelihoods and their texts' bytes
            n_bytes = sum(len(t.encode("utf-8")) for t in examples.texts)
            assert record.documents.idx == list(examples.idx), path
            bpb = -sum(record.documents.loglik) / n_bytes / math.log(2)
            assert record.metrics["bits_per_byte"] == pytest.approx(bpb, rel=1e-12), path
            continue
        assert record.predictions.idx == list(examples.idx), path
        gold, pred = np.array(examples.labels), np.array(record.predictions.pred)
        assert record.metrics["accuracy"] == pytest.approx(accuracy_score(gold, pred), abs=1e-12), path
        f1 = f1_score(gold, pred, average="macro", labels=list(range(len(task.labels))), zero_division=0)
        assert record.metrics["f1_macro"] == pytest.approx(f1, abs=1e-12), path
        if record.choices is not None:  # a prompted LM: each prediction is its best label word
            assert pred.tolist() == np.argmax(np.array(record.choices.loglik), axis=1).tolist(), path


def test_the_bundled_board_is_current_and_passes_its_checks(monkeypatch):
    """What `make board` relies on: every committed record is current for the files in the
    repository (mirror weights included) and proves its numbers (`ftbench check`)."""
    from ftbench.check import check_board
    from ftbench.config import load_config
    from ftbench.jobs import plan_jobs
    from ftbench.submissions import load_submissions

    monkeypatch.setenv("FTBENCH_DATA_DIR", str(DATA_DIR))
    config = load_config(ROOT)
    jobs = plan_jobs(load_submissions(config).require_valid(), config)
    assert jobs and [j.name for j in jobs if j.pending] == []
    assert check_board(config) == []
