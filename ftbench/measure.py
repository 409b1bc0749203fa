"""How efficiency is measured, as pure logic over callables and a clock (no torch).

The method follows optimum-benchmark and MLPerf's single-stream scenario:

- **Latency** is batch-1 wall time over a fixed sample of held-out inputs: one untimed warm-up
  round, then rounds over the whole sample until at least ``min_iterations`` calls *and*
  ``min_seconds`` have passed (capped at ``max_seconds``). The distribution of the calls gives
  mean, p50/p90/p95/p99 and standard deviation; the spread of the *rounds* (each does the same
  work) is the noise, and its range is the interval a comparison must clear.
- **Throughput** is the record's batch size over a fixed sample of batches, repeated; the
  median repeat is the figure, the range of the repeats its interval.
- **Contention** is read from the OS while the figures are taken: the share of the machine's
  CPU time that went to other processes, the share the hypervisor stole, and this process's
  CPU time against wall time.
- **Validity flags** name what makes a figure untrustworthy; a flagged figure is shown with its
  flag and used for no badge, front or "faster than" claim (``ftbench.leaderboard``).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ftbench.efficiency import percentile

Clock = Callable[[], float]


@dataclass(frozen=True)
class Policy:
    """How much measuring is enough, and what counts as noisy (recorded with every figure)."""

    min_iterations: int = 50
    """Batch-1 calls at least."""
    min_seconds: float = 2.0
    """Seconds of batch-1 calls at least."""
    max_seconds: float = 20.0
    """Stop the batch-1 rounds after this long even if ``min_iterations`` is not reached
    (the figure is then flagged ``few-iterations``)."""
    latency_sample: int = 16
    """Held-out inputs in the batch-1 sample (spread over the length distribution)."""
    throughput_repeats: int = 3
    """Repeats of the throughput sample."""
    throughput_tokens: int = 8192
    """Tokens in the throughput sample at least (whole batches spread over the length
    distribution; one batch at least)."""
    max_cv: float = 0.10
    """Coefficient of variation of rounds or repeats above which a figure is ``high-variation``."""
    max_other_cpu: float = 0.15
    """Share of the machine's CPU time used by other processes above which a run is contended."""
    max_steal: float = 0.05
    """Share of CPU time stolen by the hypervisor above which a run is contended."""


DEFAULT_POLICY = Policy()


def policy(overrides: dict[str, float], where: str = "tool.ftbench.measurement") -> Policy:
    """The default policy with ``overrides`` (a board's ``[tool.ftbench.measurement]``); an
    unknown name is an error naming it.

    >>> policy({"min_iterations": 10}).min_iterations, policy({}).min_seconds
    (10, 2.0)
    """
    from dataclasses import fields, replace

    from ftbench.errors import FtbenchError

    types = {f.name: f.type for f in fields(Policy)}
    for key in overrides:
        if key not in types:
            raise FtbenchError(f"{where}.{key}: unknown measurement setting (known: {', '.join(types)})")
    typed: dict[str, Any] = {k: int(v) if types[k] in ("int", int) else float(v) for k, v in overrides.items()}
    return replace(DEFAULT_POLICY, **typed)


FLAGS = {
    "few-iterations": "fewer batch-1 iterations or seconds than the policy asks, or too few repeats to see the noise",
    "high-variation": "the repeats differ by more than the policy allows (coefficient of variation)",
    "cpu-contention": "other processes used a large share of the CPU while it was measured",
    "cpu-steal": "the hypervisor took a large share of the CPU time while it was measured",
    "other-hardware": "measured on hardware other than the board's reference profile",
    "not-measured": "the record predates the measurement method (no distribution, no repeats)",
}
"""Every validity flag, with what it means (the site's legend)."""


