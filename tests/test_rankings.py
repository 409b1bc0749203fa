"""The bundled board's rankings, checked against independent computations on its committed
records (scipy's exact binomial test on the stored predictions and the held-out labels)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from conftest import DATA_DIR, ROOT


@pytest.fixture(scope="module")
def sst2(monkeypatch_module):
    from ftbench.board.read import load_board
    from ftbench.board.snapshot import task_tables
    from ftbench.config import load_config

    monkeypatch_module.setenv("FTBENCH_DATA_DIR", str(DATA_DIR))
    return task_tables(load_board(load_config(ROOT)).board)["sst2"]


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _right(sub: str) -> np.ndarray:
    record = json.loads((ROOT / "results" / sub / "sst2.json").read_text())
    gold = {}
    with open(DATA_DIR / "sst2" / "test.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            gold[row["idx"]] = row["label"]
    p = record["predictions"]
    return np.array([gold[i] == pred for i, pred in zip(p["idx"], p["pred"], strict=True)])


def test_the_two_best_sst2_entries_share_rank_one_by_an_independent_mcnemar(sst2):
    first, second = sst2[0], sst2[1]
    assert {first.entry.submission, second.entry.submission} == {"minilm-lora-r32-all", "minilm-lora-r8"}
    a, b = _right(first.entry.submission), _right(second.entry.submission)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    expected = binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert first.comparisons is not None
    assert first.comparisons.p_raw[first.index, second.index] == pytest.approx(expected, rel=1e-9)
    assert expected > 0.05 and first.rank == second.rank == 1


def test_every_sst2_rank_is_one_plus_the_entries_significantly_better(sst2):
    stats = sst2[0].comparisons
    assert stats is not None and stats.method == "McNemar exact"
    for row in sst2:
        better = [other for other in sst2 if other is not row and stats.better[other.index, row.index]]
        assert row.rank == 1 + len(better)
        assert all(stats.p_holm[o.index, row.index] < 0.05 for o in better)
        assert row.rank_low <= row.rank_high


def test_the_three_minilm_fine_tunes_are_not_strictly_ordered(sst2):
    minilm = [r for r in sst2 if r.entry.submission.startswith("minilm")]
    assert len(minilm) == 3
    # the intervals overlap, yet paired on the same sentences IA3 is below r=32 but not below r=8
    assert [r.rank for r in minilm] == [1, 1, 2]
