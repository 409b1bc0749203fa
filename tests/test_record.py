"""Result records: canonical text, round trips, the schema, both readers, atomic writes."""

from __future__ import annotations

import json
import stat

import pytest

from ftbench.errors import FtbenchError, InvalidInput
from ftbench.files import write_atomic
from ftbench.record import (
    ResultRecord,
    dumps,
    iter_record_paths,
    read_record,
    record_json_schema,
    record_path,
    view_of,
    write_record,
)
from ftbench.tasks import Task
from ftbench.testing import submission_ref, submission_spec, synthetic_record

TASK = Task.model_validate(
    {
        "name": "toy",
        "title": "Toy",
        "dataset": "toy",
        "data_file": "test.jsonl",
        "data_sha256": "0" * 64,
        "num_examples": 40,
        "labels": ["no", "yes"],
    }
)
GOLD = [i % 2 for i in range(40)]


@pytest.fixture
def record() -> ResultRecord:
    from ftbench.spec import Submission

    spec = Submission.model_validate(submission_spec("toy-model", ["toy"]))
    return synthetic_record(submission_ref(spec, "toy"), TASK, GOLD, accuracy=0.8, seed=3, content_key="k" * 64)


def test_dumps_is_canonical_and_round_trips(record, tmp_path):
    text = dumps(record)
    assert text.endswith("}\n") and text == dumps(ResultRecord.model_validate_json(text))
    keys = list(json.loads(text))
    assert keys == sorted(keys)  # sorted keys: a changed number is a one-line diff
    path = tmp_path / "r.json"
    write_record(path, record)
    assert read_record(path) == record and path.read_text(encoding="utf-8") == text


def test_a_record_validates_against_its_published_schema(record):
    import jsonschema

    schema = record_json_schema()
    assert schema["$id"].endswith("record-v1.json")
    jsonschema.validate(json.loads(dumps(record)), schema)
    broken = {**json.loads(dumps(record)), "metrics": "high"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_the_site_keeps_everything_but_the_predictions(record):
    view = view_of(record)
    full = record.model_dump()
    for evidence in ("predictions", "choices", "documents"):
        del full[evidence]
        assert not hasattr(view, evidence)
    assert view.model_dump() == full


def test_strict_reading_refuses_a_key_given_twice(record, tmp_path):
    # a second "metrics" after the predictions: parsers disagree on which one counts
    text = dumps(record).replace('\n "provenance": ', '\n "metrics": {"accuracy": 1.0},\n "provenance": ', 1)
    path = tmp_path / "twice.json"
    path.write_text(text)
    assert read_record(path).metrics == {"accuracy": 1.0}  # the one parser: the last one counts
    with pytest.raises(InvalidInput) as info:
        read_record(path, strict=True)
    assert [(i.field, i.message) for i in info.value.issues] == [("metrics", "key appears twice in one object")]


def test_unreadable_and_invalid_records_name_the_file(tmp_path, record):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(FtbenchError, match=r"bad\.json:-: cannot read result record"):
        read_record(path)
    path.write_text(json.dumps({**json.loads(dumps(record)), "complete": "maybe"}))
    with pytest.raises(InvalidInput) as info:
        read_record(path)
    assert [(i.path, i.field) for i in info.value.issues] == [(str(path), "complete")]


def test_partial_records_have_their_own_path(tmp_path):
    assert record_path(tmp_path, "m", "sst2").name == "sst2.json"
    assert record_path(tmp_path, "m", "sst2", 200).name == "sst2.limit200.json"
    for name in ("sst2.json", "sst2.limit200.json"):
        (tmp_path / "m").mkdir(exist_ok=True)
        (tmp_path / "m" / name).write_text("{}")
    assert [p.name for p in iter_record_paths(tmp_path)] == ["sst2.json"]
    assert len(iter_record_paths(tmp_path, include_partial=True)) == 2


def test_an_interrupted_write_keeps_the_good_file(tmp_path, monkeypatch, record):
    path = tmp_path / "results" / "m" / "toy.json"
    write_record(path, record)
    before = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("ftbench.files.os.replace", crash)
    changed = ResultRecord.model_validate({**record.model_dump(), "metrics": {"accuracy": 0.0}})
    with pytest.raises(KeyboardInterrupt):
        write_record(path, changed)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, b"half", fsync=False)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
