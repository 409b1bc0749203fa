"""Reading and checking submission folders. Everything in them is untrusted (it arrives by pull
request), so the checks here run before any file in the folder is opened by a model loader."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ftbench.config import BoardConfig
from ftbench.contamination import FoundOverlap, FoundOverlaps
from ftbench.errors import InvalidInput, Issue, display_path
from ftbench.overlaps import OVERLAPS_FILE, read_overlaps
from ftbench.registry import Registry
from ftbench.spec import Submission, WeightsRef, pydantic_issues
from ftbench.tasks import Overlap, Task, load_tasks, split_exists
from ftbench.untrusted import (
    MAX_CARD_BYTES,
    MAX_YAML_BYTES,
    card_problem,
    code_keys,
    parse_yaml,
    text_issues,
    unsafe_character,
)
from ftbench.weightfiles import adapter_problems, gguf_problems, model_problems

SPEC_FILE = "submission.yaml"
# Formats that can execute code when loaded (pickle and friends).
UNSAFE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz"}
CODE_SUFFIXES = {".py", ".pyc", ".so", ".sh", ".js"}
MAX_FOLDER_BYTES = 64 * 1024 * 1024
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
SYMLINK = "symbolic links are not allowed in a submission"
ADAPTER_METHODS = {"lora", "qlora", "dora", "ia3", "prefix", "prompt-tuning"}


@dataclass(frozen=True)
class LoadedSubmission:
    """A validated submission and the folder it came from."""

    spec: Submission
    """The parsed, frozen spec."""
    folder: Path
    """Its folder (absolute)."""
    warnings: tuple[Issue, ...] = ()
    """Problems that do not block it (contamination, mismatched adapter metadata)."""

    @property
    def model_card_path(self) -> Path:
        """The model card file."""
        return self.folder / self.spec.model_card


def discover(submissions_dir: Path) -> list[Path]:
    """Every submission folder (one holding submission.yaml), sorted by name."""
    if not submissions_dir.is_dir():
        return []
    return sorted(p.parent for p in submissions_dir.glob(f"*/{SPEC_FILE}"))


def load_submission(
    folder: Path, tasks: Registry[Task], data_dir: Path | None = None, found: FoundOverlaps | None = None
) -> LoadedSubmission:
    """Parse and check one submission folder; raises InvalidInput with every error found.
    ``data_dir``: where the datasets are, to check that the training splits named exist;
    ``found``: the board's measured overlaps (``tasks/overlaps.json``), warned about with their size."""
    folder = folder.resolve()
    spec_path = folder / SPEC_FILE
    shown = display_path(spec_path)
    if not spec_path.is_file():
        raise InvalidInput([Issue(display_path(folder), "-", f"no {SPEC_FILE} in this folder")])
    raw, issues = _read_yaml(spec_path, shown)
    if raw is None:
        raise InvalidInput(issues)
    issues += [
        Issue(shown, field, "remote code is never run on this board; remove this key") for field in code_keys(raw)
    ]
    issues += list(text_issues(raw, shown))
    issues += list(_folder_content_issues(folder))
    if any(i.message == SYMLINK for i in issues):  # nothing in the folder is opened through a link
        raise InvalidInput(issues)
    try:
        spec = Submission.model_validate(raw)
    except ValidationError as exc:
        names = raw.get("tasks") if isinstance(raw.get("tasks"), dict) else {}
        raise InvalidInput(issues + pydantic_issues(shown, exc) + _unknown_tasks(names, shown, tasks)) from None
    issues += _spec_issues(spec, folder, shown, tasks, found or {})
    if data_dir is not None:
        issues += _training_data_issues(spec, data_dir, shown)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise InvalidInput(issues)
    return LoadedSubmission(spec, folder, tuple(i for i in issues if i.severity != "error"))


def load_all(
    folders: Iterable[Path], tasks: Registry[Task], data_dir: Path | None = None, found: FoundOverlaps | None = None
) -> tuple[list[LoadedSubmission], list[Issue]]:
    """Load many folders, collecting every issue (duplicate ids across folders included)."""
    loaded: list[LoadedSubmission] = []
    issues: list[Issue] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        try:
            sub = load_submission(folder, tasks, data_dir, found)
        except InvalidInput as exc:
            issues.extend(exc.issues)
            continue
        issues.extend(sub.warnings)
        if sub.spec.id in seen:
            msg = f"duplicate id {sub.spec.id!r}, also used by {display_path(seen[sub.spec.id])}"
            issues.append(Issue(display_path(folder / SPEC_FILE), "id", msg))
            continue
        seen[sub.spec.id] = folder
        loaded.append(sub)
    return loaded, issues


