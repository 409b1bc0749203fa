"""The efficiency measurement method (``ftbench.measure``) on fake models with controlled
timings: percentiles, spread, when to stop, the validity flags and the contention detector.
Figures themselves come from the benchmark scripts, never from timed assertions here."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

import pytest

from ftbench.efficiency import PeakMemory
from ftbench.errors import FtbenchError
from ftbench.measure import (
    Contention,
    CpuTimes,
    Distribution,
    Measurement,
    Policy,
    ThroughputRun,
    batch_sample,
    contention,
    measure,
    policy,
    read_cpu,
    spread_sample,
    time_latency,
)

QUIET = Contention(1.0, 2.0, 1.0, 0.0, 0.0, 0.1, 0.1)


class FakeClock:
    """A clock that moves only when a fake model call says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def call(self, seconds: float) -> None:
        self.now += seconds


def test_distribution_percentiles_spread_and_cv_by_hand():
    d = Distribution.of([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0])
    assert (d.n, d.mean, d.min, d.max) == (10, 55.0, 10.0, 100.0)
    assert d.p50 == pytest.approx(55.0) and d.p90 == pytest.approx(91.0) and d.p99 == pytest.approx(99.1)
    assert d.std == pytest.approx(30.2765, rel=1e-4) and d.cv == pytest.approx(d.std / 55.0)
    assert Distribution.of([]).n == 0 and Distribution.of([3.0]).cv == 0.0


def test_latency_rounds_run_until_both_iterations_and_seconds_are_reached():
    clock = FakeClock()
    calls = []

    def call(i: int) -> None:
        calls.append(i)
        clock.call(0.010)  # 10 ms a call

    run = time_latency(call, 4, Policy(min_iterations=8, min_seconds=0.5, max_seconds=5.0), clock)
    # 0.5 s at 10 ms a call is 50 calls, in whole rounds of 4 (plus one untimed warm-up round)
    assert len(run.calls_ms) == 52 and len(run.rounds_ms) == 13 and len(calls) == 56
    assert run.duration_s == pytest.approx(0.52) and run.calls.p50 == pytest.approx(10.0)
    few = time_latency(call, 4, Policy(min_iterations=1000, min_seconds=0.0, max_seconds=0.1), clock)
    assert len(few.calls_ms) == 12  # capped by max_seconds: 3 rounds of 40 ms pass 0.1 s


BRIEF = Policy(min_iterations=4, min_seconds=0.0)


def _measurement(round_ms, repeat_s, policy=BRIEF, load=QUIET):
    from ftbench.measure import LatencyRun

    calls = tuple(ms for ms in round_ms for _ in range(2))
    duration = sum(calls) / 1000
    return Measurement(
        LatencyRun(calls, tuple(round_ms), duration), ThroughputRun(tuple(repeat_s), 64, 640), load, policy
    )


def test_steady_figures_carry_no_flag_and_their_intervals_are_the_ranges():
    m = _measurement([5.0, 5.1, 4.9, 5.0], [1.0, 1.02, 0.99])
    figures = m.figures()
    assert figures["validity"]["flags"] == []
    assert (figures["latency_ms_lo"], figures["latency_ms_hi"]) == (4.9, 5.1)
    assert figures["examples_per_s"] == pytest.approx(64.0) and figures["examples_per_s_hi"] == pytest.approx(64 / 0.99)
    assert figures["latency"]["rounds"] == 4 and figures["throughput"]["repeats"] == 3


def test_noisy_short_and_contended_runs_are_flagged():
    noisy = _measurement([5.0, 9.0, 5.0, 12.0], [1.0, 1.0, 1.0])
    assert noisy.flags() == ["high-variation"]
    repeats_vary = _measurement([5.0, 5.0, 5.0, 5.0], [1.0, 1.6, 1.0])
    assert repeats_vary.flags() == ["high-variation"]
    short = _measurement([5.0, 5.0], [1.0, 1.0], Policy(min_iterations=100, min_seconds=0.0))
    assert short.flags() == ["few-iterations"]
    busy = Contention(10.0, 10.0, 0.5, 0.45, 0.0, 0.3, 1.9)
    assert _measurement([5.0] * 4, [1.0] * 3, load=busy).flags() == ["cpu-contention"]
    stolen = Contention(10.0, 18.0, 0.9, 0.0, 0.2, 0.3, 1.9)
    assert _measurement([5.0] * 4, [1.0] * 3, load=stolen).flags() == ["cpu-steal"]


