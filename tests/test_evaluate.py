"""The evaluation path: data -> weights -> model -> predictions -> scores -> record."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import os
import threading
import time
import types

import numpy as np
import pytest

from conftest import valid_spec
from ftbench.config import load_config
from ftbench.evaluate import EvalSettings, _memory, evaluate_job
from ftbench.jobs import plan_jobs
from ftbench.leaderboard import Entry, task_table
from ftbench.measure import Policy
from ftbench.models.dummy import DummyClassifier
from ftbench.record import read_record, write_record
from ftbench.runner import length_sorted_batches, run_classifier
from ftbench.runner.classifier import MAX_STREAMS, SIDE_BY_SIDE_MEMORY, length_bucketed_batches, side_by_side_from
from ftbench.submissions import SubmissionSet, load_submission
from ftbench.tasks import load_examples, load_tasks

QUICK = Policy(
    min_iterations=4, min_seconds=0.0, max_seconds=1.0, latency_sample=2, throughput_repeats=2, throughput_tokens=8
)


def dummy_loader(keywords):
    def load(request):
        return DummyClassifier(len(request.labels), keywords)

    return load


def test_the_pass_batches_texts_of_about_one_length():
    lengths = [40, 3, 39, 40, 20, 3, 38, 21, 3, 3, 3]
    batches = length_bucketed_batches(lengths, 3, tolerance=0.05)
    assert sorted(i for b in batches for i in b) == list(range(11))
    assert batches == [[0, 3, 2], [6], [7, 4], [1, 5, 8], [9, 10]]  # at most 3; within 5% of the first
    assert all(min(lengths[i] for i in b) >= 0.95 * lengths[b[0]] for b in batches)


def test_batches_cover_every_index_once():
    lengths = [5, 1, 9, 3, 3, 7, 2]
    batches = length_sorted_batches(lengths, 3)
    assert sorted(i for b in batches for i in b) == list(range(7))
    assert [lengths[i] for i in batches[0]] == [9, 7, 5]


def test_runner_keeps_example_order():
    texts = ["good film", "a b c d e f", "bad", "good", "x y"]
    model = DummyClassifier(2, {"good": 1, "bad": 0})
    run = run_classifier(model, texts, batch_size=2, progress=False, policy=QUICK)
    expected = model.predict_proba(texts).argmax(1).tolist()
    assert run.predictions == expected
    assert run.predictions[0] == 1 and run.predictions[2] == 0
    assert run.n_tokens == 2 + 6 + 1 + 1 + 2
    assert len(run.batch_latency_ms) == 3
    eff = run.efficiency()
    assert eff["pass_examples_per_s"] == pytest.approx(5 / run.wall_time_s)
    # batch 1 over a sample spread across the lengths, in whole rounds; throughput repeated
    assert eff["latency"]["n"] >= QUICK.min_iterations and eff["latency"]["n"] % QUICK.latency_sample == 0
    assert eff["throughput"]["repeats"] == QUICK.throughput_repeats
    assert eff["latency_ms_lo"] <= eff["latency_ms_hi"] and eff["examples_per_s_lo"] <= eff["examples_per_s_hi"]
    assert set(eff["validity"]) == {"flags", "contention", "policy"}


class SideBySide(DummyClassifier):
    """A dummy that notes how many calls run at once and on which threads (each call sleeps a
    little, so that calls allowed to overlap do)."""

    def __init__(self, n_labels, allowed):
        super().__init__(n_labels, {"good": 1})
        self.allowed, self.running, self.most, self.threads = allowed, 0, 0, set()
        self.at_entry: list[int] = []  # how many other calls were running as each call began
        self.lock = threading.Lock()

    def concurrent(self, streams):
        return contextlib.nullcontext(min(streams, self.allowed))

    def predict_proba(self, texts):
        with self.lock:
            self.at_entry.append(self.running)
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.get_ident())
        time.sleep(0.02)
        out = super().predict_proba(texts)
        with self.lock:
            self.running -= 1
        return out


def _long_and_short(n_short=40):
    """Four long texts (one batch of size 4), then many short ones: batches a stream may take."""
    return [f"long {i} " + "word " * 20 for i in range(4)] + [
        f"t{i} " + "w " * (i % 2) + ("good" if i % 3 else "") for i in range(n_short)
    ]


@pytest.mark.parametrize(("threads", "allowed", "expected"), [(1, 4, 1), (3, 4, 3), (3, 1, 1), (8, 8, MAX_STREAMS)])
def test_the_scoring_pass_runs_batches_side_by_side_where_the_model_allows(threads, allowed, expected):
    texts = _long_and_short()
    model = SideBySide(2, allowed)
    run = run_classifier(model, texts, batch_size=4, progress=False, policy=None, threads=threads)
    assert run.streams == expected
    assert np.array_equal(run.probs, DummyClassifier(2, {"good": 1}).predict_proba(texts))  # in the texts' order
    lengths = model.token_lengths(texts)
    batches = length_bucketed_batches(lengths, 4)
    split = side_by_side_from(batches, lengths, min(threads, MAX_STREAMS))
    assert len(batches) - split >= 2 * MAX_STREAMS  # enough for every stream to take turns
    assert len(run.batch_latency_ms) == len(batches) and min(run.batch_latency_ms) >= 20
    assert model.at_entry[: 1 + split] == [0] * (1 + split)  # the warm-up, then the long batches, alone
    assert model.most <= expected and (model.most > 1) == (expected > 1)  # the rest did run side by side
    assert (len(model.threads) > 1) == (expected > 1)
    assert run.efficiency().get("pass_streams", 1) == expected


@pytest.mark.parametrize("streams", [1, 2, 3, 4])
def test_batches_side_by_side_hold_little_more_than_the_largest_batch(streams):
    rng = np.random.default_rng(streams)
    for _ in range(50):
        lengths = [int(x) for x in rng.integers(1, 80, size=int(rng.integers(1, 300)))]
        batches = length_bucketed_batches(lengths, int(rng.integers(1, 65)))
        split = side_by_side_from(batches, lengths, streams)
        sizes = [len(b) * max(lengths[i] for i in b) for b in batches]
        assert 1 <= split <= len(batches)
        if streams == 1:
            assert split == 1  # one stream: nothing runs beside anything
        # any ``streams`` batches of the side-by-side part together: at most 1.5 x the largest one
        assert all(size * streams <= SIDE_BY_SIDE_MEMORY * max(sizes) for size in sizes[split:])
        assert split == 1 or sizes[split - 1] * streams > SIDE_BY_SIDE_MEMORY * max(sizes)  # none apart needlessly


def test_a_model_without_concurrent_is_scored_one_batch_at_a_time():
    class Plain:  # a backend written before Classifier.concurrent existed
        info = DummyClassifier(2).info

        def __init__(self):
            self.inner = DummyClassifier(2)

        def token_lengths(self, texts):
            return self.inner.token_lengths(texts)

        def predict_proba(self, texts):
            return self.inner.predict_proba(texts)

        def peak_device_memory_mb(self):
            return None

    run = run_classifier(Plain(), ["a b", "c", "d e f"] * 5, batch_size=2, progress=False, policy=None, threads=4)
    assert run.streams == 1 and len(run.predictions) == 15


def test_the_measurement_runs_one_call_at_a_time_before_a_side_by_side_pass():
    texts = _long_and_short()
    model = SideBySide(2, 4)
    run = run_classifier(model, texts, batch_size=4, progress=False, policy=QUICK, threads=4)
    assert run.streams == 4 and run.measurement is not None
    calls = model.at_entry
    measured = len(calls) - 1 - len(length_bucketed_batches(model.token_lengths(texts), 4))
    assert measured > QUICK.min_iterations and set(calls[: 1 + measured]) == {0}  # alone, first
    assert max(calls[1 + measured :]) > 0  # then the pass, side by side


def test_a_failing_batch_side_by_side_stops_the_pass_with_its_error():
    texts = [t + (" boom" if i == 17 else "") for i, t in enumerate(_long_and_short())]
    model = SideBySide(2, 4)
    predict = model.predict_proba

    def failing(batch):
        if any("boom" in t for t in batch):
            raise RuntimeError("out of memory in batch")
        return predict(batch)

    model.predict_proba = failing
    with pytest.raises(RuntimeError, match="out of memory"):
        run_classifier(model, texts, batch_size=4, progress=False, policy=None, threads=4)
    assert model.running == 0  # every stream has returned


def test_model_memory_leaves_out_a_side_by_side_pass():
    loaded = types.SimpleNamespace(rss_before_mb=100.0)
    model = types.SimpleNamespace(info=types.SimpleNamespace(device="cpu"))
    figures = {"peak_memory_mb": 400.0, "memory_peaks_mb": [250.0, 260.0]}
    assert _memory(figures, loaded, model)["model_memory_mb"] == 300.0  # one batch at a time: the pass counts
    side = _memory({**figures, "pass_streams": 2}, loaded, model)
    assert (side["model_memory_mb"], side["model_memory_mb_lo"]) == (160.0, 150.0)
    first = _memory({**figures, "pass_streams": 2, "pass_alone_peak_memory_mb": 300.0}, loaded, model)
    assert first["model_memory_mb"] == 200.0  # the pass's batches run one at a time count


def _job(board, folder, only=("sst2",), limit=None):
    config = load_config(board)
    tasks = load_tasks(config.tasks_dir)
    sub = load_submission(folder, tasks)
    settings = EvalSettings(batch_size=32, limit=limit, progress=False)
    [job] = plan_jobs(SubmissionSet(tasks, (folder,), (sub,), ()), config, 32, limit, only)
    return config, settings, job


def test_dummy_pipeline_writes_a_consistent_record(board, make_submission):
    config, settings, job = _job(board, make_submission(), limit=300)
    record = evaluate_job(job, config, settings, backend=dummy_loader({"bad": 0, "good": 1}))
    assert job.output.name == "sst2.limit300.json"
    write_record(job.output, record)
    back = read_record(job.output)
    assert back == record
    assert back.complete is False and back.task.num_examples == 300
    # the recorded metrics follow from the recorded predictions
    gold = load_examples(job.task, config.data_dir).head(300).labels
    pred = back.predictions.pred
    assert back.metrics["accuracy"] == pytest.approx(np.mean(np.array(gold) == np.array(pred)))
    assert sum(map(sum, back.confusion_matrix)) == 300
    prov = back.provenance
    assert prov.packages["ftbench"] and prov.hardware["cpu_cores_logical"] >= 1
    assert prov.weights[1].role == "adapter" and len(prov.weights[1].files[0]["sha256"]) == 64
    assert back.efficiency["adapter_size_bytes"] > 0


def test_plan_marks_current_and_stale(board, make_submission):
    folder = make_submission()
    config, settings, job = _job(board, folder, limit=50)
    assert job.status == "missing"
    write_record(job.output, evaluate_job(job, config, settings, backend=dummy_loader({})))
    _, _, again = _job(board, folder, limit=50)
    assert again.status == "current"
    adapter_file = job.submission.folder / "adapter" / "adapter_config.json"
    adapter_file.write_text(json.dumps({"peft_type": "LORA", "task_type": "SEQ_CLS", "r": 4}))
    _, _, changed = _job(board, folder, limit=50)
    assert (changed.status, changed.why) == ("stale", "changed: adapter")


def test_spec_helper_is_valid():
    assert valid_spec()["tasks"] == {"sst2": {}}


def test_git_state_ignores_the_outputs_an_evaluation_writes(tmp_path):
    import shutil
    import subprocess

    from ftbench.git import git_state

    if shutil.which("git") is None:
        pytest.skip("git not installed")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "a.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "base")
    outputs = [tmp_path / "results", tmp_path / "site"]
    assert git_state(tmp_path, outputs)["dirty"] is False
    (tmp_path / "results" / "a.json").write_text('{"new": 1}')  # a record just written
    assert git_state(tmp_path, outputs)["dirty"] is False
    assert git_state(tmp_path)["dirty"] is True
    (tmp_path / "code.py").write_text("x = 2\n")  # a real change to the board
    state = git_state(tmp_path, outputs)
    assert state["dirty"] is True and len(state["commit"]) == 40


def _spin(stop, seconds: float) -> None:
    """Keep a CPU busy until ``stop`` is set (or ``seconds`` have passed, should the test die)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and not stop.is_set():
        pass


