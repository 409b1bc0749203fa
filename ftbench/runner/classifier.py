"""Run a classifier over held-out texts: the efficiency measurement (``ftbench.measure``:
batch-1 latency rounds, repeated throughput sample, contention) on the warmed-up model, then
the scoring pass in length-sorted batches, with progress.

The runner itself imports no torch: it drives any ``Classifier`` and measures it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ftbench import DEFAULT_BATCH_SIZE
from ftbench.efficiency import PeakMemory, percentile, trim_heap
from ftbench.measure import (
    DEFAULT_POLICY,
    CpuTimes,
    Measurement,
    Policy,
    batch_sample,
    measure,
    read_cpu,
    spread_sample,
)
from ftbench.models.base import Classifier


@dataclass(frozen=True)
class RunResult:
    """Predictions and timings of one pass over a task's texts."""

    probs: np.ndarray
    """Class probabilities, shape ``(n_examples, n_labels)``, in the texts' order."""
    wall_time_s: float
    """Seconds for the timed pass (tokenising, batching and forward passes; loading excluded)."""
    n_tokens: int
    """Non-padding tokens processed."""
    batch_size: int
    """Most examples per batch (the scoring pass's batches hold texts of about one length, so
    many hold fewer; the measurement's throughput is at this size)."""
    batch_latency_ms: tuple[float, ...]
    """Wall time of each batch."""
    peak_memory_mb: float
    """Peak memory during the pass (device memory on GPU, process RSS on CPU)."""
    memory_kind: str
    """``cuda`` (allocated device memory) or ``rss`` (resident process memory)."""
    measurement: Measurement | None = None
    """The efficiency measurement, taken before the pass (None when it was not asked for)."""
    streams: int = 1
    """Batches the pass ran side by side after its long ones (``Classifier.concurrent``)."""
    alone_peak_mb: float | None = None
    """Peak memory while the pass scored its longest batches one at a time, the first (longest)
    among them (what one call at a time takes at the longest inputs)."""

    @property
    def predictions(self) -> list[int]:
        """Predicted label id per example."""
        return self.probs.argmax(axis=1).tolist()

    def efficiency(self) -> dict[str, float]:
        """Throughput and latency figures derived from the timings."""
        return batch_figures(self, len(self.probs))


def batch_figures(run: RunResult | Any, n: int) -> dict[str, Any]:
    """Efficiency figures of a batched pass over ``n`` examples (any run with the timing fields
    of :class:`RunResult`): the pass's own time, and the measurement's figures when there is one
    (batch-1 latency distribution, median throughput over repeats, intervals, validity)."""
    wall = run.wall_time_s
    figures: dict[str, Any] = {
        "wall_time_s": wall,
        "pass_examples_per_s": n / wall if wall else 0.0,
        "batch_latency_ms_p50": percentile(run.batch_latency_ms, 50),
        "batch_latency_ms_p95": percentile(run.batch_latency_ms, 95),
        "peak_memory_mb": run.peak_memory_mb,
    }
    if getattr(run, "streams", 1) > 1:
        figures["pass_streams"] = run.streams
        if run.alone_peak_mb is not None:
            figures["pass_alone_peak_memory_mb"] = run.alone_peak_mb
    if run.measurement is not None:
        figures.update(run.measurement.figures())
    return figures


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (padding is wasted work,
    and a memory problem shows up in the first batch rather than the last).

    >>> length_sorted_batches([3, 9, 1, 7], 2)
    [[1, 3], [0, 2]]
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


PASS_LENGTH_TOLERANCE = 0.05
"""A scoring-pass batch holds texts at most this much shorter than its longest (relative)."""
PASS_MAX_TOKENS = 1024
"""A scoring-pass batch holds at most this many (padded) tokens, whatever the batch size: an
encoder's matrix products run at the same rate from a few hundred rows up, and smaller
activations keep the pass's peak memory lower (glibc keeps the heap a batch's freed
activations grew; on SST-2 with MiniLM about 50 MiB less than batches of 64, at the same
speed)."""


def length_bucketed_batches(
    lengths: Sequence[int],
    batch_size: int,
    tolerance: float = PASS_LENGTH_TOLERANCE,
    max_tokens: int = PASS_MAX_TOKENS,
) -> list[list[int]]:
    """Indices, longest first, in batches of at most ``batch_size`` texts and ``max_tokens``
    padded tokens (a text longer than that alone) whose texts are all within ``tolerance`` of
    the batch's longest (a new batch starts at the first shorter text): the scoring pass's
    batches. Padding is wasted work (5% of SST-2's tokens in fixed batches of 64, none here),
    for a few more, smaller batches. The measurement keeps fixed-size batches
    (:func:`length_sorted_batches`): its throughput is at the record's batch size.

    >>> length_bucketed_batches([10, 10, 9, 5, 5, 5], 2)
    [[0, 1], [2], [3, 4], [5]]
    >>> length_bucketed_batches([10, 10, 10, 10], 8, max_tokens=25)
    [[0, 1], [2, 3]]
    """
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        batch = batches[-1] if batches else None
        if (
            batch is None
            or len(batch) >= batch_size
            or lengths[i] < lengths[batch[0]] * (1 - tolerance)
            or (len(batch) + 1) * lengths[batch[0]] > max_tokens
        ):
            batches.append([i])
        else:
            batch.append(i)
    return batches