def test_the_contention_detector_separates_other_processes_from_this_one():
    before = CpuTimes(wall=0.0, process=0.0, busy=0.0, steal=0.0, total=0.0, load=0.2)
    alone = CpuTimes(wall=10.0, process=19.0, busy=19.5, steal=0.0, total=20.0, load=2.0)
    shared = CpuTimes(wall=10.0, process=10.0, busy=20.0, steal=0.0, total=20.0, load=3.0)
    assert contention(before, alone, threads=2).flags(Policy()) == []
    c = contention(before, shared, threads=2)
    assert c.other_cpu_share == pytest.approx(0.5) and c.process_utilisation == pytest.approx(0.5)
    assert c.flags(Policy()) == ["cpu-contention"]


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.mark.skipif(sys.platform == "win32", reason="psutil's machine-wide times differ there")
def test_a_cpu_heavy_process_beside_the_measurement_is_detected():
    """Real processes: one spinning loop per CPU beside a measured block."""
    busy = [multiprocessing.get_context("spawn").Process(target=_spin, args=(3.0,)) for _ in range(os.cpu_count() or 1)]
    for p in busy:
        p.start()
    try:
        time.sleep(0.5)  # the spinners are running
        before = read_cpu()
        _spin(1.0)
        c = contention(before, read_cpu(), threads=1)
    finally:
        for p in busy:
            p.join()
    assert c.other_cpu_share > Policy().max_other_cpu and "cpu-contention" in c.flags(Policy())


def test_measure_times_a_fake_model_and_reads_contention_once():
    clock, readings = FakeClock(), iter([CpuTimes(0, 0, 0, 0, 0, 0), CpuTimes(10, 19, 19.5, 0, 20, 0)])
    m = measure(
        lambda i: clock.call(0.002 * (i + 1)),  # 2, 4, 6 ms: longer inputs take longer
        3,
        lambda: clock.call(0.5),
        examples=100,
        tokens=1000,
        threads=2,
        policy=Policy(min_iterations=9, min_seconds=0.0, throughput_repeats=3),
        clock=clock,
        cpu=lambda: next(readings),
    )
    assert m.latency.calls.p50 == pytest.approx(4.0) and m.latency.rounds.cv == pytest.approx(0.0, abs=1e-9)
    assert m.throughput.examples_per_s.p50 == pytest.approx(200.0) and len(m.memory_peaks_mb) == 3
    assert m.flags() == []


def test_samples_spread_over_the_lengths():
    lengths = [50, 3, 9, 27, 1, 81, 5]
    assert [lengths[i] for i in spread_sample(lengths, 3)] == [1, 9, 81]
    assert sorted(spread_sample(lengths, 10)) == list(range(7))
    batches = [[5, 0], [3, 2], [6, 1], [4]]  # longest first: 131, 36, 8 and 1 tokens
    assert batch_sample(batches, lengths, 5) == [2]  # one batch from the middle is enough
    assert batch_sample(batches, lengths, 10) == [0, 3]  # the fewest whole batches, spread
    assert batch_sample(batches, lengths, 10_000) == [0, 1, 2, 3]


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="exact peaks need Linux's clear_refs")
def test_peak_memory_is_exact_and_belongs_to_its_block():
    with PeakMemory() as first:
        block = bytearray(200 * 2**20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page
        del block
    assert first.exact and first.peak_mb - first.baseline_mb > 190
    with PeakMemory() as second:
        pass
    assert second.peak_mb - second.baseline_mb < 50  # the earlier peak was reset


def test_a_boards_policy_overrides_the_defaults_by_name():
    assert policy({"min_iterations": 7, "max_cv": 0.2}) == Policy(min_iterations=7, max_cv=0.2)
    with pytest.raises(FtbenchError, match=r"tool\.ftbench\.measurement\.min_iteration: unknown"):
        policy({"min_iteration": 7})