@dataclass(frozen=True)
class Distribution:
    """Summary of a list of samples."""

    n: int
    mean: float
    std: float
    cv: float
    """Standard deviation over mean (0 when the mean is 0)."""
    p50: float
    p90: float
    p95: float
    p99: float
    min: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Distribution:
        """The summary of ``samples`` (all zeros for none).

        >>> d = Distribution.of([1.0, 2.0, 3.0, 4.0])
        >>> d.mean, d.p50, round(d.cv, 3), d.max
        (2.5, 2.5, 0.516, 4.0)
        """
        if not samples:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        values = [float(v) for v in samples]
        mean = statistics.fmean(values)
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(
            n=len(values),
            mean=mean,
            std=std,
            cv=std / mean if mean else 0.0,
            p50=percentile(values, 50),
            p90=percentile(values, 90),
            p95=percentile(values, 95),
            p99=percentile(values, 99),
            min=min(values),
            max=max(values),
        )


@dataclass(frozen=True)
class LatencyRun:
    """Batch-1 calls over a fixed sample, in rounds."""

    calls_ms: tuple[float, ...]
    """Every timed call."""
    rounds_ms: tuple[float, ...]
    """Mean call time of each round (every round scores the whole sample once)."""
    duration_s: float
    """Wall time of the timed rounds."""

    @property
    def calls(self) -> Distribution:
        return Distribution.of(self.calls_ms)

    @property
    def rounds(self) -> Distribution:
        return Distribution.of(self.rounds_ms)


def time_latency(
    call: Callable[[int], object], sample: int, policy: Policy, clock: Clock = time.perf_counter
) -> LatencyRun:
    """Call ``call(i)`` for ``i`` in ``range(sample)``: one untimed warm-up round, then timed
    rounds until both ``policy.min_iterations`` calls and ``policy.min_seconds`` are reached,
    or ``policy.max_seconds`` has passed (a round is never cut short)."""
    if sample < 1:
        return LatencyRun((), (), 0.0)
    for i in range(sample):
        call(i)
    calls: list[float] = []
    rounds: list[float] = []
    start = clock()
    while True:
        this = []
        for i in range(sample):
            t0 = clock()
            call(i)
            this.append(1000 * (clock() - t0))
        calls.extend(this)
        rounds.append(statistics.fmean(this))
        elapsed = clock() - start
        enough = len(calls) >= policy.min_iterations and elapsed >= policy.min_seconds
        if enough or elapsed >= policy.max_seconds:
            return LatencyRun(tuple(calls), tuple(rounds), elapsed)


@dataclass(frozen=True)
class ThroughputRun:
    """Repeats of a fixed sample of batches."""

    seconds: tuple[float, ...]
    """Wall time of each repeat."""
    examples: int
    """Examples per repeat."""
    tokens: int
    """Tokens per repeat."""

    @property
    def examples_per_s(self) -> Distribution:
        return Distribution.of([self.examples / s for s in self.seconds if s > 0])

    @property
    def tokens_per_s(self) -> Distribution:
        return Distribution.of([self.tokens / s for s in self.seconds if s > 0])


def time_throughput(
    run_sample: Callable[[], object], examples: int, tokens: int, policy: Policy, clock: Clock = time.perf_counter
) -> ThroughputRun:
    """Time ``policy.throughput_repeats`` calls of ``run_sample`` (which scores ``examples``
    examples of ``tokens`` tokens; the caller has warmed the model up)."""
    seconds = []
    for _ in range(policy.throughput_repeats):
        t0 = clock()
        run_sample()
        seconds.append(clock() - t0)
    return ThroughputRun(tuple(seconds), examples, tokens)


def spread_sample(lengths: Sequence[int], n: int) -> list[int]:
    """``n`` indices spread evenly over the inputs ordered by length (ties by index), so that a
    sample sees short, typical and long inputs alike; all of them when there are no more.

    >>> spread_sample([5, 1, 9, 3, 7], 3)
    [1, 0, 2]
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    if n >= len(order):
        return order
    if n <= 1:
        return order[len(order) // 2 : len(order) // 2 + 1]
    return [order[round(k * (len(order) - 1) / (n - 1))] for k in range(n)]


@dataclass(frozen=True)
class CpuTimes:
    """A reading of the CPU clocks: this process's, and the machine's by kind."""

    wall: float
    process: float
    """User + system seconds of this process (all its threads)."""
    busy: float
    """Seconds the machine's CPUs spent running anything (user, nice, system, irq, softirq)."""
    steal: float
    """Seconds stolen by the hypervisor."""
    total: float
    """All CPU seconds of the machine (busy, idle, iowait, steal)."""
    load: float
    """One-minute load average."""


