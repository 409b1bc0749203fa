"""Collecting records made by CI matrix jobs into results/: only complete, current records of
this board; the first finished wins; idempotent."""

from __future__ import annotations

from ftbench.collect import collect_records, record_files
from ftbench.record import ResultRecord, read_record, write_record


def _variant(record: ResultRecord, **changes) -> ResultRecord:
    return ResultRecord.model_validate({**record.model_dump(), **changes})


def test_collect_is_idempotent_and_keeps_the_first(evaluated, tmp_path):
    original = evaluated.results_dir / "my-model" / "sst2.json"
    record = read_record(original)
    later = _variant(record, provenance={**record.provenance.model_dump(), "finished_at": "2999-01-01T00:00:00+00:00"})
    stale = _variant(record, content_key="0" * 64)
    for name, rec in [("a", later), ("b", record), ("c", stale)]:
        write_record(tmp_path / "artifacts" / name / "sst2.json", rec)
    original.unlink()
    log = collect_records([tmp_path / "artifacts"], evaluated)
    assert read_record(original) == record
    assert sum(line.startswith("skipped") for line in log) == 1
    collect_records([tmp_path / "artifacts"], evaluated)  # twice: same result
    assert read_record(original) == record


def test_collect_takes_nothing_that_is_not_a_complete_current_record_of_the_board(evaluated, tmp_path):
    original = evaluated.results_dir / "my-model" / "sst2.json"
    record = read_record(original)
    original.unlink()
    foreign = _variant(record, submission={**record.submission.model_dump(), "id": "someone-else"})
    partial = _variant(record, complete=False, limit=10)
    other_task = _variant(record, task={**record.task.model_dump(), "name": "trec"})
    for name, rec in [("foreign", foreign), ("partial", partial), ("other", other_task)]:
        write_record(tmp_path / "jobs" / name / "r.json", rec)
    log = collect_records([tmp_path / "jobs"], evaluated)
    assert len(log) == 3 and all(line.startswith("skipped") for line in log)
    assert not original.exists() and list(evaluated.results_dir.rglob("*.json")) == []


def test_record_files_takes_files_as_given_and_searches_folders(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for rel in ("a/one.json", "a/b/two.json", "a/notes.txt", "three.json"):
        (tmp_path / rel).write_text("{}")
    found = record_files([tmp_path / "a", tmp_path / "three.json"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/b/two.json", "a/one.json", "three.json"]
