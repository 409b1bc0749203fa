"""Causal LMs through the whole path, on the weightless bigram model: prompted classification
(label words scored after a prompt), perplexity over documents (rolling windows, resumable),
their records proving themselves, and the submissions that cannot be scored refused."""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import pytest

from ftbench.audit import audit_record
from ftbench.config import load_config
from ftbench.evaluate import EvalSettings, evaluate_job, evaluate_pending
from ftbench.jobs import plan_jobs
from ftbench.models.dummy import DummyLanguageModel
from ftbench.perplexity import rolling_windows
from ftbench.prompting import draw_demonstrations, plan_prompts
from ftbench.record import read_record
from ftbench.runner.choices import encode_pair, run_choices
from ftbench.runner.documents import checkpoint_path, run_documents
from ftbench.spec import Prompting
from ftbench.submissions import SubmissionSet, load_submission
from ftbench.tasks import load_examples, load_split, load_tasks


def lm_spec(tasks=("sst2",), prompting=None, sub_id="tiny-lm") -> dict:
    """A causal-LM submission: a (fake) GGUF base in the folder, zero-shot by default."""
    return {
        "id": sub_id,
        "name": "Tiny LM",
        "submitter": {"name": "Tests"},
        "date": "2026-11-30",
        "license": "apache-2.0",
        "model": {
            "kind": "causal-lm",
            "base": {"path": "weights", "gguf_file": "tiny.gguf"},
            "prompting": prompting or {},
        },
        "fine_tuning": {"method": "prompting"},
        "tasks": {t: {} for t in tasks},
    }