def read_cpu(clock: Clock = time.perf_counter) -> CpuTimes:
    """The clocks now (psutil: works on Linux, macOS and Windows; steal is 0 where unknown)."""
    import psutil

    own = psutil.Process().cpu_times()
    machine = psutil.cpu_times()
    busy = sum(getattr(machine, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq"))
    steal = getattr(machine, "steal", 0.0)
    total = busy + sum(getattr(machine, k, 0.0) for k in ("idle", "iowait")) + steal
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return CpuTimes(clock(), own.user + own.system, busy, steal, total, load)


@dataclass(frozen=True)
class Contention:
    """What else used the CPU while a figure was taken."""

    wall_s: float
    process_cpu_s: float
    process_utilisation: float
    """This process's CPU time over wall time x its threads (1.0: every thread always ran)."""
    other_cpu_share: float
    """Share of the machine's CPU time used by other processes."""
    steal_share: float
    """Share of the machine's CPU time the hypervisor took."""
    load_start: float
    load_end: float

    def flags(self, policy: Policy) -> list[str]:
        out = []
        if self.other_cpu_share > policy.max_other_cpu:
            out.append("cpu-contention")
        if self.steal_share > policy.max_steal:
            out.append("cpu-steal")
        return out


def contention(before: CpuTimes, after: CpuTimes, threads: int) -> Contention:
    """The contention between two readings (``threads``: the threads this process computes with).

    >>> a = CpuTimes(0.0, 0.0, 0.0, 0.0, 0.0, 0.5)
    >>> b = CpuTimes(10.0, 18.0, 38.0, 1.0, 40.0, 1.9)   # 2 CPUs x 10 s; 20 s busy of which 18 s ours
    >>> c = contention(a, b, threads=2)
    >>> round(c.process_utilisation, 2), round(c.other_cpu_share, 2), round(c.steal_share, 3)
    (0.9, 0.5, 0.025)
    """
    wall = max(after.wall - before.wall, 1e-9)
    own = max(after.process - before.process, 0.0)
    total = max(after.total - before.total, 1e-9)
    others = max(after.busy - before.busy - own, 0.0)
    return Contention(
        wall_s=wall,
        process_cpu_s=own,
        process_utilisation=own / (wall * max(threads, 1)),
        other_cpu_share=min(others / total, 1.0),
        steal_share=min(max(after.steal - before.steal, 0.0) / total, 1.0),
        load_start=before.load,
        load_end=after.load,
    )


@dataclass(frozen=True)
class Measurement:
    """Everything the efficiency figures of one model on one task come from."""

    latency: LatencyRun
    throughput: ThroughputRun
    contention: Contention
    policy: Policy = DEFAULT_POLICY
    memory_peaks_mb: tuple[float, ...] = ()
    """Peak memory of each throughput repeat."""
    extra_flags: tuple[str, ...] = field(default_factory=tuple)

    def flags(self) -> list[str]:
        """The validity flags of these figures (see ``FLAGS``), in a fixed order."""
        found = set(self.extra_flags) | set(self.contention.flags(self.policy))
        lat, rounds = self.latency, self.latency.rounds_ms
        if (
            len(lat.calls_ms) < self.policy.min_iterations
            or lat.duration_s < self.policy.min_seconds
            or len(rounds) < 3
            or len(self.throughput.seconds) < 2
        ):
            found.add("few-iterations")
        if self.latency.rounds.cv > self.policy.max_cv or self.throughput.examples_per_s.cv > self.policy.max_cv:
            found.add("high-variation")
        return [f for f in FLAGS if f in found]

    def figures(self) -> dict:
        """The record's efficiency fields from this measurement: flat figures the tables rank
        (``latency_ms`` is the batch-1 median, ``examples_per_s`` the median repeat), each with
        its interval (``*_lo``/``*_hi``: the range of rounds or repeats), and the details."""
        calls, rounds = self.latency.calls, self.latency.rounds
        ex, tok = self.throughput.examples_per_s, self.throughput.tokens_per_s
        peaks = Distribution.of(self.memory_peaks_mb)
        return {
            "latency_ms": calls.p50,
            "latency_ms_lo": rounds.min,
            "latency_ms_hi": rounds.max,
            "examples_per_s": ex.p50,
            "examples_per_s_lo": ex.min,
            "examples_per_s_hi": ex.max,
            "tokens_per_s": tok.p50,
            "tokens_per_s_lo": tok.min,
            "tokens_per_s_hi": tok.max,
            "latency": {
                **_rounded(asdict(calls)),
                "rounds": len(self.latency.rounds_ms),
                "round_cv": round(rounds.cv, 4),
                "duration_s": round(self.latency.duration_s, 3),
            },
            "throughput": {
                "repeats": len(self.throughput.seconds),
                "seconds": [round(s, 4) for s in self.throughput.seconds],
                "examples": self.throughput.examples,
                "tokens": self.throughput.tokens,
                "cv": round(ex.cv, 4),
            },
            "memory_peaks_mb": [round(m, 1) for m in self.memory_peaks_mb] if peaks.n else [],
            "validity": {
                "flags": self.flags(),
                "contention": _rounded(asdict(self.contention)),
                "policy": asdict(self.policy),
            },
        }


def measure(
    single: Callable[[int], object],
    sample: int,
    run_sample: Callable[[], object],
    examples: int,
    tokens: int,
    threads: int,
    policy: Policy = DEFAULT_POLICY,
    since: CpuTimes | None = None,
    clock: Clock = time.perf_counter,
    cpu: Callable[[], CpuTimes] = read_cpu,
) -> Measurement:
    """Take the figures of a warmed-up model: batch-1 rounds of ``single`` over ``sample``
    inputs, then repeats of ``run_sample`` (``examples`` examples, ``tokens`` tokens), each with
    its peak memory; contention is read from ``since`` (e.g. before the scoring pass) or from
    the start of the measurement to its end."""
    from ftbench.efficiency import PeakMemory

    before = since or cpu()
    latency = time_latency(single, sample, policy, clock)
    peaks: list[float] = []

    def repeat() -> None:
        with PeakMemory() as memory:
            run_sample()
        peaks.append(memory.peak_mb)

    throughput = time_throughput(repeat, examples, tokens, policy, clock)
    return Measurement(latency, throughput, contention(before, cpu(), threads), policy, tuple(peaks))


def batch_sample(batches: Sequence[Sequence[int]], lengths: Sequence[int], min_tokens: int) -> list[int]:
    """Indices of whole batches, spread over ``batches`` (which are sorted by length), whose
    tokens add up to ``min_tokens`` at least (all batches when they do not).

    >>> batch_sample([[0, 1], [2, 3], [4, 5], [6, 7]], [9, 9, 5, 5, 3, 3, 1, 1], 12)
    [0, 3]
    """
    sizes = [sum(lengths[i] for i in b) for b in batches]
    for k in range(1, len(batches) + 1):
        chosen = sorted(set(spread_sample(list(range(len(batches))), k)))
        if sum(sizes[j] for j in chosen) >= min_tokens:
            return chosen
    return list(range(len(batches)))


def _rounded(values: dict, digits: int = 4) -> dict:
    return {k: (round(v, digits) if isinstance(v, float) and math.isfinite(v) else v) for k, v in values.items()}


def with_prefill(figures: dict) -> dict:
    """A language model's figures with its token throughput (and range) also named prefill:
    every token a scoring pass reads is a prompt token.

    >>> with_prefill({"tokens_per_s": 9.0, "tokens_per_s_lo": 8.0, "tokens_per_s_hi": 10.0})["prefill_tokens_per_s_lo"]
    8.0
    """
    for suffix in ("", "_lo", "_hi"):
        if f"tokens_per_s{suffix}" in figures:
            figures[f"prefill_tokens_per_s{suffix}"] = figures[f"tokens_per_s{suffix}"]
    return figures
