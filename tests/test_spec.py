"""Submission validation: a valid folder passes; each broken one fails with its exact message."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml

from conftest import valid_spec
from ftbench.errors import InvalidInput
from ftbench.spec import Submission, submission_json_schema
from ftbench.submissions import load_all, load_submission

REV_MSG = "'revision' must be a full 40-hex commit hash pinning 'hub'"
ESCAPE = "leaves the submission folder; give a sub-folder of it (or hub + revision)"


def _issues(folder: Path, tasks) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        load_submission(folder, tasks)
    return [f"{i.field}: {i.message}" for i in info.value.issues]


def test_valid_submission_loads(make_submission, tasks):
    sub = load_submission(make_submission(), tasks)
    assert sub.spec.id == "my-model"
    assert sub.spec.weights_for("sst2")[1].path == "adapter"
    assert sub.warnings == ()


def test_spec_is_frozen(make_submission, tasks):
    sub = load_submission(make_submission(), tasks)
    with pytest.raises(Exception, match="frozen"):
        sub.spec.name = "changed"  # type: ignore[misc]


def _set(path: str, value):
    def mutate(spec: dict) -> None:
        *parents, last = path.split(".")
        node = spec
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


_DELETE = object()

# (case name, change to the valid spec, the exact "field: message" expected among the issues)
SPEC_CASES = [
    ("missing license", _set("license", _DELETE), "license: required key missing"),
    (
        "unknown key",
        _set("colour", "blue"),
        "colour: unknown key (check spelling; `ftbench schema submission` lists the allowed keys)",
    ),
    (
        "bad method",
        _set("fine_tuning.method", "magic"),
        "fine_tuning.method: must be one of 'full', 'lora', 'qlora', 'dora', 'ia3', 'prefix', 'prompt-tuning', "
        "'head-only', 'prompting', 'sft', 'instruction-tuning', 'dpo', 'orpo', 'kto', 'simpo', 'rlhf', 'ppo', "
        "'distillation' or 'other', got 'magic'",
    ),
    (
        "revision missing",
        _set("model.base", {"hub": "sentence-transformers/all-MiniLM-L6-v2"}),
        f"model.base: {REV_MSG}",
    ),
    ("revision is a branch", _set("model.base.revision", "main"), f"model.base: {REV_MSG}"),
    (
        "hub and path",
        _set("model.base", {"hub": "a/b", "revision": "0" * 40, "path": "x"}),
        "model.base: give exactly one of 'hub' (with 'revision') or 'path'",
    ),
    (
        "malformed hub id",
        _set("model.base", {"hub": "not a repo", "revision": "0" * 40}),
        "model.base: 'hub' must look like owner/name, got 'not a repo'",
    ),
    ("adapter path escapes", _set("model.adapter.path", "../other"), f"model.adapter.path: '../other' {ESCAPE}"),
    ("absolute adapter path", _set("model.adapter.path", "/etc"), f"model.adapter.path: '/etc' {ESCAPE}"),
    (
        "adapter folder missing",
        _set("model.adapter.path", "nowhere"),
        "model.adapter.path: folder 'nowhere' not found in the submission",
    ),
    (
        "unknown task",
        _set("tasks", {"sst3": {}}),
        "tasks.sst3: unknown task (known: ag_news, banking77, rotten_tomatoes, sst2, trec, tweet_eval_emotion, "
        "wikitext2)",
    ),
    ("no tasks", _set("tasks", {}), "tasks: Dictionary should have at least 1 item after validation, not 0"),
    (
        "remote code requested",
        _set("model.trust_remote_code", True),
        "model.trust_remote_code: remote code is never run on this board; remove this key",
    ),
    ("id is not the folder name", _set("id", "another-name"), "id: must equal the folder name 'my-model'"),
    ("id with capitals", _set("id", "My Model"), "id: String should match pattern '^[a-z0-9][a-z0-9._\\-]{1,79}$'"),
    ("bad date", _set("date", "yesterday"), "date: Input should be a valid date or datetime, input is too short"),
    (
        "trains on the held-out split",
        _set("fine_tuning.training_data", [{"dataset": "sst2", "split": "test"}]),
        "fine_tuning.training_data.0: trains on sst2/test, the held-out split of task 'sst2'",
    ),
    (
        "lora without adapter",
        _set("model.adapter", _DELETE),
        "fine_tuning.method: lora needs an adapter (model.adapter or tasks.<name>.adapter)",
    ),
    (
        "negative trainable parameters",
        _set("fine_tuning.trainable_parameters", -5),
        "fine_tuning.trainable_parameters: Input should be greater than or equal to 0",
    ),
    ("model card outside", _set("model_card", "../../README.md"), "model_card: path leaves the submission folder"),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_invalid_spec_reports_exact_issue(case, mutate, expected, make_submission, tasks):
    spec = copy.deepcopy(valid_spec())
    mutate(spec)
    folder = make_submission(spec, folder_name="my-model")
    assert expected in _issues(folder, tasks)


def test_issue_names_file_and_field(make_submission, tasks):
    spec = valid_spec()
    del spec["license"]
    folder = make_submission(spec)
    with pytest.raises(InvalidInput) as info:
        load_submission(folder, tasks)
    assert str(info.value.issues[0]) == f"{folder / 'submission.yaml'}:license: required key missing"


def test_every_error_is_reported_at_once(make_submission, tasks):
    spec = valid_spec()
    spec["colour"] = "blue"
    del spec["license"]
    spec["model"]["base"]["revision"] = "main"
    issues = _issues(make_submission(spec), tasks)
    assert len(issues) == 3


# Problems in the folder's files rather than in the YAML.
def test_pickle_weights_refused(make_submission, tasks):
    folder = make_submission()
    (folder / "adapter" / "adapter_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(InvalidInput) as info:
        load_submission(folder, tasks)
    [issue] = info.value.issues
    assert issue.path.endswith("adapter/adapter_model.bin")
    assert issue.message == ".bin files can run code when loaded (pickle); convert the weights to .safetensors"


def test_code_files_refused(make_submission, tasks):
    folder = make_submission()
    (folder / "modeling_evil.py").write_text("import os\n")
    assert "-: code files are not allowed; models run through ftbench's own loaders, never submitted code" in _issues(
        folder, tasks
    )


def test_auto_map_refused(make_submission, tasks):
    folder = make_submission()
    cfg = folder / "adapter" / "adapter_config.json"
    cfg.write_text(json.dumps({"peft_type": "LORA", "auto_map": {"AutoModel": "evil.Model"}}))
    assert "auto_map: points to remote code, which is never run; remove it" in _issues(folder, tasks)


def test_symlink_refused(make_submission, tasks, tmp_path):
    folder = make_submission()
    (tmp_path / "secret.txt").write_text("x")
    os.symlink(tmp_path / "secret.txt", folder / "link.txt")
    assert "-: symbolic links are not allowed in a submission" in _issues(folder, tasks)


def test_adapter_without_weights(make_submission, tasks):
    folder = make_submission()
    (folder / "adapter" / "adapter_model.safetensors").unlink()
    assert "model.adapter.path: adapter folder lacks adapter_model.safetensors" in _issues(folder, tasks)


def test_missing_model_card(make_submission, tasks):
    folder = make_submission(card=None)
    assert "model_card: file 'README.md' not found in the folder" in _issues(folder, tasks)


def test_not_a_mapping(make_submission, tasks):
    folder = make_submission()
    (folder / "submission.yaml").write_text("- just\n- a list\n")
    assert _issues(folder, tasks) == ["-: must be a YAML mapping of keys to values"]


def test_invalid_yaml(make_submission, tasks):
    folder = make_submission()
    (folder / "submission.yaml").write_text("id: [unclosed\n")
    [issue] = _issues(folder, tasks)
    assert issue.startswith("-: not valid YAML:")


def test_duplicate_ids_across_folders(make_submission, tasks, tmp_path):
    first = make_submission()
    second = tmp_path / "elsewhere" / "my-model"
    second.parent.mkdir()
    first.rename(second)
    make_submission()
    loaded, issues = load_all([tmp_path / "submissions" / "my-model", second], tasks)
    assert len(loaded) == 1
    assert [i.field for i in issues] == ["id"]
    assert issues[0].message.startswith("duplicate id 'my-model', also used by")


def test_contamination_is_a_warning(make_submission, tasks):
    spec = valid_spec()
    spec["fine_tuning"]["training_data"] = [{"dataset": "rotten_tomatoes", "split": "train"}]
    sub = load_submission(make_submission(spec), tasks)
    [warning] = sub.warnings
    assert warning.severity == "warning"
    assert warning.field == "fine_tuning.training_data.0"
    assert "overlaps the held-out split of task 'sst2'" in warning.message


def test_task_specific_adapter(make_submission, tasks):
    spec = valid_spec()
    spec["tasks"] = {"sst2": None, "trec": {"adapter": {"path": "adapter"}}, "banking77": {"base": {"path": "adapter"}}}
    folder = make_submission(spec)
    (folder / "adapter" / "config.json").write_text("{}")
    sub = load_submission(folder, tasks)
    assert sub.spec.weights_for("trec")[1].path == "adapter"
    base, adapter = sub.spec.weights_for("banking77")
    assert (base.path, adapter) == ("adapter", None)


def test_json_schema_matches_the_model():
    import jsonschema

    schema = submission_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(json.dumps(valid_spec())), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**valid_spec(), "colour": "blue"}, schema)
    assert schema["properties"]["license"]["description"].startswith("License of the submitted weights")
    # the nested models' fields are described too, from the docstring under each field
    hub = schema["$defs"]["WeightsRef"]["properties"]["hub"]
    assert hub["description"] == "Hugging Face Hub repository id (``owner/name``)."


def test_field_docs_are_read_only_when_a_schema_is_made():
    """Field docstrings are read from the source when a schema is made (``ftbench schema``),
    not when the model classes are: every ``ftbench build`` imports them and needs none."""
    from pydantic import BaseModel

    from ftbench.strict import STRICT, field_docs

    made = field_docs.cache_info().misses

    class Base(BaseModel):
        model_config = STRICT
        size: int = 0
        """How big."""

    class Child(Base):
        name: str = ""
        """What it is called,
        over two lines."""
        plain: int = 0

    # making the classes read no source (pydantic's use_attribute_docstrings would have)
    assert field_docs.cache_info().misses == made
    assert Child.model_fields["name"].description is None
    schema = Child.model_json_schema()
    assert field_docs.cache_info().misses > made
    props = schema["properties"]
    assert props["size"]["description"] == "How big."
    assert props["name"]["description"] == "What it is called,\nover two lines."
    assert "description" not in props["plain"]


def test_bundled_submissions_are_valid(tasks):
    from ftbench.submissions import discover

    root = Path(__file__).resolve().parents[1] / "submissions"
    loaded, issues = load_all(discover(root), tasks)
    assert [i for i in issues if i.severity == "error"] == []
    assert all(isinstance(s.spec, Submission) for s in loaded)
    assert yaml  # the bundled folders are YAML, read by the same loader


def test_per_task_training_data_replaces_the_submission_wide_list(make_submission, tasks):
    spec = valid_spec()
    spec["fine_tuning"]["training_data"] = [{"dataset": "rotten_tomatoes", "split": "train"}]
    spec["tasks"] = {"sst2": {"training_data": [{"dataset": "sst2", "split": "train"}]}}
    sub = load_submission(make_submission(spec), tasks)
    assert sub.warnings == ()
    spec["tasks"] = {"sst2": {"training_data": [{"dataset": "sst2", "split": "test"}]}}
    assert "tasks.sst2.training_data.0: trains on sst2/test, the held-out split of task 'sst2'" in _issues(
        make_submission(spec), tasks
    )
