"""Content keys and the one freshness rule: what makes a record current, and what does not."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ftbench import EVAL_LOGIC_VERSION
from ftbench.jobs import Freshness, freshness
from ftbench.keys import changed_parts, content_key, key_parts, stale_parts, weights_fingerprint
from ftbench.spec import WeightsRef
from ftbench.testing import BASE_HUB, BASE_REV, write_adapter

HUB = WeightsRef(hub=BASE_HUB, revision=BASE_REV)


class _Task:
    definition_sha256 = "d" * 64
    data_sha256 = "e" * 64


def _parts(folder, **changes):
    parts = key_parts(HUB, WeightsRef(path="adapter"), folder, _Task(), "fp32", 64)
    return {**parts, **changes}


def test_key_parts_name_everything_that_changes_a_number(tmp_path):
    write_adapter(tmp_path / "adapter")
    parts = _parts(tmp_path)
    assert set(parts) == {
        "model_kind",
        "prompting",
        "base",
        "adapter",
        "task_definition",
        "data_sha256",
        "precision",
        "batch_size",
        "eval_logic_version",
    }
    assert parts["base"] == f"hub:{BASE_HUB}@{BASE_REV}" and parts["eval_logic_version"] == EVAL_LOGIC_VERSION
    assert parts["adapter"].startswith("files:")


def test_content_key_is_canonical():
    a = {"x": 1, "y": "b"}
    assert content_key(a) == content_key(dict(reversed(a.items())))
    assert content_key(a) != content_key({**a, "x": 2}) and len(content_key(a)) == 64


def test_one_changed_adapter_byte_changes_the_key(tmp_path):
    write_adapter(tmp_path / "adapter")
    before = _parts(tmp_path)
    weights = tmp_path / "adapter" / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    after = _parts(tmp_path)
    assert changed_parts(before, after) == ["adapter"]
    assert stale_parts(content_key(before), before, after) == ["adapter"]
    assert stale_parts(content_key(after), after, after) is None


def test_fingerprints_are_remembered_per_folder_within_a_pass(tmp_path):
    write_adapter(tmp_path / "adapter")
    ref, memo = WeightsRef(path="adapter"), {}
    first = weights_fingerprint(ref, tmp_path, memo)
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    assert weights_fingerprint(ref, tmp_path, memo) == first  # the same pass: not re-read
    assert weights_fingerprint(ref, tmp_path) != first  # a new pass sees the change
    assert weights_fingerprint(None, tmp_path) is None


def _record(parts, *, complete=True, limit=None, key=None):
    return SimpleNamespace(
        complete=complete, limit=limit, content_key=key or content_key(parts), content_key_parts=parts
    )


@pytest.mark.parametrize(
    ("record", "limit", "expected"),
    [
        (None, None, Freshness("missing")),
        ("same", None, Freshness("current")),
        ("partial", None, Freshness("stale", "incomplete")),
        ("partial", 50, Freshness("current")),  # a --limit 50 record is current for a --limit 50 run
        ("partial", 60, Freshness("stale", "incomplete")),
        ("batch", None, Freshness("stale", "changed", ("batch_size",))),
        ("old", None, Freshness("stale", "changed", ())),  # made before key parts were stored
    ],
)
def test_freshness(record, limit, expected, tmp_path):
    write_adapter(tmp_path / "adapter")
    parts = _parts(tmp_path)
    records = {
        None: None,
        "same": _record(parts),
        "partial": _record(parts, complete=False, limit=50),
        "batch": _record(_parts(tmp_path, batch_size=32)),
        "old": SimpleNamespace(complete=True, limit=None, content_key="0" * 64, content_key_parts={}),
    }
    assert freshness(records[record], parts, limit) == expected


def test_freshness_explains_itself():
    assert Freshness("missing").why == "no record yet"
    assert Freshness("stale", "changed", ()).why == "changed: content key differs"
    assert Freshness("stale", "unreadable", detail="bad JSON").why == "record unreadable (bad JSON)"
    assert Freshness("stale", "incomplete").why.startswith("incomplete run")


def test_with_the_ci_key_only_records_it_signed_are_current(evaluated, monkeypatch):
    from conftest import plan
    from ftbench.record import read_record, sign, signed, write_record

    path = evaluated.results_dir / "my-model" / "sst2.json"
    _, [job] = plan(evaluated.root)
    assert job.status == "current"  # no key on this machine: signatures are not asked for
    monkeypatch.setenv("FTBENCH_RECORD_KEY", "ci-secret")
    _, [job] = plan(evaluated.root)
    assert (job.status, job.why) == ("stale", "not signed by this board's CI (edited, or made elsewhere)")
    record = read_record(path)
    write_record(path, sign(record, b"ci-secret"))
    _, [job] = plan(evaluated.root)
    assert job.status == "current" and signed(read_record(path), b"ci-secret")
    forged = read_record(path).model_copy(update={"metrics": {**record.metrics, "accuracy": 1.0}})
    write_record(path, forged)  # the signature no longer matches the bytes
    _, [job] = plan(evaluated.root)
    assert job.status == "stale" and not signed(forged, b"ci-secret") and not signed(record, b"other")


def test_evaluate_signs_with_the_ci_key(board, make_submission, monkeypatch):
    from conftest import keyword_model
    from ftbench.config import load_config
    from ftbench.evaluate import EvalSettings, evaluate_pending
    from ftbench.record import signed

    make_submission()
    monkeypatch.setenv("FTBENCH_RECORD_KEY", "ci-secret")
    report = evaluate_pending(load_config(board), settings=EvalSettings(progress=False), backend=keyword_model)
    [(_, record)] = report.done
    assert signed(record, b"ci-secret") and "ci-secret" not in repr(load_config(board))


def test_a_malformed_signature_is_unsigned_not_a_crash(evaluated, monkeypatch):
    from conftest import plan
    from ftbench.record import read_record, write_record

    path = evaluated.results_dir / "my-model" / "sst2.json"
    record = read_record(path)
    write_record(path, record.model_copy(update={"extra": {"ci_signature": "é" * 64}}))
    monkeypatch.setenv("FTBENCH_RECORD_KEY", "ci-secret")
    _, [job] = plan(evaluated.root)
    assert job.why == "not signed by this board's CI (edited, or made elsewhere)"