@dataclass(frozen=True)
class SubmissionSet:
    """The board's tasks and the submissions read from some folders, with every issue found."""

    tasks: Registry[Task]
    """Every task of the board."""
    folders: tuple[Path, ...]
    """The folders read."""
    submissions: tuple[LoadedSubmission, ...]
    """The valid ones among them."""
    issues: tuple[Issue, ...]
    """Errors of the invalid ones and warnings of the valid ones."""

    @property
    def errors(self) -> tuple[Issue, ...]:
        """The issues that block a submission."""
        return tuple(i for i in self.issues if i.severity == "error")

    def require_valid(self) -> SubmissionSet:
        """This set, or InvalidInput with every issue when any submission is invalid."""
        if self.errors:
            raise InvalidInput(self.issues)
        return self


def load_submissions(config: BoardConfig, paths: Iterable[Path] = ()) -> SubmissionSet:
    """The board's tasks and its submissions: the folders in ``paths`` (a folder or its
    submission.yaml), else every folder under ``submissions/``. Every command that reads
    submissions starts here."""
    tasks = load_tasks(config.tasks_dir)
    folders = [p.parent if p.name == SPEC_FILE else p for p in paths] or discover(config.submissions_dir)
    try:
        found, unreadable = read_overlaps(config.tasks_dir / OVERLAPS_FILE), []
    except InvalidInput as exc:  # reported; `ftbench contamination --write` rewrites it
        found, unreadable = {}, list(exc.issues)
    loaded, issues = load_all(folders, tasks, config.data_dir, found)
    return SubmissionSet(tasks, tuple(folders), tuple(loaded), tuple(unreadable + issues))


def _read_yaml(path: Path, shown: str) -> tuple[Any, list[Issue]]:
    try:
        if path.stat().st_size > MAX_YAML_BYTES:  # refused unread
            return None, [
                Issue(shown, "-", f"larger than {MAX_YAML_BYTES // 1024} KiB; a submission is a page of settings")
            ]
        raw, issues = parse_yaml(path.read_text(encoding="utf-8"), shown)
    except UnicodeDecodeError as exc:
        return None, [Issue(shown, "-", f"not UTF-8 text: {exc}")]
    if issues:
        return None, issues
    if not isinstance(raw, dict):
        return None, [Issue(shown, "-", "must be a YAML mapping of keys to values")]
    return raw, []


def _folder_content_issues(folder: Path) -> list[Issue]:
    issues: list[Issue] = []
    total = 0
    for path in sorted(folder.rglob("*")):
        shown = display_path(path)
        bad = unsafe_character(path.relative_to(folder).as_posix(), single_line=True)
        if bad:  # shown escaped: a raw newline in a name could forge a line of a CI log
            issues.append(Issue(ascii(shown), "-", f"file name holds {bad}; rename it"))
            continue
        if path.is_symlink():
            issues.append(Issue(shown, "-", SYMLINK))
            continue
        if not path.is_file():
            continue
        total += path.stat().st_size
        suffix = path.suffix.lower()
        if suffix in UNSAFE_SUFFIXES:
            issues.append(
                Issue(
                    shown, "-", f"{suffix} files can run code when loaded (pickle); convert the weights to .safetensors"
                )
            )
        elif suffix in CODE_SUFFIXES:
            issues.append(
                Issue(
                    shown,
                    "-",
                    "code files are not allowed; models run through ftbench's own loaders, never submitted code",
                )
            )
        elif suffix == ".json":
            issues.extend(_json_config_issues(path, shown))
    if total > MAX_FOLDER_BYTES:
        issues.append(
            Issue(
                display_path(folder),
                "-",
                f"folder holds {total / 2**20:.1f} MiB, over the "
                f"{MAX_FOLDER_BYTES // 2**20} MiB limit; host large weights on the Hub "
                "and reference them with hub + revision",
            )
        )
    return issues


def _json_config_issues(path: Path, shown: str) -> list[Issue]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return [Issue(shown, "-", f"not valid JSON: {exc}")]
    return [Issue(shown, field, "points to remote code, which is never run; remove it") for field in code_keys(data)]


