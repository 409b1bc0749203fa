"""Contamination found, not just declared: which held-out examples also occur in a training split.

An example of a task's held-out split counts as found in a training split when either test
finds it (:func:`find_overlap`):

- **exact**: its text, normalised (:func:`normalise`: NFKC, lower-case, only letters, marks and
  digits kept), equals the normalised text of a training example. This is how the data README
  measured SST-2 against Rotten Tomatoes (1,431 of 1,821 SST-2 test sentences).
- **13-gram**: one of its 13-word windows (:func:`ngrams` over :func:`words`) occurs in a
  training example, as in lm-evaluation-harness's decontamination. A text shorter than 13 words
  has no 13-gram: only the exact test covers it. Windows of one repeated word (WikiText's runs
  of ``<unk>``) say nothing about where a text came from and are left out.

:func:`words` splits at every character :func:`normalise` drops, where lm-evaluation-harness
deletes punctuation: SST-2 is PTB-tokenised (``it 's``) and Rotten Tomatoes is not (``it's``);
both give the words ``it s`` here. An empty normalised text (a tweet of emoji only) matches
nothing.

A WikiText-style ``.txt`` split is matched line by line (each non-empty line one text, its
line number the idx); a perplexity task's held-out examples are its documents, as scored.

Everything here is pure except :func:`read_split`, the one function that reads a file.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ftbench.errors import InvalidInput, Issue, display_path
from ftbench.files import file_sha256

if TYPE_CHECKING:
    from ftbench.spec import Submission
    from ftbench.tasks import Task

NGRAM = 13
"""Words per window of the n-gram test (lm-evaluation-harness's decontamination uses 13)."""
METHOD = "exact (normalised) or 13-gram, ftbench contamination v1"
"""Names the tests of this module; changes whenever what they count changes."""

_ASCII_DROP = {c: None for c in range(128) if not chr(c).isalnum()}
_ASCII_SPACE = {c: " " for c in _ASCII_DROP}

Split = tuple[str, str]
"""A dataset split as ``(dataset, split)``."""


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _kept(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMN"


def normalise(text: str) -> str:
    """``text`` as the exact test compares it: NFKC, lower-case, only letters, marks and digits.

    >>> normalise("It's a  charming, often-affecting journey.")
    'itsacharmingoftenaffectingjourney'
    >>> normalise("it 's a charming , often-affecting journey . ")  # PTB-tokenised, as SST-2
    'itsacharmingoftenaffectingjourney'
    >>> normalise("9 ½ weeks") == normalise("9 1/2 weeks")  # NFKC
    True
    """
    folded = _folded(text)
    if folded.isascii():  # the fast path, same result
        return folded.translate(_ASCII_DROP)
    return "".join(c for c in folded if _kept(c))


def words(text: str) -> tuple[str, ...]:
    """The words of ``text`` for the n-gram test: split wherever :func:`normalise` drops a character.

    ``"".join(words(t)) == normalise(t)`` for every text.

    >>> words("It's a charming, often-affecting journey.")
    ('it', 's', 'a', 'charming', 'often', 'affecting', 'journey')
    """
    folded = _folded(text)
    if folded.isascii():
        return tuple(folded.translate(_ASCII_SPACE).split())
    return tuple("".join(c if _kept(c) else " " for c in folded).split())


def ngrams(tokens: Sequence[str], n: int = NGRAM) -> frozenset[tuple[str, ...]]:
    """Every window of ``n`` consecutive tokens, except those of one repeated token.

    >>> sorted(ngrams(("a", "b", "c", "d"), 3))
    [('a', 'b', 'c'), ('b', 'c', 'd')]
    >>> ngrams(("a", "b"), 3), ngrams(("x",) * 5, 3)
    (frozenset(), frozenset())
    """
    windows = (tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return frozenset(w for w in windows if len(set(w)) > 1)


@dataclass(frozen=True)
class TextSplit:
    """The texts of one dataset split, in file order."""

    dataset: str
    """Dataset (folder under the data directory)."""
    split: str
    """Split name."""
    idx: tuple[int, ...]
    """Example ids (the rows' ``idx``; line numbers of a ``.txt`` split; document numbers)."""
    texts: tuple[str, ...]
    """The texts, one per id."""
    sha256: str = ""
    """sha256 of the file they were read from (empty when not read from one)."""


@dataclass(frozen=True)
class HeldOut:
    """A held-out split as the tests look at it: per example, its normalised text and its n-grams."""

    split: TextSplit
    """The examples."""
    keys: tuple[str, ...]
    """:func:`normalise` of each text."""
    grams: tuple[frozenset[tuple[str, ...]], ...]
    """:func:`ngrams` of each text's :func:`words`."""


@dataclass(frozen=True)
class TrainingIndex:
    """A training split as the tests look it up: every normalised text and every n-gram in it."""

    dataset: str
    """Dataset."""
    split: str
    """Split."""
    keys: frozenset[str]
    """Non-empty normalised texts."""
    grams: frozenset[tuple[str, ...]]
    """n-grams of all its texts."""
    sha256: str = ""
    """sha256 of its file."""


def prepare_held_out(split: TextSplit, n: int = NGRAM) -> HeldOut:
    """Normalise a held-out split once, to be matched against every training split."""
    tokens = [words(t) for t in split.texts]
    return HeldOut(split, tuple("".join(w) for w in tokens), tuple(ngrams(w, n) for w in tokens))


def training_index(split: TextSplit, n: int = NGRAM) -> TrainingIndex:
    """The hash sets of a training split (a few MB for 10k sentences; built once per split)."""
    tokens = [words(t) for t in split.texts]
    keys = frozenset("".join(w) for w in tokens) - {""}
    grams: set[tuple[str, ...]] = set()
    for w in tokens:
        grams.update(ngrams(w, n))
    return TrainingIndex(split.dataset, split.split, keys, frozenset(grams), split.sha256)


@dataclass(frozen=True)
class FoundOverlap:
    """What one training split shares with one task's held-out split."""

    task: str
    """The task whose held-out split was checked."""
    dataset: str
    """Dataset of the training split."""
    split: str
    """The training split."""
    held_out: int
    """Examples in the held-out split."""
    exact: int
    """Held-out examples whose normalised text is a training example's."""
    ngram: int
    """Held-out examples sharing a 13-gram with a training example."""
    either: int
    """Held-out examples found by either test: the overlap."""
    method: str
    """How they were found (:data:`METHOD`)."""
    idx: tuple[int, ...]
    """Sorted ids of the ``either`` held-out examples."""

    @property
    def fraction(self) -> float:
        """Share of the held-out split found in the training split.

        >>> FoundOverlap("t", "d", "train", 8, 1, 1, 2, METHOD, (3, 5)).fraction
        0.25
        """
        return self.either / self.held_out if self.held_out else 0.0


def find_overlap(task: str, examples: HeldOut, training: TrainingIndex) -> FoundOverlap:
    """Which of a task's held-out examples occur in a training split (exact or by 13-gram)."""
    exact = [bool(k) and k in training.keys for k in examples.keys]
    ngram = [not g.isdisjoint(training.grams) for g in examples.grams]
    either = [i for i, e, g in zip(examples.split.idx, exact, ngram, strict=True) if e or g]
    return FoundOverlap(
        task=task,
        dataset=training.dataset,
        split=training.split,
        held_out=len(examples.keys),
        exact=sum(exact),
        ngram=sum(ngram),
        either=len(either),
        method=METHOD,
        idx=tuple(sorted(either)),
    )


def training_splits(tasks: Iterable[Task], declared: Iterable[Split]) -> tuple[Split, ...]:
    """Every training split named on the board, sorted: each task's ``train_split`` (and the split
    its prompt draws demonstrations from, when set) and every split in ``declared``."""
    named = set(declared)
    for task in tasks:
        if task.train_split:
            named.add((task.dataset, task.train_split))
        if task.prompt is not None and task.prompt.fewshot_split:
            named.add((task.dataset, task.prompt.fewshot_split))
    return tuple(sorted(named))


def declared_splits(submissions: Iterable[Submission]) -> set[Split]:
    """Every split a submission declares it trained on, for any task it runs."""
    return {(ref.dataset, ref.split) for spec in submissions for t in spec.tasks for ref in spec.training_data_for(t)}


def checked_pairs(tasks: Iterable[Task], splits: Iterable[Split]) -> tuple[tuple[str, Split], ...]:
    """``(task name, training split)`` for every task and split, except a task's own held-out split."""
    splits = tuple(splits)
    return tuple((t.name, s) for t in tasks for s in splits if s != (t.dataset, t.split))


class _SplitRef(Protocol):
    dataset: str
    split: str


FoundOverlaps = Mapping[str, Sequence[FoundOverlap]]
"""Task name -> what was measured for each training split checked against its held-out split."""


def declared_overlaps(
    training_data: Sequence[_SplitRef], task_name: str, found: FoundOverlaps
) -> tuple[FoundOverlap, ...]:
    """The measured overlaps of the splits a submission declares for a task (``spec.training_data_for``):
    those found to share examples with its held-out split, in declaration order.

    >>> from types import SimpleNamespace as Ref
    >>> rt = FoundOverlap("sst2", "rotten_tomatoes", "train", 4, 2, 1, 2, METHOD, (0, 3))
    >>> [o.dataset for o in declared_overlaps([Ref(dataset="rotten_tomatoes", split="train")], "sst2", {"sst2": [rt]})]
    ['rotten_tomatoes']
    """
    measured = {(o.dataset, o.split): o for o in found.get(task_name, ())}
    named = dict.fromkeys((ref.dataset, ref.split) for ref in training_data)
    return tuple(measured[s] for s in named if s in measured and measured[s].either)


def unchecked_splits(training_data: Sequence[_SplitRef], task_name: str, found: FoundOverlaps) -> tuple[Split, ...]:
    """The declared splits nothing was measured for (a dataset not in the data directory, or
    overlaps measured before the submission named them): not known to be clean."""
    measured = {(o.dataset, o.split) for o in found.get(task_name, ())}
    return tuple(s for s in dict.fromkeys((r.dataset, r.split) for r in training_data) if s not in measured)


def clean_indices(held_out_idx: Iterable[int], overlaps: Iterable[FoundOverlap]) -> tuple[int, ...]:
    """The held-out ids found in none of ``overlaps``, in the order given: the clean subset to score.

    >>> clean_indices([0, 1, 2, 3, 4], [FoundOverlap("t", "d", "train", 5, 2, 0, 2, METHOD, (1, 3))])
    (0, 2, 4)
    """
    found = {i for o in overlaps for i in o.idx}
    return tuple(i for i in held_out_idx if i not in found)


# Reading: the one function of this module that touches files.


def read_split(data_dir: Path, dataset: str, split: str, text_field: str = "text") -> TextSplit:
    """Read one split of the data directory: the file its ``meta.json`` names (checked against its
    sha256 there), else ``<split>.jsonl`` or ``<split>.txt``. A ``.jsonl`` file gives its rows'
    ``idx`` and ``text_field``; a ``.txt`` file its non-empty lines. Raises InvalidInput
    (``path:field: message``) when the split cannot be read."""
    folder = data_dir / dataset
    meta_path = reading = folder / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        entry = meta.get("splits", {}).get(split) if isinstance(meta, dict) else None
        if meta and not isinstance(entry, dict):
            raise InvalidInput([Issue(display_path(meta_path), f"splits.{split}", "no such split")])
        names = [str(entry["file"])] if entry else [f"{split}.jsonl", f"{split}.txt"]
        path = reading = next((folder / n for n in names if (folder / n).is_file()), folder / names[0])
        sha256 = file_sha256(path)
        if entry and entry.get("sha256") not in (None, sha256):
            raise InvalidInput([Issue(display_path(path), "-", f"sha256 {sha256} differs from {meta_path.name}'s")])
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput([Issue(display_path(reading), "-", f"cannot be read ({exc})")]) from None
    idx, texts = _lines(text) if path.suffix == ".txt" else _rows(text, text_field, display_path(path))
    return TextSplit(dataset, split, idx, texts, sha256)


def _lines(text: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    lines = [(i, line) for i, line in enumerate(text.split("\n")) if line.strip()]
    return tuple(i for i, _ in lines), tuple(line for _, line in lines)


def _rows(text: str, text_field: str, shown: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """A JSONL file's ids and texts; every bad line is reported. Split on "\\n" only, as
    :func:`ftbench.files.read_jsonl` does."""
    idx: list[int] = []
    texts: list[str] = []
    issues: list[Issue] = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            issues.append(Issue(shown, f"line {n}", f"not JSON ({exc})"))
            continue
        value = row.get(text_field) if isinstance(row, dict) else None
        number = row.get("idx", len(idx)) if isinstance(row, dict) else None
        if not isinstance(value, str) or not isinstance(number, int) or isinstance(number, bool):
            issues.append(Issue(shown, f"line {n}", f"needs a string {text_field!r} and an integer 'idx'"))
            continue
        idx.append(number)
        texts.append(value)
    if issues:
        raise InvalidInput(issues[:20])
    return tuple(idx), tuple(texts)