SIDE_BY_SIDE_MEMORY = 1.5
"""The batches a scoring pass runs at once hold at most this many times the padded size of
its largest batch (:func:`side_by_side_from`). Measured on SST-2 (2 streams, MiniLM): at 1.5
the pass is as fast as with every batch side by side and peaks ~60 MiB lower; at 1.0 (the
largest alone as a bound) half the texts run one batch at a time and the pass is ~15% slower."""


def side_by_side_from(batches: Sequence[Sequence[int]], lengths: Sequence[int], streams: int) -> int:
    """Index of the first batch of the scoring pass that runs side by side with others: from it
    on, every batch's padded size (texts x longest) is at most :data:`SIDE_BY_SIDE_MEMORY` /
    ``streams`` of the largest batch's, so that ``streams`` batches at once never hold much
    more activations than the largest alone. The long batches before it run one at a time on
    all the threads (their large matrix products split well across cores); the first always
    does. Batches are as :func:`length_bucketed_batches` makes them, each longest text first.

    >>> side_by_side_from([[0], [1, 2], [3, 4], [5, 6]], [8, 6, 6, 4, 4, 2, 2], 2)
    2
    """
    if streams <= 1 or len(batches) <= 1:
        return 1 if batches else 0
    sizes = [len(batch) * lengths[batch[0]] for batch in batches]
    budget = SIDE_BY_SIDE_MEMORY * max(sizes) / streams
    split = len(batches)
    while split > 1 and sizes[split - 1] <= budget:
        split -= 1
    return split


MAX_STREAMS = 4
"""At most this many batches side by side in a scoring pass (each holds its activations: on a
many-core host, more streams would multiply the pass's memory for little gain); the threads
are shared out among them."""