def test_a_run_beside_a_cpu_heavy_process_is_flagged_and_earns_no_badge(board, make_submission):
    """The record carries the latency distribution, its iterations and duration, and the
    contention the OS saw; a contended run's figures are flagged and win no Pareto badge."""
    config, settings, job = _job(board, make_submission(), limit=200)
    brief = Policy(min_iterations=8, min_seconds=1.0, max_seconds=3.0, latency_sample=4, throughput_tokens=64)
    settings = dataclasses.replace(settings, policy=brief)
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()  # the spinners run for the whole evaluation, however long its setup takes
    spinners = [spawn.Process(target=_spin, args=(stop, 120.0)) for _ in range(os.cpu_count() or 1)]
    for p in spinners:
        p.start()
    try:
        time.sleep(0.5)
        record = evaluate_job(job, config, settings, backend=dummy_loader({"bad": 0, "good": 1}))
    finally:
        stop.set()
        for p in spinners:
            p.join()
    eff = record.efficiency
    assert eff["latency"]["n"] >= 8 and eff["latency"]["duration_s"] >= 1.0 and eff["latency"]["rounds"] >= 2
    assert eff["validity"]["contention"]["other_cpu_share"] > brief.max_other_cpu
    assert "cpu-contention" in eff["validity"]["flags"]
    assert eff["hardware_profile"].startswith("cpu: ")
    contended = Entry(
        "busy", "Busy", "lora", "b", "2026-01-01", {"accuracy": 0.9}, eff, hardware=eff["hardware_profile"]
    )
    calm = {"latency_ms": eff["latency_ms"] * 100, "validity": {"flags": []}}
    quiet = Entry("calm", "Calm", "lora", "b", "2026-01-01", {"accuracy": 0.8}, calm, hardware=eff["hardware_profile"])
    rows = task_table([contended, quiet], "accuracy", costs=("latency_ms",))
    assert {r.entry.submission: r.pareto for r in rows} == {"busy": (), "calm": ("latency_ms",)}


