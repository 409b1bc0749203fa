"""The board's measured overlaps: measuring them from the data directory, ``tasks/overlaps.json``
that records them, and the ``overlaps:`` lists of the task files they update.

``tasks/overlaps.json`` is generated (``ftbench contamination --write``) and committed: sorted
keys, sorted entries, no dates, so the same data gives the same bytes. For every task it lists
every training split checked against its held-out split, with the counts of
:class:`ftbench.contamination.FoundOverlap`, and the ids of the overlapping held-out examples
where there are any. The sha256 of every file read says which data it was measured on.
:func:`read_overlaps` is what the board and validation read (JSON only, no data).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ftbench.config import BoardConfig
from ftbench.contamination import (
    METHOD,
    NGRAM,
    FoundOverlap,
    HeldOut,
    Split,
    TextSplit,
    TrainingIndex,
    checked_pairs,
    declared_splits,
    find_overlap,
    prepare_held_out,
    read_split,
    training_index,
    training_splits,
)
from ftbench.errors import FtbenchError, InvalidInput, Issue, display_path
from ftbench.files import write_atomic
from ftbench.tasks import Overlap, Task, load_examples, load_task_file, task_data_issues

if TYPE_CHECKING:  # submissions read the file this module writes
    from ftbench.submissions import SubmissionSet

OVERLAPS_FILE = "overlaps.json"
"""The file in the tasks folder."""
FORMAT = 1
"""Version of its layout."""


@dataclass(frozen=True)
class HeldOutFile:
    """Which held-out data a task was checked on."""

    dataset: str
    """Dataset."""
    split: str
    """Held-out split."""
    examples: int
    """Examples in it."""
    sha256: str
    """sha256 of its file (the task's ``data_sha256``)."""


@dataclass(frozen=True)
class BoardOverlaps:
    """Every (task, training split) pair of a board, checked."""

    found: tuple[FoundOverlap, ...]
    """One per pair, sorted by task, dataset and split (zeros included)."""
    held_out: Mapping[str, HeldOutFile]
    """Task name -> its held-out data."""
    training: Mapping[Split, str]
    """Each training split checked -> sha256 of its file."""
    unchecked: tuple[Split, ...] = ()
    """Training splits named on the board whose dataset is not in the data directory."""
    seconds: float = 0.0
    """How long measuring took (not written to the file)."""


def measure_board(config: BoardConfig, board: SubmissionSet) -> BoardOverlaps:
    """Check every task's held-out split against every training split named on the board
    (``board``: ``load_submissions(config)``): the tasks' train splits and every split a valid
    submission declares. Raises InvalidInput with every file that cannot be read."""
    started = time.perf_counter()
    tasks = list(board.tasks.values())
    splits = training_splits(tasks, declared_splits(s.spec for s in board.submissions))
    present = [s for s in splits if _in_data_dir(config.data_dir, *s)]
    examples, index = _read_all(config, tasks, present)
    found = tuple(find_overlap(name, examples[name], index[s]) for name, s in checked_pairs(tasks, present))
    return BoardOverlaps(
        found=tuple(sorted(found, key=lambda o: (o.task, o.dataset, o.split))),
        held_out={t.name: HeldOutFile(t.dataset, t.split, t.num_examples, t.data_sha256) for t in tasks},
        training={s: i.sha256 for s, i in index.items()},
        unchecked=tuple(s for s in splits if s not in present),
        seconds=time.perf_counter() - started,
    )


def _in_data_dir(data_dir: Path, dataset: str, split: str) -> bool:
    """Whether the data directory has the dataset; names from a submission are untrusted, so
    only plain folder and file names are looked up (a Hub id ``org/name`` is not there)."""
    plain = all(n not in ("", ".", "..") and "/" not in n and "\\" not in n for n in (dataset, split))
    return plain and (data_dir / dataset).is_dir()


def _read_all(
    config: BoardConfig, tasks: Sequence[Task], splits: Sequence[Split]
) -> tuple[dict[str, HeldOut], dict[Split, TrainingIndex]]:
    """Every task's held-out split and every training split, read once; InvalidInput with
    every file that cannot be read."""
    issues: list[Issue] = []
    examples, index = {}, {}
    text_field = {t.dataset: t.text_field for t in tasks}
    for task in tasks:
        try:
            examples[task.name] = prepare_held_out(_read_held_out(task, config))
        except InvalidInput as exc:
            issues += exc.issues
    for dataset, split in splits:
        try:
            index[dataset, split] = training_index(
                read_split(config.data_dir, dataset, split, text_field.get(dataset, "text"))
            )
        except InvalidInput as exc:
            issues += exc.issues
    if issues:
        raise InvalidInput(issues)
    return examples, index


def _read_held_out(task: Task, config: BoardConfig) -> TextSplit:
    """A task's held-out examples as scored (checked against its ``data_sha256``)."""
    try:
        examples = load_examples(task, config.data_dir)
    except (FtbenchError, OSError, ValueError) as exc:
        shown = display_path(config.tasks_dir / f"{task.name}.yaml")
        raise InvalidInput(
            task_data_issues(task, config.data_dir, shown) or [Issue(shown, "data_file", str(exc))]
        ) from None
    return TextSplit(task.dataset, task.split, examples.idx, examples.texts, task.data_sha256)


def overlaps_document(board: BoardOverlaps) -> dict[str, Any]:
    """The content of ``tasks/overlaps.json`` (pure)."""
    tasks: dict[str, Any] = {}
    for name, held in sorted(board.held_out.items()):
        checked = [_entry(o, board.training[o.dataset, o.split]) for o in board.found if o.task == name]
        tasks[name] = {**asdict(held), "checked": checked}
    unchecked = [{"dataset": d, "split": s} for d, s in board.unchecked]
    return {"format": FORMAT, "method": METHOD, "ngram": NGRAM, "tasks": tasks, "unchecked": unchecked}


def _entry(o: FoundOverlap, sha256: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"dataset": o.dataset, "split": o.split, "sha256": sha256, "method": o.method}
    entry |= {"exact": o.exact, "ngram": o.ngram, "either": o.either, "fraction": round(o.fraction, 6)}
    return entry | ({"idx": list(o.idx)} if o.idx else {})


def overlaps_json(board: BoardOverlaps) -> str:
    """``tasks/overlaps.json`` as text: sorted keys, two-space indent, a final newline."""
    return json.dumps(overlaps_document(board), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def read_overlaps(path: Path) -> dict[str, tuple[FoundOverlap, ...]]:
    """Task name -> the overlaps measured for it (:data:`ftbench.contamination.FoundOverlaps`);
    empty when the file does not exist. Raises InvalidInput for a file that is not the format."""
    if not path.is_file():
        return {}
    shown = display_path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nesting too deep to parse
        raise InvalidInput([Issue(shown, "-", f"cannot be read ({exc})")]) from None
    return parse_overlaps(raw, shown)


def parse_overlaps(raw: object, shown: str) -> dict[str, tuple[FoundOverlap, ...]]:
    """The content of ``tasks/overlaps.json``, checked (pure)."""
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or not isinstance(raw.get("tasks"), dict):
        raise InvalidInput([Issue(shown, "format", f"not an overlaps file of format {FORMAT}")])
    out, issues = {}, []
    for name, task in sorted(raw["tasks"].items()):
        entries = task.get("checked") if isinstance(task, dict) else None
        size = task.get("examples") if isinstance(task, dict) else None
        if not isinstance(entries, list) or not isinstance(size, int) or not _count(size):
            issues.append(Issue(shown, f"tasks.{name}", "needs 'examples' and a 'checked' list"))
            continue
        parsed = [_found(name, size, e) for e in entries]
        issues += [
            Issue(shown, f"tasks.{name}.checked.{i}", "malformed entry") for i, o in enumerate(parsed) if o is None
        ]
        out[name] = tuple(o for o in parsed if o is not None)
    if issues:
        raise InvalidInput(issues)
    return out


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _found(task: str, size: int, e: object) -> FoundOverlap | None:
    """One entry of a task's ``checked`` list, or None when its fields or counts do not add up."""
    if not isinstance(e, dict) or not all(isinstance(e.get(k), str) for k in ("dataset", "split", "method")):
        return None
    exact, ngram, either, idx = e.get("exact"), e.get("ngram"), e.get("either"), e.get("idx", [])
    if not (isinstance(exact, int) and isinstance(ngram, int) and isinstance(either, int) and isinstance(idx, list)):
        return None
    if not all(_count(c) for c in (exact, ngram, either, *idx)):
        return None
    if len(set(idx)) != either or max(exact, ngram) > either or either > size:
        return None
    return FoundOverlap(task, e["dataset"], e["split"], size, exact, ngram, either, e["method"], tuple(sorted(idx)))


def write_overlaps(path: Path, board: BoardOverlaps) -> bool:
    """Write ``tasks/overlaps.json``; True when its content changed."""
    text = overlaps_json(board)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    write_atomic(path, text)
    return True


def overlap_lines(board: BoardOverlaps) -> list[str]:
    """``ftbench contamination``: a header and one aligned line per checked pair, then what was not checked."""
    lines = [f"{'task':20} {'training split':30} {'exact':>6} {'13-gram':>7} {'either':>6} {'fraction':>8}"]
    for o in board.found:
        share = f"{o.fraction:.1%}" if o.either else "-"
        where = f"{o.dataset}/{o.split}"
        lines.append(f"{o.task:20} {where:30} {o.exact:>6} {o.ngram:>7} {o.either:>6} {share:>8}")
    lines += [f"not checked (not in the data directory): {d}/{s}" for d, s in board.unchecked]
    return lines


# The task files' ``overlaps:`` lists (``--write-tasks``).


def merged_overlaps(task: Task, measured: Sequence[FoundOverlap]) -> tuple[Overlap, ...]:
    """A task's ``overlaps`` after measuring: every hand-declared entry kept, with the figures
    measured for its split (zero when nothing was found; unchanged when the split was not
    checked), then one entry per other split found to overlap, sorted. Entries that were only
    measured before are replaced by what was measured now."""
    by_split = {(o.dataset, o.split): o for o in measured}
    kept = [e for e in task.overlaps if e.note]
    out = [e if (e.dataset, e.split) not in by_split else _measured(by_split[e.dataset, e.split], e.note) for e in kept]
    hand = {(e.dataset, e.split) for e in kept}
    out += [_measured(o) for s, o in sorted(by_split.items()) if o.either and s not in hand]
    return tuple(out)


def _measured(found: FoundOverlap, note: str = "") -> Overlap:
    return Overlap(
        dataset=found.dataset,
        split=found.split,
        note=note,
        examples=found.either,
        fraction=round(found.fraction, 4),
        method=found.method,
    )


_LATER_KEYS = tuple(f"{k}:" for k in list(Task.model_fields)[list(Task.model_fields).index("overlaps") + 1 :])


def with_overlaps(text: str, overlaps: Sequence[Overlap]) -> str:
    """A task file's text with its top-level ``overlaps:`` block replaced (pure): inserted before
    the keys that follow it in :class:`Task` when absent, removed when ``overlaps`` is empty.
    Every other line, comments included, is kept as it is."""
    lines = (text if text.endswith("\n") or not text else text + "\n").splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("overlaps:")), None)
    if start is None:
        start = end = next((i for i, line in enumerate(lines) if line.startswith(_LATER_KEYS)), len(lines))
    else:
        end = start + 1
        while end < len(lines) and lines[end][:1] in (" ", "-"):
            end += 1
    entries = [o.model_dump(exclude_defaults=True) for o in overlaps]
    block = yaml.safe_dump({"overlaps": entries}, sort_keys=False, allow_unicode=True, width=100) if entries else ""
    return "".join(lines[:start]) + block + "".join(lines[end:])