@pytest.fixture
def make_lm(make_submission):
    def make(spec: dict):
        folder = make_submission(spec, folder_name=spec["id"], adapter=False)
        (folder / "weights").mkdir()
        # a GGUF header (version 3, no tensors, no metadata): the dummy backends read no weights
        (folder / "weights" / "tiny.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 0))
        return folder

    return make


def _job(board, folder, task="sst2", limit=None):
    config = load_config(board)
    tasks = load_tasks(config.tasks_dir)
    sub = load_submission(folder, tasks, config.data_dir)
    assert not [i for i in sub.warnings if i.severity == "error"]
    [job] = plan_jobs(SubmissionSet(tasks, (folder,), (sub,), ()), config, 16, limit, (task,))
    return config, job


def _settings(limit=None):
    return EvalSettings(batch_size=16, limit=limit, progress=False)


def test_prompted_record_holds_label_scores_that_prove_its_predictions(board, make_lm):
    config, job = _job(board, make_lm(lm_spec()), limit=40)
    record = evaluate_job(job, config, _settings(40), backend="dummy-lm")
    model, plan = DummyLanguageModel(), plan_prompts(job.task.prompt, Prompting(), None)
    examples = load_examples(job.task, config.data_dir).head(40)
    for row, text in enumerate(examples.texts[:5]):  # every label word scored after the example's prompt
        naive = [model.loglikelihood([encode_pair(model, plan.message(text), c)])[0] for c in plan.continuations]
        assert record.choices.loglik[row] == pytest.approx(naive, abs=1e-9)
        assert record.predictions.pred[row] == int(np.argmax(naive))
    assert record.prompt["continuations"] == [" negative", " positive"]
    assert record.prompt["example"] == plan.message(examples.texts[0])
    assert 0 <= record.metrics["accuracy_norm"] <= 1 and record.task.type == "classification"
    assert audit_record(record, job.task, examples, "r", intervals=True) == []
    forged = record.model_copy(update={"predictions": record.predictions.model_copy(update={"pred": [1] * 40})})
    assert any(i.field == "predictions.pred" for i in audit_record(forged, job.task, examples, "r"))


def test_few_shot_demonstrations_are_drawn_with_the_recorded_seed(board, make_lm):
    spec = lm_spec(prompting={"num_fewshot": 3, "fewshot_seed": 7, "chat_template": True})
    config, job = _job(board, make_lm(spec), limit=8)
    record = evaluate_job(job, config, _settings(8), backend="dummy-lm")
    train = load_split(config.data_dir, "sst2", "train")
    demos = draw_demonstrations(train, 3, 7)
    assert [d["idx"] for d in record.prompt["demonstrations"]] == [d[0] for d in demos]
    assert record.prompt["example"].startswith("<user>") and demos[0][1] in record.prompt["example"]
    assert record.prompt["continuations"] == ["negative", "positive"]  # the reply starts with the word
    other = evaluate_job(job, config, _settings(8), backend="dummy-lm")
    assert other.prompt == record.prompt and other.choices == record.choices


def test_prompt_settings_are_part_of_the_content_key(board, make_lm):
    _, zero = _job(board, make_lm(lm_spec()))
    _, few = _job(board, make_lm(lm_spec(prompting={"num_fewshot": 2}, sub_id="tiny-lm-2")))
    assert zero.key_parts["prompting"] != few.key_parts["prompting"]
    assert zero.key_parts["model_kind"] == "causal-lm"


def _direct_perplexity_loglik(model: DummyLanguageModel, text: str) -> float:
    """Every token given the one before it (the bigram model sees no further): the sum over
    the document, the first token given the prefix."""
    tokens = model.tokenize(text)
    previous = [model.prefix_token(), *tokens[:-1]]
    return float(sum(model.logprob[p, t] for p, t in zip(previous, tokens, strict=True)))


def test_perplexity_record_matches_a_direct_computation_and_proves_itself(board, make_lm):
    config, job = _job(board, make_lm(lm_spec(tasks=("wikitext2",))), task="wikitext2", limit=3)
    record = evaluate_job(job, config, _settings(3), backend="dummy-lm")
    docs = load_examples(job.task, config.data_dir).head(3)
    model = DummyLanguageModel()
    direct = [_direct_perplexity_loglik(model, t) for t in docs.texts]
    assert record.documents.loglik == pytest.approx(direct, rel=1e-12)
    n_bytes = sum(len(t.encode()) for t in docs.texts)
    assert record.metrics["bits_per_byte"] == pytest.approx(-sum(direct) / n_bytes / math.log(2))
    assert record.metrics["token_perplexity"] == pytest.approx(math.exp(-sum(direct) / n_bytes))  # a token is a byte
    low, high = record.intervals.bounds["bits_per_byte"]
    assert low <= record.metrics["bits_per_byte"] <= high
    assert record.predictions is None and record.documents.max_length == 2048
    assert audit_record(record, job.task, docs, "r", intervals=True) == []
    fewer_words = record.documents.model_copy(update={"words": [1, *record.documents.words[1:]]})
    forged = record.model_copy(update={"documents": fewer_words})
    assert audit_record(forged, job.task, docs, "r")[0].field == "documents.words"
    better = record.model_copy(update={"metrics": {**record.metrics, "bits_per_byte": 0.5}})
    assert audit_record(better, job.task, docs, "r")[0].field == "metrics.bits_per_byte"


def test_every_token_is_scored_once_at_the_tasks_window():
    model = DummyLanguageModel()
    text = "abcdefghij" * 30
    run = run_documents(model, [text], max_length=64, progress=False, policy=None)
    windows = rolling_windows(model.tokenize(text), 256, 64)
    assert run.tokens == (300,) and model.calls == len(windows) == 5
    assert run.loglik[0] == pytest.approx(_direct_perplexity_loglik(model, text), rel=1e-12)


class _Interrupted(DummyLanguageModel):
    """Killed (KeyboardInterrupt) while scoring its ``stop_at``-th document."""

    def __init__(self, stop_at: int):
        super().__init__()
        self.stop_at, self.documents = stop_at, 0

    def loglikelihood(self, windows):
        self.documents += 1
        if self.documents >= self.stop_at:
            raise KeyboardInterrupt
        return super().loglikelihood(windows)


def test_an_interrupted_perplexity_run_resumes_to_the_same_numbers(tmp_path):
    docs = [f"document {i} " * (20 + 7 * i) for i in range(6)]
    whole = run_documents(DummyLanguageModel(), docs, 64, progress=False)
    checkpoint = tmp_path / ".wikitext2.checkpoint.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_documents(_Interrupted(stop_at=4), docs, 64, checkpoint=checkpoint, key="k", progress=False)
    kept = checkpoint.read_text().splitlines()
    assert len(kept) == 4  # the header and the 3 documents finished before the kill
    with checkpoint.open("a") as torn:  # and a line torn by the kill
        torn.write('{"doc": 5, "logl')
    resumed = run_documents(DummyLanguageModel(), docs, 64, checkpoint=checkpoint, key="k", progress=False)
    assert resumed.resumed == len(kept) - 1
    assert resumed.loglik == whole.loglik and resumed.tokens == whole.tokens
    other_inputs = run_documents(DummyLanguageModel(), docs, 64, checkpoint=checkpoint, key="other", progress=False)
    assert other_inputs.resumed == 0


def test_evaluate_resumes_a_killed_perplexity_record_and_cleans_up(board, make_lm, monkeypatch):
    make_lm(lm_spec(tasks=("wikitext2",)))
    config = load_config(board)
    settings = EvalSettings(limit=4, progress=False)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C stops the run, as it should
        evaluate_pending(config, settings=settings, backend=lambda request: _Interrupted(stop_at=3))
    output = config.results_dir / "tiny-lm" / "wikitext2.limit4.json"
    assert not output.exists() and checkpoint_path(output).is_file()  # no record, the finished documents kept
    report = evaluate_pending(config, settings=settings, backend="dummy-lm")
    [(job, record)] = report.done
    assert not checkpoint_path(job.output).exists() and read_record(job.output) == record
    assert record.efficiency["resumed_documents"] >= 1
    fresh = evaluate_job(job, config, settings, backend="dummy-lm")
    assert fresh.documents == record.documents and fresh.metrics == record.metrics


def test_choice_runner_scores_in_batches_and_in_order():
    model = DummyLanguageModel()
    contexts = ["short", "a much longer prompt than the others", "mid length"]
    run = run_choices(model, contexts, [" yes", " no way"], batch_size=2, progress=False, policy=None)
    for row, context in enumerate(contexts):
        assert run.loglik[row].tolist() == [model._score(*encode_pair(model, context, c)) for c in (" yes", " no way")]
    assert run.chars == (4, 7) and run.probs.sum(axis=1) == pytest.approx([1.0] * 3)
    assert run.normalised_predictions == (run.loglik / np.array([4, 7])).argmax(axis=1).tolist()


def test_submissions_a_model_kind_cannot_serve_are_refused(board, make_submission, make_lm, tasks):
    from conftest import valid_spec

    spec = valid_spec("enc")
    spec["tasks"] = {"wikitext2": {}}
    folder = make_submission(spec, folder_name="enc")
    sub_issues = _issues(folder, tasks)
    assert any("tasks.wikitext2" in i and "causal-lm" in i for i in sub_issues)
    no_prompt = _issues(make_lm(lm_spec(tasks=("banking77",), sub_id="lm-b77")), tasks)
    assert any("declares no prompt" in i for i in no_prompt)
    gguf_encoder = valid_spec("enc2")
    gguf_encoder["model"]["base"]["gguf_file"] = "x.gguf"
    assert any("kind: causal-lm" in i for i in _issues(make_submission(gguf_encoder, folder_name="enc2"), tasks))


def _issues(folder, tasks) -> list[str]:
    from ftbench.errors import InvalidInput

    try:
        sub = load_submission(folder, tasks)
    except InvalidInput as exc:
        return [f"{i.field}: {i.message}" for i in exc.issues]
    return [f"{i.field}: {i.message}" for i in sub.warnings]


def test_wikitext_task_reads_one_document_per_article(tasks):
    from conftest import DATA_DIR

    docs = load_examples(tasks["wikitext2"], DATA_DIR)
    assert len(docs) == 62 and all(d.lstrip("\n").startswith(" = ") for d in docs.texts)
    assert json.loads((DATA_DIR / "wikitext2" / "meta.json").read_text())["splits"]["test"]["file"] == "test.txt"


def test_verify_reruns_prompted_and_perplexity_records(board, make_lm):
    from ftbench.verify import verify_record

    make_lm(lm_spec(tasks=("sst2", "wikitext2")))
    config = load_config(board)
    report = evaluate_pending(
        config, settings=EvalSettings(limit=None, progress=False), backend="dummy-lm", only_tasks=["wikitext2"]
    )
    [(job, _)] = report.done
    result = verify_record(job.output, config, sample=32, seed=1, backend="dummy-lm")
    assert result.sampled == 2 and result.agreement == 1.0 and result.max_prob_diff == 0.0
    report = evaluate_pending(config, settings=EvalSettings(progress=False), backend="dummy-lm", only_tasks=["sst2"])
    [(job, _)] = report.done
    result = verify_record(job.output, config, sample=20, seed=1, backend="dummy-lm")
    assert result.sampled == 20 and result.agreement == 1.0 and result.max_prob_diff <= 5e-5


def test_a_forged_gguf_header_or_an_escaping_file_name_is_refused(make_lm, tasks):
    folder = make_lm(lm_spec(sub_id="lm-forged"))
    (folder / "weights" / "tiny.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**40, 0))
    assert any("2" in i and "tensors" in i for i in _issues(folder, tasks))
    (folder / "weights" / "tiny.gguf").write_bytes(b"PK\x03\x04 a zip, not a GGUF")
    assert any("no GGUF magic" in i for i in _issues(folder, tasks))
    spec = lm_spec(sub_id="lm-escape")
    spec["model"]["base"]["gguf_file"] = "../../etc/passwd.gguf"
    assert any(i.startswith("model.base.gguf_file") for i in _issues(make_lm(spec), tasks))


def test_a_new_perplexity_corpus_is_one_yaml_file(board, make_lm, tmp_path):
    """A corpus of blank-line paragraphs, declared in one task file, scored end to end."""
    import hashlib

    import yaml

    corpus = tmp_path / "data" / "notes"
    corpus.mkdir(parents=True)
    text = "first paragraph\nof two lines\n\nsecond one\n\n\nthird\n"
    (corpus / "test.txt").write_text(text)
    (board / "tasks" / "notes.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "notes",
                "title": "Notes",
                "type": "perplexity",
                "dataset": "notes",
                "data_file": "test.txt",
                "data_sha256": hashlib.sha256(text.encode()).hexdigest(),
                "num_examples": 3,
                "primary_metric": "bits_per_byte",
                "metrics": ["bits_per_byte", "token_perplexity"],
                "perplexity": {"documents": "blank-line-paragraphs", "max_length": 16, "stride": 8},
            }
        )
    )
    make_lm(lm_spec(tasks=("notes",)))
    config = load_config(board).with_overrides(data_dir=tmp_path / "data")
    [(_, record)] = evaluate_pending(config, settings=EvalSettings(progress=False), backend="dummy-lm").done
    assert record.documents.context_len == 16 - 8 + 1 and record.documents.bytes == [28, 10, 5]
    assert set(record.metrics) == {"bits_per_byte", "token_perplexity"}
