"""Contamination found in the data: normalising, exact and 13-gram matching, what a board checks,
tasks/overlaps.json, the task files' overlaps lists, validation warnings and the command.

The tiny splits below are counted by hand; the last tests reproduce the data README's figure
on the real data (1,431 of 1,821 SST-2 test sentences in Rotten Tomatoes train)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from conftest import DATA_DIR, ROOT
from ftbench.cli import main
from ftbench.config import load_config
from ftbench.contamination import (
    METHOD,
    FoundOverlap,
    TextSplit,
    checked_pairs,
    clean_indices,
    declared_overlaps,
    find_overlap,
    ngrams,
    normalise,
    prepare_held_out,
    read_split,
    training_index,
    training_splits,
    unchecked_splits,
    words,
)
from ftbench.errors import FtbenchError, InvalidInput
from ftbench.overlaps import (
    OVERLAPS_FILE,
    check_contamination,
    measure_board,
    merged_overlaps,
    overlaps_json,
    read_overlaps,
    with_overlaps,
)
from ftbench.submissions import load_submissions
from ftbench.tasks import Overlap, Task, load_task_file, load_tasks
from ftbench.testing import submission_spec, write_submission_folder

THIRTEEN = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "while",
    "seven",
    "tired",
    "old",
    "sheep",
]
assert len(THIRTEEN) == 14  # a 13-gram (the first 13 words) plus one word

# idx, text; the comment says what the training split below holds for it
HELD_OUT = [
    (10, "The Cat sat on the MAT!"),  # exact: "the cat sat on the mat" (short: exact only)
    (11, "Yesterday, " + " ".join(THIRTEEN[:13]) + " and then it rained."),  # 13-gram inside another sentence
    (12, "Alpha " + " ".join(THIRTEEN[:12]) + " omega."),  # only a 12-gram is shared: clean
    (13, "great movie indeed"),  # short, shares words with "great movie" but is not it: clean
    (14, "🙂🙂"),  # normalises to nothing, like the training "🙂": clean
    (15, "Nothing like anything in training at all, not one word of it."),  # clean
    (16, "One, two, three: four five six seven eight nine ten eleven twelve thirteen fourteen."),  # exact and 13-gram
]
TRAINING = [
    "the cat sat on the mat",
    "Nobody knew that " + " ".join(THIRTEEN[:13]) + ", really.",
    "Beta " + " ".join(THIRTEEN[:12]) + " gamma delta.",
    "great movie",
    "🙂",
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen",
]
EXACT, NGRAM, EITHER = (10, 16), (11, 16), (10, 11, 16)


def _split(dataset: str, split: str, texts: list[str], idx: list[int] | None = None) -> TextSplit:
    return TextSplit(dataset, split, tuple(idx if idx is not None else range(len(texts))), tuple(texts))


def test_normalise_matches_an_independent_definition():
    texts = ["It's a  Charming,\tjourney!", "crème brûlée — 9 ½ weeks", "ＦＵＬＬ width", "under_score", "Ünïcödé ß"]
    for text in texts:
        independent = "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())
        assert normalise(text) == independent
        assert "".join(words(text)) == normalise(text)
    assert words("it's") == words("it 's") == ("it", "s")  # PTB-tokenised and raw text agree


def test_only_windows_of_thirteen_words_count():
    assert len(ngrams(THIRTEEN)) == 2  # 14 words: two windows
    assert ngrams(THIRTEEN[:12]) == frozenset()
    assert ngrams(["unk"] * 20) == frozenset()  # one repeated word says nothing


def test_hand_counted_overlap():
    held = _split("toy", "test", [t for _, t in HELD_OUT], [i for i, _ in HELD_OUT])
    found = find_overlap("toy", prepare_held_out(held), training_index(_split("toy", "train", TRAINING)))
    assert (found.exact, found.ngram, found.either, found.held_out) == (len(EXACT), len(NGRAM), len(EITHER), 7)
    assert found.idx == EITHER
    assert found.fraction == pytest.approx(3 / 7)
    assert found.method == METHOD


def test_what_a_board_checks():
    tasks = [
        SimpleNamespace(name="a", dataset="a", split="test", train_split="train", prompt=None),
        SimpleNamespace(name="b", dataset="b", split="test", train_split=None, prompt=None),
    ]
    splits = training_splits(tasks, {("c", "train"), ("b", "test")})  # type: ignore[arg-type]
    assert splits == (("a", "train"), ("b", "test"), ("c", "train"))
    pairs = checked_pairs(tasks, splits)  # type: ignore[arg-type]
    assert ("b", ("b", "test")) not in pairs  # its own held-out split
    assert ("a", ("b", "test")) in pairs and len(pairs) == 5


def test_board_api_for_one_submission():
    sst = FoundOverlap("sst2", "rt", "train", 6, 2, 1, 3, METHOD, (1, 2, 4))
    own = FoundOverlap("sst2", "sst2", "train", 6, 1, 0, 1, METHOD, (5,))
    zero = FoundOverlap("sst2", "trec", "train", 6, 0, 0, 0, METHOD, ())
    found = {"sst2": (sst, own, zero)}
    refs = [SimpleNamespace(dataset=d, split=s) for d, s in [("trec", "train"), ("rt", "train"), ("hub/x", "train")]]
    assert declared_overlaps(refs, "sst2", found) == (sst,)
    assert declared_overlaps(refs, "other", found) == ()
    assert unchecked_splits(refs, "sst2", found) == (("hub/x", "train"),)
    assert clean_indices([0, 1, 2, 3, 4, 5], [sst, own]) == (0, 3)


# A board in tmp_path: one task "toy" (held-out test, train), a split "other/train" a submission
# declares, a WikiText-style "corpus/train.txt", and a Hub dataset not in the data directory.


def _jsonl(texts, idx=None) -> bytes:
    idx = idx if idx is not None else list(range(len(texts)))
    rows = ({"idx": i, "text": t, "label": n % 2} for n, (i, t) in enumerate(zip(idx, texts, strict=True)))
    return "".join(json.dumps(row) + "\n" for row in rows)


TASK_YAML = """# Task definition: a toy (comments survive --write-tasks).
name: toy
title: Toy
dataset: toy
data_file: test.jsonl
data_sha256: {sha}
num_examples: 7
labels: [neg, pos]  # flow style kept
train_split: train
overlaps:
- dataset: other
  split: train
  note: declared by hand