def task_file_with_overlaps(text: str, task: Task, measured: Sequence[FoundOverlap], shown: str) -> str:
    """:func:`with_overlaps` of :func:`merged_overlaps`, refused (FtbenchError) unless the new
    file is the same task with only its overlaps changed and the same ``definition_sha256``."""
    overlaps = merged_overlaps(task, measured)
    new = with_overlaps(text, overlaps)
    try:
        before, after = yaml.safe_load(text), yaml.safe_load(new)
        rewritten = Task.model_validate(after)
    except (yaml.YAMLError, ValueError) as exc:
        raise FtbenchError(f"{shown}:overlaps: cannot be rewritten ({exc}); edit it by hand") from None
    before.pop("overlaps", None)
    after.pop("overlaps", None)
    if before != after or rewritten.overlaps != overlaps or rewritten.definition_sha256 != task.definition_sha256:
        raise FtbenchError(f"{shown}:overlaps: cannot be rewritten without changing the task; edit it by hand")
    return new


def write_task_overlaps(tasks_dir: Path, board: BoardOverlaps) -> list[Path]:
    """Update the ``overlaps:`` list of every task file measured; the files that changed."""
    changed = []
    for name in sorted(board.held_out):
        path = tasks_dir / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        measured = [o for o in board.found if o.task == name]
        new = task_file_with_overlaps(text, load_task_file(path), measured, display_path(path))
        if new != text:
            write_atomic(path, new)
            changed.append(path)
    return changed


@dataclass(frozen=True)
class ContaminationRun:
    """What ``ftbench contamination`` measured and wrote."""

    board: BoardOverlaps
    """Every pair checked."""
    written: tuple[Path, ...]
    """Files written (overlaps.json, task files), only those whose content changed."""


def check_contamination(
    config: BoardConfig, submissions: SubmissionSet, *, write: bool = False, write_tasks: bool = False
) -> ContaminationRun:
    """Measure the board's overlaps (:func:`measure_board`); with ``write``, record them in
    ``tasks/overlaps.json``; with ``write_tasks``, in the task files' ``overlaps:`` lists."""
    board = measure_board(config, submissions)
    written = []
    if write and write_overlaps(config.tasks_dir / OVERLAPS_FILE, board):
        written.append(config.tasks_dir / OVERLAPS_FILE)
    if write_tasks:
        written += write_task_overlaps(config.tasks_dir, board)
    return ContaminationRun(board, tuple(written))