def run_classifier(
    model: Classifier,
    texts: Sequence[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
    description: str = "evaluating",
    policy: Policy | None = DEFAULT_POLICY,
    threads: int = 1,
) -> RunResult:
    """Score ``texts`` with ``model`` and measure it with ``policy`` (None: no measurement, as
    when re-checking predictions); one warm-up batch first, untimed. ``threads``: the compute
    threads the model runs with (for the contention figures).

    The measurement comes first and runs one call at a time on ``threads`` threads, as a
    deployed model serves. The scoring pass, in batches of texts of about the same length
    (:func:`length_bucketed_batches`), then scores its long batches one at a time on all
    the threads, the first (longest) first, so that a memory problem shows there, and the rest
    up to :data:`MAX_STREAMS` batches side by side where the model allows it
    (``Classifier.concurrent``), the threads shared out among them: a pass of small matrix
    products finishes sooner so, with the same predictions. Which batches are short enough
    (:func:`side_by_side_from`) is chosen so that the batches at once hold little more
    activations than the largest alone, and the long batches' freed memory is handed back before they
    start (``trim_heap``), so that the streams' allocator pools do not stack on it: the
    pass peaks about where one stream would. Those pools stay resident after it, so the memory
    measured comes before it, and the peak of the batches alone is kept apart
    (``RunResult.alone_peak_mb``). The pass runs inside the model's ``scoring_pass`` where it
    has one (work the probabilities do not depend on left out); the measurement does not."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    texts = list(texts)
    warmup = sorted(texts[: min(len(texts), batch_size)], key=len)
    since = read_cpu()
    model.predict_proba(warmup)  # first call pays one-off costs (kernels, allocator)
    start = time.perf_counter()
    lengths = model.token_lengths(texts)  # timed: part of the pass, done once for both
    batches = length_bucketed_batches(lengths, batch_size)
    tokenised_s = time.perf_counter() - start
    if not batches:
        raise ValueError("no texts to score")
    measurement = None
    if policy is not None:
        fixed = length_sorted_batches(lengths, batch_size)
        measurement = _measure(model, texts, lengths, fixed, policy, threads, since)
    wanted = min(threads, MAX_STREAMS)
    split = side_by_side_from(batches, lengths, wanted)
    bar = tqdm(total=len(texts), desc=description, unit="ex", disable=not progress, leave=False, dynamic_ncols=True)
    scoring = getattr(model, "scoring_pass", None)  # optional (``Classifier.scoring_pass``)
    with bar, scoring() if scoring is not None else nullcontext():
        with PeakMemory() as alone:
            start = time.perf_counter()
            first, first_ms, _ = _score_batches(model, texts, batches[:split], bar, 1)
        if split < len(batches) and wanted > 1:
            trim_heap()  # the long batches' freed blocks go back: the streams' pools start anew
        with PeakMemory() as side:
            rest, rest_ms, streams = _score_batches(model, texts, batches[split:], bar, wanted)
        wall = tokenised_s + time.perf_counter() - start
    probs = np.zeros((len(texts), first[0].shape[1]), dtype=np.float64)
    for batch, out in zip(batches, [*first, *rest], strict=True):
        probs[batch] = out
    device_peak = model.peak_device_memory_mb()
    return RunResult(
        probs=probs,
        wall_time_s=wall,
        n_tokens=int(sum(lengths)),
        batch_size=batch_size,
        batch_latency_ms=tuple(first_ms + rest_ms),
        peak_memory_mb=device_peak if device_peak is not None else max(alone.peak_mb, side.peak_mb),
        memory_kind="cuda" if device_peak is not None else "rss",
        measurement=measurement,
        streams=streams,
        alone_peak_mb=alone.peak_mb if device_peak is None else device_peak,
    )


def measure_classifier(
    model: Classifier, texts: Sequence[str], batch_size: int, policy: Policy = DEFAULT_POLICY, threads: int = 1
) -> Measurement:
    """The efficiency measurement alone, without a scoring pass (one warm-up batch first): how
    a second form of a model already scored (an adapter left unmerged) is costed."""
    texts = list(texts)
    since = read_cpu()
    lengths = model.token_lengths(texts)
    batches = length_sorted_batches(lengths, batch_size)
    model.predict_proba([texts[i] for i in batches[len(batches) // 2]])
    return _measure(model, texts, lengths, batches, policy, threads, since)


def _measure(
    model: Classifier,
    texts: list[str],
    lengths: list[int],
    batches: list[list[int]],
    policy: Policy,
    threads: int,
    since: CpuTimes,
) -> Measurement:
    """Batch-1 latency over texts spread across the lengths; throughput over whole batches
    spread across the length-sorted batches."""
    single = [texts[i] for i in spread_sample(lengths, policy.latency_sample)]
    chosen = [batches[j] for j in batch_sample(batches, lengths, policy.throughput_tokens)]
    sample = [[texts[i] for i in b] for b in chosen]

    def run_sample() -> None:
        for batch in sample:
            model.predict_proba(batch)

    run_sample()  # untimed: each of the sample's shapes seen once (allocation, kernel choice)
    return measure(
        lambda i: model.predict_proba([single[i]]),
        len(single),
        run_sample,
        sum(len(b) for b in chosen),
        sum(lengths[i] for b in chosen for i in b),
        threads,
        policy,
        since,
    )


def _score_batches(
    model: Classifier, texts: list[str], batches: list[list[int]], bar: Any, streams: int
) -> tuple[list[np.ndarray], list[float], int]:
    """Each batch's probabilities and wall time, in the batches' order, and how many batches
    ran at once (``model.concurrent(streams)``; 1 for none or one batch). Side by side, the
    calling thread is one of the streams and takes batches in turn with the others (every
    thread that allocates keeps its own allocator pool: one fewer to hold)."""
    results: list[tuple[np.ndarray, float] | None] = [None] * len(batches)
    turns = itertools.count()  # the next batch to take: one ``next`` is atomic
    stop = threading.Event()  # set when a stream fails: the others stop after their batch
    lock = threading.Lock()

    def take_turns() -> None:
        for j in turns:
            if j >= len(batches) or stop.is_set():
                return
            t0 = time.perf_counter()
            try:
                out = model.predict_proba([texts[i] for i in batches[j]])
            except BaseException:
                stop.set()
                raise
            results[j] = (out, 1000 * (time.perf_counter() - t0))
            with lock:
                bar.update(len(batches[j]))

    concurrent = getattr(model, "concurrent", None)  # a backend without it runs one at a time
    wanted = min(streams, len(batches))
    with (
        concurrent(wanted) if concurrent is not None and wanted > 1 else nullcontext(1) as at_once,
        ThreadPoolExecutor(at_once - 1) if at_once > 1 else nullcontext() as pool,
    ):
        others = [pool.submit(take_turns) for _ in range(at_once - 1)] if pool is not None else []
        finished = False
        try:
            take_turns()
            finished = True
        finally:
            stop.set()  # on success every batch has been taken already
            for other in others:
                if finished:
                    other.result()  # raises what a stream raised
                else:
                    other.exception()  # waits; the calling thread's own error is the one raised
    outs, batch_ms = [], []
    for result in results:
        assert result is not None, "a batch was not scored"
        outs.append(result[0])
        batch_ms.append(result[1])
    return outs, batch_ms, at_once