prompt:
  template: "{{text}} ?"
  choices: [neg, pos]
"""


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    held = _jsonl([t for _, t in HELD_OUT], [i for i, _ in HELD_OUT])
    files = {
        "toy/test.jsonl": held,
        "toy/train.jsonl": _jsonl(TRAINING),
        "other/train.jsonl": _jsonl(["the cat sat on the mat.", "Zeta " + " ".join(THIRTEEN[:12]) + " eta?"]),
        "corpus/train.txt": " = Title = \n\n Then " + " ".join(THIRTEEN) + " and more \n",
    }
    for name, content in files.items():
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text(content, encoding="utf-8")
    (tmp_path / "tasks").mkdir()
    sha = hashlib.sha256(held.encode()).hexdigest()
    (tmp_path / "tasks" / "toy.yaml").write_text(TASK_YAML.format(sha=sha))
    (tmp_path / "pyproject.toml").write_text('[tool.ftbench]\ndata_dir = "data"\n')
    # the last one points outside the data directory: it is never read
    training = [{"dataset": d, "split": "train"} for d in ("toy", "other", "corpus", "someone/hub-set", "../data/toy")]
    spec = submission_spec("toy-model", ["toy"])
    spec["fine_tuning"]["training_data"] = training
    write_submission_folder(tmp_path, spec)
    return tmp_path


def _measured(root: Path):
    config = load_config(root)
    return measure_board(config, load_submissions(config))


def test_a_board_checks_every_named_split(toy):
    board = _measured(toy)
    by_split = {(o.dataset, o.split): o for o in board.found}
    assert set(by_split) == {("toy", "train"), ("other", "train"), ("corpus", "train")}
    assert by_split["toy", "train"].idx == EITHER
    assert (by_split["other", "train"].exact, by_split["other", "train"].either) == (1, 1)  # the cat; not the 12-gram
    assert by_split["corpus", "train"].idx == (11,)  # its line holds the 13-gram
    assert board.unchecked == (("../data/toy", "train"), ("someone/hub-set", "train"))


def test_overlaps_file_round_trips_and_is_stable(toy):
    board = _measured(toy)
    path = toy / "tasks" / OVERLAPS_FILE
    path.write_text(overlaps_json(board))
    assert overlaps_json(_measured(toy)) == path.read_text()  # same data, same bytes
    read = read_overlaps(path)
    assert {(o.dataset, o.split): o for o in read["toy"]} == {(o.dataset, o.split): o for o in board.found}
    raw = json.loads(path.read_text())
    assert [e.get("idx") for e in raw["tasks"]["toy"]["checked"]] == [[11], [10], list(EITHER)]


@pytest.mark.parametrize(
    ("forge", "field"),
    [
        (lambda e: e.update(either=99, idx=list(range(99))), "tasks.toy.checked.2"),  # more than the split holds
        (lambda e: e.update(idx=[10]), "tasks.toy.checked.2"),  # ids do not match the count
        (lambda e: e.update(exact="3"), "tasks.toy.checked.2"),
    ],
)
def test_a_forged_overlaps_file_is_refused(toy, forge, field):
    path = toy / "tasks" / OVERLAPS_FILE
    raw = json.loads(overlaps_json(_measured(toy)))
    forge(raw["tasks"]["toy"]["checked"][2])
    path.write_text(json.dumps(raw))
    with pytest.raises(InvalidInput) as caught:
        read_overlaps(path)
    assert str(caught.value) == f"{path}:{field}: malformed entry"
    assert read_overlaps(toy / "nothing.json") == {}
    path.write_text("[" * 100_000)
    with pytest.raises(InvalidInput, match="cannot be read"):
        read_overlaps(path)


def test_write_tasks_keeps_the_file_and_the_definition_hash(toy):
    path = toy / "tasks" / "toy.yaml"
    before = load_task_file(path)
    text = path.read_text()
    config = load_config(toy)
    run = check_contamination(config, load_submissions(config), write=True, write_tasks=True)
    assert set(run.written) == {path, toy / "tasks" / OVERLAPS_FILE}
    after = load_task_file(path)
    assert after.definition_sha256 == before.definition_sha256
    new = path.read_text()
    assert new.startswith(text.split("overlaps:")[0])  # comments and flow style untouched
    assert new.endswith(text.split("note: declared by hand\n")[1])
    assert [(o.dataset, o.note, o.examples) for o in after.overlaps] == [
        ("other", "declared by hand", 1),
        ("corpus", "", 1),
        ("toy", "", 3),
    ]
    assert after.overlaps[2].fraction == round(3 / 7, 4)
    again = check_contamination(config, load_submissions(config), write=True, write_tasks=True)
    assert again.written == ()  # idempotent


def test_overlaps_block_is_added_before_the_prompt_and_removed_when_empty():
    text = "name: t\n# a comment\nhub:\n  dataset: x\nprompt:\n  template: '{text}'\n"
    entry = Overlap(dataset="d", split="train", examples=2, fraction=0.5, method=METHOD)
    added = with_overlaps(text, [entry])
    assert added == text.replace(
        "prompt:",
        f"overlaps:\n- dataset: d\n  split: train\n  examples: 2\n  fraction: 0.5\n  method: {METHOD}\nprompt:",
    )
    assert with_overlaps(added, []) == text


def test_remeasuring_replaces_measured_entries_and_keeps_hand_ones(toy):
    task = load_task_file(toy / "tasks" / "toy.yaml")
    zero = FoundOverlap("toy", "other", "train", 7, 0, 0, 0, METHOD, ())
    assert merged_overlaps(task, [zero]) == (
        Overlap(dataset="other", split="train", note="declared by hand", examples=0, fraction=0.0, method=METHOD),
    )
    assert merged_overlaps(task, []) == task.overlaps  # not measured: as it was


def test_an_overlap_needs_a_note_or_a_measurement():
    with pytest.raises(ValueError, match="needs a note or measured examples"):
        Overlap(dataset="d", split="train")


def test_measured_overlaps_do_not_enter_the_definition_hash(tasks):
    recorded = json.loads((ROOT / "results" / "minilm-ia3" / "sst2.json").read_text())
    assert tasks["sst2"].definition_sha256 == recorded["task"]["definition_sha256"]
    assert any(o.examples for o in tasks["sst2"].overlaps)  # measured figures are in the file
    changed = Task.model_validate({**tasks["sst2"].model_dump(), "overlaps": ()})
    assert changed.definition_sha256 != tasks["sst2"].definition_sha256  # the hand note still counts


def test_validation_warns_with_the_measured_size(toy):
    config = load_config(toy)
    (toy / "tasks" / OVERLAPS_FILE).write_text(overlaps_json(measure_board(config, load_submissions(config))))
    warnings = {i.field: i.message for i in load_submissions(config).issues}
    assert warnings["fine_tuning.training_data.1"] == (
        "other/train overlaps the held-out split of task 'toy': 1 of its 7 examples (14.3%) found in it, "
        "1 exactly (declared by hand)"
    )
    assert warnings["fine_tuning.training_data.2"].endswith("1 of its 7 examples (14.3%) found in it, 0 exactly")
    assert "fine_tuning.training_data.0" not in warnings  # the task's own train split


def test_command_prints_the_table_and_writes(toy):
    result = CliRunner().invoke(main, ["--root", str(toy), "contamination", "--write"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^toy +toy/train +2 +2 +3 +42\.9%$", result.stdout, re.MULTILINE)
    assert "not checked (not in the data directory): someone/hub-set/train" in result.stdout
    assert (toy / "tasks" / OVERLAPS_FILE).is_file()


def test_unreadable_data_is_a_clean_error(toy):
    bad = toy / "data" / "other" / "train.jsonl"
    bad.write_text('{"idx": 0, "text": "fine"}\nnot json\n{"idx": 2}\n')
    result = CliRunner().invoke(main, ["--root", str(toy), "contamination"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].endswith("data/other/train.jsonl:line 2: not JSON (Expecting value: line 1 column 1 (char 0))")
    assert lines[1].endswith("data/other/train.jsonl:line 3: needs a string 'text' and an integer 'idx'")
    with pytest.raises(InvalidInput, match=r"toy/validation.jsonl:-: cannot be read \(\[Errno 2\]"):
        read_split(toy / "data", "toy", "validation")


def test_a_task_file_that_cannot_be_rewritten_is_refused(toy):
    path = toy / "tasks" / "toy.yaml"
    path.write_text(path.read_text().replace("overlaps:\n", "overlaps:\n\n"))  # a blank line inside the block
    config = load_config(toy)
    with pytest.raises(FtbenchError, match=r"toy.yaml:overlaps: cannot be rewritten"):
        check_contamination(config, load_submissions(config), write_tasks=True)


def test_the_command_does_not_import_torch():
    code = (
        "import sys\nfrom ftbench.cli import main\n"
        "try:\n    main(['contamination'])\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', [m for m in ('torch', 'transformers', 'peft') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


# The real data (the data directory the whole suite reads, see conftest).


def test_the_readme_figure_is_reproduced():
    sst2 = read_split(DATA_DIR, "sst2", "test")
    found = find_overlap(
        "sst2", prepare_held_out(sst2), training_index(read_split(DATA_DIR, "rotten_tomatoes", "train"))
    )
    assert (found.exact, found.held_out) == (1431, 1821)


def test_the_committed_overlaps_file_is_current(tasks):
    config = load_config(ROOT).with_overrides(data_dir=DATA_DIR)
    board = measure_board(config, load_submissions(config))
    committed = (ROOT / "tasks" / OVERLAPS_FILE).read_text(encoding="utf-8")
    assert overlaps_json(board) == committed, "stale: run `ftbench contamination --write --write-tasks`"
    assert board.seconds < 60
    assert load_tasks(ROOT / "tasks")["sst2"].definition_sha256 == tasks["sst2"].definition_sha256


def test_every_measured_overlap_is_in_the_task_files(tasks):
    found = read_overlaps(ROOT / "tasks" / OVERLAPS_FILE)
    for name, overlaps in found.items():
        listed = {(o.dataset, o.split): o.examples for o in tasks[name].overlaps}
        assert {(o.dataset, o.split): o.either for o in overlaps if o.either}.items() <= listed.items()