def test_remeasuring_keeps_the_scores_and_replaces_the_figures(board, make_submission):
    """``ftbench measure``: a current record's efficiency is taken again, its predictions,
    metrics and content key are kept, and a pair without a current record is left alone."""
    from ftbench.evaluate import evaluate_pending, remeasure_current

    make_submission()
    config = load_config(board)
    settings = EvalSettings(limit=None, progress=False)
    backend = dummy_loader({"bad": 0, "good": 1})
    [(job, record)] = evaluate_pending(config, settings=settings, backend=backend).done
    report = remeasure_current(config, settings=settings, backend=backend)
    [(again_job, again)] = report.done
    assert again_job.output == job.output and read_record(job.output) == again
    assert again.predictions == record.predictions and again.metrics == record.metrics
    assert again.content_key == record.content_key and "remeasured_at" in again.efficiency
    assert again.efficiency["latency"]["n"] >= 1 and "wall_time_s" not in again.efficiency
    job.output.unlink()
    assert remeasure_current(config, settings=settings, backend=backend).jobs == []


def test_the_model_page_says_a_pass_ran_side_by_side_and_compares_like_with_like():
    from ftbench.site.measurement import memory_rows, throughput_rows, unmerged_rows

    e = {
        "throughput": {"seconds": [1.0, 1.1], "examples": 64, "tokens": 900, "repeats": 2, "cv": 0.05},
        "examples_per_s": 60.0,
        "pass_examples_per_s": 70.0,
        "wall_time_s": 26.0,
        "pass_streams": 2,
        "memory_kind": "rss",
        "peak_memory_mb": 900.0,
        "memory_peaks_mb": [600.0, 610.0],
        "model_memory_mb": 200.0,
    }
    shown = dict(throughput_rows(e))["Full scoring pass"]
    assert shown.endswith("(after its first batch, 2 batches at a time, the threads shared out)")
    assert "only its batches run one at a time count" in dict(memory_rows(e))["Process peak"]
    unmerged = {"memory_peaks_mb": [640.0, 650.0]}
    peak = {row[0]: row for row in unmerged_rows({**e, "unmerged": unmerged})}["Process peak (MiB)"]
    assert peak[1].startswith("610") and peak[2].startswith("650")  # the repeats' peaks on both sides
    alone = {k: v for k, v in e.items() if k != "pass_streams"}
    assert "batches at a time" not in dict(throughput_rows(alone))["Full scoring pass"]
    assert {row[0]: row for row in unmerged_rows({**alone, "unmerged": unmerged})}["Process peak (MiB)"][1].startswith(
        "900"
    )