def _spec_issues(
    spec: Submission, folder: Path, shown: str, tasks: Registry[Task], found: FoundOverlaps
) -> list[Issue]:
    issues: list[Issue] = []
    if spec.id != folder.name:
        issues.append(Issue(shown, "id", f"must equal the folder name {folder.name!r}"))
    try:
        issues += _model_card_issues(spec, folder, shown)
    except (OSError, ValueError) as exc:
        issues.append(Issue(shown, "model_card", f"not a usable path ({exc})"))
    for field, ref, kind in _weight_refs(spec):
        try:
            issues += _path_issues(ref, kind, folder, shown, field)
        except (OSError, ValueError) as exc:  # a name too long for the file system, a null byte
            issues.append(Issue(shown, f"{field}.path", f"not a usable path ({exc})"))
    issues += _unknown_tasks(spec.tasks, shown, tasks)
    for name in spec.tasks:
        if name in tasks:
            issues += _contamination_issues(spec, tasks[name], shown, found.get(name, ()))
            issues += _kind_issues(spec, tasks[name], shown)
    uses_adapter = spec.model.adapter or any(e.adapter for e in spec.tasks.values())
    if spec.fine_tuning.method in ADAPTER_METHODS and not uses_adapter:
        issues.append(
            Issue(
                shown,
                "fine_tuning.method",
                f"{spec.fine_tuning.method} needs an adapter (model.adapter or tasks.<name>.adapter)",
            )
        )
    return issues


def _kind_issues(spec: Submission, task: Task, shown: str) -> list[Issue]:
    """A task the submission's kind of model cannot be scored on."""
    kind, field = spec.model.kind, f"tasks.{task.name}"
    if task.type == "perplexity" and kind != "causal-lm":
        return [Issue(shown, field, "a perplexity task scores language models: set model.kind: causal-lm")]
    if task.type == "classification" and kind == "causal-lm" and task.prompt is None:
        return [Issue(shown, field, "the task declares no prompt, so a causal LM cannot be scored on it")]
    settings = spec.prompting_for(task.name)
    if (
        kind == "causal-lm"
        and task.type == "classification"
        and settings.num_fewshot
        and not (task.prompt and (task.prompt.fewshot_split or task.train_split))
    ):
        return [
            Issue(shown, f"{field}.prompting.num_fewshot", "the task has no train split to draw demonstrations from")
        ]
    return []


def _unknown_tasks(names: Iterable[str], shown: str, tasks: Registry[Task]) -> list[Issue]:
    known = ", ".join(tasks.names())
    return [Issue(shown, f"tasks.{n}", f"unknown task (known: {known})") for n in names if n not in tasks]


def _model_card_issues(spec: Submission, folder: Path, shown: str) -> list[Issue]:
    card = (folder / spec.model_card).resolve()
    if not card.is_relative_to(folder):
        return [Issue(shown, "model_card", "path leaves the submission folder")]
    if not card.is_file():
        return [Issue(shown, "model_card", f"file {spec.model_card!r} not found in the folder")]
    if card.suffix.lower() != ".md":
        return [Issue(shown, "model_card", "must be a markdown (.md) file")]
    if card.stat().st_size > 4 * MAX_CARD_BYTES:  # refused unread
        return [Issue(display_path(card), "-", f"model card larger than {MAX_CARD_BYTES // 1024} KiB")]
    text = card.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        return [Issue(shown, "model_card", "model card is empty")]
    problem = card_problem(text)
    return [Issue(display_path(card), "-", f"model card {problem}; it could not be rendered safely")] if problem else []


def _weight_refs(spec: Submission) -> Iterator[tuple[str, WeightsRef, str]]:
    yield "model.base", spec.model.base, "base"
    if spec.model.adapter:
        yield "model.adapter", spec.model.adapter, "adapter"
    for name, entry in spec.tasks.items():
        if entry.base:
            yield f"tasks.{name}.base", entry.base, "base"
        if entry.adapter:
            yield f"tasks.{name}.adapter", entry.adapter, "adapter"


