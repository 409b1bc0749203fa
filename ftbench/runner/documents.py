"""A causal LM over a perplexity task's documents: every document scored whole in rolling
windows (lm-evaluation-harness's ``loglikelihood_rolling``), with progress in tokens and
time left, and a checkpoint after every document so an interrupted run resumes where it
stopped and ends with exactly the numbers an uninterrupted run gives.

The checkpoint is a JSON-lines file beside the record: a header naming the content key and
the window settings, then one line per finished document (its log-likelihood as Python's
round-tripping ``repr``, its token count, its seconds). A checkpoint of other inputs is
ignored and replaced; a torn last line (a kill mid-write) is dropped.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tqdm.auto import tqdm

from ftbench.efficiency import PeakMemory
from ftbench.measure import (
    DEFAULT_POLICY,
    CpuTimes,
    Measurement,
    Policy,
    measure,
    read_cpu,
    spread_sample,
    with_prefill,
)
from ftbench.models.base import LanguageModel
from ftbench.perplexity import rolling_windows


@dataclass(frozen=True)
class DocumentRun:
    """Per-document log-likelihoods and the timings of scoring them."""

    loglik: tuple[float, ...]
    """Natural-log likelihood of each document."""
    tokens: tuple[int, ...]
    """Tokens predicted in each document."""
    seconds: tuple[float, ...]
    """Wall time of each document (in the session that scored it)."""
    max_length: int
    """Tokens per window, as used (the task's, capped at the model's context)."""
    context_len: int
    """Tokens of context carried into each later window (1: disjoint windows)."""
    resumed: int
    """Documents taken from a checkpoint instead of scored in this run."""
    peak_memory_mb: float
    """Peak memory while scoring (device memory on GPU, process RSS on CPU)."""
    memory_kind: str
    """``cuda`` or ``rss``."""
    measurement: Measurement | None = None
    """The efficiency measurement after the documents (None when it was not asked for)."""

    def efficiency(self) -> dict[str, Any]:
        """The pass's own time (summed across resumed sessions) and the measurement's figures:
        prefill throughput over repeated full windows, batch-1 latency of short reads."""
        wall, n = sum(self.seconds), len(self.loglik)
        figures: dict[str, Any] = {
            "wall_time_s": wall,
            "pass_examples_per_s": n / wall if wall else 0.0,
            "pass_tokens_per_s": sum(self.tokens) / wall if wall else 0.0,
            "peak_memory_mb": self.peak_memory_mb,
        }
        if self.measurement is not None:
            figures.update(self.measurement.figures())
            with_prefill(figures)
            figures["latency"]["tokens"] = LATENCY_TOKENS
        return figures


LATENCY_TOKENS = 64
"""Tokens of the short reads timed at batch 1 on a perplexity task (a full window is seconds)."""


def run_documents(
    model: LanguageModel,
    documents: Sequence[str],
    max_length: int,
    context_len: int = 1,
    checkpoint: Path | None = None,
    key: str = "",
    progress: bool = True,
    description: str = "scoring documents",
    policy: Policy | None = DEFAULT_POLICY,
    threads: int = 1,
) -> DocumentRun:
    """Score every document; with ``checkpoint``, resume from it and extend it as documents
    finish (``key`` ties it to one set of inputs). The caller removes it once the record is
    written. Then measure with ``policy`` (None: no measurement)."""
    max_length = min(max_length, model.info.max_length)
    settings = {"key": key, "max_length": max_length, "context_len": context_len, "documents": len(documents)}
    done = read_checkpoint(checkpoint, settings) if checkpoint else {}
    encoded = [model.tokenize(d) for d in documents]
    prefix = model.prefix_token()
    results: dict[int, tuple[float, int, float]] = dict(done)
    todo = [i for i in range(len(documents)) if i not in done]
    since = read_cpu()
    with PeakMemory() as memory, _Checkpoint(checkpoint, settings, done) as log:
        total = sum(len(encoded[i]) for i in todo)
        with tqdm(total=total, desc=description, unit="tok", disable=not progress, leave=False) as bar:
            for i in todo:
                start = time.perf_counter()
                windows = rolling_windows(encoded[i], prefix, max_length, context_len)
                loglik = float(sum(model.loglikelihood(windows)))
                results[i] = (loglik, len(encoded[i]), time.perf_counter() - start)
                log.add(i, *results[i])
                bar.update(len(encoded[i]))
    measurement = None
    if policy is not None:
        measurement = _measure(model, encoded, prefix, max_length, policy, threads, since)
    device_peak = model.peak_device_memory_mb()
    ordered = [results[i] for i in range(len(documents))]
    return DocumentRun(
        loglik=tuple(r[0] for r in ordered),
        tokens=tuple(r[1] for r in ordered),
        seconds=tuple(r[2] for r in ordered),
        max_length=max_length,
        context_len=context_len,
        resumed=len(done),
        peak_memory_mb=device_peak if device_peak is not None else memory.peak_mb,
        memory_kind="cuda" if device_peak is not None else "rss",
        measurement=measurement,
    )


def measure_documents(
    model: LanguageModel, documents: Sequence[str], max_length: int, policy: Policy = DEFAULT_POLICY, threads: int = 1
) -> Measurement:
    """The efficiency measurement alone, without scoring every document (one warm-up read first)."""
    since = read_cpu()
    max_length = min(max_length, model.info.max_length)
    encoded = [model.tokenize(d) for d in documents]
    prefix = model.prefix_token()
    model.loglikelihood([([prefix], encoded[0][:LATENCY_TOKENS] or [prefix])])
    return _measure(model, encoded, prefix, max_length, policy, threads, since)


def _measure(
    model: LanguageModel,
    encoded: list[list[int]],
    prefix: int,
    max_length: int,
    policy: Policy,
    threads: int,
    since: CpuTimes,
) -> Measurement:
    """Batch-1 reads of ``LATENCY_TOKENS`` tokens from documents spread over the lengths, and
    repeats of the first windows of the longest documents (``policy.throughput_tokens``)."""
    lengths = [len(e) for e in encoded]
    short = [
        rolling_windows(encoded[i][:LATENCY_TOKENS], prefix, max_length)[0]
        for i in spread_sample(lengths, policy.latency_sample)
        if encoded[i]
    ]
    windows: list[tuple[list[int], list[int]]] = []
    for i in sorted(range(len(encoded)), key=lambda i: (-lengths[i], i)):  # full windows first
        if not encoded[i] or sum(len(t) for _, t in windows) >= policy.throughput_tokens:
            break
        windows.append(rolling_windows(encoded[i], prefix, max_length)[0])
    return measure(
        lambda k: model.loglikelihood([short[k]]),
        len(short),
        lambda: model.loglikelihood(windows),
        len(windows),
        sum(len(t) for _, t in windows),
        threads,
        policy,
        since,
    )


def checkpoint_path(record: Path) -> Path:
    """Where the checkpoint of the record at ``record`` is kept (a hidden file beside it)."""
    return record.with_name(f".{record.stem}.checkpoint.jsonl")


def read_checkpoint(path: Path, settings: dict) -> dict[int, tuple[float, int, float]]:
    """The finished documents a checkpoint holds for exactly ``settings``; nothing when it is
    missing, of other inputs, or unreadable."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
        if json.loads(lines[0]) != settings:
            return {}
    except (OSError, ValueError, IndexError):
        return {}
    done = {}
    for line in lines[1:]:
        try:
            row = json.loads(line)
            doc, loglik, tokens, seconds = int(row["doc"]), float(row["loglik"]), int(row["tokens"]), float(row["s"])
        except (ValueError, KeyError, TypeError):
            continue  # the torn last line of a killed run, or an empty one
        if 0 <= doc < settings["documents"]:
            done[doc] = (loglik, tokens, seconds)
    return done


class _Checkpoint:
    """Appends finished documents to the checkpoint, each line flushed and synced."""

    def __init__(self, path: Path | None, settings: dict, done: dict):
        self.path, self.settings, self.done = path, settings, done
        self._file: TextIO | None = None

    def __enter__(self) -> _Checkpoint:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # rewritten from what was read: a torn line or foreign inputs do not survive
            self._file = open(self.path, "w", encoding="utf-8")
            self._file.write(json.dumps(self.settings, sort_keys=True) + "\n")
            for doc, row in sorted(self.done.items()):
                self._write(doc, *row)
        return self

    def add(self, doc: int, loglik: float, tokens: int, seconds: float) -> None:
        if self._file is not None:
            self._write(doc, loglik, tokens, seconds)

    def _write(self, doc: int, loglik: float, tokens: int, seconds: float) -> None:
        assert self._file is not None
        self._file.write(json.dumps({"doc": doc, "loglik": loglik, "tokens": tokens, "s": seconds}) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
