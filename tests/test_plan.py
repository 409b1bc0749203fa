"""Planning, board checks, collecting CI records and verifying records (weightless model)."""

from __future__ import annotations

import json
import shutil

from conftest import keyword_model, plan
from ftbench.check import check_board
from ftbench.config import load_config
from ftbench.jobs import github_matrix
from ftbench.record import ResultRecord, read_record, write_record
from ftbench.verify import Verification, verify_record


def test_plan_and_matrix(board, make_submission):
    make_submission()
    _, jobs = plan(board)
    assert [(j.name, j.status, j.why) for j in jobs] == [("my-model/sst2", "missing", "no record yet")]
    matrix = json.loads(github_matrix(jobs))
    assert matrix["include"][0]["submission"] == "my-model" and matrix["include"][0]["task"] == "sst2"


def test_clean_board_passes_check(evaluated):
    assert check_board(evaluated) == []
    _, jobs = plan(evaluated.root)
    assert json.loads(github_matrix(jobs)) == {"include": []}


def test_check_finds_missing_stale_orphaned_and_partial(evaluated, board):
    results = evaluated.results_dir
    (board / "submissions" / "my-model" / "adapter" / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "task_type": "SEQ_CLS", "r": 2})
    )
    shutil.copy(results / "my-model" / "sst2.json", results / "my-model" / "sst2.limit10.json")
    (results / "ghost").mkdir()
    shutil.copy(results / "my-model" / "sst2.json", results / "ghost" / "sst2.json")
    (results / "notes.txt").write_text("x")
    messages = {(i.path.split("results/")[-1], i.field, i.message.split(":")[0]) for i in check_board(evaluated)}
    assert messages == {
        ("my-model/sst2.json", "content_key", "stale (changed"),
        ("my-model/sst2.limit10.json", "-", "partial (--limit) record; only complete records belong on the board"),
        ("ghost/sst2.json", "-", "orphaned"),
        ("notes.txt", "-", "stray file in the results folder"),
    }


def test_check_reports_missing_records(board, make_submission):
    make_submission()
    [issue] = check_board(load_config(board))
    assert issue.message.startswith("no record for my-model/sst2")
    [warning] = check_board(load_config(board), allow_missing=True)
    assert warning.severity == "warning"


def test_verify_reproduces_and_detects_drift(evaluated):
    path = evaluated.results_dir / "my-model" / "sst2.json"
    result = verify_record(path, evaluated, sample=50, backend=keyword_model)
    assert (result.sampled, result.agreement, result.stale) == (50, 1.0, False)
    assert result.max_prob_diff <= 5e-5 and not result.drifted() and result.tolerance == 1e-3
    record = read_record(path)
    flipped = [1 - p for p in record.predictions.pred]
    tampered = {**record.model_dump(), "predictions": {**record.predictions.model_dump(), "pred": flipped}}
    write_record(path, ResultRecord.model_validate(tampered))
    drift = verify_record(path, evaluated, sample=50, backend=keyword_model)
    assert drift.agreement == 0.0 and drift.drifted(1e-3) and len(drift.differing_idx) == 50


def test_verify_tolerance_follows_precision_and_allows_near_ties(tmp_path):
    def check(precision: str, diff: float, differing=()) -> Verification:
        return Verification(
            record=tmp_path,
            sampled=10,
            agreement=1 - len(differing) / 10,
            max_prob_diff=diff,
            differing_idx=differing,
            recorded_accuracy=0.9,
            rerun_accuracy=0.9,
            stale=False,
            precision=precision,
        )

    # a bf16 record re-run on another device moves by about 1e-2 (measured CUDA -> CPU)
    assert check("bf16", 1.3e-2).drifted() is False
    assert check("fp32", 1.3e-2).drifted() is True
    assert check("bf16", 1.3e-2).drifted(tolerance=1e-3) is True
    # a changed label whose stored probability barely moved was a tie, not drift
    assert check("fp32", 4e-4, differing=(7,)).drifted() is False
    assert check("fp32", 0.4, differing=(7,)).drifted() is True