def _path_issues(ref: WeightsRef, kind: str, folder: Path, shown: str, field: str) -> list[Issue]:
    if ref.path is None:
        return []
    where = f"{field}.path"
    target = (folder / ref.path).resolve()
    if ref.path.startswith(("/", "~")) or not target.is_relative_to(folder) or target == folder:
        return [
            Issue(
                shown, where, f"{ref.path!r} leaves the submission folder; give a sub-folder of it (or hub + revision)"
            )
        ]
    if not target.is_dir():
        return [Issue(shown, where, f"folder {ref.path!r} not found in the submission")]
    if kind == "adapter":
        missing = [f for f in ADAPTER_FILES if not (target / f).is_file()]
        if missing:
            return [Issue(shown, where, f"adapter folder lacks {', '.join(missing)}")]
        return _weight_file_issues(target, adapter_problems(target))
    if ref.gguf_file is not None:
        gguf = target / ref.gguf_file
        if not gguf.is_file():
            return [Issue(shown, f"{field}.gguf_file", f"{ref.gguf_file!r} not found in {ref.path!r}")]
        return [Issue(display_path(gguf), where, message) for where, message in gguf_problems(gguf)]
    problems = []
    if not (target / "config.json").is_file():
        problems.append(Issue(shown, where, "model folder lacks config.json"))
    if not any(target.glob("*.safetensors")):
        problems.append(Issue(shown, where, "model folder has no .safetensors weights"))
    return problems or _weight_file_issues(target, model_problems(target))


def _weight_file_issues(folder: Path, problems: list[tuple[str, str]]) -> list[Issue]:
    """``(file[:field], message)`` pairs of ``ftbench.weightfiles`` as issues on those files."""
    out = []
    for where, message in problems:
        name, _, field = where.partition(":")
        severity = "warning" if field == "warning" else "error"
        out.append(Issue(display_path(folder / name), "-" if field in ("", "warning") else field, message, severity))
    return out


def _training_data_issues(spec: Submission, data_dir: Path, shown: str) -> list[Issue]:
    """A training split the data directory's ``meta.json`` does not list is an error (a typo,
    or a split that would hide contamination); datasets it does not know are not checked."""
    named = [("fine_tuning.training_data", spec.fine_tuning.training_data)]
    named += [(f"tasks.{n}.training_data", e.training_data) for n, e in spec.tasks.items() if e.training_data]
    issues = []
    for prefix, refs in named:
        for i, ref in enumerate(refs):
            if split_exists(data_dir, ref.dataset, ref.split) is False:
                issues.append(
                    Issue(shown, f"{prefix}.{i}.split", f"dataset {ref.dataset!r} has no split {ref.split!r}")
                )
    return issues


def _contamination_issues(
    spec: Submission, task: Task, shown: str, measured: Sequence[FoundOverlap] = ()
) -> list[Issue]:
    """Training on the held-out split is an error; training on a split that overlaps it, as
    measured (``tasks/overlaps.json``) or declared in the task file, is a warning. The duplicates
    a task's own ``train_split`` shares with its held-out split are not warned about: the task
    offers that split for training, so every submission has them (the board shows them)."""
    issues = []
    own = spec.tasks[task.name].training_data is not None
    prefix = f"tasks.{task.name}.training_data" if own else "fine_tuning.training_data"
    offered = (task.dataset, task.train_split)
    by_split = {(o.dataset, o.split): o for o in measured if o.either and (o.dataset, o.split) != offered}
    declared = {(o.dataset, o.split): o for o in task.overlaps if o.note or (o.dataset, o.split) != offered}
    for i, data in enumerate(spec.training_data_for(task.name)):
        field, where = f"{prefix}.{i}", (data.dataset, data.split)
        if where == (task.dataset, task.split):
            issues.append(
                Issue(shown, field, f"trains on {task.dataset}/{task.split}, the held-out split of task {task.name!r}")
            )
        elif where in by_split or where in declared:
            detail = _overlap_detail(by_split.get(where), declared.get(where))
            message = f"{data.dataset}/{data.split} overlaps the held-out split of task {task.name!r}: {detail}"
            issues.append(Issue(shown, field, message, severity="warning"))
    return issues


def _overlap_detail(found: FoundOverlap | None, declared: Overlap | None) -> str:
    """How large an overlap is: as measured, else as the task file says; with its hand note."""
    note = declared.note if declared is not None else ""
    if found is not None:
        share = f"{found.either} of its {found.held_out} examples ({found.fraction:.1%})"
        size = f"{share} found in it, {found.exact} exactly"
    elif declared is not None and declared.examples is not None:
        size = f"{declared.examples} examples ({(declared.fraction or 0.0):.1%}) found in it"
    else:
        return note
    return f"{size} ({note})" if note else size
